import Foundation
import SluiceRuntime
import SluiceSemantics

/// What the store knows of runs, for alerts: the run just finished, the pipeline's runs over a
/// window, and the alerts that fired, recorded at most once per window across processes.
public protocol AlertStore: Sendable {
    /// The run's row, once it has ended; nil when it is not in the store.
    func finishedRun(_ runId: String) throws -> FinishedRun?
    /// The pipeline's runs that started after `since` and have ended.
    func endedRuns(pipeline: String, since: Double) throws -> [FinishedRun]
    /// Records `alert` unless the same alert fired for the same pipeline and scope after `since`
    /// (nil: ever), in one atomic step. Returns the new record's id, or nil when it had fired.
    func recordFiring(_ alert: FiredAlert, since: Double?) throws -> Int?
    /// What became of the notifications of a recorded firing.
    func noteNotified(_ id: Int, _ outcome: JSONValue) throws
    /// The most recent firings, newest first.
    func firedAlerts(limit: Int) throws -> [FiredAlert]
}

/// How much of a per-window budget (`user_day`, `pipeline_day`, `day`, `session`) a run's window
/// has spent: the narrow view of the spend ledger that `budget LIMIT` alerts read. Nil when the
/// run's budget does not limit that window (or the run has no user or session for it).
public struct BudgetWindowShare: Sendable, Equatable {
    public var spent: Double
    public var limit: Double
    /// The limit as shown: `$2.00`, `200000 tokens`.
    public var limitText: String
    public init(spent: Double, limit: Double, limitText: String) { self.spent = spent; self.limit = limit; self.limitText = limitText }
}

public protocol BudgetWindowUsage: Sendable {
    func windowUsage(_ window: BudgetWindow, of run: FinishedRun) throws -> BudgetWindowShare?
}

/// Knows no per-window budget: every `budget LIMIT` alert stays quiet.
public struct NoBudgetWindows: BudgetWindowUsage {
    public init() {}
    public func windowUsage(_ window: BudgetWindow, of run: FinishedRun) throws -> BudgetWindowShare? { nil }
}

/// The windows a run's budget declared, read from the spend ledger in the UTC day the run ended.
/// A window limited in money is measured in money; one limited only in tokens, in tokens.
public struct DeclaredBudgetWindows: BudgetWindowUsage {
    let limits: [BudgetWindow: WindowAmount]
    let ledger: any SpendLedger

    public init(limits: [BudgetWindow: WindowAmount], ledger: any SpendLedger) { self.limits = limits; self.ledger = ledger }

    public func windowUsage(_ window: BudgetWindow, of run: FinishedRun) throws -> BudgetWindowShare? {
        guard let amount = limits[window] else { return nil }
        let day = WindowKey.utcDay(of: run.endedAt)
        let key: WindowKey
        switch window {
        case .userDay:
            guard let user = run.user else { return nil }
            key = WindowKey(window: .userDay, subject: user, day: day)
        case .pipelineDay: key = WindowKey(window: .pipelineDay, subject: run.pipeline, day: day)
        case .day: key = WindowKey(window: .day, subject: "", day: day)
        case .session:
            guard let session = run.session else { return nil }
            key = WindowKey(window: .session, subject: session, day: "")
        }
        guard let standing = try ledger.standings(of: [key]).first else { return nil }
        if let dollars = amount.dollars {
            return BudgetWindowShare(spent: standing.spentDollars, limit: dollars, limitText: NumberDisplay.money(dollars))
        }
        if let tokens = amount.tokens { return BudgetWindowShare(spent: Double(standing.spentTokens), limit: Double(tokens), limitText: "\(tokens) tokens") }
        return nil
    }
}

/// A run as alerts see it.
public struct FinishedRun: Sendable, Equatable {
    public var id: String
    public var pipeline: String
    public var status: String
    public var startedAt: Double
    public var endedAt: Double
    public var cost: Double
    public var tokens: Int
    public var user: String?
    public var session: String?

    public init(id: String, pipeline: String, status: String, startedAt: Double, endedAt: Double, cost: Double, tokens: Int,
                user: String? = nil, session: String? = nil) {
        self.id = id; self.pipeline = pipeline; self.status = status; self.startedAt = startedAt; self.endedAt = endedAt
        self.cost = cost; self.tokens = tokens; self.user = user; self.session = session
    }

    /// Seconds from start to end.
    public var duration: Double { max(0, endedAt - startedAt) }
    /// Counted by `error_rate`: it failed (`error`) or its process died (`interrupted`). A guard's
    /// block and a cancellation by a signal are the pipeline working as asked, not failures.
    public var failed: Bool { status == "error" || status == "interrupted" }
}

/// An alert that fired.
public struct FiredAlert: Sendable, Equatable {
    public var alert: String
    public var pipeline: String
    /// What the window was counted for: empty for the pipeline's runs; for a budget alert, the
    /// budget's window (`user_day cust-42 2026-12-01`), so each user's day fires once.
    public var scope: String
    public var condition: String
    /// In the metric's unit: dollars, seconds, tokens, or a fraction for a percentage.
    public var observed: Double
    public var observedText: String
    /// Seconds; nil for a budget alert (its budget's window).
    public var window: Double?
    public var runId: String
    public var firedAt: Double
    /// What became of its notifications (`{"stderr": "printed", "https://…": "delivered"}`), once known.
    public var notified: JSONValue?

    public init(alert: String, pipeline: String, scope: String, condition: String, observed: Double, observedText: String, window: Double?,
                runId: String, firedAt: Double, notified: JSONValue? = nil) {
        self.alert = alert; self.pipeline = pipeline; self.scope = scope; self.condition = condition; self.observed = observed
        self.observedText = observedText; self.window = window; self.runId = runId; self.firedAt = firedAt; self.notified = notified
    }

    /// The window as people read it: `10m`, `1h`, or the budget's (`one user's UTC day`).
    public var windowText: String {
        if let window { return AlertEvaluator.duration(window) }
        let budget = scope.split(separator: " ").first.flatMap { BudgetWindow(rawValue: String($0)) }
        return budget?.window ?? ""
    }

    /// The webhook's body.
    public var json: JSONValue {
        .object([
            ("alert", .string(alert)),
            ("condition", .string(condition)),
            ("observed", .number(NumberDisplay.significant(observed, digits: 10))),
            ("observed_text", .string(observedText)),
            ("window", .string(windowText)),
            ("window_seconds", window.map { JSONValue.number($0) } ?? .null),
            ("scope", scope.isEmpty ? .null : .string(scope)),
            ("pipeline", .string(pipeline)),
            ("run_id", .string(runId)),
            ("time", .string(AlertEvaluator.timestamp(firedAt))),
        ])
    }

    /// One line for standard error.
    public var line: String {
        "alert \(alert): \(condition) (observed \(observedText)\(scope.isEmpty ? "" : ", \(scope)")) · pipeline \(pipeline) · run \(runId)"
    }
}

/// Checks a file's alerts after a run, against what the store holds, and records the ones that
/// fire (once per window, whichever process evaluates first).
public struct AlertEvaluator: Sendable {
    let store: any AlertStore
    let budgets: any BudgetWindowUsage
    let clock: any Clock

    public init(store: any AlertStore, budgets: any BudgetWindowUsage = NoBudgetWindows(), clock: any Clock = SystemClock()) {
        self.store = store; self.budgets = budgets; self.clock = clock
    }

    /// The alerts that fire after run `runId` and were not already fired in their window, each
    /// recorded in the store. A run the store does not hold (its trace was not saved) fires none.
    public func evaluate(_ rules: [AlertRule], afterRun runId: String) throws -> [(id: Int, alert: FiredAlert)] {
        guard !rules.isEmpty, let run = try store.finishedRun(runId) else { return [] }
        let now = clock.now()
        var windows: [Double: [FinishedRun]] = [:]
        func runs(over window: Double) throws -> [FinishedRun] {
            if let known = windows[window] { return known }
            let found = try store.endedRuns(pipeline: run.pipeline, since: now - window)
            windows[window] = found
            return found
        }
        var fired: [(id: Int, alert: FiredAlert)] = []
        for rule in rules {
            guard let observation = try observe(rule, run: run, runs: runs), rule.holds(observation.value) else { continue }
            let alert = FiredAlert(alert: rule.name, pipeline: run.pipeline, scope: observation.scope, condition: rule.condition,
                                   observed: observation.value, observedText: observation.text, window: rule.window, runId: run.id,
                                   firedAt: now)
            if let id = try store.recordFiring(alert, since: rule.window.map { now - $0 }) { fired.append((id, alert)) }
        }
        return fired
    }

    /// The rule's value now, with its display and scope; nil when there is nothing to measure (no
    /// ended run in the window, a budget that is not kept).
    private func observe(_ rule: AlertRule, run: FinishedRun, runs: (Double) throws -> [FinishedRun]) throws
        -> (value: Double, text: String, scope: String)? {
        switch rule.subject {
        case .metric(let metric):
            let value: Double
            switch metric {
            case .request_cost: value = run.cost
            case .request_tokens: value = Double(run.tokens)
            case .latency: value = run.duration
            case .error_rate:
                let window = try runs(rule.window ?? 0)
                guard !window.isEmpty else { return nil }
                value = Double(window.filter(\.failed).count) / Double(window.count)
            case .p50_latency, .p95_latency, .p99_latency:
                let durations = try runs(rule.window ?? 0).map(\.duration)
                guard let percentile = Self.percentile(durations, metric == .p50_latency ? 0.5 : metric == .p95_latency ? 0.95 : 0.99) else {
                    return nil
                }
                value = percentile
            case .spend:
                value = try runs(rule.window ?? 0).reduce(0) { $0 + $1.cost }
            }
            return (value, Self.display(value, metric.unit), "")
        case .budget(let budget):
            guard let usage = try budgets.windowUsage(budget, of: run), usage.limit > 0 else { return nil }
            let share = usage.spent / usage.limit
            let day = WindowKey.utcDay(of: clock.now())
            let scope: String
            switch budget {
            case .userDay: scope = "user_day \(run.user ?? "(no user)") \(day)"
            case .pipelineDay: scope = "pipeline_day \(day)"
            case .day: scope = "day \(day)"
            case .session:
                guard let session = run.session else { return nil }
                scope = "session \(session)"
            }
            return (share, Self.display(share, .percent) + " of \(usage.limitText)", scope)
        }
    }

    /// The nearest-rank percentile (`p` in 0...1) of `values`; nil when there are none.
    static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }

    static func display(_ value: Double, _ unit: Quantity.Unit) -> String {
        switch unit {
        case .money: NumberDisplay.money(value)
        case .percent: JSONValue.formatNumber((value * 1000).rounded() / 10) + "%"
        case .seconds: JSONValue.formatNumber((value * 1000).rounded() / 1000) + "s"
        case .number: JSONValue.formatNumber(value)
        }
    }

    /// `600` → `10m`; the largest unit that divides it, else seconds.
    static func duration(_ seconds: Double) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3_600), ("m", 60)] where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return JSONValue.formatNumber(seconds / size) + unit
        }
        return JSONValue.formatNumber(seconds) + "s"
    }

    static func timestamp(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

}

extension SQLiteStore: AlertStore {
    private static let runColumns = "id, pipeline, status, started_at, ended_at, cost, tokens, user_id, session_id"

    private static func run(_ row: SQLiteStatement) -> FinishedRun {
        FinishedRun(id: row.text(0), pipeline: row.text(1), status: row.text(2), startedAt: row.double(3), endedAt: row.double(4),
                    cost: row.double(5), tokens: row.int(6), user: row.optionalText(7), session: row.optionalText(8))
    }

    public func finishedRun(_ runId: String) throws -> FinishedRun? {
        try database.withConnection { db in
            try db.query("SELECT \(Self.runColumns) FROM runs WHERE id = ? AND ended_at IS NOT NULL", [.text(runId)], row: Self.run).first
        }
    }

    public func endedRuns(pipeline: String, since: Double) throws -> [FinishedRun] {
        try database.withConnection { db in
            try db.query("""
                SELECT \(Self.runColumns) FROM runs
                WHERE started_at > ? AND pipeline = ? AND ended_at IS NOT NULL AND status != 'running'
                """, [.real(since), .text(pipeline)], row: Self.run)
        }
    }

    public func recordFiring(_ alert: FiredAlert, since: Double?) throws -> Int? {
        try database.transaction { db in
            let earlier = try db.query("""
                SELECT 1 FROM alerts WHERE alert = ? AND pipeline = ? AND scope = ? AND fired_at > ? LIMIT 1
                """, [.text(alert.alert), .text(alert.pipeline), .text(alert.scope), .real(since ?? -Double.greatestFiniteMagnitude)]) { $0.int(0) }
            guard earlier.isEmpty else { return nil }
            try db.run("""
                INSERT INTO alerts (alert, pipeline, scope, condition, observed, observed_text, window_seconds, run_id, fired_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(alert.alert), .text(alert.pipeline), .text(alert.scope), .text(alert.condition), .real(alert.observed),
                      .text(alert.observedText), alert.window.map(SQLiteValue.real) ?? .null, .text(alert.runId), .real(alert.firedAt)])
            return try db.query("SELECT last_insert_rowid()") { $0.int(0) }.first
        }
    }

    public func noteNotified(_ id: Int, _ outcome: JSONValue) throws {
        try database.withConnection { db in
            try db.run("UPDATE alerts SET notified = ? WHERE seq = ?", [.text(outcome.serialized()), .int(id)])
        }
    }

    public func firedAlerts(limit: Int) throws -> [FiredAlert] {
        try database.withConnection { db in
            try db.query("""
                SELECT alert, pipeline, scope, condition, observed, observed_text, window_seconds, run_id, fired_at, notified
                FROM alerts ORDER BY fired_at DESC, seq DESC LIMIT ?
                """, [.int(limit)]) { row in
                FiredAlert(alert: row.text(0), pipeline: row.text(1), scope: row.text(2), condition: row.text(3), observed: row.double(4),
                           observedText: row.text(5), window: row.optionalDouble(6), runId: row.text(7), firedAt: row.double(8),
                           notified: row.optionalText(9).flatMap { try? JSONValue.parse($0) })
            }
        }
    }
}

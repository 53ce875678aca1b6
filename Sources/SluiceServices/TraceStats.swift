import Foundation
import SluiceRuntime

/// What `sluice traces stats --by` groups by. Pipelines, users and days group runs (latency is a run's
/// duration); models and prompt versions group model calls, every try counted (latency is a call's).
public enum TraceStatsGrouping: String, Sendable, CaseIterable {
    case pipeline, model, prompt, user
    /// The UTC calendar day a run started (`2026-12-01`), in date order.
    case day

    var groupsCalls: Bool { self == .model || self == .prompt }
}

/// One group's numbers.
public struct TraceStatsRow: Sendable, Hashable {
    public var key: String
    /// Runs, or model calls when grouping by model or prompt.
    public var count: Int
    /// Runs that ended `error`, `over_budget` or `interrupted` (a `blocked` run is a guard doing its
    /// work, a `cancelled` one was stopped); calls that ended `error` or `interrupted`.
    public var errors: Int
    public var cost: Double
    public var tokens: Int
    /// Seconds: p50, p95 and p99 of the durations of the runs (calls) that have ended; nil when none has.
    public var latency: Latency?

    public struct Latency: Sendable, Hashable {
        public var p50: Double
        public var p95: Double
        public var p99: Double
    }

    /// Errors over count (0 for an empty group).
    public var errorRate: Double { count == 0 ? 0 : Double(errors) / Double(count) }
}

public struct TraceStats: Sendable, Hashable {
    public var grouping: TraceStatsGrouping
    /// Largest count first, then by key.
    public var rows: [TraceStatsRow]
    /// Every run (call) the groups hold, as one row keyed "total".
    public var total: TraceStatsRow

    /// No groups: what a store with no runs gives.
    public static func empty(_ grouping: TraceStatsGrouping) -> TraceStats {
        TraceStats(grouping: grouping, rows: [], total: TraceStatsRow(key: "total", count: 0, errors: 0, cost: 0, tokens: 0, latency: nil))
    }
}

/// Percentiles by linear interpolation between closest ranks, numpy's default (`method="linear"`):
/// for n sorted values x₀…xₙ₋₁ and a fraction p, h = (n − 1)·p, and the percentile is
/// x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋). The median of [1, 2, 3, 4] is 2.5; p95 of 1…10 is 9.55.
public enum Percentile {
    /// `fraction` in 0...1 of `sorted` (ascending); nil for no values.
    public static func linear(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard let first = sorted.first else { return nil }
        guard sorted.count > 1 else { return first }
        let rank = Double(sorted.count - 1) * min(1, max(0, fraction))
        let below = Int(rank.rounded(.down))
        guard below + 1 < sorted.count else { return sorted[below] }
        return sorted[below] + (rank - Double(below)) * (sorted[below + 1] - sorted[below])
    }
}

extension SQLiteStore {
    /// Counts, errors, cost, tokens and latency percentiles of the runs `filter` matches, per group.
    public func traceStats(filter: TraceFilter, by grouping: TraceStatsGrouping) throws -> TraceStats {
        let runs = try listRuns(limit: nil, filter: filter)
        let samples: [Sample]
        switch grouping {
        case .pipeline: samples = runs.map { Sample(run: $0, key: $0.pipeline) }
        case .user: samples = runs.map { Sample(run: $0, key: $0.user ?? "-") }
        case .day: samples = runs.map { Sample(run: $0, key: WindowKey.utcDay(of: $0.startedAt)) }
        case .model, .prompt: samples = try callSamples(of: Set(runs.map(\.id)), filter: filter, grouping: grouping)
        }
        var groups: [String: [Sample]] = [:]
        for sample in samples { groups[sample.key, default: []].append(sample) }
        let rows = groups.map { Self.row($0.key, $0.value) }.sorted { (a: TraceStatsRow, b: TraceStatsRow) -> Bool in
            // Days in date order; other groups busiest first.
            if grouping == .day || a.count == b.count { return a.key < b.key }
            return a.count > b.count
        }
        return TraceStats(grouping: grouping, rows: rows, total: Self.row("total", samples))
    }

    /// One run or model call, as the stats see it.
    private struct Sample {
        var key: String
        var failed: Bool
        var cost: Double
        var tokens: Int
        var seconds: Double?

        init(key: String, failed: Bool, cost: Double, tokens: Int, seconds: Double?) {
            self.key = key; self.failed = failed; self.cost = cost; self.tokens = tokens; self.seconds = seconds
        }

        init(run: RunSummary, key: String) {
            self.init(key: key, failed: TraceFilter.failedStatuses.contains(run.status), cost: run.cost, tokens: run.tokens,
                      seconds: run.duration)
        }
    }

    private func callSamples(of runIds: Set<String>, filter: TraceFilter, grouping: TraceStatsGrouping) throws -> [Sample] {
        try database.withConnection { db in
            let abandoned = try Self.abandonedRuns(in: db)
            let (conditions, parameters) = filter.runConditions(abandoned: abandoned)
            return try db.query("""
                SELECT mc.run_id, mc.model, \(TraceFilter.promptNameSQL), mc.prompt_version, mc.status, mc.error,
                       mc.input_tokens + mc.output_tokens, mc.cost, mc.latency_ms
                FROM model_calls mc JOIN runs ON runs.id = mc.run_id LEFT JOIN spans s ON s.id = mc.span_id
                WHERE \(conditions) ORDER BY mc.seq
                """, parameters) { row -> Sample? in
                let runId = row.text(0)
                guard runIds.contains(runId) else { return nil }
                let key: String
                if grouping == .model {
                    key = row.text(1)
                } else {
                    let version = row.optionalInt(3)
                    key = row.optionalText(2).map { name in version.map { "\(name)@\($0)" } ?? name } ?? "-"
                }
                // Rows written before schema 4 have no status: their error says how they ended.
                var status = row.optionalText(4) ?? (row.optionalText(5) == nil ? "ok" : "error")
                if status == "in_flight", abandoned[runId] != nil { status = "interrupted" }
                return Sample(key: key, failed: status == "error" || status == "interrupted", cost: row.double(7), tokens: row.int(6),
                              seconds: status == "in_flight" ? nil : row.double(8) / 1000)
            }.compactMap { $0 }
        }
    }

    private static func row(_ key: String, _ samples: [Sample]) -> TraceStatsRow {
        let seconds = samples.compactMap(\.seconds).sorted()
        let latency = Percentile.linear(seconds, 0.5).map { p50 in
            TraceStatsRow.Latency(p50: p50, p95: Percentile.linear(seconds, 0.95) ?? p50, p99: Percentile.linear(seconds, 0.99) ?? p50)
        }
        return TraceStatsRow(key: key, count: samples.count, errors: samples.filter(\.failed).count,
                             cost: samples.reduce(0) { $0 + $1.cost }, tokens: samples.reduce(0) { $0 + $1.tokens }, latency: latency)
    }
}

// MARK: - JSON for --json

extension TraceStats {
    public var json: JSONValue {
        .object([("by", .string(grouping.rawValue)), ("groups", .array(rows.map(\.json))), ("total", total.json)])
    }
}

extension TraceStatsRow {
    public var json: JSONValue {
        .object([
            ("key", .string(key)), ("count", .number(Double(count))), ("errors", .number(Double(errors))),
            ("error_rate", NumberDisplay.scoreJSON(errorRate)), ("cost", NumberDisplay.moneyJSON(cost)), ("tokens", .number(Double(tokens))),
            ("latency_ms", latency.map { latency in
                .object([("p50", NumberDisplay.millisecondsJSON(latency.p50 * 1000)), ("p95", NumberDisplay.millisecondsJSON(latency.p95 * 1000)),
                         ("p99", NumberDisplay.millisecondsJSON(latency.p99 * 1000))])
            } ?? .null),
        ])
    }
}

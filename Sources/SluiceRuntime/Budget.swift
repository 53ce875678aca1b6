import Foundation
import SluiceSemantics
import SluiceSyntax

/// A window's limits: money, tokens, or both (`user_day $2, user_day 200k`).
public struct WindowAmount: Sendable, Hashable {
    public var dollars: Double?
    public var tokens: Int?
    public init(dollars: Double? = nil, tokens: Int? = nil) { self.dollars = dollars; self.tokens = tokens }

    func overridden(by other: WindowAmount) -> WindowAmount {
        WindowAmount(dollars: other.dollars ?? dollars, tokens: other.tokens ?? tokens)
    }
}

/// The money and token limits of one run (`request`, `tokens`) and of the windows kept across runs
/// (`user_day`, `pipeline_day`, `day`, `session`), with cost reserved before each model call and
/// settled after it, so a declared budget is never exceeded.
public struct BudgetLimits: Sendable, Hashable {
    public var requestDollars: Double?
    public var tokens: Int?
    public var windows: [BudgetWindow: WindowAmount]
    public init(requestDollars: Double? = nil, tokens: Int? = nil, windows: [BudgetWindow: WindowAmount] = [:]) {
        self.requestDollars = requestDollars; self.tokens = tokens; self.windows = windows
    }

    /// These limits with each one `other` sets put in its place.
    func overridden(by other: BudgetLimits) -> BudgetLimits {
        BudgetLimits(requestDollars: other.requestDollars ?? requestDollars, tokens: other.tokens ?? tokens,
                     windows: windows.merging(other.windows) { mine, theirs in mine.overridden(by: theirs) })
    }
}

/// One level of limits. The run's root scope holds the file-wide budget (or the top-level
/// pipeline's own); a sub-pipeline's `budget` opens a nested scope, so every call is checked
/// against its own pipeline's limits and every caller's: a callee can tighten, never loosen.
final class BudgetScope: @unchecked Sendable {
    let parent: BudgetScope?
    /// The pipeline whose `budget` opened the scope; nil for the run's own.
    let owner: String?
    var limits: BudgetLimits
    var spentDollars = 0.0, spentTokens = 0
    var reservedDollars = 0.0, reservedTokens = 0

    init(parent: BudgetScope?, owner: String?, limits: BudgetLimits) {
        self.parent = parent; self.owner = owner; self.limits = limits
    }

    /// "the request budget", "the token budget of pipeline `lookup`".
    func name(_ limit: String) -> String {
        "the \(limit) budget" + (owner.map { " of pipeline `\($0)`" } ?? "")
    }

    var chain: [BudgetScope] {
        var scopes: [BudgetScope] = []
        var next: BudgetScope? = self
        while let scope = next { scopes.append(scope); next = scope.parent }
        return scopes
    }
}

/// A reservation taken before a call; `settle` releases it.
struct BudgetReservation: Sendable {
    fileprivate let scope: BudgetScope
    let dollars: Double
    let tokens: Int
    /// The reservation in the spend ledger, when the call was recorded there.
    fileprivate let ticket: SpendTicket?
    /// The window limits the call was checked against, with the scope that declared each.
    fileprivate let windowLimits: [(limit: WindowLimit, scope: BudgetScope)]
}

/// What a settled call used beyond its reservation, and the limits its real spend passed.
struct Overrun: Sendable {
    var dollars: Double
    var tokens: Int
    /// "the user_day budget of $0.05 for user `u1` (2026-12-01 UTC: $0.45 spent, $0 reserved)", one per limit passed.
    var passedLimits: [String]

    var json: JSONValue {
        // Rounded to a millionth of a cent: the floating-point residue below it is noise.
        .object([("dollars", .number((dollars * 1e8).rounded() / 1e8)), ("tokens", .number(Double(tokens))),
                 ("limits_passed", .array(passedLimits.map { .string($0) }))])
    }
}

/// Who a run's spending belongs to, for the windows kept across runs.
struct SpendOwner: Sendable {
    var runId: String
    var user: String?
    var session: String?
}

/// The run's spending across all its scopes, and its share of the windows kept across runs.
/// Concurrent branches of a run share it: every reservation of the run's own limits is checked
/// and taken under one lock, and the spend ledger checks and takes the windows' atomically, so no
/// interleaving (of branches, or of runs) can pass a limit.
final class BudgetLedger: @unchecked Sendable {
    struct Refusal: Error, Sendable { var message: String }

    private let lock = NSLock()
    let root = BudgetScope(parent: nil, owner: nil, limits: BudgetLimits())
    /// Dry runs record what would be refused instead of refusing, charge the worst case, and only
    /// read the spend ledger.
    let enforcing: Bool
    private let spend: SpendLedger
    private let owner: SpendOwner
    private let clock: Clock
    /// The pipeline the run started, once known.
    private var pipeline: String?
    private(set) var refusals: [String] = []
    /// The first failure of the spend ledger that did not stop the run (no window limit applied).
    private(set) var storeError: Error?
    /// Dry runs: each window's standing, read once.
    private var standings: [WindowKey: WindowStanding] = [:]
    /// Set when a call's real spend passed a limit: the run ends `over_budget`.
    private(set) var overrun: Overrun?

    init(enforcing: Bool, spend: SpendLedger, owner: SpendOwner, clock: Clock) {
        self.enforcing = enforcing; self.spend = spend; self.owner = owner; self.clock = clock
    }

    var spentDollars: Double { lock.withLock { root.spentDollars } }
    var spentTokens: Int { lock.withLock { root.spentTokens } }
    var limits: BudgetLimits { lock.withLock { root.limits } }

    func setLimits(_ limits: BudgetLimits, of scope: BudgetScope) {
        lock.withLock { scope.limits = limits }
    }

    func startPipeline(_ name: String) { lock.withLock { pipeline = name } }

    /// The subject a window's totals are kept by in this run; nil when the run has none.
    func subject(of window: BudgetWindow) -> String? {
        switch window {
        case .userDay: owner.user
        case .pipelineDay: lock.withLock { pipeline }
        case .day: ""
        case .session: owner.session
        }
    }

    /// Reserves a call's worst case in `scope` and every scope above it, and in every window the
    /// call counts in. `leaseSeconds` bounds how long the spend ledger holds the reservation if
    /// this process cannot settle it.
    func reserve(dollars: Double, tokens: Int, in scope: BudgetScope, leaseSeconds: Double) async throws(Refusal) -> BudgetReservation {
        let chain = scope.chain
        let refusal: String? = lock.withLock {
            for level in chain {
                if let limit = level.limits.requestDollars, level.spentDollars + level.reservedDollars + dollars > limit + moneyEpsilon {
                    return "the call's worst case of \(formatMoney(dollars)) would pass \(level.name("request")) of \(formatMoney(limit)) "
                        + "(\(formatMoney(level.spentDollars + level.reservedDollars)) already spent or reserved)"
                }
                if let limit = level.limits.tokens, level.spentTokens + level.reservedTokens + tokens > limit {
                    return "the call's worst case of \(tokens) tokens would pass \(level.name("token")) of \(limit) "
                        + "(\(level.spentTokens + level.reservedTokens) already spent or reserved)"
                }
            }
            return nil
        }
        if let refusal {
            guard !enforcing else { throw Refusal(message: refusal) }
            lock.withLock { refusals.append(refusal) }
        }
        // One time for the call: the day its windows are keyed by is the day it is recorded in.
        let now = clock.now()
        let windowLimits = try windowLimits(of: chain, at: now)
        if !enforcing { checkWindowsForDryRun(windowLimits, dollars: dollars, tokens: tokens) }
        lock.withLock {
            for level in chain {
                level.reservedDollars += dollars
                level.reservedTokens += tokens
            }
        }
        guard enforcing else { return BudgetReservation(scope: scope, dollars: dollars, tokens: tokens, ticket: nil, windowLimits: []) }
        let request = SpendRequest(runId: owner.runId, time: now, user: owner.user, session: owner.session,
                                   pipeline: lock.withLock { pipeline }, dollars: dollars, tokens: tokens, leaseSeconds: leaseSeconds)
        let ticket: SpendTicket?
        do {
            switch try await spend.reserve(request, limits: windowLimits.map(\.limit)) {
            case .reserved(let reserved):
                ticket = reserved
            case .refused(let limit, let standing):
                release(dollars: dollars, tokens: tokens, in: chain)
                let level = windowLimits.first { $0.limit == limit }?.scope ?? root
                throw Refusal(message: Self.describeRefusal(limit, standing, level: level, dollars: dollars, tokens: tokens))
            }
        } catch let refusal as Refusal {
            throw refusal
        } catch {
            // Without a window limit the ledger only keeps count: the call goes ahead, and the run
            // reports the store's failure as it reports a trace that could not be saved.
            guard windowLimits.isEmpty else {
                release(dollars: dollars, tokens: tokens, in: chain)
                throw Refusal(message: "the spend ledger could not reserve the call's worst case of \(formatMoney(dollars)), "
                              + "so the window budgets cannot be kept: \(error)")
            }
            lock.withLock { if storeError == nil { storeError = error } }
            ticket = nil
        }
        return BudgetReservation(scope: scope, dollars: dollars, tokens: tokens, ticket: ticket, windowLimits: windowLimits)
    }

    private func release(dollars: Double, tokens: Int, in chain: [BudgetScope]) {
        lock.withLock {
            for level in chain {
                level.reservedDollars = max(0, level.reservedDollars - dollars)
                level.reservedTokens = max(0, level.reservedTokens - tokens)
            }
        }
    }

    /// Every window limit of the chain, keyed to this run's user, pipeline or session and today's UTC day.
    private func windowLimits(of chain: [BudgetScope], at time: Double) throws(Refusal) -> [(limit: WindowLimit, scope: BudgetScope)] {
        let day = WindowKey.utcDay(of: time)
        var limits: [(limit: WindowLimit, scope: BudgetScope)] = []
        for level in chain {
            let windows = lock.withLock { level.limits.windows }
            for (window, amount) in windows.sorted(by: { $0.key < $1.key }) {
                guard let subject = subject(of: window) else {
                    // A dry run without `--user` or `--session` reports the window as not checked.
                    guard enforcing else { continue }
                    throw Refusal(message: Self.missingSubject(window) + (Self.missingSubjectHelp(window).map { ": \($0)" } ?? ""))
                }
                let key = WindowKey(window: window, subject: subject, day: window == .session ? "" : day)
                limits.append((WindowLimit(key: key, dollars: amount.dollars, tokens: amount.tokens), level))
            }
        }
        return limits
    }

    static func missingSubject(_ window: BudgetWindow) -> String {
        switch window {
        case .userDay: "the `user_day` budget counts one user's spending, and this run names no user"
        case .session: "the `session` budget counts one conversation's spending, and this run continues none"
        case .pipelineDay: "the `pipeline_day` budget counts a pipeline's runs, and these statements run no pipeline"
        case .day: "the `day` budget has no subject"
        }
    }

    static func missingSubjectHelp(_ window: BudgetWindow) -> String? {
        switch window {
        case .userDay: "name the user with --user ID (or SLUICE_USER)"
        case .session: "continue a conversation with --session ID, or start one with --new-session"
        case .pipelineDay, .day: nil
        }
    }

    /// A dry run: would this call pass a window, given what the ledger holds and this path spent so far?
    private func checkWindowsForDryRun(_ limits: [(limit: WindowLimit, scope: BudgetScope)], dollars: Double, tokens: Int) {
        for (limit, level) in limits {
            var standing: WindowStanding
            if let seen = lock.withLock({ standings[limit.key] }) {
                standing = seen
            } else {
                do { standing = try spend.standings(of: [limit.key]).first ?? WindowStanding(key: limit.key) } catch {
                    lock.withLock { refusals.append("the spend ledger could not be read for the \(limit.key.window.rawValue) budget: \(error)") }
                    continue
                }
                lock.withLock { standings[limit.key] = standing }
            }
            // This path's own earlier calls count in the window too.
            lock.withLock {
                standing.reservedDollars += root.spentDollars + root.reservedDollars
                standing.reservedTokens += root.spentTokens + root.reservedTokens
            }
            if standing.passed(by: limit, dollars: dollars, tokens: tokens) != nil {
                let refusal = Self.describeRefusal(limit, standing, level: level, dollars: dollars, tokens: tokens)
                lock.withLock { refusals.append(refusal) }
            }
        }
    }

    /// "the call's worst case of $0.0040 would pass the user_day budget of $2.00 for user `cust-42`
    /// (2026-12-01 UTC: $1.9980 spent, $0.0010 reserved)".
    static func describeRefusal(_ limit: WindowLimit, _ standing: WindowStanding, level: BudgetScope, dollars: Double, tokens: Int) -> String {
        let window = limit.key.window.rawValue
        if standing.passed(by: limit, dollars: dollars, tokens: tokens) == .tokens, let cap = limit.tokens {
            return "the call's worst case of \(tokens) tokens would pass \(level.name("\(window) token")) of \(cap) \(limit.key.whose)"
                + "\(standing.spentTokens) spent, \(standing.reservedTokens) reserved)"
        }
        return "the call's worst case of \(formatMoney(dollars)) would pass \(level.name(window)) of \(formatMoney(limit.dollars ?? 0)) "
            + "\(limit.key.whose)\(formatMoney(standing.spentDollars)) spent, \(formatMoney(standing.reservedDollars)) reserved)"
    }

    /// Releases a reservation and charges what the call really used (zero when it failed). When the
    /// provider reports more than was reserved, the overrun is returned (and kept on the ledger when
    /// the real spend passed a limit: the run then ends `over_budget`).
    @discardableResult
    func settle(_ reservation: BudgetReservation, actualDollars: Double, actualTokens: Int) async -> Overrun? {
        let chain = reservation.scope.chain
        var passed: [String] = lock.withLock {
            var passed: [String] = []
            for level in chain {
                level.reservedDollars = max(0, level.reservedDollars - reservation.dollars)
                level.reservedTokens = max(0, level.reservedTokens - reservation.tokens)
                level.spentDollars += actualDollars
                level.spentTokens += actualTokens
                if let limit = level.limits.requestDollars, level.spentDollars > limit + moneyEpsilon {
                    passed.append("\(level.name("request")) of \(formatMoney(limit)) (\(formatMoney(level.spentDollars)) spent)")
                }
                if let limit = level.limits.tokens, level.spentTokens > limit {
                    passed.append("\(level.name("token")) of \(limit) (\(level.spentTokens) spent)")
                }
            }
            return passed
        }
        if let ticket = reservation.ticket {
            do { try await spend.settle(ticket, dollars: actualDollars, tokens: actualTokens, at: clock.now()) } catch {
                // The reservation stays in the ledger until its lease ends: the windows over-count, never under.
                lock.withLock { if storeError == nil { storeError = error } }
            }
        }
        let extraDollars = actualDollars - reservation.dollars, extraTokens = actualTokens - reservation.tokens
        guard extraDollars > moneyEpsilon || extraTokens > 0 else { return nil }
        if !reservation.windowLimits.isEmpty, let standings = try? spend.standings(of: reservation.windowLimits.map(\.limit.key)) {
            for ((limit, level), standing) in zip(reservation.windowLimits, standings) {
                let window = limit.key.window.rawValue
                if let cap = limit.dollars, standing.spentDollars > cap + moneyEpsilon {
                    passed.append("\(level.name(window)) of \(formatMoney(cap)) \(limit.key.whose)"
                                  + "\(formatMoney(standing.spentDollars)) spent, \(formatMoney(standing.reservedDollars)) reserved)")
                }
                if let cap = limit.tokens, standing.spentTokens > cap {
                    passed.append("\(level.name("\(window) token")) of \(cap) \(limit.key.whose)"
                                  + "\(standing.spentTokens) spent, \(standing.reservedTokens) reserved)")
                }
            }
        }
        let overrun = Overrun(dollars: max(0, extraDollars), tokens: max(0, extraTokens), passedLimits: passed)
        if !passed.isEmpty { lock.withLock { if self.overrun == nil { self.overrun = overrun } } }
        return overrun
    }
}

/// How long the spend ledger holds a call's reservation when its process can no longer settle it
/// and cannot be judged gone: every try of the call at its timeout, every backoff at its longest,
/// and five minutes to spare.
func leaseSeconds(for model: ModelSpec) -> Double {
    let tries = Double(model.reliability.retries + 1)
    return model.timeout * tries + model.reliability.maxBackoff * (tries - 1) + 300
}

extension Interpreter {
    /// The limits a `budget` declaration or statement sets.
    func limits(of budget: BudgetDecl, file: SourceFile) throws -> BudgetLimits {
        var limits = BudgetLimits()
        for limit in budget.limits {
            let value = try constant(limit.value, file: file)
            func wholeTokens(_ n: Double) throws -> Int {
                guard let tokens = exactInt(n), tokens >= 0 else {
                    throw RuntimeError(.script, "budget `\(limit.name.text)` needs a whole number of tokens", file: file, span: limit.span)
                }
                return tokens
            }
            switch (limit.name.text, BudgetWindow(rawValue: limit.name.text), value) {
            case ("request", _, .money(let m)): limits.requestDollars = m
            case ("tokens", _, .number(let n)): limits.tokens = try wholeTokens(n)
            case (_, let window?, .money(let m)): limits.windows[window, default: WindowAmount()].dollars = m
            case (_, let window?, .number(let n)): limits.windows[window, default: WindowAmount()].tokens = try wholeTokens(n)
            default:
                throw RuntimeError(.script, "budget `\(limit.name.text)` cannot be \(value.typeName)", file: file, span: limit.span)
            }
        }
        return limits
    }
}

import Foundation
import SluiceSemantics

// Spending across runs: the windows a `budget` can limit beyond one run (`user_day`,
// `pipeline_day`, `day`, `session`), kept by a `SpendLedger` the runtime is handed. The SQLite
// ledger (SluiceServices) is shared by every process that opens the same store; the in-memory one
// serves tests and the REPL.

/// The spending one window limit totals: a window for one subject (the user, the pipeline, the
/// session; empty for `day`) in one UTC day (empty for `session`).
public struct WindowKey: Sendable, Hashable, Comparable {
    public var window: BudgetWindow
    public var subject: String
    public var day: String

    public init(window: BudgetWindow, subject: String, day: String) {
        self.window = window; self.subject = subject; self.day = day
    }

    public static func < (a: Self, b: Self) -> Bool { (a.window, a.subject, a.day) < (b.window, b.subject, b.day) }

    /// "for user `cust-42` (2026-12-01 UTC", "for pipeline `support` (2026-12-01 UTC", "(2026-12-01 UTC",
    /// "for session `ab12` (" — completed by the caller with the totals.
    public var whose: String {
        switch window {
        case .userDay: "for user `\(subject)` (\(day) UTC: "
        case .pipelineDay: "for pipeline `\(subject)` (\(day) UTC: "
        case .day: "(\(day) UTC: "
        case .session: "for session `\(subject)` ("
        }
    }

    /// The UTC calendar day of a time in seconds since the epoch, `2026-12-01`: the proleptic
    /// Gregorian date of the day count (Howard Hinnant's `civil_from_days`), computed rather than
    /// asked of `Calendar`, as every reservation needs it.
    public static func utcDay(of time: Double) -> String {
        let days = Int((time / 86_400).rounded(.down))
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func padded(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }
}

/// A limit on one window: money, tokens, or both.
public struct WindowLimit: Sendable, Hashable {
    public var key: WindowKey
    public var dollars: Double?
    public var tokens: Int?
    public init(key: WindowKey, dollars: Double? = nil, tokens: Int? = nil) { self.key = key; self.dollars = dollars; self.tokens = tokens }
}

/// What a window holds: money and tokens already spent (settled calls) and reserved (calls in flight).
public struct WindowStanding: Sendable, Hashable {
    public var key: WindowKey
    public var spentDollars = 0.0, spentTokens = 0
    public var reservedDollars = 0.0, reservedTokens = 0
    public init(key: WindowKey, spentDollars: Double = 0, spentTokens: Int = 0, reservedDollars: Double = 0, reservedTokens: Int = 0) {
        self.key = key; self.spentDollars = spentDollars; self.spentTokens = spentTokens
        self.reservedDollars = reservedDollars; self.reservedTokens = reservedTokens
    }

    /// The first of `limit`'s amounts a call of `dollars` and `tokens` would pass, on top of what is
    /// spent and reserved; nil when it fits.
    public func passed(by limit: WindowLimit, dollars: Double, tokens: Int) -> LimitKind? {
        if let cap = limit.dollars, spentDollars + reservedDollars + dollars > cap + moneyEpsilon { return .dollars }
        if let cap = limit.tokens, spentTokens + reservedTokens + tokens > cap { return .tokens }
        return nil
    }

    public enum LimitKind: Sendable, Hashable { case dollars, tokens }
}

/// Money comparisons allow for floating-point rounding below a millionth of a cent.
let moneyEpsilon = 1e-9

/// One model or embedding call's worst case, to reserve in every window it belongs to.
public struct SpendRequest: Sendable, Hashable {
    public var runId: String
    /// When the call is made, seconds since the epoch: its UTC day is the day windows it counts in.
    public var time: Double
    public var user: String?
    public var session: String?
    /// The pipeline the run started; nil for REPL statements.
    public var pipeline: String?
    public var dollars: Double
    public var tokens: Int
    /// Seconds after which a reservation never settled is released even when its process cannot be
    /// judged gone (a process on another host sharing the file).
    public var leaseSeconds: Double

    public init(runId: String, time: Double, user: String?, session: String?, pipeline: String?, dollars: Double, tokens: Int,
                leaseSeconds: Double) {
        self.runId = runId; self.time = time; self.user = user; self.session = session; self.pipeline = pipeline
        self.dollars = dollars; self.tokens = tokens; self.leaseSeconds = leaseSeconds
    }

    /// Every window the call counts in, limited or not: spending a run makes without a window budget
    /// still counts against the windows another run limits.
    public var keys: [WindowKey] {
        let day = WindowKey.utcDay(of: time)
        var keys = [WindowKey(window: .day, subject: "", day: day)]
        if let user { keys.append(WindowKey(window: .userDay, subject: user, day: day)) }
        if let pipeline { keys.append(WindowKey(window: .pipelineDay, subject: pipeline, day: day)) }
        if let session { keys.append(WindowKey(window: .session, subject: session, day: "")) }
        return keys
    }
}

/// A reservation the ledger holds until it is settled.
public struct SpendTicket: Sendable, Hashable {
    public var id: Int64
    public init(id: Int64) { self.id = id }
}

public enum SpendDecision: Sendable, Hashable {
    case reserved(SpendTicket)
    /// The first limit the call would pass, with the window's standing when it was checked.
    case refused(WindowLimit, WindowStanding)
}

/// Spending kept across runs. `reserve` checks every limit and records the reservation as one
/// atomic step, so concurrent runs (in one process or, for a shared store, in many) never pass a
/// limit together.
public protocol SpendLedger: Sendable {
    /// Reserves `request` in every window it belongs to (`request.keys`) if no limit of `limits`
    /// would be passed; otherwise reserves nothing and says which limit.
    /// Async so that a ledger that makes concurrent calls wait for a shared transaction suspends
    /// them instead of holding their threads.
    func reserve(_ request: SpendRequest, limits: [WindowLimit]) async throws -> SpendDecision
    /// Replaces a reservation with what the call really spent (zero for a failed call).
    func settle(_ ticket: SpendTicket, dollars: Double, tokens: Int, at time: Double) async throws
    /// What each window holds now, without reserving anything (dry runs, overrun reports).
    func standings(of keys: [WindowKey]) throws -> [WindowStanding]
}

/// A ledger in this process's memory: the same rules as the store's, for tests and the REPL.
public final class InMemorySpendLedger: SpendLedger, @unchecked Sendable {
    private let lock = NSLock()
    private var windows: [WindowKey: WindowStanding] = [:]
    private var open: [Int64: SpendRequest] = [:]
    private var nextId: Int64 = 1

    public init() {}

    public func reserve(_ request: SpendRequest, limits: [WindowLimit]) throws -> SpendDecision {
        lock.withLock {
            for limit in limits {
                let standing = windows[limit.key] ?? WindowStanding(key: limit.key)
                if standing.passed(by: limit, dollars: request.dollars, tokens: request.tokens) != nil {
                    return .refused(limit, standing)
                }
            }
            for key in request.keys {
                windows[key, default: WindowStanding(key: key)].reservedDollars += request.dollars
                windows[key, default: WindowStanding(key: key)].reservedTokens += request.tokens
            }
            let id = nextId
            nextId += 1
            open[id] = request
            return .reserved(SpendTicket(id: id))
        }
    }

    public func settle(_ ticket: SpendTicket, dollars: Double, tokens: Int, at time: Double) throws {
        lock.withLock {
            guard let request = open.removeValue(forKey: ticket.id) else { return }
            for key in request.keys {
                var standing = windows[key, default: WindowStanding(key: key)]
                standing.reservedDollars = max(0, standing.reservedDollars - request.dollars)
                standing.reservedTokens = max(0, standing.reservedTokens - request.tokens)
                standing.spentDollars += dollars
                standing.spentTokens += tokens
                windows[key] = standing
            }
        }
    }

    public func standings(of keys: [WindowKey]) throws -> [WindowStanding] {
        lock.withLock { keys.map { windows[$0] ?? WindowStanding(key: $0) } }
    }
}

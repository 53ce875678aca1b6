import SluiceRuntime

/// The state behind `ReliableProvider`'s circuit breaker and client-side rate limits, kept where
/// every caller that should share it can reach it: in this process (`InProcessCoordination`, the
/// default) or in the store, for every process that shares the file (`SQLiteStore`).
///
/// The policy (when a circuit opens, which slot a request takes) is `ReliableProvider`'s alone: an
/// implementation only runs the provider's closure on the endpoint's state atomically, so both
/// implementations behave alike by construction. The closures are pure and short; no
/// implementation holds its lock or transaction across a network call.
public protocol ProviderCoordination: Sendable {
    /// Runs `update` on the endpoint's breaker record (a fresh one when there is none) and keeps
    /// what it leaves, as one atomic step.
    func updateBreaker<T>(_ endpoint: String, _ update: (inout BreakerRecord) -> T) throws -> T

    /// Gives `decide` the endpoint's rate-limit slots taken after `since`, oldest first, and keeps
    /// the slot it returns (nil: none), as one atomic step. Slots before `since` may be forgotten.
    func takeSlot<T>(_ endpoint: String, since: Double, _ decide: ([RateSlot]) throws -> (slot: RateSlot?, result: T)) throws -> T
}

/// One endpoint's circuit breaker.
public struct BreakerRecord: Sendable, Equatable {
    /// Consecutive failed tries that said the endpoint is unwell.
    public var failures = 0
    /// When the circuit opened (clock seconds); nil while it is closed.
    public var openedAt: Double?
    /// While a half-open circuit's trial call runs: when its lease ends. A trial whose process died
    /// without a verdict stops blocking others once the lease is over.
    public var trialUntil: Double?
    /// The last failure, cut to a snippet, for the refusal message.
    public var lastError = ""

    public init(failures: Int = 0, openedAt: Double? = nil, trialUntil: Double? = nil, lastError: String = "") {
        self.failures = failures; self.openedAt = openedAt; self.trialUntil = trialUntil; self.lastError = lastError
    }

    /// A closed circuit with no failures: nothing worth keeping.
    var isClear: Bool { failures == 0 && openedAt == nil && trialUntil == nil }
}

/// A try's place under an endpoint's per-minute limits: when it starts and the tokens it may use.
public struct RateSlot: Sendable, Equatable {
    public var time: Double
    public var tokens: Int
    public init(time: Double, tokens: Int) { self.time = time; self.tokens = tokens }
}

/// The state of one process's calls, behind one lock per kind of state.
public final class InProcessCoordination: ProviderCoordination {
    private let breakers = Locked<[String: BreakerRecord]>([:])
    private let slots = Locked<[String: [RateSlot]]>([:])

    public init() {}

    public func updateBreaker<T>(_ endpoint: String, _ update: (inout BreakerRecord) -> T) throws -> T {
        breakers.withLock { breakers in
            var record = breakers[endpoint] ?? BreakerRecord()
            let result = update(&record)
            breakers[endpoint] = record.isClear ? nil : record
            return result
        }
    }

    public func takeSlot<T>(_ endpoint: String, since: Double, _ decide: ([RateSlot]) throws -> (slot: RateSlot?, result: T)) throws -> T {
        try slots.withLock { slots in
            var entries = slots[endpoint] ?? []
            entries.removeAll { $0.time <= since }
            let (slot, result) = try decide(entries)
            // A new slot is never before the last one (`ReliableProvider` queues in arrival order),
            // so appending keeps the slots in time order.
            if let slot { entries.append(slot) }
            slots[endpoint] = entries
            return result
        }
    }
}

/// The breaker and rate-limit state in the store, shared by every process that opens the same
/// file: each change is one short `BEGIN IMMEDIATE` transaction (the write lock SQLite gives one
/// process at a time), so two processes cannot both take the last slot of a minute or both run
/// the trial call of a half-open circuit.
extension SQLiteStore: ProviderCoordination {
    /// The common cases (a closed circuit, a refusal, a success with nothing to reset) change
    /// nothing: they are answered from one read, without the write lock. Only an update that
    /// changes the record takes the transaction, which reads it again and runs `update` on what it
    /// finds then (`update` is pure, so running it twice is safe).
    public func updateBreaker<T>(_ endpoint: String, _ update: (inout BreakerRecord) -> T) throws -> T {
        let current = try coordinationRead("the circuit breaker of \(endpoint)") { db in try Self.breaker(endpoint, db) }
        var unchanged = current ?? BreakerRecord()
        let result = update(&unchanged)
        if unchanged == (current ?? BreakerRecord()) { return result }
        return try coordinationStep("the circuit breaker of \(endpoint)") { db in
            let stored = try Self.breaker(endpoint, db)
            var record = stored ?? BreakerRecord()
            let result = update(&record)
            if record != stored {
                if record.isClear {
                    try db.run("DELETE FROM provider_breakers WHERE endpoint = ?", [.text(endpoint)])
                } else {
                    try db.run("""
                        INSERT OR REPLACE INTO provider_breakers (endpoint, failures, opened_at, trial_until, last_error) VALUES (?, ?, ?, ?, ?)
                        """, [.text(endpoint), .int(record.failures), record.openedAt.map(SQLiteValue.real) ?? .null,
                              record.trialUntil.map(SQLiteValue.real) ?? .null, .text(record.lastError)])
                }
            }
            return result
        }
    }

    private static func breaker(_ endpoint: String, _ db: SQLiteConnection) throws -> BreakerRecord? {
        try db.query("SELECT failures, opened_at, trial_until, last_error FROM provider_breakers WHERE endpoint = ?", [.text(endpoint)]) { row in
            BreakerRecord(failures: row.int(0), openedAt: row.optionalDouble(1), trialUntil: row.optionalDouble(2), lastError: row.text(3))
        }.first
    }

    public func takeSlot<T>(_ endpoint: String, since: Double, _ decide: ([RateSlot]) throws -> (slot: RateSlot?, result: T)) throws -> T {
        try coordinationStep("the rate limits of \(endpoint)") { db in
            try db.run("DELETE FROM provider_rate_slots WHERE endpoint = ? AND at <= ?", [.text(endpoint), .real(since)])
            let entries = try db.query("SELECT at, tokens FROM provider_rate_slots WHERE endpoint = ? ORDER BY at, seq", [.text(endpoint)]) {
                RateSlot(time: $0.double(0), tokens: $0.int(1))
            }
            let (slot, result) = try decide(entries)
            if let slot {
                try db.run("INSERT INTO provider_rate_slots (endpoint, at, tokens) VALUES (?, ?, ?)",
                           [.text(endpoint), .real(slot.time), .int(slot.tokens)])
            }
            return result
        }
    }

    private func coordinationRead<T>(_ what: String, _ body: (SQLiteConnection) throws -> T) throws -> T {
        do {
            return try database.withConnection(body)
        } catch let error as SQLiteError {
            throw ProviderError(.configuration, "cannot read \(what) in the store \(path): \(error)")
        }
    }

    /// One transaction; a store that cannot be read or written is a configuration error of the call
    /// (the limits it keeps cannot be honoured without it), naming the store and what was asked.
    private func coordinationStep<T>(_ what: String, _ body: (SQLiteConnection) throws -> T) throws -> T {
        do {
            return try database.transaction(body)
        } catch let error as SQLiteError {
            throw ProviderError(.configuration, "cannot read or update \(what) in the store \(path): \(error)")
        }
    }
}

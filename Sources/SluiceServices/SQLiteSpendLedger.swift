import Foundation
import SluiceRuntime
import SluiceSemantics

/// The spend ledger in the store (tables `budget_reservations` and `budget_windows`), shared by
/// every process that opens the same file. A reservation checks every limit and is recorded in one
/// `BEGIN IMMEDIATE` transaction, which SQLite runs one at a time across processes, so concurrent
/// runs never pass a limit together. A reservation whose process died (`kill -9`, a crash) is
/// released once that is known (the same owner test as an abandoned run's: host, boot id, pid and
/// start time) or when its lease runs out, whichever comes first; the owners are judged only when
/// a limit would otherwise refuse a call, so the common path reads no process table.
///
/// Reservations and settlements made at once in this process share transactions (group commit,
/// `GroupCommit`): those queued while one transaction runs are applied by the next, in queue order,
/// each reservation checked against the windows as the operations before it left them. A call
/// returns only once its transaction has committed, and a transaction that fails (the lock held
/// past `busy_timeout`, a full disk) fails every call in it with the store's error.
extension SQLiteStore: SpendLedger {
    public func reserve(_ request: SpendRequest, limits: [WindowLimit]) async throws -> SpendDecision {
        Self.decision(try await spendBatches.submit(.reserve(request, limits), applying: applySpendBatch))
    }

    /// A reservation released because its lease ran out is still charged what it spent: the
    /// windows then count the call once, at its real cost.
    public func settle(_ ticket: SpendTicket, dollars: Double, tokens: Int, at time: Double) async throws {
        _ = try await spendBatches.submit(.settle(ticket, dollars: dollars, tokens: tokens, at: time), applying: applySpendBatch)
    }

    /// `reserve` for a thread of its own (not a task): it waits for its batch blocking that thread.
    public func reserveWaiting(_ request: SpendRequest, limits: [WindowLimit]) throws -> SpendDecision {
        Self.decision(try spendBatches.submit(.reserve(request, limits), applying: applySpendBatch))
    }

    /// `settle` for a thread of its own (not a task).
    public func settleWaiting(_ ticket: SpendTicket, dollars: Double, tokens: Int, at time: Double) throws {
        _ = try spendBatches.submit(.settle(ticket, dollars: dollars, tokens: tokens, at: time), applying: applySpendBatch)
    }

    private static func decision(_ outcome: SpendOutcome) -> SpendDecision {
        guard case .decided(let decision) = outcome else { preconditionFailure("a reservation was answered as a settlement") }
        return decision
    }

    /// How many transactions this store's ledger has run for how many reservations and settlements.
    public var spendLedgerStatistics: GroupCommitStatistics { spendBatches.statistics }

    /// One batch of the group commit, as one transaction.
    private func applySpendBatch(_ batch: [SpendOperation]) throws -> [SpendOutcome] {
        try database.transaction { db in
            var ownersJudged = false
            return try batch.map { operation in
                switch operation {
                case .reserve(let request, let limits):
                    return .decided(try Self.reserve(request, limits, ownersJudged: &ownersJudged, db))
                case .settle(let ticket, let dollars, let tokens, let time):
                    try Self.settle(ticket, dollars: dollars, tokens: tokens, at: time, db)
                    return .settled
                }
            }
        }
    }

    public func standings(of keys: [WindowKey]) throws -> [WindowStanding] {
        try database.withConnection { db in try keys.map { try Self.standing($0, db) } }
    }

    /// Releases the reservations whose process is known to be gone (for reports of what the windows
    /// hold, like `dry-run`'s); returns how many.
    @discardableResult
    public func releaseAbandonedReservations() throws -> Int {
        try database.transaction { db in try Self.releaseAbandoned(db) }
    }

    // MARK: Inside a transaction

    /// `ownersJudged` says whether this transaction has already released the reservations of
    /// processes known to be gone: while it holds the write lock no other process can add one.
    private static func reserve(_ request: SpendRequest, _ limits: [WindowLimit], ownersJudged: inout Bool,
                                _ db: SQLiteConnection) throws -> SpendDecision {
        try releaseExpired(at: request.time, db)
        var refusal = try firstPassed(limits, request, db)
        if refusal != nil, !ownersJudged {
            ownersJudged = true
            if try releaseAbandoned(db) > 0 { refusal = try firstPassed(limits, request, db) }
        }
        if let (limit, standing) = refusal { return .refused(limit, standing) }
        let owner = RunOwner.current
        try db.run("""
            INSERT INTO budget_reservations (run_id, created_at, day, user_id, session_id, pipeline, reserved_dollars, reserved_tokens,
                                             status, owner_host, owner_boot, owner_pid, owner_start, lease_expires)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?, ?, ?, ?)
            """, [.text(request.runId), .real(request.time), .text(WindowKey.utcDay(of: request.time)),
                  .optionalText(request.user), .optionalText(request.session), .optionalText(request.pipeline),
                  .real(request.dollars), .int(request.tokens),
                  .text(owner.host), .text(owner.boot), .int(owner.pid), .int(owner.start), .real(request.time + request.leaseSeconds)])
        let id = db.lastInsertRowID
        for key in request.keys {
            try db.run("""
                INSERT INTO budget_windows (kind, subject, day, reserved_dollars, reserved_tokens) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (kind, subject, day) DO UPDATE SET reserved_dollars = reserved_dollars + excluded.reserved_dollars,
                                                                 reserved_tokens = reserved_tokens + excluded.reserved_tokens
                """, bind(key) + [.real(request.dollars), .int(request.tokens)])
        }
        return .reserved(SpendTicket(id: id))
    }

    private static func settle(_ ticket: SpendTicket, dollars: Double, tokens: Int, at time: Double, _ db: SQLiteConnection) throws {
        guard let (request, status) = try reservation(ticket.id, db), status != "settled" else { return }
        try db.run("UPDATE budget_reservations SET status = 'settled', spent_dollars = ?, spent_tokens = ?, settled_at = ? WHERE id = ?",
                   [.real(dollars), .int(tokens), .real(time), .integer(ticket.id)])
        let (heldDollars, heldTokens) = status == "reserved" ? (request.dollars, request.tokens) : (0, 0)
        for key in request.keys {
            try db.run("""
                UPDATE budget_windows SET reserved_dollars = max(0, reserved_dollars - ?), reserved_tokens = max(0, reserved_tokens - ?),
                                          spent_dollars = spent_dollars + ?, spent_tokens = spent_tokens + ?
                WHERE kind = ? AND subject = ? AND day = ?
                """, [.real(heldDollars), .int(heldTokens), .real(dollars), .int(tokens)] + bind(key))
        }
    }

    private static func bind(_ key: WindowKey) -> [SQLiteValue] {
        [.text(key.window.rawValue), .text(key.subject), .text(key.day)]
    }

    private static func standing(_ key: WindowKey, _ db: SQLiteConnection) throws -> WindowStanding {
        try db.query("""
            SELECT spent_dollars, spent_tokens, reserved_dollars, reserved_tokens FROM budget_windows
            WHERE kind = ? AND subject = ? AND day = ?
            """, bind(key)) { row in
            WindowStanding(key: key, spentDollars: row.double(0), spentTokens: row.int(1), reservedDollars: row.double(2), reservedTokens: row.int(3))
        }.first ?? WindowStanding(key: key)
    }

    private static func firstPassed(_ limits: [WindowLimit], _ request: SpendRequest,
                                    _ db: SQLiteConnection) throws -> (WindowLimit, WindowStanding)? {
        for limit in limits {
            let standing = try standing(limit.key, db)
            if standing.passed(by: limit, dollars: request.dollars, tokens: request.tokens) != nil { return (limit, standing) }
        }
        return nil
    }

    /// A stored reservation as the request that made it, with its status.
    private static func reservation(_ id: Int64, _ db: SQLiteConnection) throws -> (SpendRequest, String)? {
        try db.query("""
            SELECT run_id, created_at, user_id, session_id, pipeline, reserved_dollars, reserved_tokens, lease_expires, status
            FROM budget_reservations WHERE id = ?
            """, [.integer(id)]) { row in
            (SpendRequest(runId: row.text(0), time: row.double(1), user: row.optionalText(2), session: row.optionalText(3),
                          pipeline: row.optionalText(4), dollars: row.double(5), tokens: row.int(6), leaseSeconds: row.double(7) - row.double(1)),
             row.text(8))
        }.first
    }

    private static func release(_ id: Int64, because reason: String, _ db: SQLiteConnection) throws {
        guard let (request, status) = try reservation(id, db), status == "reserved" else { return }
        try db.run("UPDATE budget_reservations SET status = 'released', released_because = ? WHERE id = ?", [.text(reason), .integer(id)])
        for key in request.keys {
            try db.run("""
                UPDATE budget_windows SET reserved_dollars = max(0, reserved_dollars - ?), reserved_tokens = max(0, reserved_tokens - ?)
                WHERE kind = ? AND subject = ? AND day = ?
                """, [.real(request.dollars), .int(request.tokens)] + bind(key))
        }
    }

    private static func releaseExpired(at time: Double, _ db: SQLiteConnection) throws {
        let expired = try db.query("SELECT id FROM budget_reservations WHERE status = 'reserved' AND lease_expires < ?", [.real(time)]) {
            Int64($0.int(0))
        }
        for id in expired { try release(id, because: "its lease ran out before the call was settled", db) }
    }

    private static func releaseAbandoned(_ db: SQLiteConnection) throws -> Int {
        let open = try db.query("""
            SELECT id, owner_host, owner_boot, owner_pid, owner_start FROM budget_reservations WHERE status = 'reserved'
            """) { row in (Int64(row.int(0)), RunOwner(host: row.text(1), boot: row.text(2), pid: row.int(3), start: row.int(4))) }
        var verdicts: [RunOwner: Bool] = [:]
        var released = 0
        for (id, owner) in open {
            let gone = verdicts[owner] ?? owner.isGone
            verdicts[owner] = gone
            guard gone else { continue }
            try release(id, because: "the process that held it (pid \(owner.pid) on \(owner.host)) ended before the call was settled", db)
            released += 1
        }
        return released
    }
}

/// What the store's ledger queues for its group commit, and what each operation comes back with.
enum SpendOperation {
    case reserve(SpendRequest, [WindowLimit])
    case settle(SpendTicket, dollars: Double, tokens: Int, at: Double)
}

enum SpendOutcome {
    case decided(SpendDecision)
    case settled
}

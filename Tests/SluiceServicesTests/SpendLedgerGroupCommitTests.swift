import CSQLite
import Foundation
import SluiceRuntime
import SluiceSemantics
@testable import SluiceServices
import XCTest

/// The store's ledger under group commit: many threads of one process reserving and settling at
/// once share transactions, and still keep every limit exactly as the in-memory ledger would given
/// the same operations in commit order; a transaction that fails fails every call in it.
final class SpendLedgerGroupCommitTests: XCTestCase {
    let now = 1_764_547_200.0  // 2025-12-01 00:00 UTC
    var day: String { WindowKey.utcDay(of: now) }

    /// Runs `body(0..<count)` on `count` threads at once (not tasks: the cooperative pool would run
    /// only as many as there are cores, and callers blocked in the ledger are what batches are made of).
    func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
    }

    struct Granted: Sendable {
        var request: SpendRequest
        var limits: [WindowLimit]
        var dollars: Double
        var tokens: Int
    }

    struct Refused: Sendable {
        var request: SpendRequest
        var limits: [WindowLimit]
        var limit: WindowLimit
        var standing: WindowStanding
    }

    func testConcurrentCallsKeepEveryLimitAndEndAsAnInMemoryReplayOfTheirCommitOrder() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        // The order the transactions applied reservations and settlements in, logged by the store itself.
        try store.database.withConnection { db in
            try db.exec("""
                CREATE TEMP TABLE ledger_log (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, reservation INTEGER NOT NULL);
                CREATE TEMP TRIGGER log_reserve AFTER INSERT ON budget_reservations
                BEGIN INSERT INTO ledger_log (kind, reservation) VALUES ('reserve', new.id); END;
                CREATE TEMP TRIGGER log_settle AFTER UPDATE OF status ON budget_reservations WHEN new.status = 'settled'
                BEGIN INSERT INTO ledger_log (kind, reservation) VALUES ('settle', new.id); END;
                """)
        }
        let users = (0..<4).map { "u\($0)" }, sessions = (0..<8).map { "s\($0)" }
        let now = self.now, day = self.day
        @Sendable func limits(user: String, session: String) -> [WindowLimit] {
            [WindowLimit(key: WindowKey(window: .userDay, subject: user, day: day), dollars: 0.05, tokens: 6_000),
             WindowLimit(key: WindowKey(window: .session, subject: session, day: ""), tokens: 2_500),
             WindowLimit(key: WindowKey(window: .pipelineDay, subject: "p", day: day), dollars: 0.15),
             WindowLimit(key: WindowKey(window: .day, subject: "", day: day), dollars: 0.18)]
        }
        let granted = Locked<[Int64: Granted]>([:]), refused = Locked<[Refused]>([]), failures = Locked<[String]>([])
        let tasks = 64, callsPerTask = 12
        onThreads(tasks) { task in
            var random = SplitMix64(seed: UInt64(task) &* 0x9E37_79B9 &+ 17)
            for call in 0..<callsPerTask {
                let user = users[Int(random.next() % 4)], session = sessions[task % sessions.count]
                let worstDollars = Double(1 + random.next() % 12) / 1000, worstTokens = Int(50 + random.next() % 350)
                let request = SpendRequest(runId: "t\(task)-\(call)", time: now, user: user, session: session, pipeline: "p",
                                           dollars: worstDollars, tokens: worstTokens, leaseSeconds: 3_600)
                let windowLimits = limits(user: user, session: session)
                do {
                    switch try store.reserveWaiting(request, limits: windowLimits) {
                    case .refused(let limit, let standing):
                        refused.withLock { $0.append(Refused(request: request, limits: windowLimits, limit: limit, standing: standing)) }
                    case .reserved(let ticket):
                        // One call in five costs more than its worst case (an overrun); one in ten fails and costs nothing.
                        let roll = random.next() % 10
                        let (dollars, tokens) = roll < 2 ? (worstDollars * 1.5, worstTokens + 100)
                            : roll == 2 ? (0, 0)
                            : (Double(random.next() % UInt64(worstDollars * 1000 + 1)) / 1000, Int(random.next() % UInt64(worstTokens + 1)))
                        granted.withLock { $0[ticket.id] = Granted(request: request, limits: windowLimits, dollars: dollars, tokens: tokens) }
                        try store.settleWaiting(ticket, dollars: dollars, tokens: tokens, at: now)
                    }
                } catch {
                    failures.withLock { $0.append("\(request.runId): \(error)") }
                }
            }
        }
        XCTAssertEqual(failures.current, [])
        let grants = granted.current, refusals = refused.current
        XCTAssertEqual(grants.count + refusals.count, tasks * callsPerTask)
        XCTAssertGreaterThan(refusals.count, 100, "the limits are tight enough to refuse many calls")
        XCTAssertGreaterThan(grants.values.filter { $0.dollars > $0.request.dollars }.count, 5, "some calls overran")
        let statistics = store.spendLedgerStatistics
        XCTAssertEqual(statistics.operations, refusals.count + 2 * grants.count)
        XCTAssertLessThan(statistics.transactions, statistics.operations, "concurrent calls shared transactions")

        // Every refusal names one of its request's limits, and the standing it reports leaves no room for the call.
        for refusal in refusals {
            XCTAssertTrue(refusal.limits.contains(refusal.limit), refusal.request.runId)
            XCTAssertEqual(refusal.standing.key, refusal.limit.key, refusal.request.runId)
            XCTAssertNotNil(refusal.standing.passed(by: refusal.limit, dollars: refusal.request.dollars, tokens: refusal.request.tokens),
                            "\(refusal.request.runId) was refused with room left: \(refusal.standing)")
        }

        // Replayed in commit order, the in-memory ledger grants every reservation the store granted
        // (so none passed a limit as the windows stood, overruns counted) and ends with the same windows.
        let log = try store.database.withConnection { db in
            try db.query("SELECT kind, reservation FROM ledger_log ORDER BY seq") { ($0.text(0), Int64($0.int(1))) }
        }
        XCTAssertEqual(log.count, 2 * grants.count)
        let replay = InMemorySpendLedger()
        var tickets: [Int64: SpendTicket] = [:]
        for (kind, id) in log {
            let grant = try XCTUnwrap(grants[id], "reservation \(id) was committed but never handed to its caller")
            if kind == "reserve" {
                guard case .reserved(let ticket) = try replay.reserve(grant.request, limits: grant.limits) else {
                    return XCTFail("the store granted \(grant.request.runId) past a limit")
                }
                tickets[id] = ticket
            } else {
                try replay.settle(try XCTUnwrap(tickets[id], "settled before it was reserved"), dollars: grant.dollars, tokens: grant.tokens, at: now)
            }
        }
        let keys = Set(grants.values.flatMap(\.request.keys) + refusals.flatMap(\.request.keys)).sorted()
        let stored = try store.standings(of: keys), replayed = try replay.standings(of: keys)
        for (mine, reference) in zip(stored, replayed) {
            XCTAssertEqual(mine.spentDollars, reference.spentDollars, accuracy: 1e-9, "\(mine.key)")
            XCTAssertEqual(mine.spentTokens, reference.spentTokens, "\(mine.key)")
            XCTAssertEqual(mine.reservedDollars, 0, accuracy: 1e-9, "\(mine.key)")
            XCTAssertEqual(mine.reservedTokens, 0, "\(mine.key)")
        }
        // A window passes its limit only by what overran in it.
        for limit in Set(grants.values.flatMap(\.limits)) {
            let standing = try XCTUnwrap(stored.first { $0.key == limit.key })
            let inWindow = grants.values.filter { $0.request.keys.contains(limit.key) }
            let overDollars = inWindow.reduce(0) { $0 + max(0, $1.dollars - $1.request.dollars) }
            let overTokens = inWindow.reduce(0) { $0 + max(0, $1.tokens - $1.request.tokens) }
            if let cap = limit.dollars { XCTAssertLessThanOrEqual(standing.spentDollars, cap + overDollars + 1e-9, "\(limit.key)") }
            if let cap = limit.tokens { XCTAssertLessThanOrEqual(standing.spentTokens, cap + overTokens, "\(limit.key)") }
        }
    }

    func testATransactionThatFailsFailsEveryCallInIt() throws {
        let path = try temporaryFolder(self) + "/s.db"
        let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 300)
        let limit = WindowLimit(key: WindowKey(window: .day, subject: "", day: day), dollars: 10)
        let now = self.now
        @Sendable func request(_ run: String) -> SpendRequest {
            SpendRequest(runId: run, time: now, user: nil, session: nil, pipeline: "p", dollars: 0.01, tokens: 10, leaseSeconds: 600)
        }
        guard case .reserved(let held) = try store.reserveWaiting(request("held"), limits: [limit]) else { return XCTFail("fits") }
        // Another connection (as another process would) holds the write lock past the store's busy timeout.
        let other = try SQLiteDatabase(path: path)
        try other.withConnection { try $0.exec("BEGIN IMMEDIATE") }
        let errors = Locked<[Int: any Error]>([:])
        let before = store.spendLedgerStatistics
        // The first call leads a transaction that waits for the lock; the seven queued meanwhile share the next one.
        onThreads(8) { index in
            if index > 0 { usleep(100_000) }
            do {
                if index == 7 {
                    try store.settleWaiting(held, dollars: 0.005, tokens: 5, at: now)
                } else {
                    _ = try store.reserveWaiting(request("r\(index)"), limits: [limit])
                }
            } catch {
                errors.withLock { $0[index] = error }
            }
        }
        try other.withConnection { try $0.exec("ROLLBACK") }
        let failed = errors.current
        XCTAssertEqual(failed.count, 8, "every call failed: \(failed.keys.sorted())")
        let texts = Set(failed.values.map { "\($0)" })
        XCTAssertEqual(texts, ["cannot run BEGIN IMMEDIATE: database is locked (database \(path))"])
        for error in failed.values { XCTAssertEqual(((error as? SQLiteError)?.code ?? 0) & 0xff, SQLITE_BUSY) }
        let after = store.spendLedgerStatistics
        XCTAssertEqual(after.operations - before.operations, 8)
        XCTAssertEqual(after.transactions - before.transactions, 2, "one transaction for the first call, one for the seven behind it")
        // Nothing of the failed batch was kept: the held reservation is still open, and settles now.
        let standing = try XCTUnwrap(store.standings(of: [limit.key]).first)
        XCTAssertEqual(standing.reservedDollars, 0.01, accuracy: 1e-12)
        XCTAssertEqual(standing.spentDollars, 0, accuracy: 1e-12)
        try store.settleWaiting(held, dollars: 0.005, tokens: 5, at: now)
        XCTAssertEqual(try XCTUnwrap(store.standings(of: [limit.key]).first).spentDollars, 0.005, accuracy: 1e-12)
    }

    /// Tasks (as the runtime's runs call the ledger) suspend while their batch waits rather than
    /// hold a thread; they keep the limit exactly, and what they settled is what the window holds.
    func testConcurrentTasksKeepTheLimitAndSettleExactly() async throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        let limit = WindowLimit(key: WindowKey(window: .userDay, subject: "u", day: day), dollars: 0.10)
        let now = self.now
        let granted = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let request = SpendRequest(runId: "t\(index)", time: now, user: "u", session: nil, pipeline: "p",
                                               dollars: 0.004, tokens: 10, leaseSeconds: 60)
                    guard case .reserved(let ticket) = try await store.reserve(request, limits: [limit]) else { return 0 }
                    await Task.yield()
                    try await store.settle(ticket, dollars: 0.003, tokens: 7, at: now)
                    return 1
                }
            }
            return try await group.reduce(0, +)
        }
        let standing = try XCTUnwrap(try store.standings(of: [limit.key]).first)
        XCTAssertEqual(standing.reservedDollars, 0, accuracy: 1e-12)
        XCTAssertEqual(standing.spentDollars, Double(granted) * 0.003, accuracy: 1e-9)
        XCTAssertEqual(standing.spentTokens, granted * 7)
        // Each grant needed its worst case ($0.004) free beside what was spent and reserved, and
        // settling at $0.003 frees some: at least 25 fit in $0.10, and never more than 33.
        XCTAssertGreaterThanOrEqual(granted, 25)
        XCTAssertLessThanOrEqual(Double(granted) * 0.003, 0.10 + 1e-9)
    }

}

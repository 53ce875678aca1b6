import Foundation
import SluiceRuntime
import SluiceSemantics
@testable import SluiceServices
import XCTest

/// The store's spend ledger: limits hold under concurrent reservations through one connection and
/// through many (as many processes would hold), reservations of dead processes and ended leases are
/// released, and a settlement replaces a reservation with the real spend.
final class SQLiteSpendLedgerTests: XCTestCase {
    let now = 1_764_547_200.0  // 2025-12-01 00:00 UTC
    var day: String { WindowKey.utcDay(of: now) }

    func request(_ run: String, dollars: Double, tokens: Int = 10, user: String? = "u", time: Double? = nil,
                 lease: Double = 600) -> SpendRequest {
        SpendRequest(runId: run, time: time ?? now, user: user, session: "s", pipeline: "p", dollars: dollars, tokens: tokens, leaseSeconds: lease)
    }

    func windowStanding(_ ledger: SpendLedger, _ window: BudgetWindow, _ subject: String) throws -> WindowStanding {
        try XCTUnwrap(ledger.standings(of: [WindowKey(window: window, subject: subject, day: window == .session ? "" : day)]).first)
    }

    func testUTCDaysAreCalendarDays() {
        XCTAssertEqual(WindowKey.utcDay(of: now), "2025-12-01")
        XCTAssertEqual(WindowKey.utcDay(of: now - 1), "2025-11-30")
    }

    func testConcurrentReservationsThroughManyConnectionsNeverPassALimit() async throws {
        let path = try temporaryFolder(self) + "/s.db"
        let stores = try (0..<8).map { _ in try SQLiteStore(path: path) }
        let limit = WindowLimit(key: WindowKey(window: .userDay, subject: "u", day: day), dollars: 0.50)
        let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                let store = stores[i % stores.count]
                let call = request("r\(i)", dollars: 0.02), settledAt = now + 1
                group.addTask {
                    guard case .reserved(let ticket) = try store.reserveWaiting(call, limits: [limit]) else { return false }
                    try store.settleWaiting(ticket, dollars: 0.02, tokens: 10, at: settledAt)
                    return true
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        XCTAssertEqual(granted, 25, "$0.50 holds exactly 25 calls of $0.02")
        let user = try windowStanding(stores[0], .userDay, "u")
        XCTAssertEqual(user.spentDollars, 0.50, accuracy: 1e-9)
        XCTAssertEqual(user.reservedDollars, 0, accuracy: 1e-12)
        XCTAssertEqual(user.spentTokens, 250)
        // Every window the calls belong to counts them.
        XCTAssertEqual(try windowStanding(stores[1], .pipelineDay, "p").spentDollars, 0.50, accuracy: 1e-9)
        XCTAssertEqual(try windowStanding(stores[2], .session, "s").spentTokens, 250)
        XCTAssertEqual(try windowStanding(stores[3], .day, "").spentTokens, 250)
    }

    func testARefusalReportsTheWindowsStandingAndReservesNothing() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        let limit = WindowLimit(key: WindowKey(window: .userDay, subject: "u", day: day), dollars: 0.05, tokens: 1000)
        guard case .reserved(let first) = try store.reserveWaiting(request("a", dollars: 0.03), limits: [limit]) else { return XCTFail("fits") }
        try store.settleWaiting(first, dollars: 0.025, tokens: 10, at: now)
        guard case .reserved = try store.reserveWaiting(request("b", dollars: 0.01), limits: [limit]) else { return XCTFail("fits") }
        let decision = try store.reserveWaiting(request("c", dollars: 0.02), limits: [limit])
        guard case .refused(let refused, let standing) = decision else { return XCTFail("$0.025 + $0.01 + $0.02 passes $0.05") }
        XCTAssertEqual(refused, limit)
        XCTAssertEqual(standing.spentDollars, 0.025, accuracy: 1e-12)
        XCTAssertEqual(standing.reservedDollars, 0.01, accuracy: 1e-12)
        XCTAssertEqual(try windowStanding(store, .userDay, "u").reservedDollars, 0.01, accuracy: 1e-12)
        // A token limit refuses on its own.
        guard case .refused = try store.reserveWaiting(request("d", dollars: 0, tokens: 981), limits: [limit]) else { return XCTFail("tokens") }
    }

    func testAReservationOfADeadProcessIsReleasedWhenItWouldRefuseACall() throws {
        let path = try temporaryFolder(self) + "/s.db"
        let store = try SQLiteStore(path: path)
        let limit = WindowLimit(key: WindowKey(window: .userDay, subject: "u", day: day), dollars: 0.05)
        guard case .reserved = try store.reserveWaiting(request("dead", dollars: 0.04), limits: [limit]) else { return XCTFail("fits") }
        guard case .refused = try store.reserveWaiting(request("next", dollars: 0.04), limits: [limit]) else { return XCTFail("held by a live process") }
        // The holder becomes a process that has exited: a child we started and waited for.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        try store.database.withConnection { db in
            try db.run("UPDATE budget_reservations SET owner_pid = ? WHERE run_id = 'dead'", [.int(Int(child.processIdentifier))])
        }
        guard case .reserved = try store.reserveWaiting(request("next", dollars: 0.04), limits: [limit]) else { return XCTFail("the dead one is released") }
        let released = try store.database.withConnection { db in
            try db.query("SELECT status, released_because FROM budget_reservations WHERE run_id = 'dead'") { ($0.text(0), $0.text(1)) }
        }
        XCTAssertEqual(released.first?.0, "released")
        XCTAssertTrue(released.first?.1.contains("pid \(child.processIdentifier)") == true, "\(released)")
    }

    func testAnEndedLeaseIsReleasedAndALateSettlementStillCountsTheSpend() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        let limit = WindowLimit(key: WindowKey(window: .userDay, subject: "u", day: day), dollars: 0.05)
        guard case .reserved(let slow) = try store.reserveWaiting(request("slow", dollars: 0.04, lease: 30), limits: [limit]) else { return XCTFail("fits") }
        guard case .refused = try store.reserveWaiting(request("b", dollars: 0.04, time: now + 29), limits: [limit]) else { return XCTFail("leased") }
        guard case .reserved = try store.reserveWaiting(request("b", dollars: 0.04, time: now + 31), limits: [limit]) else { return XCTFail("lease over") }
        try store.settleWaiting(slow, dollars: 0.03, tokens: 10, at: now + 40)
        let user = try windowStanding(store, .userDay, "u")
        XCTAssertEqual(user.spentDollars, 0.03, accuracy: 1e-12)
        XCTAssertEqual(user.reservedDollars, 0.04, accuracy: 1e-12, "only b's reservation is held")
        // Settling twice changes nothing.
        try store.settleWaiting(slow, dollars: 0.03, tokens: 10, at: now + 41)
        XCTAssertEqual(try windowStanding(store, .userDay, "u").spentDollars, 0.03, accuracy: 1e-12)
    }

    func testAnInterpreterOverTwoStoresOnOneFileSharesTheWindows() async throws {
        let path = try temporaryFolder(self) + "/s.db"
        let first = try SQLiteStore(path: path), second = try SQLiteStore(path: path)
        let limit = WindowLimit(key: WindowKey(window: .day, subject: "", day: day), dollars: 1)
        guard case .reserved(let ticket) = try first.reserveWaiting(request("a", dollars: 0.6, user: nil), limits: [limit]) else { return XCTFail("fits") }
        guard case .refused(_, let standing) = try second.reserveWaiting(request("b", dollars: 0.6, user: nil), limits: [limit]) else {
            return XCTFail("the other connection's reservation counts")
        }
        XCTAssertEqual(standing.reservedDollars, 0.6, accuracy: 1e-12)
        try first.settleWaiting(ticket, dollars: 0.1, tokens: 1, at: now)
        guard case .reserved = try second.reserveWaiting(request("b", dollars: 0.6, user: nil), limits: [limit]) else { return XCTFail("settled low") }
    }
}

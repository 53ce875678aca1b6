import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// The queries behind `sluice traces serve`: filters, text search, paging, cost per day, durations.
final class ViewerQueriesTests: XCTestCase {
    private let day: Double = 86_400
    /// 2026-12-01 00:00:00 UTC.
    private let december1: Double = 1_796_083_200

    private func record(_ store: SQLiteStore, _ id: String, pipeline: String = "support", user: String? = nil, at startedAt: Double,
                        seconds: Double = 1, status: TraceRunEnd.Status? = .ok, inputs: JSONValue = .object([]),
                        output: JSONValue? = nil, error: String? = nil, cost: Double = 0) throws {
        try store.runStarted(TraceRun(id: id, pipeline: pipeline, file: "\(pipeline).sluice", startedAt: startedAt, inputs: inputs, user: user))
        guard let status else { return }
        try store.runEnded(TraceRunEnd(id: id, status: status, endedAt: startedAt + seconds, output: output, error: error,
                                       cost: cost, tokens: 10))
    }

    private func ids(_ store: SQLiteStore, _ filter: TraceFilter) throws -> [String] {
        try store.viewerRuns(matching: filter, offset: 0, limit: 100).runs.map(\.id)
    }

    func testFiltersByPipelineUserStatusAndTimeRange() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        try record(store, "a", user: "alice", at: december1 + 10)
        try record(store, "b", pipeline: "rag", user: "bob", at: december1 + day + 10, status: .error, error: "boom")
        try record(store, "c", pipeline: "rag", user: "alice", at: december1 + 2 * day + 10)

        XCTAssertEqual(try ids(store, TraceFilter()), ["c", "b", "a"], "newest first")
        XCTAssertEqual(try ids(store, TraceFilter(pipeline: "rag")), ["c", "b"])
        XCTAssertEqual(try ids(store, TraceFilter(user: "alice")), ["c", "a"])
        XCTAssertEqual(try ids(store, TraceFilter(status: "error")), ["b"])
        XCTAssertEqual(try ids(store, TraceFilter(pipeline: "rag", user: "alice")), ["c"])
        XCTAssertEqual(try ids(store, TraceFilter(since: december1 + day, until: december1 + 2 * day)), ["b"])
        XCTAssertEqual(try ids(store, TraceFilter(user: "nobody")), [])
        let listed = try XCTUnwrap(try store.viewerRuns(matching: TraceFilter(pipeline: "rag"), offset: 0, limit: 10).runs.first)
        XCTAssertEqual(listed.user, "alice")
        XCTAssertEqual(try XCTUnwrap(listed.duration), 1, accuracy: 1e-9)
        XCTAssertEqual(try store.viewerFacets(), ViewerFacets(pipelines: ["rag", "support"], users: ["alice", "bob"], statuses: ["error", "ok"]))
    }

    func testSearchFindsTextInInputsOutputsAndErrorsTakenLiterally() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        try record(store, "quote", at: 100, inputs: .object([("question", .string("Is \"quoted\" text\nfound?"))]))
        try record(store, "output", at: 200, output: .string("Reset it under Settings > Security."))
        try record(store, "error", at: 300, status: .error, error: "HTTP 429 from the provider")
        try record(store, "percent", at: 400, inputs: .object([("q", .string("100% sure"))]))
        try record(store, "script", at: 500, inputs: .object([("question", .string("<script>alert(1)</script>"))]))

        XCTAssertEqual(try ids(store, TraceFilter(search: "\"quoted\" text\nfound")), ["quote"], "a quote and a newline, as the JSON stores them")
        XCTAssertEqual(try ids(store, TraceFilter(search: "settings > SECURITY")), ["output"], "any case")
        XCTAssertEqual(try ids(store, TraceFilter(search: "HTTP 429")), ["error"])
        XCTAssertEqual(try ids(store, TraceFilter(search: "100%")), ["percent"], "% is a character, not a wildcard")
        XCTAssertEqual(try ids(store, TraceFilter(search: "_")), [], "_ is a character, not a wildcard")
        XCTAssertEqual(try ids(store, TraceFilter(search: "<script>")), ["script"])
        XCTAssertEqual(try ids(store, TraceFilter(search: "absent")), [])
    }

    func testPagesCountEveryMatch() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        for index in 0..<7 { try record(store, "run-\(index)", at: Double(100 + index)) }
        let second = try store.viewerRuns(matching: TraceFilter(), offset: 3, limit: 3)
        XCTAssertEqual(second.total, 7)
        XCTAssertEqual(second.runs.map(\.id), ["run-3", "run-2", "run-1"])
        XCTAssertEqual(try store.viewerRuns(matching: TraceFilter(), offset: 6, limit: 3).runs.map(\.id), ["run-0"])
    }

    func testCostPerDayAndDurationsFollowTheFilter() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        try record(store, "a", at: december1 + 60, seconds: 2, cost: 0.25)
        try record(store, "b", at: december1 + day - 1, seconds: 0.5, cost: 0.5)
        try record(store, "c", pipeline: "rag", at: december1 + 3 * day, seconds: 4, cost: 1)
        try record(store, "open", at: december1 + 3 * day + 5, status: nil)

        XCTAssertEqual(try store.dailyCosts(matching: TraceFilter()), [
            DailyCost(day: "2026-12-01", cost: 0.75, runs: 2), DailyCost(day: "2026-12-04", cost: 1, runs: 2),
        ])
        XCTAssertEqual(try store.dailyCosts(matching: TraceFilter(pipeline: "rag")), [DailyCost(day: "2026-12-04", cost: 1, runs: 1)])
        XCTAssertEqual(try store.runDurations(matching: TraceFilter()), [0.5, 2, 4], "shortest first; the open run has no duration")
    }

    func testARunWhoseProcessIsGoneIsFilteredAsInterrupted() throws {
        let path = try temporaryFolder(self) + "/s.db"
        let store = try SQLiteStore(path: path)
        try record(store, "dead", at: 100, status: nil)
        try record(store, "alive", at: 200, status: nil)
        try record(store, "done", at: 300)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        try store.database.withConnection { db in
            try db.run("UPDATE runs SET owner_pid = ? WHERE id = 'dead'", [.int(Int(child.processIdentifier))])
        }
        let reader = try SQLiteStore(path: path, readOnly: true)
        XCTAssertEqual(try ids(reader, TraceFilter(status: "interrupted")), ["dead"])
        XCTAssertEqual(try ids(reader, TraceFilter(status: "running")), ["alive"])
        XCTAssertEqual(try reader.viewerRuns(matching: TraceFilter(), offset: 0, limit: 10).runs.map(\.status), ["ok", "running", "interrupted"])
        XCTAssertEqual(try reader.viewerFacets().statuses, ["interrupted", "ok", "running"])
    }
}

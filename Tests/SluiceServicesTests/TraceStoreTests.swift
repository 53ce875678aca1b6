import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class TraceStoreTests: XCTestCase {
    private func makeStore() throws -> SQLiteStore {
        try SQLiteStore(path: try temporaryFolder(self) + "/nested/dir/sluice.db")
    }

    /// Records a small run: pipeline → (guard, cascade → prompt with two attempts), plus a score.
    private func recordRun(_ store: SQLiteStore, id: String, startedAt: Double = 1_700_000_000, end: Bool = true) throws {
        try store.runStarted(TraceRun(id: id, pipeline: "support", file: "support.sluice", startedAt: startedAt,
                                      inputs: .object([("question", .string("How?"))])))
        try store.spanStarted(TraceSpan(id: "\(id)-p", runId: id, parentId: nil, kind: "pipeline", name: "support", startedAt: startedAt))
        try store.spanStarted(TraceSpan(id: "\(id)-g", runId: id, parentId: "\(id)-p", kind: "guard", name: "question", startedAt: startedAt + 0.001))
        try store.guardChecked(TraceGuardVerdict(runId: id, spanId: "\(id)-g", guardName: "injection", pattern: nil, verdict: "pass", matches: 0))
        try store.spanEnded(TraceSpanEnd(id: "\(id)-g", endedAt: startedAt + 0.003, status: "ok", detail: .object([])))
        try store.spanStarted(TraceSpan(id: "\(id)-c", runId: id, parentId: "\(id)-p", kind: "cascade", name: "answer", startedAt: startedAt + 0.004))
        try store.spanStarted(TraceSpan(id: "\(id)-m", runId: id, parentId: "\(id)-c", kind: "prompt", name: "answer", startedAt: startedAt + 0.005))
        try store.modelCalled(TraceModelCall(runId: id, spanId: "\(id)-m", model: "gpt-4o-mini", provider: "openai",
                                             messages: [ChatMessage(role: "user", content: "How?")], reply: nil,
                                             inputTokens: 0, outputTokens: 0, cachedTokens: 0, cost: 0, latencyMs: 12,
                                             error: "HTTP 500 from http://x/v1/chat/completions: boom", attempt: 1))
        try store.modelCalled(TraceModelCall(runId: id, spanId: "\(id)-m", model: "gpt-4o-mini", provider: "openai",
                                             messages: [ChatMessage(role: "user", content: "How?")], reply: "Like this.",
                                             inputTokens: 820, outputTokens: 95, cachedTokens: 12, cost: 0.000183, latencyMs: 640,
                                             error: nil, attempt: 2, promptVersion: 2, promptMeta: .object([("owner", .string("support"))]),
                                             warnings: ["http://x/v1 gpt-4o-mini does not accept response_format"]))
        try store.spanEnded(TraceSpanEnd(id: "\(id)-m", endedAt: startedAt + 0.7, status: "ok", detail: .object([])))
        try store.spanEnded(TraceSpanEnd(id: "\(id)-c", endedAt: startedAt + 0.71, status: "ok",
                                         detail: .object([("answered_by", .string("gpt_4o_mini"))])))
        try store.scored(TraceScore(runId: id, spanId: nil, name: "faithfulness", value: 0.92))
        guard end else { return }
        try store.spanEnded(TraceSpanEnd(id: "\(id)-p", endedAt: startedAt + 1.24, status: "ok", detail: .object([])))
        try store.runEnded(TraceRunEnd(id: id, status: .ok, endedAt: startedAt + 1.24, output: .string("Like this."),
                                       error: nil, cost: 0.000183, tokens: 915))
    }

    func testRunRoundTripsWithSpansInTreeOrder() throws {
        let store = try makeStore()
        try recordRun(store, id: "run-1")
        let detail = try XCTUnwrap(try store.run(id: "run-1"))
        XCTAssertEqual(detail.summary.status, "ok")
        XCTAssertEqual(detail.summary.cost, 0.000183)
        XCTAssertEqual(detail.summary.tokens, 915)
        XCTAssertEqual(try XCTUnwrap(detail.summary.duration), 1.24, accuracy: 1e-6)
        XCTAssertEqual(detail.inputs, .object([("question", .string("How?"))]))
        XCTAssertEqual(detail.output, .string("Like this."))
        XCTAssertEqual(detail.spans.map(\.kind), ["pipeline", "guard", "cascade", "prompt"])
        XCTAssertEqual(detail.spans.map(\.depth), [0, 1, 1, 2])
        XCTAssertEqual(detail.spans[2].detail?["answered_by"], .string("gpt_4o_mini"))
        XCTAssertEqual(detail.modelCalls.map(\.attempt), [1, 2])
        XCTAssertEqual(detail.modelCalls[0].error, "HTTP 500 from http://x/v1/chat/completions: boom")
        XCTAssertEqual(detail.modelCalls[1].messages, [ChatMessage(role: "user", content: "How?")])
        XCTAssertEqual(detail.modelCalls[1].cachedTokens, 12)
        XCTAssertEqual(detail.guardVerdicts.map(\.verdict), ["pass"])
        XCTAssertEqual(detail.scores.map(\.name), ["faithfulness"])
    }

    func testAPartialRunKeepsWhatWasRecorded() throws {
        let folder = try temporaryFolder(self)
        do {
            let store = try SQLiteStore(path: folder + "/sluice.db")
            try recordRun(store, id: "crashed", end: false)
        }
        let reopened = try SQLiteStore(path: folder + "/sluice.db")
        let detail = try XCTUnwrap(try reopened.run(id: "crashed"))
        XCTAssertEqual(detail.summary.status, "running")
        XCTAssertNil(detail.summary.duration)
        XCTAssertEqual(detail.modelCalls.count, 2)
        XCTAssertNil(detail.spans[0].status)
        XCTAssertTrue(reopened.renderTrace(detail).contains("pipeline support  +0ms  running  unfinished"))
    }

    func testListRunsNewestFirstWithLimit() throws {
        let store = try makeStore()
        try recordRun(store, id: "a", startedAt: 100)
        try recordRun(store, id: "b", startedAt: 300)
        try recordRun(store, id: "c", startedAt: 200)
        XCTAssertEqual(try store.listRuns(limit: 10).map(\.id), ["b", "c", "a"])
        XCTAssertEqual(try store.listRuns(limit: 2).map(\.id), ["b", "c"])
        let first = try XCTUnwrap(try store.listRuns(limit: 1).first)
        XCTAssertEqual(first.pipeline, "support")
        XCTAssertEqual(first.tokens, 915)
    }

    func testRunByUniquePrefix() throws {
        let store = try makeStore()
        try recordRun(store, id: "7f3c2a91")
        try recordRun(store, id: "7f3d0000")
        try recordRun(store, id: "7f3")
        XCTAssertEqual(try store.run(id: "7f3c")?.summary.id, "7f3c2a91")
        XCTAssertEqual(try store.run(id: "7f3")?.summary.id, "7f3", "an exact id wins over prefixes")
        XCTAssertNil(try store.run(id: "zz"))
        XCTAssertNil(try store.run(id: ""))
        XCTAssertThrowsError(try store.run(id: "7f")) { error in
            XCTAssertTrue("\(error)".contains("matches several runs"), "\(error)")
        }
        XCTAssertNil(try store.run(id: "%"), "LIKE wildcards are not special")
    }

    func testEndingAnUnknownSpanOrRunIsAnError() throws {
        let store = try makeStore()
        XCTAssertThrowsError(try store.spanEnded(TraceSpanEnd(id: "nope", endedAt: 1, status: "ok", detail: .null))) {
            XCTAssertTrue("\($0)".contains("span nope"), "\($0)")
        }
        XCTAssertThrowsError(try store.runEnded(TraceRunEnd(id: "nope", status: .ok, endedAt: 1, output: nil, error: nil, cost: 0, tokens: 0)))
        try recordRun(store, id: "dup")
        XCTAssertThrowsError(try recordRun(store, id: "dup")) { XCTAssertTrue("\($0)".contains("UNIQUE"), "\($0)") }
    }

    func testRenderTraceShowsTheTree() throws {
        let store = try makeStore()
        try recordRun(store, id: "run-1")
        let text = store.renderTrace(try XCTUnwrap(try store.run(id: "run-1")))
        let expected = """
            run run-1  support  ok  1.24s  $0.000183  915 tokens
            file support.sluice  started 2023-11-14 22:13:20Z
            inputs {"question":"How?"}
            └─ pipeline support  +0ms  1.24s  ok
               ├─ guard question  +1ms  2ms  ok
               │     guard injection: pass (0 matches)
               └─ cascade answer  +4ms  706ms  ok
                  │  {"answered_by":"gpt_4o_mini"}
                  └─ prompt answer  +5ms  695ms  ok
                        model gpt-4o-mini (openai) attempt 1: 0 in / 0 out, $0, 12ms
                          error: HTTP 500 from http://x/v1/chat/completions: boom
                        model gpt-4o-mini (openai) attempt 2: 820 in / 95 out (12 cached), $0.000183, 640ms
                          prompt answer v2  meta {"owner":"support"}
                          warning: http://x/v1 gpt-4o-mini does not accept response_format
                          reply: Like this.
            output "Like this."
            score faithfulness 0.92

            """
        XCTAssertEqual(text, expected)
    }

    func testDetailJSON() throws {
        let store = try makeStore()
        try recordRun(store, id: "run-1")
        let json = try XCTUnwrap(try store.run(id: "run-1")).json
        XCTAssertEqual(json["id"], .string("run-1"))
        XCTAssertEqual(json["spans"]?.arrayValue?.count, 4)
        XCTAssertEqual(json["model_calls"]?.arrayValue?.last?["input_tokens"], .number(820))
        XCTAssertEqual(json["model_calls"]?.arrayValue?.last?["prompt_version"], .number(2))
        XCTAssertEqual(json["model_calls"]?.arrayValue?.last?["prompt_meta"], .object([("owner", .string("support"))]))
        XCTAssertEqual(json["model_calls"]?.arrayValue?.last?["warnings"], .array([.string("http://x/v1 gpt-4o-mini does not accept response_format")]))
        XCTAssertEqual(json["model_calls"]?.arrayValue?.first?["prompt_version"], .null)
        XCTAssertEqual(json["model_calls"]?.arrayValue?.first?["warnings"], .array([]))
        XCTAssertEqual(json["guard_verdicts"]?.arrayValue?.first?["guard"], .string("injection"))
        XCTAssertEqual(json["scores"]?.arrayValue?.first?["value"], .number(0.92))
        XCTAssertNoThrow(try JSONValue.parse(json.serialized()))
    }

    func testSchemaVersionIsRecordedAndReopeningIsIdempotent() throws {
        let path = try temporaryFolder(self) + "/sluice.db"
        _ = try SQLiteStore(path: path)
        let store = try SQLiteStore(path: path)
        let version = try store.database.withConnection { db in try db.query("SELECT version FROM schema_version") { $0.int(0) } }
        XCTAssertEqual(version, [StoreSchema.currentVersion])
        try store.database.withConnection { db in try db.run("UPDATE schema_version SET version = 999") }
        XCTAssertThrowsError(try SQLiteStore(path: path)) { XCTAssertTrue("\($0)".contains("newer than this sluice"), "\($0)") }
    }

    func testOpeningAnUnwritablePathNamesIt() {
        XCTAssertThrowsError(try SQLiteStore(path: "/proc/nope/sluice.db")) { error in
            XCTAssertTrue("\(error)".contains("/proc/nope"), "\(error)")
        }
    }

    func testConcurrentWritesFromManyTasks() async throws {
        let store = try makeStore()
        try store.runStarted(TraceRun(id: "r", pipeline: "p", file: "f", startedAt: 0, inputs: .null))
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                group.addTask { try? store.scored(TraceScore(runId: "r", spanId: nil, name: "s\(i)", value: Double(i))) }
            }
        }
        XCTAssertEqual(try store.run(id: "r")?.scores.count, 50)
    }
}

import Foundation
import SluiceRuntime
import SluiceServices
import XCTest

/// What every `Store` promises, written once against the protocol: each check takes a new empty
/// store from `makeStore`. A store's test case runs every check (`SQLiteStoreContractTests`; a
/// PostgreSQL store adds a case like it). Not a base class: XCTest on Linux does not run inherited
/// test methods. Traces go through a `TraceWriter`, as the CLI writes them.
struct StoreContract {
    /// The running test, for its temporary folders.
    let test: XCTestCase
    /// A new, empty store.
    let makeStore: () throws -> any Store

    /// A run of `spans` nested spans, each with a model call completed after a failed try, a guard
    /// verdict and a score, recorded through `traces` as the runtime does.
    private static func recordRun(_ traces: any TraceSink, id: String, startedAt: Double = 1_700_000_000, spans: Int = 3) throws {
        try traces.runStarted(TraceRun(id: id, pipeline: "p", file: "p.sluice", startedAt: startedAt, inputs: .object([("q", .string(id))]),
                                       user: "u-\(id)"))
        var parent: String?
        for index in 0..<spans {
            let span = "\(id)-s\(index)"
            try traces.spanStarted(TraceSpan(id: span, runId: id, parentId: parent, kind: "prompt", name: "step\(index)",
                                             startedAt: startedAt + Double(index)))
            try traces.modelCallStarted(Self.call(id, span: span, callId: "\(id).\(index)", status: .inFlight))
            try traces.modelCalled(Self.call(id, span: span, callId: nil, error: "HTTP 500: boom", attempt: 1))
            try traces.modelCalled(Self.call(id, span: span, callId: "\(id).\(index)", reply: "answer \(index)", attempt: 2))
            try traces.guardChecked(TraceGuardVerdict(runId: id, spanId: span, guardName: "g\(index)", pattern: nil, verdict: "pass", matches: 0))
            try traces.scored(TraceScore(runId: id, spanId: span, name: "score\(index)", value: Double(index)))
            parent = span
        }
        for index in (0..<spans).reversed() {
            try traces.spanEnded(TraceSpanEnd(id: "\(id)-s\(index)", endedAt: startedAt + 10 - Double(index), status: "ok",
                                              detail: .object([("index", .number(Double(index)))])))
        }
        try traces.runEnded(TraceRunEnd(id: id, status: .ok, endedAt: startedAt + 10, output: .string("done \(id)"), error: nil,
                                        cost: 0.5, tokens: 42))
    }

    private static func call(_ runId: String, span: String, callId: String?, status: TraceModelCall.Status? = nil, reply: String? = nil,
                      error: String? = nil, attempt: Int = 1) -> TraceModelCall {
        TraceModelCall(runId: runId, spanId: span, model: "m", provider: "openai", messages: [ChatMessage(role: "user", content: "hi")],
                       reply: reply, inputTokens: reply == nil ? 0 : 10, outputTokens: reply == nil ? 0 : 3, cachedTokens: 0,
                       cost: reply == nil ? 0 : 0.25, latencyMs: 1, error: error, attempt: attempt, id: callId, status: status)
    }

    /// Checks that `detail` is the run `recordRun` wrote, every record present and in its order.
    private func assertComplete(_ detail: RunDetail?, id: String, spans: Int = 3, file: StaticString = #filePath, line: UInt = #line) {
        guard let detail else { return XCTFail("run \(id) is missing", file: file, line: line) }
        XCTAssertEqual(detail.summary.status, "ok", file: file, line: line)
        XCTAssertEqual(detail.output, .string("done \(id)"), file: file, line: line)
        XCTAssertEqual(detail.summary.tokens, 42, file: file, line: line)
        XCTAssertEqual(detail.spans.map(\.name), (0..<spans).map { "step\($0)" }, file: file, line: line)
        XCTAssertEqual(detail.spans.map(\.depth), Array(0..<spans), file: file, line: line)
        XCTAssertEqual(detail.spans.map(\.status), Array(repeating: "ok", count: spans), file: file, line: line)
        // Each completion moves its row after the failed try recorded since it started.
        XCTAssertEqual(detail.modelCalls.map(\.attempt), [1, 2].repeated(spans), file: file, line: line)
        XCTAssertEqual(detail.modelCalls.map(\.status), [TraceModelCall.Status.error, .ok].repeated(spans), file: file, line: line)
        XCTAssertEqual(detail.modelCalls.compactMap(\.reply), (0..<spans).map { "answer \($0)" }, file: file, line: line)
        XCTAssertEqual(detail.guardVerdicts.map(\.guardName), (0..<spans).map { "g\($0)" }, file: file, line: line)
        XCTAssertEqual(detail.scores.map(\.name), (0..<spans).map { "score\($0)" }, file: file, line: line)
    }

    func aRunWrittenThroughTheWriterReadsBackWhole() throws {
        let store = try makeStore()
        let traces = TraceWriter(store: store)
        try Self.recordRun(traces, id: "r1")
        traces.close()
        XCTAssertNil(traces.failure(ofRun: "r1"))
        assertComplete(try store.run(id: "r1"), id: "r1")
        XCTAssertEqual(try store.listRuns(limit: 10).map(\.id), ["r1"])
    }

    func manyConcurrentRunsLoseAndReorderNothing() async throws {
        let store = try makeStore()
        // A small queue, so runs also wait for room.
        let traces = TraceWriter(store: store, capacity: 16)
        let ids = (0..<40).map { "run-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, id) in ids.enumerated() {
                group.addTask { try Self.recordRun(traces, id: id, startedAt: Double(index)) }
            }
            try await group.waitForAll()
        }
        traces.flush()
        for id in ids {
            XCTAssertNil(traces.failure(ofRun: id))
            assertComplete(try store.run(id: id), id: id)
        }
        XCTAssertEqual(try store.listRuns(limit: 100).map(\.id), ids.reversed())
        traces.close()
    }

    func aRecordTheStoreRefusesIsChargedToItsRunOnly() throws {
        let store = try makeStore()
        let traces = TraceWriter(store: store)
        try Self.recordRun(traces, id: "good")
        try traces.runStarted(TraceRun(id: "bad", pipeline: "p", file: "p.sluice", startedAt: 0, inputs: .null))
        try traces.modelCalled(Self.call("bad", span: "nowhere", callId: "bad.9", reply: "x"))
        try traces.runEnded(TraceRunEnd(id: "never", status: .ok, endedAt: 1, output: nil, error: nil, cost: 0, tokens: 0))
        // Ending a span the writer never saw start is refused at once, as the store would.
        XCTAssertThrowsError(try traces.spanEnded(TraceSpanEnd(id: "nope", endedAt: 1, status: "ok", detail: .null))) {
            XCTAssertEqual("\($0)", "cannot end span nope: it was never started")
        }
        traces.close()
        XCTAssertNil(traces.failure(ofRun: "good"))
        XCTAssertEqual(traces.failure(ofRun: "bad").map { "\($0)" }, "cannot complete model call bad.9: it was never started")
        XCTAssertEqual(traces.failure(ofRun: "never").map { "\($0)" }, "cannot end run never: it was never started")
        assertComplete(try store.run(id: "good"), id: "good")
        XCTAssertEqual(try store.run(id: "bad")?.summary.status, "running")
        XCTAssertThrowsError(try traces.scored(TraceScore(runId: "good", spanId: nil, name: "late", value: 1))) {
            XCTAssertTrue("\($0)".contains("closed"), "\($0)")
        }
    }

    func scrubbingCleansWhatTheRunRecordedBeforeIt() throws {
        let store = try makeStore()
        let traces = TraceWriter(store: store)
        try traces.runStarted(TraceRun(id: "r", pipeline: "p", file: "p.sluice", startedAt: 0, inputs: .object([("q", .string("key sk-123"))])))
        try traces.spanStarted(TraceSpan(id: "s", runId: "r", parentId: nil, kind: "prompt", name: "ask", startedAt: 0))
        try traces.modelCalled(TraceModelCall(runId: "r", spanId: "s", model: "m", provider: "openai",
                                              messages: [ChatMessage(role: "user", content: "use sk-123")], reply: "sk-123 it is",
                                              inputTokens: 1, outputTokens: 1, cachedTokens: 0, cost: 0, latencyMs: 1, error: nil, attempt: 1))
        try traces.scrub(runId: "r", replacements: [("sk-123", "[KEY]")])
        try traces.spanEnded(TraceSpanEnd(id: "s", endedAt: 1, status: "ok", detail: .object([])))
        traces.close()
        let detail = try XCTUnwrap(try store.run(id: "r"))
        XCTAssertEqual(detail.inputs["q"], .string("key [KEY]"))
        XCTAssertEqual(detail.modelCalls.first?.messages.first?.content, "use [KEY]")
        XCTAssertEqual(detail.modelCalls.first?.reply, "[KEY] it is")
    }

    func runsAreFoundByUniquePrefix() throws {
        let store = try makeStore()
        let traces = TraceWriter(store: store)
        for id in ["7f3c2a91", "7f3d0000"] { try Self.recordRun(traces, id: id, spans: 1) }
        traces.close()
        XCTAssertEqual(try store.run(id: "7f3c")?.summary.id, "7f3c2a91")
        XCTAssertNil(try store.run(id: "zz"))
        XCTAssertThrowsError(try store.run(id: "7f")) { XCTAssertTrue("\($0)".contains("matches several runs"), "\($0)") }
    }

    func sessionsKeepTheirTurnsInOrder() throws {
        let store = try makeStore()
        try store.createSession("s1", at: 10)
        XCTAssertThrowsError(try store.createSession("s1", at: 11)) { XCTAssertTrue("\($0)".contains("already exists"), "\($0)") }
        let stored = try store.appendTurns("s1", [("user", "hi"), ("assistant", "hello")], at: 12)
        XCTAssertEqual(stored.map(\.seq), [1, 2])
        try store.saveSummary("s1", summary: "greetings", through: 1, at: 13)
        let state = try XCTUnwrap(try store.loadSession("s1"))
        XCTAssertEqual(state.summary, "greetings")
        XCTAssertEqual(state.turns.map(\.content), ["hello"], "only turns after the summary")
        XCTAssertEqual(try store.sessionTranscript("s1")?.turns.map(\.content), ["hi", "hello"])
        XCTAssertEqual(try store.listSessions(limit: 5).map(\.turns), [2])
        XCTAssertNil(try store.loadSession("nope"))
    }

    func indexesAreBuiltSearchedAndRemoved() throws {
        let store = try makeStore()
        let folder = try temporaryFolder(test)
        try write("The sluice gate holds back the river.", to: folder + "/docs/gate.txt")
        try write("Bananas are yellow.", to: folder + "/docs/fruit.txt")
        let added = try store.addDocuments(index: "docs", paths: [folder + "/docs"], chunkTokens: 64, overlapTokens: 8,
                                           counter: EstimatingTokenCounter())
        XCTAssertEqual(added.files, 2)
        try store.prepare(IndexSpec(name: "docs", source: nil))
        XCTAssertEqual(try store.search(index: "docs", query: "river gate", limit: 5).map(\.source), [folder + "/docs/gate.txt"])
        XCTAssertEqual(try store.listIndexes().map(\.name), ["docs"])
        try store.removeIndex(name: "docs")
        XCTAssertEqual(try store.listIndexes().map(\.name), [])
        XCTAssertThrowsError(try store.search(index: "docs", query: "river", limit: 5))
    }
}

final class SQLiteStoreContractTests: XCTestCase {
    private var contract: StoreContract {
        StoreContract(test: self) { [unowned self] in try SQLiteStore(path: try temporaryFolder(self) + "/store/sluice.db") }
    }

    func testARunWrittenThroughTheWriterReadsBackWhole() throws { try contract.aRunWrittenThroughTheWriterReadsBackWhole() }
    func testManyConcurrentRunsLoseAndReorderNothing() async throws { try await contract.manyConcurrentRunsLoseAndReorderNothing() }
    func testARecordTheStoreRefusesIsChargedToItsRunOnly() throws { try contract.aRecordTheStoreRefusesIsChargedToItsRunOnly() }
    func testScrubbingCleansWhatTheRunRecordedBeforeIt() throws { try contract.scrubbingCleansWhatTheRunRecordedBeforeIt() }
    func testRunsAreFoundByUniquePrefix() throws { try contract.runsAreFoundByUniquePrefix() }
    func testSessionsKeepTheirTurnsInOrder() throws { try contract.sessionsKeepTheirTurnsInOrder() }
    func testIndexesAreBuiltSearchedAndRemoved() throws { try contract.indexesAreBuiltSearchedAndRemoved() }
}

private extension Array {
    /// The array's elements, `count` times over.
    func repeated(_ count: Int) -> [Element] { (0..<count).flatMap { _ in self } }
}

import Foundation
import SluiceRuntime
@testable import SluiceServices
import SluiceTokenizers
import XCTest

/// The store's promises about a run's life: a call is visible while in flight, a run whose process
/// died reads as `interrupted`, long fields are bounded with their length and hash, NUL bytes
/// survive, and a read-only open never writes.
final class TraceLifecycleTests: XCTestCase {
    private func call(_ runId: String, id: String?, status: TraceModelCall.Status?, reply: String? = nil, error: String? = nil,
                      attempt: Int = 1, latencyMs: Double = 0) -> TraceModelCall {
        TraceModelCall(runId: runId, spanId: "\(runId)-s", model: "m", provider: "openai", messages: [ChatMessage(role: "user", content: "hi")],
                       reply: reply, inputTokens: reply == nil ? 0 : 10, outputTokens: reply == nil ? 0 : 3, cachedTokens: 0,
                       cost: reply == nil ? 0 : 0.001, latencyMs: latencyMs, error: error, attempt: attempt, id: id, status: status)
    }

    private func startRun(_ store: SQLiteStore, _ id: String) throws {
        try store.runStarted(TraceRun(id: id, pipeline: "p", file: "p.sluice", startedAt: 1_700_000_000, inputs: .object([])))
        try store.spanStarted(TraceSpan(id: "\(id)-s", runId: id, parentId: nil, kind: "prompt", name: "ask", startedAt: 1_700_000_000))
    }

    func testACallIsVisibleInFlightAndItsCompletionReplacesTheRowAfterItsFailedTries() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        try startRun(store, "r1")
        try store.modelCallStarted(call("r1", id: "r1.1", status: .inFlight))
        let inFlight = try XCTUnwrap(store.run(id: "r1"))
        XCTAssertEqual(inFlight.modelCalls.map(\.status), [.inFlight])
        XCTAssertEqual(inFlight.modelCalls.first?.id, "r1.1")
        XCTAssertTrue(store.renderTrace(inFlight).contains("so far (in flight)"), store.renderTrace(inFlight))

        // A failed try the provider layer retried is recorded after the fact; the answer completes the started row.
        try store.modelCalled(call("r1", id: nil, status: nil, error: "HTTP 500: boom", attempt: 1, latencyMs: 5))
        try store.modelCalled(call("r1", id: "r1.1", status: nil, reply: "hello", attempt: 2, latencyMs: 40))
        let done = try XCTUnwrap(store.run(id: "r1"))
        XCTAssertEqual(done.modelCalls.map(\.attempt), [1, 2])
        XCTAssertEqual(done.modelCalls.map(\.status), [.error, .ok])
        XCTAssertEqual(done.modelCalls.last?.reply, "hello")
        XCTAssertEqual(done.modelCalls.last?.cost, 0.001)

        XCTAssertThrowsError(try store.modelCalled(call("r1", id: "r1.9", status: nil, reply: "x"))) { error in
            XCTAssertEqual("\(error)", "cannot complete model call r1.9: it was never started")
        }
    }

    func testARunThatEndsClosesTheCallsLeftInFlight() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        try startRun(store, "r1")
        try store.modelCallStarted(call("r1", id: "r1.1", status: .inFlight))
        try store.runEnded(TraceRunEnd(id: "r1", status: .cancelled, endedAt: 1_700_000_001, output: nil, error: "the run was cancelled",
                                       cost: 0, tokens: 0))
        let detail = try XCTUnwrap(store.run(id: "r1"))
        XCTAssertEqual(detail.summary.status, "cancelled")
        XCTAssertEqual(detail.modelCalls.map(\.status), [.cancelled])
    }

    func testARunWhoseProcessIsGoneIsInterruptedForReadersAndClosedByTheNextWriter() throws {
        let path = try temporaryFolder(self) + "/s.db"
        let store = try SQLiteStore(path: path)
        try startRun(store, "dead")
        try store.modelCallStarted(call("dead", id: "dead.1", status: .inFlight))
        try startRun(store, "alive")
        // A process that has exited: a child we started and waited for.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        try store.database.withConnection { db in
            try db.run("UPDATE runs SET owner_pid = ? WHERE id = 'dead'", [.int(Int(child.processIdentifier))])
        }
        let reader = try SQLiteStore(path: path, readOnly: true)
        let listed = Dictionary(uniqueKeysWithValues: try reader.listRuns(limit: 10).map { ($0.id, $0.status) })
        XCTAssertEqual(listed, ["dead": "interrupted", "alive": "running"])
        let detail = try XCTUnwrap(reader.run(id: "dead"))
        XCTAssertEqual(detail.summary.status, "interrupted")
        XCTAssertEqual(detail.modelCalls.map(\.status), [.interrupted])
        XCTAssertTrue(detail.error?.contains("pid \(child.processIdentifier)") == true, detail.error ?? "")
        XCTAssertEqual(detail.json["status"], .string("interrupted"))
        // The reader wrote nothing; a store opened for writing persists it.
        func stored() throws -> [String] {
            try store.database.withConnection { db in
                try db.query("SELECT status FROM runs ORDER BY id") { $0.text(0) } + db.query("SELECT status FROM model_calls") { $0.text(0) }
            }
        }
        XCTAssertEqual(try stored(), ["running", "running", "in_flight"])
        _ = try SQLiteStore(path: path)
        XCTAssertEqual(try stored(), ["running", "interrupted", "interrupted"])
    }

    func testTheRunningProcessIsNotGoneAndAnotherHostIsNeverJudged() {
        XCTAssertFalse(RunOwner.current.isGone)
        var elsewhere = RunOwner.current
        elsewhere.host += "-elsewhere"
        elsewhere.pid = 999_999_999
        XCTAssertFalse(elsewhere.isGone)
        var rebooted = RunOwner.current
        rebooted.boot = "another-boot"
        XCTAssertTrue(rebooted.isGone)
        var reused = RunOwner.current
        reused.start += 1
        XCTAssertTrue(reused.isGone, "a pid whose process started at another time is not the owner")
    }

    func testLongFieldsAreCutWithTheirLengthAndHashAndStayJSON() throws {
        let limit = TraceFieldLimit(bytes: 4096)
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db", fieldLimit: limit)
        let big = String(repeating: "é", count: 300_000)     // 600,000 bytes, every character two
        try store.runStarted(TraceRun(id: "r1", pipeline: "p", file: "p.sluice", startedAt: 1, inputs: .object([("doc", .string(big))])))
        try store.spanStarted(TraceSpan(id: "r1-s", runId: "r1", parentId: nil, kind: "prompt", name: "ask", startedAt: 1))
        try store.modelCallStarted(TraceModelCall(runId: "r1", spanId: "r1-s", model: "m", provider: "openai",
                                                  messages: [ChatMessage(role: "user", content: big)], reply: nil, inputTokens: 0,
                                                  outputTokens: 0, cachedTokens: 0, cost: 0, latencyMs: 0, error: nil, attempt: 1,
                                                  id: "r1.1", status: .inFlight))
        try store.modelCalled(TraceModelCall(runId: "r1", spanId: "r1-s", model: "m", provider: "openai",
                                             messages: [ChatMessage(role: "user", content: big)], reply: big, inputTokens: 1,
                                             outputTokens: 1, cachedTokens: 0, cost: 0, latencyMs: 1, error: nil, attempt: 1, id: "r1.1"))
        try store.spanEnded(TraceSpanEnd(id: "r1-s", endedAt: 2, status: "ok", detail: .object([("echo", .string(big))])))
        try store.runEnded(TraceRunEnd(id: "r1", status: .ok, endedAt: 2, output: .string(big), error: nil, cost: 0, tokens: 2))
        let marker = "…[cut: 600000 bytes in all, sha256 \(SHA256.hex(SHA256.digest(Array(big.utf8))))]"

        let detail = try XCTUnwrap(store.run(id: "r1"))
        let input = try XCTUnwrap(detail.inputs["doc"]?.stringValue)
        XCTAssertTrue(input.hasSuffix(marker), String(input.suffix(120)))
        XCTAssertTrue(input.hasPrefix("éééé"))
        let reply = try XCTUnwrap(detail.modelCalls.first?.reply)
        XCTAssertTrue(reply.hasSuffix(marker))
        XCTAssertLessThanOrEqual(reply.utf8.count, 4096)
        XCTAssertEqual(detail.modelCalls.first?.messages.first?.content.hasSuffix(marker), true)
        XCTAssertEqual(detail.output?.stringValue?.hasSuffix(marker), true)
        XCTAssertEqual(detail.spans.first?.detail?["echo"]?.stringValue?.hasSuffix(marker), true)
        // Every stored text column within the limit.
        let longest = try store.database.withConnection { db in
            try db.query("""
                SELECT max(length(CAST(inputs AS BLOB)), length(CAST(output AS BLOB))) FROM runs
                UNION ALL SELECT max(length(CAST(messages AS BLOB)), length(CAST(reply AS BLOB))) FROM model_calls
                UNION ALL SELECT length(CAST(detail AS BLOB)) FROM spans
                """) { $0.int(0) }
        }
        XCTAssertEqual(longest.count, 3)
        for bytes in longest { XCTAssertLessThanOrEqual(bytes, 4096) }
    }

    func testAValueTooLongEvenAfterItsStringsAreCutIsCutAsText() {
        let limit = TraceFieldLimit(bytes: 1024)
        let many = JSONValue.array((0..<200).map { .string("item \($0)") })
        let stored = limit.bound(many)
        XCTAssertLessThanOrEqual(stored.utf8.count, 1024)
        XCTAssertTrue(stored.hasSuffix("bytes in all, sha256 \(SHA256.hex(SHA256.digest(Array(many.serialized().utf8))))]"), stored)
        XCTAssertEqual(limit.bound("short"), "short")
        XCTAssertEqual(TraceFieldLimit(bytes: 1).bytes, TraceFieldLimit.minimumBytes)
    }

    func testNULBytesSurviveTheStore() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        let text = "before\u{0}after"
        try store.runStarted(TraceRun(id: "r1", pipeline: "p", file: "p.sluice", startedAt: 1, inputs: .object([("q", .string(text))])))
        try store.spanStarted(TraceSpan(id: "r1-s", runId: "r1", parentId: nil, kind: "prompt", name: "ask", startedAt: 1))
        try store.modelCalled(TraceModelCall(runId: "r1", spanId: "r1-s", model: "m", provider: "openai",
                                             messages: [ChatMessage(role: "user", content: text)], reply: text, inputTokens: 1,
                                             outputTokens: 1, cachedTokens: 0, cost: 0, latencyMs: 1, error: text, attempt: 1))
        try store.runEnded(TraceRunEnd(id: "r1", status: .error, endedAt: 2, output: nil, error: text, cost: 0, tokens: 2))
        let detail = try XCTUnwrap(store.run(id: "r1"))
        XCTAssertEqual(detail.modelCalls.first?.reply, text)
        XCTAssertEqual(detail.modelCalls.first?.error, text)
        XCTAssertEqual(detail.modelCalls.first?.messages.first?.content, text)
        XCTAssertEqual(detail.inputs["q"]?.stringValue, text)
        XCTAssertEqual(detail.error, text)
    }

    func testAReadOnlyOpenNeverWritesAndRefusesWhatItCannotRead() throws {
        let folder = try temporaryFolder(self)
        XCTAssertThrowsError(try SQLiteStore(path: folder + "/missing.db", readOnly: true)) { error in
            XCTAssertEqual("\(error)", "there is no store at \(folder)/missing.db")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/missing.db"))

        // A store at schema version 3: reading it must not upgrade it.
        let old = folder + "/old.db"
        do {
            let database = try SQLiteDatabase(path: old)
            try database.transaction { db in
                try db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                try db.run("INSERT INTO schema_version (version) VALUES (0)")
                for migration in StoreSchema.migrations.prefix(3) { try db.exec(migration) }
                try db.run("UPDATE schema_version SET version = 3")
            }
        }
        XCTAssertThrowsError(try SQLiteStore(path: old, readOnly: true)) { error in
            XCTAssertTrue("\(error)".contains("has schema version 3, older than this sluice's (\(StoreSchema.currentVersion))"), "\(error)")
        }
        XCTAssertEqual(try StoreSchema.version(of: SQLiteDatabase(path: old, readOnly: true)), 3)

        let foreign = folder + "/other.db"
        try SQLiteDatabase(path: foreign).withConnection { db in try db.exec("CREATE TABLE notes (text TEXT)") }
        XCTAssertThrowsError(try SQLiteStore(path: foreign, readOnly: true)) { error in
            XCTAssertEqual("\(error)", "\(foreign) is not a sluice store (it has no schema_version table)")
        }
    }
    /// Version 8 keeps what a call asked the provider and what it answered. A version-7 store is
    /// upgraded in place; its calls read with those fields unknown (NULL), show as before and send
    /// none of them over OTLP, and calls recorded after the upgrade keep them.
    func testAVersion7StoreUpgradesAndItsCallsReadWithoutWhatItDidNotKeep() throws {
        XCTAssertEqual(StoreSchema.currentVersion, 8)
        let path = try temporaryFolder(self) + "/v7.db"
        try SQLiteDatabase(path: path).transaction { db in
            try db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            try db.run("INSERT INTO schema_version (version) VALUES (7)")
            for migration in StoreSchema.migrations.prefix(7) { try db.exec(migration) }
            try db.run("""
                INSERT INTO runs (id, pipeline, file, started_at, ended_at, status, inputs, cost, tokens)
                VALUES ('old', 'p', 'p.sluice', 1700000000, 1700000001, 'ok', '{}', 0.001, 13)
                """)
            try db.run("""
                INSERT INTO spans (id, run_id, kind, name, started_at, ended_at, status, detail)
                VALUES ('old-s', 'old', 'prompt', 'ask', 1700000000, 1700000001, 'ok', '{}')
                """)
            try db.run("""
                INSERT INTO model_calls (run_id, span_id, model, provider, messages, reply, input_tokens, output_tokens, cached_tokens,
                                         cost, latency_ms, error, attempt, status)
                VALUES ('old', 'old-s', 'm', 'openai', '[{"role": "user", "content": "hi"}]', 'hello', 10, 3, 0, 0.001, 40, NULL, 1, 'ok')
                """)
        }
        let store = try SQLiteStore(path: path)
        XCTAssertEqual(try StoreSchema.version(of: store.database), 8)

        let old = try XCTUnwrap(store.run(id: "old"))
        let oldCall = try XCTUnwrap(old.modelCalls.first)
        XCTAssertEqual(oldCall.reply, "hello")
        XCTAssertEqual(oldCall.inputTokens, 10)
        XCTAssertNil(oldCall.requestModel)
        XCTAssertNil(oldCall.maxTokens)
        XCTAssertNil(oldCall.temperature)
        XCTAssertNil(oldCall.responseModel)
        XCTAssertNil(oldCall.finishReason)
        XCTAssertNil(oldCall.cacheWriteTokens)
        XCTAssertNil(oldCall.reasoningTokens)
        for field in ["request_model", "max_tokens", "temperature", "response_model", "finish_reason", "cache_write_tokens", "reasoning_tokens"] {
            XCTAssertEqual(oldCall.json[field], .null, field)
        }
        let rendered = store.renderTrace(old)
        XCTAssertTrue(rendered.contains("model m (openai) attempt 1: 10 in / 3 out"), rendered)
        XCTAssertFalse(rendered.contains("finished"), rendered)
        let oldSpan = try XCTUnwrap(OTLPTraceMapping(captureContent: false).spans(of: old).first { $0.name == "chat m" })
        let oldKeys = Set(oldSpan.attributes.map(\.key))
        XCTAssertTrue(oldKeys.contains("sluice.model.name"))
        XCTAssertTrue(oldKeys.isDisjoint(with: ["gen_ai.request.model", "gen_ai.request.max_tokens", "gen_ai.request.temperature",
                                                "gen_ai.response.model", "gen_ai.response.finish_reasons",
                                                "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens"]),
                      "\(oldKeys)")

        // A call recorded after the upgrade: started in flight, then completed with what the provider said.
        try startRun(store, "new")
        var sent = call("new", id: "new.1", status: .inFlight)
        sent.requestModel = "m-v1"
        sent.maxTokens = 256
        sent.temperature = 0.25
        try store.modelCallStarted(sent)
        let inFlight = try XCTUnwrap(store.run(id: "new")?.modelCalls.first)
        XCTAssertEqual(inFlight.requestModel, "m-v1")
        XCTAssertNil(inFlight.finishReason)
        var answered = call("new", id: "new.1", status: nil, reply: "cut sho")
        answered.requestModel = "m-v1"
        answered.maxTokens = 256
        answered.temperature = 0.25
        answered.responseModel = "m-v1-2026"
        answered.finishReason = "length"
        answered.cacheWriteTokens = 12
        answered.reasoningTokens = 2
        try store.modelCalled(answered)
        let new = try XCTUnwrap(store.run(id: "new"))
        let stored = try XCTUnwrap(new.modelCalls.first)
        XCTAssertEqual(stored, answered)
        XCTAssertEqual(stored.json["finish_reason"], .string("length"))
        XCTAssertEqual(stored.json["temperature"], .number(0.25))
        XCTAssertTrue(store.renderTrace(new).contains(", finished: length"), store.renderTrace(new))
        let span = try XCTUnwrap(OTLPTraceMapping(captureContent: false).spans(of: new).first { $0.name == "chat m" })
        let attributes = Dictionary(uniqueKeysWithValues: span.attributes.map { ($0.key, $0.value) })
        XCTAssertEqual(attributes["gen_ai.request.model"], .string("m-v1"))
        XCTAssertEqual(attributes["sluice.model.name"], .string("m"))
        XCTAssertEqual(attributes["gen_ai.request.max_tokens"], .int(256))
        XCTAssertEqual(attributes["gen_ai.request.temperature"], .double(0.25))
        XCTAssertEqual(attributes["gen_ai.response.model"], .string("m-v1-2026"))
        XCTAssertEqual(attributes["gen_ai.response.finish_reasons"], .array([.string("length")]))
        XCTAssertEqual(attributes["gen_ai.usage.cache_creation.input_tokens"], .int(12))
        XCTAssertEqual(attributes["gen_ai.usage.reasoning.output_tokens"], .int(2))
    }
}

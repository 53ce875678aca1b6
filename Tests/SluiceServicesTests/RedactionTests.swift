import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// No part of a key is ever written: not in an error, a trace row or a record file.
final class RedactionTests: XCTestCase {
    /// 52 characters, like an OpenAI project key.
    private let key = "sk-proj-" + String(repeating: "Q7x9", count: 11)

    /// True when any 8 characters in a row of `secret` appear in `text`.
    private func leaks(_ secret: String, in text: String) -> Bool {
        let characters = Array(secret)
        return (0...(characters.count - 8)).contains { text.contains(String(characters[$0..<$0 + 8])) }
    }

    func testKeyLikeTextIsRedacted() {
        XCTAssertEqual(Redaction.redact("used sk-abcdefghijklmnop here"), "used [redacted] here")
        XCTAssertEqual(Redaction.redact("Authorization: Bearer abc.def-ghi_jkl"), "Authorization: Bearer [redacted]")
        XCTAssertEqual(Redaction.redact("header bearer 0123456789abcdef sent"), "header bearer [redacted] sent")
        XCTAssertEqual(Redaction.redact(#"{"x-api-key": "local-secret-77", "n": 1}"#), #"{"x-api-key": "[redacted]", "n": 1}"#)
        XCTAssertEqual(Redaction.redact("api_key=hunter2hunter2&model=x"), "api_key=[redacted]&model=x")
        XCTAssertEqual(Redaction.redact("authorization: Bearer [redacted]"), "authorization: Bearer [redacted]", "redacting twice changes nothing")
        XCTAssertEqual(Redaction.redact("an ordinary sentence about keys and tokens"), "an ordinary sentence about keys and tokens")
        Redaction.register(secret: "plain-local-secret-1234")
        XCTAssertEqual(Redaction.redact("echo plain-local-secret-1234!"), "echo [redacted]!")
        // Text with a NUL character is searched to its end too.
        XCTAssertEqual(Redaction.redact("a\u{0}b sk-abcdefghijklmnop plain-local-secret-1234"), "a\u{0}b [redacted] [redacted]")
        // The words that make a pattern worth trying are found in any case, in any text.
        XCTAssertEqual(Redaction.redact("X-API-KEY: zz-9876543210"), "X-API-KEY: [redacted]")
        XCTAssertEqual(Redaction.redact("BEARER 0123456789abcdef"), "BEARER [redacted]")
        XCTAssertEqual(Redaction.redact("é \u{0}ACCESS_TOKEN=abcdef123456"), "é \u{0}ACCESS_TOKEN=[redacted]")
        // A secret containing another is replaced whole, whichever was registered first.
        Redaction.register(secret: "inner-secret-55")
        Redaction.register(secret: "outer-inner-secret-55-tail")
        XCTAssertEqual(Redaction.redact("a outer-inner-secret-55-tail b inner-secret-55"), "a [redacted] b [redacted]")
        // Registering again (every call does) or with surrounding whitespace changes nothing.
        Redaction.register(secret: " inner-secret-55\n")
        XCTAssertEqual(Redaction.redact("inner-secret-55"), "[redacted]")
    }

    /// The key straddles the 300-character cut of the quoted body: redacting after the cut would
    /// leave its first 45 characters.
    func testAKeyCrossingTheSnippetCutLeavesNothingBehind() async throws {
        let padding = String(repeating: "x", count: ProviderSupport.snippetLength - 7)
        let body = "Incorrect API key provided: " + padding + key + " — see the docs."
        for answer: TestHTTPServer.Answer in [.reply(status: 401, body: body),
                                              .reply(status: 401, body: JSONValue.object([("error", .object([("message", .string(body))]))]).serialized())] {
            let server = try TestHTTPServer { _ in answer }
            defer { server.stop() }
            let provider = OpenAICompatibleProvider(environment: ["OPENAI_API_KEY": key, "OPENAI_BASE_URL": server.baseURL])
            let request = ChatRequest(model: ModelSpec(name: "mini", id: "gpt-4o-mini"), messages: [ChatMessage(role: "user", content: "hi")],
                                      maxTokens: 5)
            let recording = FileManager.default.temporaryDirectory.appendingPathComponent("redaction-\(UUID().uuidString).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: recording) }
            let error = await expectProviderError({ try await RecordingProvider(provider, path: recording).complete(request) },
                                                  kind: .http, status: 401, containing: ["Incorrect API key provided"])
            XCTAssertFalse(leaks(key, in: error?.message ?? ""), error?.message ?? "")
            XCTAssertFalse(leaks(key, in: try String(contentsOfFile: recording, encoding: .utf8)))
        }
    }

    func testRecordedRequestsAndRepliesAreRedacted() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("redaction-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let echo = SequenceProvider([.reply("your key \(key) works")])
        let request = ChatRequest(model: ModelSpec(name: "m"), messages: [ChatMessage(role: "user", content: "is \(key) valid?")], maxTokens: 5)
        _ = try await RecordingProvider(echo, path: path).complete(request)
        let line = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertFalse(leaks(key, in: line), line)
        // The key field is the hash of the request as sent, so the recording still replays.
        let replayed = try await ReplayProvider(path: path).complete(request)
        XCTAssertEqual(replayed.text, "your key [redacted] works")
    }

    func testTraceRowsAreRedacted() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redaction-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try SQLiteStore(path: folder + "/sluice.db")
        try store.runStarted(TraceRun(id: "r1", pipeline: "p", file: "f.sluice", startedAt: 1, inputs: .object([("token", .string(key))])))
        try store.spanStarted(TraceSpan(id: "s1", runId: "r1", parentId: nil, kind: "prompt", name: "p", startedAt: 1))
        try store.modelCalled(TraceModelCall(runId: "r1", spanId: "s1", model: "m", provider: "openai",
                                             messages: [ChatMessage(role: "user", content: "my key is \(key)")], reply: "noted \(key)",
                                             inputTokens: 1, outputTokens: 1, cachedTokens: 0, cost: 0, latencyMs: 1,
                                             error: "HTTP 401: Bearer \(key)", attempt: 1, warnings: ["sent with x-api-key: \(key)"]))
        try store.spanEnded(TraceSpanEnd(id: "s1", endedAt: 2, status: "ok", detail: .object([("query", .string("is \(key) valid?"))])))
        try store.runEnded(TraceRunEnd(id: "r1", status: .error, endedAt: 2, output: .array([.string(key)]), error: "failed with \(key)",
                                       cost: 0, tokens: 0))
        let stored = try XCTUnwrap(try store.run(id: "r1"))
        XCTAssertFalse(leaks(key, in: stored.json.serialized()), stored.json.serialized())
        XCTAssertTrue(stored.modelCalls[0].messages[0].content.contains("[redacted]"))
    }
}

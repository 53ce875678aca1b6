import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// Embeddings carry the usage the server reports, through the provider layer and record/replay.
final class EmbeddingUsageTests: XCTestCase {
    private func embeddingsServer(usage: Bool) throws -> TestHTTPServer {
        let server = try TestHTTPServer { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            let texts = body["input"]?.arrayValue ?? []
            var members: [(key: String, value: JSONValue)] = [("data", .array(texts.enumerated().map { index, text in
                .object([("index", .number(Double(index))), ("embedding", .array([.number(Double(text.stringValue?.count ?? 0)), .number(1)]))])
            }))]
            // Pretend each text is 3 tokens.
            if usage { members.append(("usage", .object([("prompt_tokens", .number(Double(3 * texts.count))), ("total_tokens", .number(Double(3 * texts.count)))]))) }
            return .reply(status: 200, body: JSONValue.object(members).serialized())
        }
        addTeardownBlock { server.stop() }
        return server
    }

    func testTheServersUsageIsReportedAcrossBatches() async throws {
        let server = try embeddingsServer(usage: true)
        let model = ModelSpec(name: "small", id: "text-embedding-3-small", baseURL: server.baseURL)
        let provider = ReliableProvider(OpenAICompatibleProvider(environment: [:], embeddingBatchSize: 2), clock: FakeClock())
        let embeddings = try await provider.embedWithUsage(["a", "bb", "ccc"], model: model)
        XCTAssertEqual(embeddings.vectors, [[1, 1], [2, 1], [3, 1]])
        XCTAssertEqual(embeddings.inputTokens, 9, "3 + 3 from the first batch, 3 from the second")
        XCTAssertEqual(server.requests.count, 2)
    }

    func testNoUsageIsNilSoTheRuntimeCountsItself() async throws {
        let server = try embeddingsServer(usage: false)
        let model = ModelSpec(name: "small", id: "text-embedding-3-small", baseURL: server.baseURL)
        let embeddings = try await OpenAICompatibleProvider(environment: [:]).embedWithUsage(["a"], model: model)
        XCTAssertNil(embeddings.inputTokens)
        let offline = try await ScriptedProvider(jsonl: "", origin: "r").embedWithUsage(["a"], model: model)
        XCTAssertNil(offline.inputTokens)
    }

    func testEmbeddingsAreRecordedAndReplayed() async throws {
        let server = try embeddingsServer(usage: true)
        let model = ModelSpec(name: "small", id: "text-embedding-3-small", baseURL: server.baseURL)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("embed-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try RecordingProvider(OpenAICompatibleProvider(environment: [:]), path: path)
        let recorded = try await recorder.embedWithUsage(["query", "a document"], model: model)
        let chat = ChatRequest(model: model, messages: [ChatMessage(role: "user", content: "query")], maxTokens: 5)

        let replay = try ReplayProvider(path: path)
        XCTAssertEqual(replay.count, 1)
        let replayed = try await replay.embedWithUsage(["query", "a document"], model: model)
        XCTAssertEqual(replayed, recorded)
        _ = await expectProviderError({ try await replay.embedWithUsage(["query", "a document"], model: model) }, kind: .exhausted,
                                      containing: ["embeddings of 2 texts with model 'small' was recorded 1 time"])
        _ = await expectProviderError({ try await replay.embedWithUsage(["other"], model: model) }, kind: .exhausted,
                                      containing: ["no recorded exchange matches embeddings of 1 text"])
        _ = await expectProviderError({ try await replay.complete(chat) }, kind: .exhausted, containing: ["no recorded exchange matches"])
        XCTAssertEqual(server.requests.count, 1, "replay needs no server")
    }
}

/// `--replies` lines are used once across the runs of a conversation.
final class ScriptedReplyLedgerTests: XCTestCase {
    func testLaterRunsOfASessionTakeTheNextReplies() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try SQLiteStore(path: folder + "/sluice.db")
        try store.createSession("s1", at: 1)
        try store.createSession("s2", at: 1)
        let file = "{\"content\": \"one\"}\n\n{\"content\": \"two\"}\n{\"content\": \"three\"}\n"
        let request = ChatRequest(model: ModelSpec(name: "m"), messages: [ChatMessage(role: "user", content: "hi")], maxTokens: 5)
        func run(_ session: String) async throws -> String {
            // A new provider each time, as each run is a new process.
            try await ScriptedProvider(jsonl: file, origin: "chat.jsonl", ledger: store.replyLedger(session: session)).complete(request).text
        }
        let first = try await run("s1")
        let second = try await run("s1")
        let other = try await run("s2")
        let third = try await run("s1")
        XCTAssertEqual([first, second, other, third], ["one", "two", "one", "three"])
        _ = await expectProviderError({ try await run("s1") }, kind: .exhausted, containing: ["earlier runs of this conversation"])
        // An edited file is another file: its replies start afresh.
        let edited = try await ScriptedProvider(jsonl: file + "{\"content\": \"four\"}\n", origin: "chat.jsonl",
                                                ledger: store.replyLedger(session: "s1")).complete(request).text
        XCTAssertEqual(edited, "one")
    }
}

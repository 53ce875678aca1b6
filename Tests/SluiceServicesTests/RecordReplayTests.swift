import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class RecordReplayTests: XCTestCase {
    private func model(_ name: String = "gpt_4o_mini") -> ModelSpec {
        ModelSpec(name: name, id: "gpt-4o-mini", temperature: 0.2)
    }

    private func request(_ question: String, prompt: String = "answer", schema: JSONValue? = nil,
                         onText: (@Sendable (String) -> Void)? = nil) -> ChatRequest {
        ChatRequest(model: model(), messages: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: question)],
                    maxTokens: 100, stop: ["END"], responseSchema: schema.map { (name: "Reply", schema: $0) }, promptName: prompt, onText: onText)
    }

    func testRequestKeyIsStableAndCoversWhatMatters() {
        let base = request("Why?")
        XCTAssertEqual(RequestKey.key(base), RequestKey.key(request("Why?")))
        XCTAssertEqual(RequestKey.key(base).count, 64)
        XCTAssertEqual(RequestKey.canonical(base).serialized(),
                       #"{"max_tokens":100,"messages":[{"content":"Be brief.","role":"system"},{"content":"Why?","role":"user"}],"#
                       + #""model":"gpt-4o-mini","schema":null,"stop":["END"],"temperature":0.2}"#)
        // The prompt name, the model's local name and streaming do not matter; the content does.
        var renamed = request("Why?", prompt: "other", onText: { _ in })
        renamed.model.name = "alias"
        XCTAssertEqual(RequestKey.key(renamed), RequestKey.key(base))
        XCTAssertNotEqual(RequestKey.key(request("Why not?")), RequestKey.key(base))
        var hotter = base
        hotter.temperature = 0.9
        XCTAssertNotEqual(RequestKey.key(hotter), RequestKey.key(base))
        var longer = base
        longer.maxTokens = 101
        XCTAssertNotEqual(RequestKey.key(longer), RequestKey.key(base))
        // Schemas are compared by content, not by key order.
        let a = request("Why?", schema: .object([("type", .string("object")), ("required", .array([]))]))
        let b = request("Why?", schema: .object([("required", .array([])), ("type", .string("object"))]))
        XCTAssertEqual(RequestKey.key(a), RequestKey.key(b))
        XCTAssertNotEqual(RequestKey.key(a), RequestKey.key(base))
    }

    func testRecordThenReplayIsIdentical() async throws {
        let path = try temporaryFolder(self) + "/run.jsonl"
        let clock = FakeClock()
        let inner = SequenceProvider([
            .reply("first answer"),
            .fail(ProviderError(.http, "HTTP 500 from http://x: boom", status: 500)), .reply("second answer"),
            .reply("first answer, again"),
            .fail(ProviderError(.http, "HTTP 400 from http://x: bad", status: 400)),
        ])
        let live = try RecordingProvider(ReliableProvider(inner, clock: clock, random: FixedRandom.half), path: path)
        var recorded: [Result<ChatResponse, ProviderError>] = []
        let questions = ["one", "two", "one", "three"]
        for question in questions {
            do { recorded.append(.success(try await live.complete(request(question)))) } catch let error as ProviderError { recorded.append(.failure(error)) }
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 4)

        let replay = try ReplayProvider(path: path)
        XCTAssertEqual(replay.count, 4)
        for (question, original) in zip(questions, recorded) {
            let pieces = Pieces()
            do {
                let again = try await replay.complete(request(question, onText: pieces.onText))
                guard case .success(let first) = original else { return XCTFail("expected an error for \(question)") }
                XCTAssertEqual(again, first)
                XCTAssertEqual(pieces.joined, first.text)
            } catch let error as ProviderError {
                guard case .failure(let first) = original else { return XCTFail("unexpected \(error)") }
                XCTAssertEqual(error.kind, first.kind)
                XCTAssertEqual(error.message, first.message)
                XCTAssertEqual(error.status, first.status)
                XCTAssertEqual(error.attempts, first.attempts)
            }
        }
        // The retried exchange kept its failed attempt, waits included.
        guard case .success(let second) = recorded[1] else { return XCTFail() }
        XCTAssertEqual(second.failedAttempts.map(\.status), [500])
        XCTAssertEqual(second.failedAttempts.first?.waitedMs, 250)

        // Replaying a second time over the same provider: every key is used up, with a clear message.
        _ = await expectProviderError({ try await replay.complete(self.request("one")) }, kind: .exhausted,
                                      containing: ["prompt 'answer' on model 'gpt_4o_mini' was recorded 2 times", "has 4 recorded exchanges"])
        _ = await expectProviderError({ try await replay.complete(self.request("never asked")) }, kind: .exhausted,
                                      containing: ["no recorded exchange matches prompt 'answer' on model 'gpt_4o_mini'", "\(path) has 4 recorded exchanges",
                                                   "4 of them for this prompt and model but with other messages or settings", "--record"])
    }

    func testAReplayAnswersWithTheRecordedCacheWriteReasoningAndFinishReason() async throws {
        struct Answering: ModelProvider {
            func complete(_ request: ChatRequest) async throws -> ChatResponse {
                ChatResponse(text: "cut", model: "gpt-4o-mini-2024-07-18", inputTokens: 120, outputTokens: 40, cachedTokens: 20,
                             cacheWriteTokens: 50, reasoningTokens: 30, finishReason: "length")
            }
        }
        let path = try temporaryFolder(self) + "/run.jsonl"
        let recorded = try await RecordingProvider(Answering(), path: path).complete(request("one"))
        let replayed = try await ReplayProvider(path: path).complete(request("one"))
        XCTAssertEqual(replayed, recorded)
        XCTAssertEqual(replayed.cacheWriteTokens, 50)
        XCTAssertEqual(replayed.reasoningTokens, 30)
        XCTAssertEqual(replayed.finishReason, "length")
    }

    func testRecordingAppendsAndNeverWritesKeys() async throws {
        let path = try temporaryFolder(self) + "/keys.jsonl"
        let server = try TestHTTPServer { _ in
            .reply(status: 200, body: #"{"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}"#)
        }
        addTeardownBlock { server.stop() }
        let provider = OpenAICompatibleProvider(environment: ["OPENAI_API_KEY": "sk-never-in-a-file"])
        var spec = model()
        spec.baseURL = server.baseURL
        for _ in 0..<2 {
            let recorder = try RecordingProvider(provider, path: path)
            _ = try await recorder.complete(ChatRequest(model: spec, messages: [ChatMessage(role: "user", content: "hi")], maxTokens: 5))
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 2)
        XCTAssertFalse(text.contains("sk-never-in-a-file"))
        let line = try JSONValue.parse(String(text.split(separator: "\n")[0]))
        XCTAssertEqual(line["response"]?["usage"], .object([("input", .number(3)), ("output", .number(1)), ("cached", .number(0)),
                                                            ("cache_write", .number(0)), ("reasoning", .number(0))]))
        XCTAssertEqual(line["model"], .string("gpt_4o_mini"))
        XCTAssertEqual(line["prompt"], .null)
    }

    func testReplayFileErrors() throws {
        XCTAssertThrowsError(try ReplayProvider(path: "/nonexistent/run.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("cannot read the replay file /nonexistent/run.jsonl"))
        }
        XCTAssertThrowsError(try ReplayProvider(jsonl: "{\"key\": \"k\"}\n", origin: "r.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("r.jsonl:1: a recorded exchange needs a 'response', 'embeddings' or 'error' object"), "\(error)")
        }
        XCTAssertThrowsError(try ReplayProvider(jsonl: "\n{oops\n", origin: "r.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("r.jsonl:2: not valid JSON"), "\(error)")
        }
        XCTAssertThrowsError(try RecordingProvider(SequenceProvider([]), path: "/nonexistent/dir/run.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("cannot write the recording file /nonexistent/dir/run.jsonl"), "\(error)")
        }
    }

    func testStandardWiring() async throws {
        let path = try temporaryFolder(self) + "/wired.jsonl"
        let replies = try ScriptedProvider(jsonl: "{\"content\": \"scripted\"}", origin: "r.jsonl")
        let recorder = try RoutingProvider.standard(environment: [:], replies: replies, record: path, replay: nil)
        let first = try await recorder.complete(request("q"))
        XCTAssertEqual(first.text, "scripted")
        let replayer = try RoutingProvider.standard(environment: [:], record: nil, replay: path)
        let again = try await replayer.complete(request("q"))
        XCTAssertEqual(again, first)
        XCTAssertThrowsError(try RoutingProvider.standard(environment: [:], record: path, replay: path)) { error in
            XCTAssertTrue("\(error)".contains("cannot be combined"), "\(error)")
        }
        XCTAssertThrowsError(try RoutingProvider.standard(environment: [:], replies: replies, record: nil, replay: path))
        // Without record or replay: the real providers, behind reliability.
        let real = try RoutingProvider.standard(environment: [:], record: nil, replay: nil)
        XCTAssertTrue(real is RoutingProvider)
    }
}

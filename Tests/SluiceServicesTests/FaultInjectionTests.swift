import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// The real providers behind `ReliableProvider`, against a local server that misbehaves on purpose.
/// Every fault ends in a retry, a fallback or a clear error, and the attempts list has every try.
final class FaultInjectionTests: XCTestCase {
    private static let ok = #"{"model": "local-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}"#
    private static let serverError = #"{"error": {"message": "server error", "type": "server_error"}}"#

    private func server(_ answers: [TestHTTPServer.Answer]) throws -> TestHTTPServer {
        let server = try TestHTTPServer(answers: answers)
        addTeardownBlock { server.stop() }
        return server
    }

    private func spec(_ baseURL: String, provider: String = "openai", retries: Int = 3, timeout: Double = 10, breaker: Int = 0) -> ModelSpec {
        ModelSpec(name: "local", provider: provider, id: "qwen", baseURL: baseURL, timeout: timeout,
                  reliability: Reliability(retries: retries, backoff: 0.5, maxBackoff: 4, connectTimeout: 5, breakerFailures: breaker, breakerCooldown: 30))
    }

    private func reliable(_ clock: FakeClock, environment: [String: String] = [:]) -> ReliableProvider {
        ReliableProvider(OpenAICompatibleProvider(environment: environment, clock: clock), clock: clock, random: FixedRandom.half)
    }

    private func ask(_ provider: any ModelProvider, _ model: ModelSpec, onText: (@Sendable (String) -> Void)? = nil) async throws -> ChatResponse {
        try await provider.complete(ChatRequest(model: model, messages: [ChatMessage(role: "user", content: "Hello?")], maxTokens: 20,
                                                promptName: "hello", onText: onText))
    }

    func test429WithAndWithoutRetryAfter() async throws {
        let clock = FakeClock()
        let server = try server([
            .replyWith(status: 429, headers: [("Retry-After", "2")], body: #"{"error": {"message": "rate limited", "type": "rate_limit_error"}}"#),
            .reply(status: 429, body: #"{"error": {"message": "rate limited", "type": "rate_limit_error"}}"#),
            .reply(status: 200, body: Self.ok),
        ])
        let reply = try await ask(reliable(clock), spec(server.baseURL))
        XCTAssertEqual(reply.text, "fine")
        XCTAssertEqual(clock.sleeps, [2, 0.5], "Retry-After exactly; then half of 0.5×2¹")
        XCTAssertEqual(reply.failedAttempts.map(\.status), [429, 429])
        XCTAssertEqual(reply.failedAttempts.map(\.waitedMs), [2000, 500])
        XCTAssertEqual(server.requests.count, 3)
    }

    func test500And503ThenSuccess() async throws {
        let clock = FakeClock()
        let server = try server([.reply(status: 500, body: Self.serverError), .reply(status: 503, body: "Service Unavailable"),
                                 .reply(status: 200, body: Self.ok)])
        let reply = try await ask(reliable(clock), spec(server.baseURL))
        XCTAssertEqual(reply.failedAttempts.map(\.status), [500, 503])
        XCTAssertTrue(reply.failedAttempts[0].error.contains("HTTP 500 from \(server.baseURL)/chat/completions: server error"))
        XCTAssertTrue(reply.failedAttempts[1].error.contains("Service Unavailable"))
    }

    func testConnectionRefusedEverywhereIsAClearErrorWithEveryAttempt() async throws {
        let port = try TestHTTPServer.closedPort()
        let clock = FakeClock()
        let error = await expectProviderError({ try await self.ask(self.reliable(clock), self.spec("http://127.0.0.1:\(port)/v1", retries: 2)) },
                                              kind: .transport, containing: ["could not connect to http://127.0.0.1:\(port)/v1/chat/completions",
                                                                             "(gave up after 3 attempts)"])
        XCTAssertEqual(error?.attempts.count, 3)
        XCTAssertEqual(clock.sleeps, [0.25, 0.5])
    }

    func testAStallPastTheTimeoutIsRetried() async throws {
        let clock = FakeClock()
        let server = try server([.stall, .reply(status: 200, body: Self.ok)])
        let reply = try await ask(reliable(clock), spec(server.baseURL, timeout: 0.5))
        XCTAssertEqual(reply.text, "fine")
        XCTAssertEqual(reply.failedAttempts.count, 1)
        XCTAssertTrue(reply.failedAttempts[0].error.contains("no reply from \(server.baseURL)/chat/completions within 0.5s"))
    }

    func testMalformedJSONAndAnEmptyChoiceListAreRetried() async throws {
        let clock = FakeClock()
        let server = try server([
            .reply(status: 200, body: #"{"choices": [{"message": {"content": "trunc"#),
            .reply(status: 200, body: #"{"id": "x", "object": "chat.completion", "choices": [], "model": "mock"}"#),
            .reply(status: 200, body: Self.ok),
        ])
        let reply = try await ask(reliable(clock), spec(server.baseURL))
        XCTAssertEqual(reply.text, "fine")
        XCTAssertEqual(reply.failedAttempts.count, 2)
        XCTAssertTrue(reply.failedAttempts[0].error.contains("is not JSON"))
        XCTAssertTrue(reply.failedAttempts[1].error.contains("empty 'choices' list"))
    }

    func testMissingUsageAndUnknownFinishReasonAreNotErrors() async throws {
        let server = try server([.reply(status: 200, body: #"{"choices": [{"message": {"content": "hello there"}, "finish_reason": "my_new_reason"}]}"#)])
        let reply = try await ask(reliable(FakeClock()), spec(server.baseURL))
        XCTAssertEqual(reply.finishReason, "my_new_reason")
        XCTAssertTrue(reply.usageEstimated)
        XCTAssertEqual(reply.outputTokens, 3)
        XCTAssertEqual(reply.failedAttempts, [])
    }

    func testAStreamCutBeforeAnyTextIsRetriedButNotAfter() async throws {
        let clock = FakeClock()
        // First stream: cut before any text. Second: complete.
        let server = try server([.sse(Array(openAIStream(["x"]).prefix(1)), cut: true), .sse(openAIStream(["one ", "two"]))])
        let pieces = Pieces()
        let reply = try await ask(reliable(clock), spec(server.baseURL), onText: pieces.onText)
        XCTAssertEqual(reply.text, "one two")
        XCTAssertEqual(pieces.joined, "one two")
        XCTAssertEqual(reply.failedAttempts.count, 1)
        XCTAssertTrue(reply.failedAttempts[0].error.contains("cut off"))

        // A stream cut after text went out: a clear error, not retried.
        let cut = try self.server([.sse(Array(openAIStream(["half ", "a ", "sentence"]).prefix(3)), cut: true), .sse(openAIStream(["again"]))])
        let seen = Pieces()
        let error = await expectProviderError({ try await self.ask(self.reliable(clock), self.spec(cut.baseURL), onText: seen.onText) },
                                              kind: .transport, containing: ["cut off", "not retried: part of the reply had already been streamed"])
        XCTAssertEqual(seen.joined, "half a ")
        XCTAssertEqual(error?.attempts.count, 1)
        XCTAssertEqual(cut.requests.count, 1)
    }

    func testAnthropicOverloadedThenSuccess() async throws {
        let clock = FakeClock()
        let server = try server([
            .replyWith(status: 529, headers: [("retry-after", "1")], body: #"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#),
            .reply(status: 200, body: #"{"content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": {"input_tokens": 4, "output_tokens": 1}}"#),
        ])
        let provider = ReliableProvider(AnthropicProvider(environment: [:], clock: clock), clock: clock, random: FixedRandom.half)
        let reply = try await ask(provider, spec(server.root, provider: "anthropic"))
        XCTAssertEqual(reply.text, "hi")
        XCTAssertEqual(reply.failedAttempts.map(\.status), [529])
        XCTAssertEqual(clock.sleeps, [1])
    }

    func testKeysNeverAppearInErrorsOrAttempts() async throws {
        let openAIKey = "sk-proj-SECRET-abc123"
        let anthropicKey = "sk-ant-SECRET-xyz789"
        let echo = try TestHTTPServer { request in
            let sent = request.headers["authorization"] ?? request.headers["x-api-key"] ?? ""
            return .reply(status: 500, body: #"{"error": {"message": "bad credentials: "# + "\\\"\(sent)\\\"" + #""}}"#)
        }
        addTeardownBlock { echo.stop() }
        let clock = FakeClock()
        let environment = ["OPENAI_API_KEY": openAIKey, "ANTHROPIC_API_KEY": anthropicKey]
        let openAI = ReliableProvider(OpenAICompatibleProvider(environment: environment, clock: clock), clock: clock)
        let anthropic = ReliableProvider(AnthropicProvider(environment: environment, clock: clock), clock: clock)
        for (provider, model, key) in [(openAI, spec(echo.baseURL, retries: 1), openAIKey),
                                       (anthropic, spec(echo.root, provider: "anthropic", retries: 1), anthropicKey)] {
            let error = await expectProviderError({ try await self.ask(provider, model) }, kind: .http, status: 500, containing: ["[redacted]"])
            let everything = [error?.message ?? ""] + (error?.attempts.map(\.error) ?? [])
            XCTAssertEqual(error?.attempts.count, 2)
            for text in everything { XCTAssertFalse(text.contains(key), text) }
            XCTAssertFalse("\(String(describing: error))".contains(key))
        }
        XCTAssertEqual(echo.requests.first?.headers["authorization"], "Bearer \(openAIKey)", "the key was sent, only never shown")
    }

    func testAnOpenCircuitFailsFastSoACascadeMovesOn() async throws {
        let clock = FakeClock()
        let down = try server([.reply(status: 503, body: Self.serverError)])
        let provider = reliable(clock)
        let model = spec(down.baseURL, retries: 1, breaker: 2)
        // Two failed tries use up the retries and open the circuit...
        let first = await expectProviderError({ try await self.ask(provider, model) }, kind: .http, status: 503,
                                              containing: ["(gave up after 2 attempts)"])
        XCTAssertEqual(first?.attempts.count, 2)
        XCTAssertEqual(down.requests.count, 2)
        let start = Date()
        let refused = await expectProviderError({ try await self.ask(provider, model) }, kind: .circuitOpen,
                                                containing: ["circuit open for \(down.baseURL) qwen after 2 consecutive failures", "HTTP 503"])
        XCTAssertEqual(down.requests.count, 2, "refused without a request")
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
        XCTAssertEqual(refused?.attempts.count, 1)

        // The same server under another model id is another endpoint with its own circuit.
        var other = model
        other.id = "qwen-large"
        _ = await expectProviderError({ try await self.ask(provider, other) }, kind: .http, status: 503)
        XCTAssertEqual(down.requests.count, 4)

        // With retries to spare, the circuit opening mid-call ends the call at once.
        let fresh = reliable(clock)
        let patient = spec(down.baseURL, retries: 5, breaker: 2)
        let midway = await expectProviderError({ try await self.ask(fresh, patient) }, kind: .circuitOpen)
        XCTAssertEqual(midway?.attempts.count, 3, "two failed tries and the refusal")
        XCTAssertEqual(down.requests.count, 6)
    }
}

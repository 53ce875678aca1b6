import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class OpenAICompatibleProviderTests: XCTestCase {
    private static let goodReply = """
        {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\\"answer\\": \\"42\\"}"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 57, "completion_tokens": 9, "total_tokens": 66, "prompt_tokens_details": {"cached_tokens": 32}}}
        """

    private func server(_ answer: TestHTTPServer.Answer) throws -> TestHTTPServer {
        let server = try TestHTTPServer { _ in answer }
        addTeardownBlock { server.stop() }
        return server
    }

    private func model(baseURL: String?, timeout: Double = 10, keyEnv: String? = nil) -> ModelSpec {
        ModelSpec(name: "gpt_4o_mini", id: "gpt-4o-mini", baseURL: baseURL, apiKeyEnv: keyEnv, temperature: 0.2, timeout: timeout)
    }

    private func request(_ model: ModelSpec, schema: Bool = false) -> ChatRequest {
        ChatRequest(model: model, messages: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Why?")],
                    maxTokens: 256, stop: ["END"],
                    responseSchema: schema ? (name: "Reply", schema: .object([("type", .string("object"))])) : nil,
                    promptName: "answer")
    }

    func testUsageReportsCachedAndReasoningTokens() throws {
        let usage = try JSONValue.parse("""
            {"prompt_tokens": 1200, "completion_tokens": 900,
             "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 768}}
            """)
        let reply = OpenAICompatibleProvider.response(text: "ok", model: nil, finishReason: "stop", usage: usage,
                                                      request: request(model(baseURL: nil)), counter: EstimatingTokenCounter())
        XCTAssertEqual(reply.inputTokens, 1200)
        XCTAssertEqual(reply.cachedTokens, 1024)
        XCTAssertEqual(reply.outputTokens, 900, "reasoning tokens are billed as output, and counted in it")
        XCTAssertEqual(reply.reasoningTokens, 768)
        XCTAssertEqual(reply.cacheWriteTokens, 0)
    }

    private func expectError(_ provider: OpenAICompatibleProvider, _ request: ChatRequest, kind: ProviderError.Kind,
                             status: Int? = nil, containing texts: [String], file: StaticString = #filePath, line: UInt = #line) async {
        do {
            let reply = try await provider.complete(request)
            XCTFail("expected an error, got \(reply)", file: file, line: line)
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
            XCTAssertEqual(error.status, status, file: file, line: line)
            for text in texts { XCTAssertTrue(error.message.contains(text), "\(error.message) lacks \(text)", file: file, line: line) }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testGoodReplyAndTheRequestItSent() async throws {
        let server = try server(.reply(status: 200, body: Self.goodReply))
        let provider = OpenAICompatibleProvider(environment: ["OPENAI_API_KEY": "sk-test-123"])
        let reply = try await provider.complete(request(model(baseURL: server.baseURL + "/"), schema: true))
        XCTAssertEqual(reply.measuredAsUnmeasured, ChatResponse(text: "{\"answer\": \"42\"}", model: "gpt-4o-mini-2024-07-18", inputTokens: 57,
                                           outputTokens: 9, cachedTokens: 32, finishReason: "stop"))

        let sent = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(sent.method, "POST")
        XCTAssertEqual(sent.path, "/v1/chat/completions")
        XCTAssertEqual(sent.headers["authorization"], "Bearer sk-test-123")
        XCTAssertEqual(sent.headers["content-type"], "application/json")
        let body = try JSONValue.parse(bytes: Array(sent.body))
        XCTAssertEqual(body, .object([
            ("model", .string("gpt-4o-mini")),
            ("messages", .array([
                .object([("role", .string("system")), ("content", .string("Be brief."))]),
                .object([("role", .string("user")), ("content", .string("Why?"))]),
            ])),
            ("temperature", .number(0.2)),
            ("max_tokens", .number(256)),
            ("stop", .array([.string("END")])),
            ("response_format", .object([
                ("type", .string("json_schema")),
                // The strict form of an object schema with no properties.
                ("json_schema", .object([("name", .string("Reply")), ("schema", .object([
                    ("type", .string("object")), ("properties", .object([])), ("required", .array([])), ("additionalProperties", .bool(false)),
                ])), ("strict", .bool(true))])),
            ])),
        ]))
    }

    func testBaseURLAndKeyFromTheEnvironment() async throws {
        let server = try server(.reply(status: 200, body: Self.goodReply))
        let provider = OpenAICompatibleProvider(environment: ["OPENAI_BASE_URL": server.baseURL, "MY_KEY": "k-999"])
        _ = try await provider.complete(request(model(baseURL: nil, keyEnv: "MY_KEY")))
        XCTAssertEqual(server.requests.first?.headers["authorization"], "Bearer k-999")
        let body = try JSONValue.parse(bytes: Array(try XCTUnwrap(server.requests.first).body))
        XCTAssertNil(body["response_format"])
    }

    func testNoKeyIsFineForALocalServer() async throws {
        let server = try server(.reply(status: 200, body: """
            {"choices": [{"message": {"content": "hi there"}}]}
            """))
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model(baseURL: server.baseURL)))
        XCTAssertNil(server.requests.first?.headers["authorization"])
        XCTAssertEqual(reply.text, "hi there")
        XCTAssertNil(reply.model, "the reply did not say which model answered")
        XCTAssertEqual(reply.outputTokens, 2, "estimated when the server reports no usage")
        XCTAssertNil(reply.finishReason)
    }

    func testConfigurationErrors() async {
        let none = OpenAICompatibleProvider(environment: [:])
        await expectError(none, request(model(baseURL: nil)), kind: .configuration, containing: ["$OPENAI_API_KEY is not set"])
        await expectError(none, request(model(baseURL: "http://127.0.0.1:9/v1", keyEnv: "MISSING_KEY")), kind: .configuration,
                          containing: ["$MISSING_KEY, which is not set"])
        await expectError(none, request(model(baseURL: "ftp://example.com")), kind: .configuration, containing: ["invalid base URL 'ftp://example.com'"])
        await expectError(none, request(model(baseURL: "not a url")), kind: .configuration, containing: ["invalid base URL"])
    }

    func testServerErrorWithJSONMessage() async throws {
        let server = try server(.reply(status: 500, body: #"{"error": {"message": "The server had an error", "type": "server_error"}}"#))
        await expectError(OpenAICompatibleProvider(environment: [:]), request(model(baseURL: server.baseURL)), kind: .http, status: 500,
                          containing: ["HTTP 500 from \(server.baseURL)/chat/completions: The server had an error"])
    }

    func testServerErrorWithPlainBodyAndTheKeyRedacted() async throws {
        let server = try server(.reply(status: 401, body: "bad key sk-secret-value given"))
        let provider = OpenAICompatibleProvider(environment: ["OPENAI_API_KEY": "sk-secret-value"])
        await expectError(provider, request(model(baseURL: server.baseURL)), kind: .http, status: 401,
                          containing: ["HTTP 401", "bad key [redacted] given"])
    }

    func testMalformedReplies() async throws {
        let cases: [(String, String)] = [
            ("<html>oops</html>", "is not JSON"),
            (#"{"object": "list"}"#, "has no 'choices' list"),
            (#"{"choices": []}"#, "has an empty 'choices' list"),
            (#"{"choices": [{"finish_reason": "stop"}]}"#, "has no 'message'"),
            (#"{"choices": [{"message": {"role": "assistant", "content": null}}]}"#, "has no text 'content'"),
            (#"{"choices": [{"message": {"content": null, "refusal": "I can't help with that."}}]}"#, "the model refused: I can't help with that."),
            (#"{"error": {"message": "model not loaded"}}"#, "is an error: model not loaded"),
        ]
        for (body, expected) in cases {
            let server = try server(.reply(status: 200, body: body))
            await expectError(OpenAICompatibleProvider(environment: [:]), request(model(baseURL: server.baseURL)), kind: .malformedReply,
                              containing: [expected])
        }
    }

    func testConnectionRefused() async throws {
        let port = try TestHTTPServer.closedPort()
        await expectError(OpenAICompatibleProvider(environment: [:]), request(model(baseURL: "http://127.0.0.1:\(port)/v1")),
                          kind: .transport, containing: ["could not connect to http://127.0.0.1:\(port)/v1/chat/completions: "])
    }

    func testTimeoutWhenTheServerStalls() async throws {
        let server = try server(.stall)
        let start = Date()
        await expectError(OpenAICompatibleProvider(environment: [:]), request(model(baseURL: server.baseURL, timeout: 0.5)),
                          kind: .transport, containing: ["no reply from \(server.baseURL)/chat/completions within 0.5s"])
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(elapsed, 0.4)
        XCTAssertLessThan(elapsed, 5)
    }

    func testCancellationStopsTheRequest() async throws {
        let server = try server(.stall)
        let provider = OpenAICompatibleProvider(environment: [:])
        let slow = request(model(baseURL: server.baseURL, timeout: 30))
        let call = Task { try await provider.complete(slow) }
        try await Task.sleep(nanoseconds: 200_000_000)
        call.cancel()
        let start = Date()
        do {
            _ = try await call.value
            XCTFail("expected cancellation")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }
}

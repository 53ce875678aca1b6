import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class AnthropicProviderTests: XCTestCase {
    private static let goodReply = """
        {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
         "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there."}],
         "stop_reason": "end_turn", "stop_sequence": null,
         "usage": {"input_tokens": 12, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 900, "output_tokens": 6}}
        """

    private func server(_ answers: [TestHTTPServer.Answer]) throws -> TestHTTPServer {
        let server = try TestHTTPServer(answers: answers)
        addTeardownBlock { server.stop() }
        return server
    }

    private func model(baseURL: String?, keyEnv: String? = nil, timeout: Double = 10) -> ModelSpec {
        ModelSpec(name: "claude_sonnet", provider: "anthropic", id: "claude-sonnet-4", baseURL: baseURL, apiKeyEnv: keyEnv, temperature: 0.3,
                  timeout: timeout)
    }

    private func request(_ model: ModelSpec, messages: [ChatMessage]? = nil, schema: JSONValue? = nil,
                         onText: (@Sendable (String) -> Void)? = nil) -> ChatRequest {
        ChatRequest(model: model, messages: messages ?? [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")],
                    maxTokens: 300, stop: ["END"], responseSchema: schema.map { (name: "Reply", schema: $0) }, promptName: "greet", onText: onText)
    }

    private func sentBody(_ server: TestHTTPServer, _ index: Int = 0) throws -> JSONValue {
        try JSONValue.parse(bytes: Array(server.requests[index].body))
    }

    func testWireFormatHeadersAndUsage() async throws {
        let server = try server([.reply(status: 200, body: Self.goodReply)])
        let provider = AnthropicProvider(environment: ["ANTHROPIC_API_KEY": "sk-ant-secret-1", "ANTHROPIC_BASE_URL": server.root])
        let messages = [
            ChatMessage(role: "system", content: "Rule one."),
            ChatMessage(role: "user", content: "Part A"),
            ChatMessage(role: "user", content: "Part B"),
            ChatMessage(role: "assistant", content: "Noted."),
            ChatMessage(role: "system", content: "Rule two."),
            ChatMessage(role: "user", content: "Go"),
        ]
        let reply = try await provider.complete(request(model(baseURL: nil), messages: messages))
        XCTAssertEqual(reply.measuredAsUnmeasured, ChatResponse(text: "Hello there.", model: "claude-sonnet-4-20250514", inputTokens: 1012, outputTokens: 6,
                                           cachedTokens: 900, cacheWriteTokens: 100, finishReason: "stop"))
        let sent = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(sent.path, "/v1/messages")
        XCTAssertEqual(sent.headers["x-api-key"], "sk-ant-secret-1")
        XCTAssertEqual(sent.headers["anthropic-version"], "2023-06-01")
        XCTAssertNil(sent.headers["authorization"])
        XCTAssertEqual(try sentBody(server), .object([
            ("model", .string("claude-sonnet-4")),
            ("system", .string("Rule one.\n\nRule two.")),
            ("messages", .array([
                .object([("role", .string("user")), ("content", .string("Part A\n\nPart B"))]),
                .object([("role", .string("assistant")), ("content", .string("Noted."))]),
                .object([("role", .string("user")), ("content", .string("Go"))]),
            ])),
            ("max_tokens", .number(300)),
            ("temperature", .number(0.3)),
            ("stop_sequences", .array([.string("END")])),
        ]))
    }

    func testBaseURLEndingInV1AndTheModelsOwnKeyVariable() async throws {
        let server = try server([.reply(status: 200, body: Self.goodReply)])
        let provider = AnthropicProvider(environment: ["TEAM_KEY": "team-key-42", "ANTHROPIC_API_KEY": "not-this-one"])
        _ = try await provider.complete(request(model(baseURL: server.baseURL + "/", keyEnv: "TEAM_KEY")))
        XCTAssertEqual(server.requests.first?.path, "/v1/messages")
        XCTAssertEqual(server.requests.first?.headers["x-api-key"], "team-key-42")
        XCTAssertEqual(provider.endpointName(for: model(baseURL: server.baseURL)), server.baseURL + " claude-sonnet-4")
    }

    func testConfigurationErrors() async {
        let provider = AnthropicProvider(environment: [:])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(baseURL: nil))) }, kind: .configuration,
                                      containing: ["$ANTHROPIC_API_KEY is not set", "api.anthropic.com"])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(baseURL: "http://127.0.0.1:9", keyEnv: "NOPE"))) },
                                      kind: .configuration, containing: ["$NOPE, which is not set"])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(baseURL: "file:///etc"))) }, kind: .configuration,
                                      containing: ["invalid base URL"])
    }

    func testStopReasonsAreMappedAndUnknownOnesKept() async throws {
        let cases: [(String, String)] = [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("refusal", "content_filter"),
                                         ("pause_turn", "pause_turn"), ("brand_new_reason", "brand_new_reason")]
        for (raw, mapped) in cases {
            let server = try server([.reply(status: 200, body: """
                {"content": [{"type": "text", "text": "x"}], "stop_reason": "\(raw)", "usage": {"input_tokens": 3, "output_tokens": 1}}
                """)])
            let reply = try await AnthropicProvider(environment: [:]).complete(request(model(baseURL: server.root)))
            XCTAssertEqual(reply.finishReason, mapped, raw)
            XCTAssertFalse(reply.usageEstimated)
        }
    }

    func testErrorsAndTheKeyNeverShows() async throws {
        let server = try server([
            .reply(status: 401, body: #"{"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key sk-ant-secret-9"}}"#),
            .reply(status: 529, body: #"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#),
            .reply(status: 200, body: #"{"type": "message", "content": "nope"}"#),
            .reply(status: 200, body: "{\"content\": [{\"type\": \"te"),
        ])
        let provider = AnthropicProvider(environment: ["ANTHROPIC_API_KEY": "sk-ant-secret-9"])
        let spec = model(baseURL: server.root)
        let auth = await expectProviderError({ try await provider.complete(self.request(spec)) }, kind: .http, status: 401,
                                             containing: ["HTTP 401 from \(server.root)/v1/messages: invalid x-api-key [redacted]"])
        XCTAssertFalse(auth?.message.contains("sk-ant-secret-9") ?? true)
        _ = await expectProviderError({ try await provider.complete(self.request(spec)) }, kind: .http, status: 529, containing: ["Overloaded"])
        _ = await expectProviderError({ try await provider.complete(self.request(spec)) }, kind: .malformedReply, containing: ["no 'content' list"])
        _ = await expectProviderError({ try await provider.complete(self.request(spec)) }, kind: .malformedReply, containing: ["is not JSON"])
    }

    // MARK: Structured output

    private static let replySchema: JSONValue = .object([
        ("type", .string("object")),
        ("properties", .object([("answer", .object([("type", .string("string"))]))])),
        ("required", .array([.string("answer")])),
    ])

    func testStructuredOutputThroughForcedToolUse() async throws {
        let server = try server([.reply(status: 200, body: """
            {"model": "claude-sonnet-4", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Reply", "input": {"answer": "42", "n": [1, 2]}}],
             "stop_reason": "tool_use", "usage": {"input_tokens": 50, "output_tokens": 20}}
            """)])
        let reply = try await AnthropicProvider(environment: [:]).complete(request(model(baseURL: server.root), schema: Self.replySchema))
        XCTAssertEqual(reply.text, #"{"answer":"42","n":[1,2]}"#)
        XCTAssertEqual(reply.finishReason, "stop", "tool_use is how structured output ends")
        let body = try sentBody(server)
        XCTAssertEqual(body["tools"], .array([.object([
            ("name", .string("Reply")),
            ("description", .string("Gives the answer as a Reply value; the tool's input is the whole answer.")),
            ("input_schema", .object([
                ("type", .string("object")),
                ("properties", .object([("answer", .object([("type", .string("string"))]))])),
                ("required", .array([.string("answer")])),
                ("additionalProperties", .bool(false)),
            ])),
        ])]))
        XCTAssertEqual(body["tool_choice"], .object([("type", .string("tool")), ("name", .string("Reply"))]))
    }

    func testANonObjectSchemaIsWrappedAndUnwrapped() async throws {
        let label: JSONValue = .object([("type", .string("string")), ("enum", .array([.string("bug"), .string("praise")]))])
        let server = try server([.reply(status: 200, body: """
            {"content": [{"type": "tool_use", "name": "Reply", "input": {"value": "bug"}}], "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 2}}
            """)])
        let reply = try await AnthropicProvider(environment: [:]).complete(request(model(baseURL: server.root), schema: label))
        XCTAssertEqual(reply.text, "\"bug\"")
        XCTAssertEqual(try sentBody(server)["tools"]?.arrayValue?.first?["input_schema"], .object([
            ("type", .string("object")), ("properties", .object([("value", label)])), ("required", .array([.string("value")])),
            ("additionalProperties", .bool(false)),
        ]))
    }

    func testServersWithoutToolsFallBackToText() async throws {
        // One rejects the tools: asked again without them, and remembered.
        let rejecting = try TestHTTPServer { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            return body["tools"] == nil
                ? .reply(status: 200, body: #"{"content": [{"type": "text", "text": "{\"answer\": \"7\"}"}], "stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 2}}"#)
                : .reply(status: 400, body: #"{"type": "error", "error": {"type": "invalid_request_error", "message": "tools: Extra inputs are not permitted"}}"#)
        }
        addTeardownBlock { rejecting.stop() }
        let provider = AnthropicProvider(environment: [:])
        let first = try await provider.complete(request(model(baseURL: rejecting.root), schema: Self.replySchema))
        XCTAssertEqual(first.text, "{\"answer\": \"7\"}")
        XCTAssertEqual(first.failedAttempts.map(\.status), [400])
        _ = try await provider.complete(request(model(baseURL: rejecting.root), schema: Self.replySchema))
        XCTAssertEqual(rejecting.requests.count, 3)

        // Another ignores them and answers in text: that text is the reply.
        let ignoring = try server([.reply(status: 200, body: #"{"content": [{"type": "text", "text": "{\"answer\": \"8\"}"}], "stop_reason": "end_turn"}"#)])
        let second = try await provider.complete(request(model(baseURL: ignoring.root), schema: Self.replySchema))
        XCTAssertEqual(second.text, "{\"answer\": \"8\"}")
        XCTAssertTrue(second.usageEstimated)
    }

    // MARK: Streaming

    private static func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }

    private static let textStream: [String] = [
        event("message_start", #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}}}"#),
        event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        event("ping", #"{"type": "ping"}"#),
        event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#),
        event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", world"}}"#),
        event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#),
        event("message_stop", #"{"type":"message_stop"}"#),
    ]

    func testStreamingText() async throws {
        let server = try server([.sse(Self.textStream, pause: 0.01, chunked: true)])
        let pieces = Pieces()
        let reply = try await AnthropicProvider(environment: [:]).complete(request(model(baseURL: server.root), onText: pieces.onText))
        XCTAssertEqual(pieces.all, ["Hello", ", world"])
        XCTAssertEqual(reply.measuredAsUnmeasured, ChatResponse(text: "Hello, world", model: "claude-sonnet-4-20250514", inputTokens: 35, outputTokens: 15,
                                           cachedTokens: 10, finishReason: "stop"))
        XCTAssertEqual(try sentBody(server)["stream"], .bool(true))
    }

    func testStreamingStructuredOutput() async throws {
        let server = try server([.sse([
            Self.event("message_start", #"{"type":"message_start","message":{"model":"claude-sonnet-4","usage":{"input_tokens":40,"output_tokens":1}}}"#),
            Self.event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"Reply","input":{}}}"#),
            Self.event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#),
            Self.event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"answer\": \"4"}}"#),
            Self.event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"2\"}"}}"#),
            Self.event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#),
            Self.event("message_stop", #"{"type":"message_stop"}"#),
        ])])
        let pieces = Pieces()
        let reply = try await AnthropicProvider(environment: [:]).complete(request(model(baseURL: server.root), schema: Self.replySchema,
                                                                                   onText: pieces.onText))
        XCTAssertEqual(reply.text, "{\"answer\": \"42\"}")
        XCTAssertEqual(pieces.joined, reply.text, "what was streamed adds up to the reply")
        XCTAssertEqual(reply.finishReason, "stop")
        XCTAssertEqual(reply.inputTokens, 40)
        XCTAssertEqual(reply.outputTokens, 9)
    }

    func testStreamErrorEventAndCutOff() async throws {
        let server = try server([
            .sse([Self.textStream[0], Self.event("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)]),
            .sse(Array(Self.textStream.prefix(4)) + ["event: content_block_delta\ndata: {\"type\":\"content_blo"], cut: true),
        ])
        let provider = AnthropicProvider(environment: [:])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(baseURL: server.root), onText: Pieces().onText)) },
                                      kind: .http, status: 529, containing: ["reported an error: overloaded_error: Overloaded"])
        let pieces = Pieces()
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(baseURL: server.root), onText: pieces.onText)) },
                                      kind: .transport, containing: ["cut off before its end (message_stop) after 5 characters of text"])
        XCTAssertEqual(pieces.all, ["Hello"])
    }
}

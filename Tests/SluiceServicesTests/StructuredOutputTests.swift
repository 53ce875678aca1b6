import Foundation
import SluiceRuntime
import SluiceSemantics
@testable import SluiceServices
import XCTest

/// Structured output over both wire formats: the schema sent, the wrapping of non-object types
/// and its removal from the reply, and fallbacks that are said and remembered.
final class StructuredOutputTests: XCTestCase {
    private let label = SluiceType.enumeration(["bug", "praise"])
    private let ticket = SluiceType.record(name: "Ticket", fields: [
        .init(name: "title", type: .string, optional: false),
        .init(name: "labels", type: .list(.enumeration(["bug", "praise"])), optional: false),
        .init(name: "owner", type: .string, optional: true),
    ])
    private var folder: String!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-structured-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private func server(_ respond: @escaping @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Answer) throws -> TestHTTPServer {
        let server = try TestHTTPServer(respond: respond)
        addTeardownBlock { server.stop() }
        return server
    }

    private func request(_ model: ModelSpec, returns type: SluiceType, named name: String, onText: (@Sendable (String) -> Void)? = nil) -> ChatRequest {
        ChatRequest(model: model, messages: [ChatMessage(role: "user", content: "Classify: it crashes.")], maxTokens: 50,
                    responseSchema: (name: name, schema: jsonSchema(for: type)), promptName: "classify", onText: onText)
    }

    private func body(_ server: TestHTTPServer, _ index: Int = 0) throws -> JSONValue {
        try JSONValue.parse(bytes: Array(server.requests[index].body))
    }

    private static func openAIReply(_ content: String) -> TestHTTPServer.Answer {
        .reply(status: 200, body: JSONValue.object([
            ("model", .string("gpt-4o-mini")),
            ("choices", .array([.object([("index", .number(0)), ("message", .object([("role", .string("assistant")), ("content", .string(content))])),
                                         ("finish_reason", .string("stop"))])])),
            ("usage", .object([("prompt_tokens", .number(20)), ("completion_tokens", .number(5))])),
        ]).serialized())
    }

    // MARK: OpenAI

    func testOpenAIWrapsAnEnumAndUnwrapsTheReply() async throws {
        let server = try server { _ in Self.openAIReply(#"{"value":"bug"}"#) }
        let model = ModelSpec(name: "mini", id: "gpt-4o-mini", baseURL: server.baseURL)
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model, returns: label, named: "Label"))
        XCTAssertEqual(reply.text, #""bug""#, "the runtime sees the declared type's value")
        XCTAssertEqual(validate(try JSONValue.parse(reply.text), against: label), [])
        XCTAssertEqual(reply.warnings, [])
        let format = try body(server)["response_format"]?["json_schema"]
        XCTAssertEqual(format?["name"], .string("Label"))
        XCTAssertEqual(format?["strict"], .bool(true))
        let schema = try XCTUnwrap(format?["schema"])
        XCTAssertEqual(StrictModeSchemaTests.strictModeProblems(name: "Label", schema: schema), [])
        XCTAssertEqual(schema["properties"]?["value"], jsonSchema(for: label))
    }

    func testOpenAIStreamsTheUnwrappedValue() async throws {
        let server = try server { _ in .sse(openAIStream([#"{"val"#, #"ue": ["bug","#, #" "praise"]}"#])) }
        let model = ModelSpec(name: "mini", id: "gpt-4o-mini", baseURL: server.baseURL)
        let pieces = Pieces()
        let reply = try await OpenAICompatibleProvider(environment: [:])
            .complete(request(model, returns: .list(label), named: "[Label]", onText: pieces.onText))
        XCTAssertEqual(reply.text, #"["bug","praise"]"#)
        XCTAssertEqual(pieces.joined, reply.text, "what streamed is the value, not its wrapping")
        XCTAssertEqual(try body(server)["response_format"]?["json_schema"]?["name"], .string("Label"))
    }

    func testOpenAIRecordWithAnOptionalFieldIsStrictAndItsNullValidates() async throws {
        let server = try server { _ in Self.openAIReply(#"{"title":"Crash","labels":["bug"],"owner":null}"#) }
        let model = ModelSpec(name: "mini", id: "gpt-4o-mini", baseURL: server.baseURL)
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model, returns: ticket, named: "Ticket"))
        XCTAssertEqual(validate(try JSONValue.parse(reply.text), against: ticket), [])
        let schema = try XCTUnwrap(try body(server)["response_format"]?["json_schema"]?["schema"])
        XCTAssertEqual(StrictModeSchemaTests.strictModeProblems(name: "Ticket", schema: schema), [])
        XCTAssertEqual(schema["properties"]?["owner"], .object([("type", .array([.string("string"), .string("null")]))]))
    }

    func testOpenAISchemaWithAnyIsSentNonStrictWithAWarning() async throws {
        let loose = SluiceType.record(name: "Loose", fields: [.init(name: "data", type: .any, optional: false)])
        let server = try server { _ in Self.openAIReply(#"{"data": {"x": 1}}"#) }
        let model = ModelSpec(name: "mini", id: "gpt-4o-mini", baseURL: server.baseURL)
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model, returns: loose, named: "Loose"))
        XCTAssertEqual(try body(server)["response_format"]?["json_schema"]?["strict"], .bool(false))
        XCTAssertEqual(reply.warnings.count, 1)
        XCTAssertTrue(reply.warnings[0].contains("strict: false"), reply.warnings[0])
    }

    /// A server that refuses `response_format`: the fallback is a warning, and a second provider
    /// (another process) sharing the store asks without it at once.
    func testOpenAIFallbackIsWarnedAndRememberedInTheStore() async throws {
        let server = try server { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            return body["response_format"] == nil
                ? Self.openAIReply(#""bug""#)
                : .reply(status: 400, body: #"{"error": {"message": "Unrecognized request argument supplied: response_format"}}"#)
        }
        let model = ModelSpec(name: "mini", id: "gpt-4o-mini", baseURL: server.baseURL)
        let storePath = folder + "/sluice.db"
        let first = try await OpenAICompatibleProvider(environment: [:], memory: try SQLiteStore(path: storePath))
            .complete(request(model, returns: label, named: "Label"))
        XCTAssertEqual(first.text, #""bug""#, "instructions asked for the bare value: nothing to unwrap")
        XCTAssertEqual(first.failedAttempts.map(\.status), [400])
        XCTAssertEqual(first.warnings.count, 1)
        XCTAssertTrue(first.warnings[0].contains("does not accept response_format"), first.warnings[0])
        XCTAssertEqual(server.requests.count, 2)

        let later = try await OpenAICompatibleProvider(environment: [:], memory: try SQLiteStore(path: storePath))
            .complete(request(model, returns: label, named: "Label"))
        XCTAssertEqual(server.requests.count, 3, "the refused call is not paid again")
        XCTAssertEqual(later.failedAttempts, [])
        XCTAssertEqual(later.warnings, first.warnings, "still said, every time")
        XCTAssertEqual(try SQLiteStore(path: storePath).refusedFeatures(endpoint: server.baseURL + " gpt-4o-mini"), ["response_format"])
    }

    /// The re-ask without a refused feature shares the try's time: a slow refusal leaves only what
    /// is left of the timeout for the second request, so the whole call never outlasts its try
    /// (and with it the call's deadline), where each request used to get a whole timeout of its own.
    func testAskingAgainWithoutARefusedFeatureSharesTheTrysTimeout() async throws {
        let server = try server { request in
            Thread.sleep(forTimeInterval: 0.7)
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            return body["response_format"] == nil
                ? Self.openAIReply(#""bug""#)
                : .reply(status: 400, body: #"{"error": {"message": "Unrecognized request argument supplied: response_format"}}"#)
        }
        let model = ModelSpec(name: "mini", id: "gpt-4o-mini", baseURL: server.baseURL, timeout: 1.0)
        let started = Date()
        do {
            let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model, returns: label, named: "Label"))
            XCTFail("answered after \(Date().timeIntervalSince(started))s, past the 1 s timeout: \(reply.text)")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .transport, "\(error)")
            XCTAssertEqual(error.attempts.first?.status, 400, "the refusal is kept as a failed attempt: \(error.attempts)")
        }
    }

    // MARK: Anthropic

    private static func anthropicTool(_ name: String, _ input: String) -> TestHTTPServer.Answer {
        .reply(status: 200, body: #"{"model": "claude", "content": [{"type": "tool_use", "name": ""# + name + #"", "input": "# + input
               + #"}], "stop_reason": "tool_use", "usage": {"input_tokens": 9, "output_tokens": 3}}"#)
    }

    func testAnthropicToolInputIsAStrictObjectAndTheValueIsUnwrapped() async throws {
        let server = try server { _ in Self.anthropicTool("bug_praise", #"{"value": "praise"}"#) }
        let model = ModelSpec(name: "claude", provider: "anthropic", id: "claude-sonnet-4", baseURL: server.root)
        let reply = try await AnthropicProvider(environment: [:]).complete(request(model, returns: label, named: #""bug" | "praise""#))
        XCTAssertEqual(reply.text, #""praise""#)
        let tool = try XCTUnwrap(try body(server)["tools"]?.arrayValue?.first)
        XCTAssertEqual(tool["name"], .string("bug_praise"))
        XCTAssertEqual(try body(server)["tool_choice"]?["name"], .string("bug_praise"))
        XCTAssertEqual(StrictModeSchemaTests.strictModeProblems(name: "bug_praise", schema: try XCTUnwrap(tool["input_schema"])), [])
    }

    func testAnthropicStreamsTheUnwrappedValue() async throws {
        @Sendable func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }
        let server = try server { _ in .sse([
            event("message_start", #"{"type":"message_start","message":{"model":"claude","usage":{"input_tokens":9,"output_tokens":1}}}"#),
            event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"Label","input":{}}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"value\": [\"bu"}}"#),
            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"g\"]}"}}"#),
            event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":4}}"#),
            event("message_stop", #"{"type":"message_stop"}"#),
        ]) }
        let model = ModelSpec(name: "claude", provider: "anthropic", id: "claude-sonnet-4", baseURL: server.root)
        let pieces = Pieces()
        let reply = try await AnthropicProvider(environment: [:]).complete(request(model, returns: .list(label), named: "Labels", onText: pieces.onText))
        XCTAssertEqual(reply.text, #"["bug"]"#)
        XCTAssertEqual(pieces.joined, reply.text)
    }

    func testAnthropicFallbackIsWarnedAndRemembered() async throws {
        let server = try server { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            return body["tools"] == nil
                ? .reply(status: 200, body: #"{"content": [{"type": "text", "text": "\"bug\""}], "stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 2}}"#)
                : .reply(status: 400, body: #"{"type": "error", "error": {"type": "invalid_request_error", "message": "tools: Extra inputs are not permitted"}}"#)
        }
        let model = ModelSpec(name: "claude", provider: "anthropic", id: "claude-sonnet-4", baseURL: server.root)
        let storePath = folder + "/sluice.db"
        let first = try await AnthropicProvider(environment: [:], memory: try SQLiteStore(path: storePath))
            .complete(request(model, returns: label, named: "Label"))
        XCTAssertEqual(first.text, #""bug""#)
        XCTAssertTrue(first.warnings.first?.contains("does not accept tools") ?? false, "\(first.warnings)")
        _ = try await AnthropicProvider(environment: [:], memory: try SQLiteStore(path: storePath))
            .complete(request(model, returns: label, named: "Label"))
        XCTAssertEqual(server.requests.count, 3)
    }
}

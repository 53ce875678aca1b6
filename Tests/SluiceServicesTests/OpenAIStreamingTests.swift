import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// OpenAI chat completions: streaming, usage, finish reasons, the response_format fallback,
/// Retry-After, and embeddings.
final class OpenAIStreamingTests: XCTestCase {
    private func server(_ answers: [TestHTTPServer.Answer]) throws -> TestHTTPServer {
        let server = try TestHTTPServer(answers: answers)
        addTeardownBlock { server.stop() }
        return server
    }

    private func model(_ server: TestHTTPServer, timeout: Double = 10) -> ModelSpec {
        ModelSpec(name: "local", id: "qwen", baseURL: server.baseURL, timeout: timeout)
    }

    private func request(_ model: ModelSpec, schema: Bool = false, onText: (@Sendable (String) -> Void)? = nil) -> ChatRequest {
        ChatRequest(model: model, messages: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Say hi.")],
                    maxTokens: 64, responseSchema: schema ? (name: "Reply", schema: .object([("type", .string("object"))])) : nil,
                    promptName: "hi", onText: onText)
    }

    func testStreamingPassesPiecesAndEndsWithFullTextAndUsage() async throws {
        let server = try server([.sse(openAIStream(["Hel", "lo", ", wor", "ld!"]), pause: 0.01)])
        let pieces = Pieces()
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model(server), onText: pieces.onText))
        XCTAssertEqual(pieces.all, ["Hel", "lo", ", wor", "ld!"])
        XCTAssertEqual(reply.measuredAsUnmeasured, ChatResponse(text: "Hello, world!", model: "local-model", inputTokens: 21, outputTokens: 4, cachedTokens: 8,
                                           finishReason: "stop"))
        let body = try JSONValue.parse(bytes: Array(try XCTUnwrap(server.requests.first).body))
        XCTAssertEqual(body["stream"], .bool(true))
        XCTAssertEqual(body["stream_options"], .object([("include_usage", .bool(true))]))
        XCTAssertEqual(server.requests.first?.headers["accept"], "text/event-stream")
    }

    func testStreamingInChunkedEncodingWithEventsSplitAcrossWrites() async throws {
        // Every event cut in three pieces, with CRLF line endings and a comment line.
        let events = openAIStream(["a", "b", "c"]).map { $0.replacingOccurrences(of: "\n", with: "\r\n") }
        var chunks: [String] = [": ping\r\n\r\n"]
        for event in events {
            let characters = Array(event)
            let third = max(1, characters.count / 3)
            chunks += [String(characters[..<third]), String(characters[third..<(2 * third)]), String(characters[(2 * third)...])]
        }
        let server = try server([.sse(chunks, chunked: true)])
        let pieces = Pieces()
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model(server), onText: pieces.onText))
        XCTAssertEqual(pieces.all, ["a", "b", "c"])
        XCTAssertEqual(reply.text, "abc")
        XCTAssertEqual(reply.inputTokens, 21)
    }

    func testStreamWithoutUsageIsEstimatedAndMarked() async throws {
        let server = try server([.sse(openAIStream(["four score"], finish: "length", usage: nil))])
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model(server), onText: Pieces().onText))
        XCTAssertEqual(reply.text, "four score")
        XCTAssertTrue(reply.usageEstimated)
        XCTAssertEqual(reply.outputTokens, 3, "10 bytes / 4, rounded up")
        XCTAssertGreaterThan(reply.inputTokens, 0)
        XCTAssertEqual(reply.finishReason, "length")
    }

    func testStreamCutOffMidMessageIsAClearTransportError() async throws {
        for chunked in [false, true] {
            let server = try server([.sse(Array(openAIStream(["The ", "answer ", "is"]).prefix(3)) + ["data: {\"choices\": [{\"delta\": {\"con"],
                                          chunked: chunked, cut: true)])
            let pieces = Pieces()
            let error = await expectProviderError({ try await OpenAICompatibleProvider(environment: [:]).complete(self.request(self.model(server), onText: pieces.onText)) },
                                                  kind: .transport, containing: [server.baseURL + "/chat/completions"])
            XCTAssertEqual(pieces.joined, "The answer ", "chunked: \(chunked)")
            XCTAssertTrue(error?.message.contains("cut off") == true, error?.message ?? "")
        }
    }

    func testAStreamStillRunningAtTheTimeoutSaysSo() async throws {
        let server = try server([.sse(openAIStream(["slow", "er", "and", "slower"]), pause: 0.3)])
        let pieces = Pieces()
        _ = await expectProviderError({ try await OpenAICompatibleProvider(environment: [:]).complete(self.request(self.model(server, timeout: 0.5), onText: pieces.onText)) },
                                      kind: .transport, containing: ["did not finish within 0.5s (the model's timeout)", "bytes had arrived"])
    }

    func testStreamErrorEventAndBadJSONInAStream() async throws {
        let server = try server([
            .sse(["data: {\"error\": {\"message\": \"model crashed\", \"type\": \"server_error\"}}\n\n"]),
            .sse(["data: {not json}\n\n"]),
            .sse(["data: [DONE]\n\n"]),
        ])
        let provider = OpenAICompatibleProvider(environment: [:])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(server), onText: Pieces().onText)) },
                                      kind: .malformedReply, containing: ["reported an error: model crashed"])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(server), onText: Pieces().onText)) },
                                      kind: .malformedReply, containing: ["is not JSON", "{not json}"])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(server), onText: Pieces().onText)) },
                                      kind: .malformedReply, containing: ["has no choices"])
    }

    func testAServerThatIgnoresStreamAnswersInOnePiece() async throws {
        let server = try server([.reply(status: 200, body: #"{"choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}"#)])
        let pieces = Pieces()
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model(server), onText: pieces.onText))
        XCTAssertEqual(pieces.all, ["whole"])
        XCTAssertEqual(reply.text, "whole")
        XCTAssertFalse(reply.usageEstimated)
    }

    func testUnknownFinishReasonIsKeptAndMissingUsageEstimated() async throws {
        let server = try server([.reply(status: 200, body: #"{"choices": [{"message": {"content": "ok"}, "finish_reason": "eos_token_reached"}]}"#)])
        let reply = try await OpenAICompatibleProvider(environment: [:]).complete(request(model(server)))
        XCTAssertEqual(reply.finishReason, "eos_token_reached")
        XCTAssertTrue(reply.usageEstimated)
    }

    func testResponseFormatFallbackIsRememberedPerEndpoint() async throws {
        let rejection = #"{"error": {"message": "Unrecognized request argument supplied: response_format", "type": "invalid_request_error"}}"#
        let good = #"{"choices": [{"message": {"content": "{\"a\": 1}"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}"#
        let server = try TestHTTPServer { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            return body["response_format"] == nil ? .reply(status: 200, body: good) : .reply(status: 400, body: rejection)
        }
        addTeardownBlock { server.stop() }
        let provider = OpenAICompatibleProvider(environment: [:])
        let first = try await provider.complete(request(model(server), schema: true))
        XCTAssertEqual(first.text, "{\"a\": 1}")
        XCTAssertEqual(first.failedAttempts.count, 1)
        XCTAssertEqual(first.failedAttempts.first?.status, 400)
        XCTAssertTrue(first.failedAttempts.first?.error.contains("asking again without response_format") == true)
        XCTAssertEqual(server.requests.count, 2)

        let second = try await provider.complete(request(model(server), schema: true))
        XCTAssertEqual(second.failedAttempts, [], "the endpoint is remembered as lacking response_format")
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertNil((try JSONValue.parse(bytes: Array(server.requests[2].body)))["response_format"])

        // Another 400 (not about the schema) is an error, not a fallback.
        let other = try self.server([.reply(status: 400, body: #"{"error": {"message": "max_tokens is too large"}}"#)])
        _ = await expectProviderError({ try await provider.complete(self.request(self.model(other), schema: true)) },
                                      kind: .http, status: 400, containing: ["max_tokens is too large"])
        XCTAssertEqual(other.requests.count, 1)
    }

    func testReasoningModelsGetMaxCompletionTokensAndTheirDefaultTemperature() async throws {
        let server = try TestHTTPServer { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            if body["max_tokens"] != nil {
                return .reply(status: 400, body: #"{"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}"#)
            }
            if body["temperature"] != nil {
                return .reply(status: 400, body: #"{"error": {"message": "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.", "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}"#)
            }
            return .reply(status: 200, body: #"{"choices": [{"message": {"content": "thought"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 90}}"#)
        }
        addTeardownBlock { server.stop() }
        var spec = model(server)
        spec.temperature = 0.2
        let provider = OpenAICompatibleProvider(environment: [:])
        let reply = try await provider.complete(request(spec))
        XCTAssertEqual(reply.text, "thought")
        XCTAssertEqual(reply.failedAttempts.count, 2)
        XCTAssertTrue(reply.failedAttempts[0].error.hasSuffix("(sending max_completion_tokens instead of max_tokens)"), reply.failedAttempts[0].error)
        XCTAssertTrue(reply.failedAttempts[1].error.hasSuffix("(asking again without temperature)"), reply.failedAttempts[1].error)
        let last = try JSONValue.parse(bytes: Array(server.requests[2].body))
        XCTAssertEqual(last["max_completion_tokens"], .number(64))
        XCTAssertNil(last["max_tokens"])
        XCTAssertNil(last["temperature"])
        // Remembered: the next call goes straight through.
        let again = try await provider.complete(request(spec))
        XCTAssertEqual(again.failedAttempts, [])
        XCTAssertEqual(server.requests.count, 4)
    }

    func testRetryAfterInSecondsAndAsAnHTTPDate() async throws {
        let clock = FakeClock(start: 1_445_412_000)   // 2015-10-21 07:20:00 GMT
        let server = try server([
            .replyWith(status: 429, headers: [("Retry-After", "7")], body: #"{"error": {"message": "slow down"}}"#),
            .replyWith(status: 503, headers: [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")], body: "busy"),
            .replyWith(status: 429, headers: [("retry-after-ms", "1500")], body: ""),
            .reply(status: 429, body: ""),
        ])
        let provider = OpenAICompatibleProvider(environment: [:], clock: clock)
        let seconds = await expectProviderError({ try await provider.complete(self.request(self.model(server))) }, kind: .http, status: 429,
                                                containing: ["slow down"])
        XCTAssertEqual(seconds?.retryAfter, 7)
        let date = await expectProviderError({ try await provider.complete(self.request(self.model(server))) }, kind: .http, status: 503,
                                             containing: ["HTTP 503", "busy"])
        XCTAssertEqual(date?.retryAfter, 480)
        let ms = await expectProviderError({ try await provider.complete(self.request(self.model(server))) }, kind: .http, status: 429)
        XCTAssertEqual(ms?.retryAfter, 1.5)
        let none = await expectProviderError({ try await provider.complete(self.request(self.model(server))) }, kind: .http, status: 429,
                                             containing: ["HTTP 429"])
        XCTAssertNil(none?.retryAfter)
    }

    func testConnectTimeoutIsSeparateFromTheTotalTimeout() async throws {
        let (port, sockets) = try TestHTTPServer.unreachablePort()
        defer { for fd in sockets { close(fd) } }
        var spec = ModelSpec(name: "local", id: "qwen", baseURL: "http://127.0.0.1:\(port)/v1", timeout: 20)
        spec.reliability.connectTimeout = 0.3
        let start = Date()
        _ = await expectProviderError({ try await OpenAICompatibleProvider(environment: [:]).complete(self.request(spec)) }, kind: .transport,
                                      containing: ["could not connect to http://127.0.0.1:\(port)/v1/chat/completions within 0.3s (the model's connect timeout)"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)

        // A server that accepts but does not answer is connected: only the total timeout ends it.
        let stalling = try server([.stall])
        var slow = model(stalling, timeout: 0.8)
        slow.reliability.connectTimeout = 0.2
        _ = await expectProviderError({ try await OpenAICompatibleProvider(environment: [:]).complete(self.request(slow)) }, kind: .transport,
                                      containing: ["no reply from", "within 0.8s (the model's timeout)"])
    }

    func testManyConcurrentCallsAreNotQueuedBehindAFewConnections() async throws {
        // Each reply takes 0.4s; 24 at once finish together only if they get their own connections.
        let server = try server([.stream(status: 200, contentType: "application/json",
                                         chunks: [#"{"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}"#], pause: 0.4,
                                         chunked: false, cut: false)])
        let provider = OpenAICompatibleProvider(environment: [:])
        var settings = model(server, timeout: 10)
        settings.reliability.connectTimeout = 5
        let spec = settings
        let start = Date()
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    try await provider.complete(ChatRequest(model: spec, messages: [ChatMessage(role: "user", content: "hi")], maxTokens: 5)).text
                }
            }
            for try await text in group { XCTAssertEqual(text, "ok") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.5, "six connections at a time would take four rounds of 0.4s")
        XCTAssertEqual(server.requests.count, 24)
    }

    func testHangUpWithoutAReply() async throws {
        let server = try server([.hangUp])
        _ = await expectProviderError({ try await OpenAICompatibleProvider(environment: [:]).complete(self.request(self.model(server))) },
                                      kind: .transport, containing: [server.baseURL + "/chat/completions"])
    }

    // MARK: Embeddings

    func testEmbeddingsAreBatchedAndOrderedByIndex() async throws {
        let server = try TestHTTPServer { request in
            let body = (try? JSONValue.parse(bytes: Array(request.body))) ?? .null
            let inputs = body["input"]?.arrayValue?.compactMap(\.stringValue) ?? []
            // Answer in reverse order; the vector encodes the text's length and position.
            let data = inputs.enumerated().reversed().map { index, text in
                JSONValue.object([("object", .string("embedding")), ("index", .number(Double(index))),
                                  ("embedding", .array([.number(Double(text.count)), .number(0.5)]))])
            }
            return .reply(status: 200, body: JSONValue.object([("object", .string("list")), ("data", .array(data)), ("model", .string("mini"))]).serialized())
        }
        addTeardownBlock { server.stop() }
        let provider = OpenAICompatibleProvider(environment: ["OPENAI_API_KEY": "sk-embed-key"], embeddingBatchSize: 2)
        let spec = ModelSpec(name: "mini", id: "all-minilm", baseURL: server.baseURL)
        let vectors = try await provider.embed(["a", "bb", "ccc", "dddd", "eeeee"], model: spec)
        XCTAssertEqual(vectors, [[1, 0.5], [2, 0.5], [3, 0.5], [4, 0.5], [5, 0.5]])
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertEqual(server.requests.first?.path, "/v1/embeddings")
        XCTAssertEqual(server.requests.first?.headers["authorization"], "Bearer sk-embed-key")
        let first = try JSONValue.parse(bytes: Array(server.requests[0].body))
        XCTAssertEqual(first, .object([("model", .string("all-minilm")), ("input", .array([.string("a"), .string("bb")]))]))
        let empty = try await provider.embed([], model: spec)
        XCTAssertEqual(empty, [])
    }

    func testEmbeddingErrors() async throws {
        let spec: (TestHTTPServer) -> ModelSpec = { ModelSpec(name: "mini", id: "all-minilm", baseURL: $0.baseURL) }
        let base64 = Data([Float(1.5), Float(-2)].flatMap { value -> [UInt8] in
            let bits = value.bitPattern
            return (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt32($0))) }
        }).base64EncodedString()
        let server = try server([
            .reply(status: 200, body: #"{"data": [{"index": 0, "embedding": [1, 2]}]}"#),
            .reply(status: 200, body: #"{"data": [{"index": 0, "embedding": [1, 2]}, {"index": 0, "embedding": [3, 4]}]}"#),
            .reply(status: 200, body: #"{"data": [{"index": 0, "embedding": [1, 2]}, {"index": 1, "embedding": [3]}]}"#),
            .reply(status: 400, body: #"{"error": {"message": "input must not be empty"}}"#),
            .reply(status: 200, body: #"{"data": [{"index": 0, "embedding": ""# + base64 + #""}]}"#),
        ])
        let provider = OpenAICompatibleProvider(environment: [:])
        _ = await expectProviderError({ try await provider.embed(["x", "y"], model: spec(server)) }, kind: .malformedReply,
                                      containing: ["has 1 embeddings for 2 texts"])
        _ = await expectProviderError({ try await provider.embed(["x", "y"], model: spec(server)) }, kind: .malformedReply,
                                      containing: ["two embeddings with index 0"])
        _ = await expectProviderError({ try await provider.embed(["x", "y"], model: spec(server)) }, kind: .malformedReply,
                                      containing: ["different lengths"])
        _ = await expectProviderError({ try await provider.embed([""], model: spec(server)) }, kind: .http, status: 400,
                                      containing: ["HTTP 400 from \(server.baseURL)/embeddings: input must not be empty"])
        let decoded = try await provider.embed(["x"], model: spec(server))
        XCTAssertEqual(decoded, [[1.5, -2]])
    }
}

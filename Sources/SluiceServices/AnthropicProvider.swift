import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime
import SluiceSemantics

/// Speaks Anthropic's Messages API (`POST {base}/v1/messages`) in its own wire format.
///
/// - Base URL: `ModelSpec.baseURL`, else `$ANTHROPIC_BASE_URL`, else https://api.anthropic.com;
///   `/v1/messages` is appended (just `/messages` when the base already ends in `/v1`, as local
///   servers' base URLs often do).
/// - Key: the variable named by `ModelSpec.apiKeyEnv`, else `$ANTHROPIC_API_KEY`, sent as
///   `x-api-key` with `anthropic-version: 2023-06-01`; optional except for api.anthropic.com or when
///   the model names its variable. The key never appears in an error or an attempt.
/// - Messages: every `system` message goes to the top-level `system` (joined by blank lines, in
///   order); the rest alternate `user`/`assistant` as the API requires, consecutive messages of one
///   role merged with a blank line between them (any other role counts as `user`).
///   `max_tokens` is always sent (the API requires it); stop sequences go in `stop_sequences`.
/// - Structured output: forced tool use — one tool named after the declared type whose
///   `input_schema` is its `StructuredOutputSchema` (the same object root as OpenAI's: a schema
///   whose root is not an object is wrapped as `{value: schema}` and unwrapped from the reply),
///   and `tool_choice: {type: tool, name}`; the reply's text is the tool call's `input` serialized
///   as JSON. A server that rejects tools (HTTP 400/422
///   naming them) is asked once more without, and remembered; one that ignores them and answers
///   in text gives that text (the prompt already asks for JSON; `validate` checks the rest).
/// - Usage, as billed: input = `input_tokens` + `cache_creation_input_tokens` +
///   `cache_read_input_tokens` (Anthropic's `input_tokens` counts only the tokens after the last
///   cache breakpoint); cached = `cache_read_input_tokens`, charged at the model's `cached` price;
///   cache writes = `cache_creation_input_tokens`, charged at its `cache_write` price (the catalog
///   declares Anthropic's 1.25× input price of the 5-minute cache).
/// - Stop reasons, mapped to the OpenAI vocabulary the runtime uses: `end_turn` and
///   `stop_sequence` → `stop`, `max_tokens` → `length`, `tool_use` → `stop` for our structured-output
///   tool (else `tool_calls`), `refusal` → `content_filter`; any other is kept as it is.
/// - Streaming (when `request.onText` is set): SSE events `message_start`, `content_block_start`,
///   `content_block_delta` (text and tool-input JSON), `message_delta` (stop reason, usage),
///   `message_stop`, `ping`; an `error` event becomes an `.http` error with the status the same
///   error has outside a stream (`overloaded_error` 529, `rate_limit_error` 429, `api_error` 500…).
///   A stream that ends before `message_stop` is a `.transport` error.
public final class AnthropicProvider: ModelProvider, EndpointNaming, @unchecked Sendable {
    public static let defaultBaseURL = "https://api.anthropic.com"
    public static let apiVersion = "2023-06-01"

    enum Feature: String, FallbackFeature {
        case tools
        var markers: [String] { ["tool_choice", "tools", "input_schema", "tool"] }

        func warning(for request: ChatRequest, endpoint: String) -> String? {
            request.responseSchema == nil ? nil
                : "\(endpoint) does not accept tools (Anthropic's native structured output): the reply's shape is asked for "
                    + "in the instructions only, and the runtime's `validate` checks it"
        }
    }

    /// The forced tool that carries structured output.
    struct StructuredTool: Sendable {
        var schema: StructuredOutputSchema
        var name: String { schema.name }
        /// The schema's root is not an object, so it was wrapped as `{value: schema}`.
        var wrapped: Bool { schema.wrapped }
    }

    private let environment: [String: String]
    private let counter: any TokenCounter
    private let chat: FeatureFallbackExchange<Feature>

    public init(environment: [String: String], counter: any TokenCounter = EstimatingTokenCounter(), clock: any Clock = SystemClock(),
                memory: (any FeatureMemory)? = nil) {
        self.environment = environment
        self.counter = counter
        chat = FeatureFallbackExchange(http: HTTPClient(), clock: clock, counter: counter, memory: memory)
    }

    public func endpointName(for model: ModelSpec) -> String {
        ((try? baseURL(for: model)) ?? model.baseURL ?? "anthropic") + " " + model.id
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let model = request.model
        let base = try baseURL(for: model)
        let endpoint = try ProviderSupport.url(base + (base.hasSuffix("/v1") ? "/messages" : "/v1/messages"), model: model)
        let key = try ProviderSupport.apiKey(for: model, environment: environment, variable: "ANTHROPIC_API_KEY", endpoint: endpoint,
                                             requiredHost: "api.anthropic.com")
        try ProviderSupport.checkTimeout(model)
        var headers = [(name: "anthropic-version", value: Self.apiVersion)]
        if let key { headers.append(("x-api-key", key)) }
        return try await chat.complete(request, endpoint: endpoint, name: base + " " + model.id, key: key, headers: headers) { lacking in
            let (body, tool) = Self.body(for: request, tools: !lacking.contains(.tools), stream: request.onText != nil)
            return .init(body: body, decoder: AnthropicStream(url: endpoint.absoluteString, tool: tool)) { [counter] data in
                try Self.reply(from: data, for: request, tool: tool, endpoint: endpoint, counter: counter)
            }
        }
    }

    func baseURL(for model: ModelSpec) throws -> String {
        try ProviderSupport.baseURL(for: model, environment: environment, variable: "ANTHROPIC_BASE_URL", default: Self.defaultBaseURL)
    }

    // MARK: Wire format

    static func body(for request: ChatRequest, tools: Bool = true, stream: Bool = false) -> (JSONValue, StructuredTool?) {
        var system: [String] = []
        var turns: [(role: String, content: String)] = []
        for message in request.messages {
            if message.role == "system" {
                system.append(message.content)
                continue
            }
            let role = message.role == "assistant" ? "assistant" : "user"
            if let last = turns.last, last.role == role {
                turns[turns.count - 1].content += "\n\n" + message.content
            } else {
                turns.append((role, message.content))
            }
        }
        var members: [(key: String, value: JSONValue)] = [("model", .string(request.model.id))]
        if !system.isEmpty { members.append(("system", .string(system.joined(separator: "\n\n")))) }
        members.append(("messages", .array(turns.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) })))
        members.append(("max_tokens", .number(Double(request.maxTokens))))
        if let temperature = request.temperature ?? request.model.temperature { members.append(("temperature", .number(temperature))) }
        if !request.stop.isEmpty { members.append(("stop_sequences", .array(request.stop.map(JSONValue.string)))) }
        var tool: StructuredTool?
        if tools, let declared = request.responseSchema {
            let structured = StructuredOutputSchema(name: declared.name, schema: declared.schema)
            let what = structured.wrapped ? "its `value` is the whole answer" : "the tool's input is the whole answer"
            members.append(("tools", .array([.object([
                ("name", .string(structured.name)),
                ("description", .string("Gives the answer as a \(declared.name) value; \(what).")),
                ("input_schema", structured.schema),
            ])])))
            members.append(("tool_choice", .object([("type", .string("tool")), ("name", .string(structured.name))])))
            tool = StructuredTool(schema: structured)
        }
        if stream { members.append(("stream", .bool(true))) }
        return (.object(members), tool)
    }

    static func reply(from data: Data, for request: ChatRequest, tool: StructuredTool?, endpoint: URL, counter: any TokenCounter) throws -> ChatResponse {
        let from = "the reply from \(endpoint.absoluteString)"
        let (json, content) = try ProviderSupport.replyList("content", in: data, from: from)
        var text = ""
        var toolInput: JSONValue?
        for block in content {
            switch block["type"]?.stringValue {
            case "text":
                text += block["text"]?.stringValue ?? ""
            case "tool_use" where tool != nil && toolInput == nil:
                if block["name"]?.stringValue == tool?.name || block["name"] == nil { toolInput = block["input"] ?? .object([]) }
            default:
                break   // thinking and other blocks carry no reply text
            }
        }
        if let tool, let toolInput {
            text = try structuredText(toolInput, tool: tool, from: from)
        }
        let stop = json["stop_reason"]?.stringValue
        return response(text: text, model: json["model"]?.stringValue, stopReason: stop, structured: toolInput != nil, usage: json["usage"],
                        request: request, counter: counter)
    }

    static func structuredText(_ input: JSONValue, tool: StructuredTool, from: String) throws -> String {
        guard tool.wrapped else { return input.serialized() }
        guard let value = input["value"] else {
            throw ProviderError(.malformedReply, "\(from) called the \(tool.name) tool without its 'value': \(ProviderSupport.snippet(input.serialized()))")
        }
        return value.serialized()
    }

    static func finishReason(_ stop: String?, structured: Bool) -> String? {
        switch stop {
        case nil: nil
        case "end_turn", "stop_sequence": "stop"
        case "max_tokens": "length"
        case "tool_use": structured ? "stop" : "tool_calls"
        case "refusal": "content_filter"
        case let other?: other
        }
    }

    static func response(text: String, model: String?, stopReason: String?, structured: Bool, usage: JSONValue?, request: ChatRequest,
                         counter: any TokenCounter) -> ChatResponse {
        let uncached = ProviderSupport.count(usage?["input_tokens"])
        let output = ProviderSupport.count(usage?["output_tokens"])
        let written = ProviderSupport.count(usage?["cache_creation_input_tokens"]) ?? 0
        let read = ProviderSupport.count(usage?["cache_read_input_tokens"]) ?? 0
        let estimated = uncached == nil || output == nil
        let input = uncached.map { $0 + written + read } ?? ProviderSupport.estimatedInput(request, counter: counter)
        return ChatResponse(text: text, model: model, inputTokens: input,
                            outputTokens: output ?? counter.count(text, encoding: request.model.tokenizer),
                            cachedTokens: min(read, input), cacheWriteTokens: min(written, input - min(read, input)), finishReason: finishReason(stopReason, structured: structured),
                            usageEstimated: estimated)
    }

    /// The HTTP status Anthropic gives each error type outside a stream.
    static func status(forErrorType type: String?) -> Int? {
        switch type {
        case "invalid_request_error": 400
        case "authentication_error": 401
        case "billing_error": 402
        case "permission_error": 403
        case "not_found_error": 404
        case "request_too_large": 413
        case "rate_limit_error": 429
        case "api_error": 500
        case "timeout_error": 504
        case "overloaded_error": 529
        default: nil
        }
    }
}

/// The state of one streamed Messages reply.
struct AnthropicStream: StreamDecoder {
    private enum Block { case text, tool, other }

    let url: String
    private let tool: AnthropicProvider.StructuredTool?
    private var blocks: [Int: Block] = [:]
    private var text = ""
    private var toolJSON = ""
    private var sawTool = false
    private var model: String?
    private var usage: [(key: String, value: JSONValue)] = []
    private var stopReason: String?
    private(set) var done = false

    init(url: String, tool: AnthropicProvider.StructuredTool?) {
        self.url = url
        self.tool = tool
    }

    private mutating func mergeUsage(_ value: JSONValue?) {
        guard case .object(let members)? = value else { return }
        for member in members where member.value != .null {
            usage.removeAll { $0.key == member.key }
            usage.append(member)
        }
    }

    mutating func handle(_ event: SSEEvent, payload: String, pieces: inout [String]) throws {
        let json = try eventJSON(payload)
        let type = json["type"]?.stringValue ?? event.event
        let index = json["index"]?.numberValue.flatMap(exactInt) ?? 0
        switch type {
        case "message_start":
            model = json["message"]?["model"]?.stringValue ?? model
            mergeUsage(json["message"]?["usage"])
        case "content_block_start":
            let block = json["content_block"]
            switch block?["type"]?.stringValue {
            case "text":
                blocks[index] = .text
                if let initial = block?["text"]?.stringValue, !initial.isEmpty { appendText(initial, pieces: &pieces) }
            case "tool_use" where tool != nil && !sawTool:
                blocks[index] = .tool
                sawTool = true
            default:
                blocks[index] = .other
            }
        case "content_block_delta":
            let delta = json["delta"]
            switch delta?["type"]?.stringValue {
            case "text_delta" where blocks[index] != .other && blocks[index] != .tool:
                appendText(delta?["text"]?.stringValue ?? "", pieces: &pieces)
            case "input_json_delta" where blocks[index] == .tool:
                let part = delta?["partial_json"]?.stringValue ?? ""
                toolJSON += part
                if tool?.wrapped == false, !part.isEmpty { pieces.append(part) }
            default:
                break   // thinking, signatures, other tools
            }
        case "message_delta":
            if let reason = json["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
            mergeUsage(json["usage"])
        case "message_stop":
            done = true
        case "error":
            let errorType = json["error"]?["type"]?.stringValue
            let message = json["error"]?["message"]?.stringValue ?? payload
            throw ProviderError(.http, "the stream from \(url) reported an error: \(errorType.map { "\($0): " } ?? "")\(message)",
                                status: AnthropicProvider.status(forErrorType: errorType))
        default:
            break   // ping, content_block_stop, and event types added later
        }
    }

    private mutating func appendText(_ piece: String, pieces: inout [String]) {
        guard !piece.isEmpty else { return }
        text += piece
        pieces.append(piece)
    }

    func response(request: ChatRequest, counter: any TokenCounter, onText: (String) -> Void) throws -> ChatResponse {
        guard done || stopReason != nil else {
            let got = sawTool ? "\(toolJSON.count) characters of tool input" : "\(text.count) characters of text"
            throw ProviderError(.transport, "the stream from \(url) was cut off before its end (message_stop) after \(got)")
        }
        var text = text
        if let tool, sawTool {
            let raw = toolJSON.trimmingCharacters(in: .whitespacesAndNewlines)
            let input: JSONValue
            do {
                input = raw.isEmpty ? .object([]) : try JSONValue.parse(raw)
            } catch {
                throw ProviderError(.malformedReply, "the \(tool.name) tool input streamed from \(url) is not JSON (\(error)): \(ProviderSupport.snippet(raw))")
            }
            if tool.wrapped {
                text = try AnthropicProvider.structuredText(input, tool: tool, from: "the stream from \(url)")
                onText(text)
            } else if raw.isEmpty {
                text = "{}"
                onText(text)
            } else {
                // What was streamed, exactly: the pieces the caller saw add up to this text.
                text = toolJSON
            }
        }
        return AnthropicProvider.response(text: text, model: model, stopReason: stopReason, structured: sawTool,
                                          usage: .object(usage), request: request, counter: counter)
    }
}

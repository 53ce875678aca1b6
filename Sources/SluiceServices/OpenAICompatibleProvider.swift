import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime
import SluiceSemantics

/// Speaks OpenAI's chat completions API (`POST {base}/chat/completions`) and embeddings API
/// (`POST {base}/embeddings`), which OpenAI and most local servers (llama.cpp, vLLM, Ollama,
/// LM Studio) understand.
///
/// - Base URL: `ModelSpec.baseURL`, else `$OPENAI_BASE_URL`, else https://api.openai.com/v1.
/// - Key: the variable named by `ModelSpec.apiKeyEnv`, else `$OPENAI_API_KEY`, sent as
///   `Authorization: Bearer`; optional except for api.openai.com or when the model names its
///   variable. The key never appears in an error or an attempt.
/// - Streaming: when `request.onText` is set, the request has `stream: true` and
///   `stream_options: {include_usage: true}`; each `delta.content` goes to `onText` as it arrives.
///   A stream that ends before `[DONE]` (or a finish reason) is a `.transport` error.
/// - Usage: `prompt_tokens` (cached ones included, as OpenAI bills them), `completion_tokens`
///   (reasoning ones included, billed as output), `prompt_tokens_details.cached_tokens` (charged at
///   the model's `cached` price), `completion_tokens_details.reasoning_tokens` (for the trace). Without usage, tokens are estimated with the counter
///   and the response says `usageEstimated`.
/// - Finish reasons are passed on as the server gives them (`stop`, `length`, `content_filter`,
///   `tool_calls`, or anything else).
/// - Structured output: `response_format: {type: json_schema, json_schema: {name, schema, strict: true}}`
///   with the `StructuredOutputSchema` of the declared schema: an object root (a non-object type
///   wrapped as `{"value": ...}` and unwrapped from the reply, streamed or not), every property
///   required, optional ones nullable. A schema with an `any` part is sent `strict: false`, with
///   a warning on the response. A server that rejects it (HTTP 400/422 naming `response_format` or `json_schema`) is asked
///   once more without it, and remembered (per base URL and model id) as lacking the feature; the
///   prompt already asks for JSON and the runtime's `validate` checks the rest. The same goes for
///   `stream_options`, `temperature` and `stop` (dropped), and `max_tokens` (sent as
///   `max_completion_tokens`, as OpenAI's reasoning models require). The rejected try is reported
///   in `failedAttempts`, what was left out in `warnings`, and the refusal is kept in the
///   `FeatureMemory` (the store) so later processes ask without the feature at once.
public final class OpenAICompatibleProvider: ModelProvider, EmbeddingProvider, EndpointNaming, @unchecked Sendable {
    public static let defaultBaseURL = "https://api.openai.com/v1"

    /// Request fields a server or model may refuse, and what is sent instead once it has.
    enum Feature: String, FallbackFeature {
        /// Without it: no `response_format` (the prompt asks for JSON; `validate` checks).
        case responseFormat = "response_format"
        /// Without it: no `stream_options` (usage is estimated if none comes).
        case streamUsage = "stream_options"
        /// Without it: `max_completion_tokens` instead (OpenAI's reasoning models refuse `max_tokens`).
        case maxTokens = "max_tokens"
        /// Without it: the model's default temperature (reasoning models accept no other).
        case temperature = "temperature"
        /// Without it: no stop sequences (some reasoning models refuse them).
        case stop = "stop"

        /// What a 400 that refuses this field says.
        var markers: [String] {
            switch self {
            case .responseFormat: ["response_format", "json_schema"]
            case .streamUsage: ["stream_options", "include_usage"]
            case .maxTokens: ["max_completion_tokens"]
            case .temperature: ["'temperature'", "\"temperature\""]
            case .stop: ["'stop'", "\"stop\""]
            }
        }

        var instead: String {
            switch self {
            case .maxTokens: "sending max_completion_tokens instead of max_tokens"
            default: "asking again without \(rawValue)"
            }
        }

        func warning(for request: ChatRequest, endpoint: String) -> String? {
            switch self {
            case .responseFormat where request.responseSchema != nil:
                "\(endpoint) does not accept response_format (native structured output): the reply's shape is asked for "
                    + "in the instructions only, and the runtime's `validate` checks it"
            case .temperature where (request.temperature ?? request.model.temperature) != nil:
                "\(endpoint) does not accept temperature: the model's default is used"
            case .stop where !request.stop.isEmpty:
                "\(endpoint) does not accept stop sequences: they are not sent"
            default:
                nil
            }
        }
    }

    private let environment: [String: String]
    /// Estimates token usage when a server does not report it.
    private let counter: any TokenCounter
    private let clock: any Clock
    private let http = HTTPClient()
    private let chat: FeatureFallbackExchange<Feature>
    /// How many texts one embeddings request carries.
    public let embeddingBatchSize: Int

    public init(environment: [String: String], counter: any TokenCounter = EstimatingTokenCounter(), clock: any Clock = SystemClock(),
                embeddingBatchSize: Int = 64, memory: (any FeatureMemory)? = nil) {
        self.environment = environment
        self.counter = counter
        self.clock = clock
        self.embeddingBatchSize = max(1, embeddingBatchSize)
        chat = FeatureFallbackExchange(http: http, clock: clock, counter: counter, memory: memory)
    }

    public func endpointName(for model: ModelSpec) -> String {
        ((try? baseURL(for: model)) ?? model.baseURL ?? "openai") + " " + model.id
    }

    // MARK: Chat

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let model = request.model
        let base = try baseURL(for: model)
        let endpoint = try ProviderSupport.url(base + "/chat/completions", model: model)
        let key = try apiKey(for: model, endpoint: endpoint)
        try ProviderSupport.checkTimeout(model)
        let headers = Self.headers(key: key)
        let structured = request.responseSchema.map { StructuredOutputSchema(name: $0.name, schema: $0.schema) }
        return try await chat.complete(request, endpoint: endpoint, name: base + " " + model.id, key: key, headers: headers) { lacking in
            // The reply comes wrapped only when the wrapped schema was sent.
            let sent = lacking.contains(.responseFormat) ? nil : structured
            var warnings: [String] = []
            if let sent, let problem = sent.strictProblem {
                warnings.append("\(base) \(model.id): \(problem); it is sent with strict: false, so the server does not enforce it "
                                + "(the runtime's `validate` checks the reply)")
            }
            return .init(body: Self.body(for: request, without: lacking), decoder: OpenAIStream(url: endpoint.absoluteString, structured: sent),
                         warnings: warnings) { data in
                try self.reply(from: data, for: request, endpoint: endpoint, structured: sent)
            }
        }
    }

    // MARK: Configuration

    func baseURL(for model: ModelSpec) throws -> String {
        try ProviderSupport.baseURL(for: model, environment: environment, variable: "OPENAI_BASE_URL", default: Self.defaultBaseURL)
    }

    func apiKey(for model: ModelSpec, endpoint: URL) throws -> String? {
        try ProviderSupport.apiKey(for: model, environment: environment, variable: "OPENAI_API_KEY", endpoint: endpoint,
                                   requiredHost: "api.openai.com")
    }

    private static func headers(key: String?) -> [(name: String, value: String)] {
        key.map { [("Authorization", "Bearer \($0)")] } ?? []
    }

    // MARK: Wire format

    /// The request body; it streams when the request has `onText`. Fields in `lacking` are left out or replaced.
    static func body(for request: ChatRequest, without lacking: Set<Feature> = []) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("model", .string(request.model.id)),
            ("messages", .array(request.messages.map(\.json))),
        ]
        if !lacking.contains(.temperature), let temperature = request.temperature ?? request.model.temperature {
            members.append(("temperature", .number(temperature)))
        }
        members.append((lacking.contains(.maxTokens) ? "max_completion_tokens" : "max_tokens", .number(Double(request.maxTokens))))
        if !lacking.contains(.stop), !request.stop.isEmpty { members.append(("stop", .array(request.stop.map(JSONValue.string)))) }
        if !lacking.contains(.responseFormat), let declared = request.responseSchema {
            let structured = StructuredOutputSchema(name: declared.name, schema: declared.schema)
            members.append(("response_format", .object([
                ("type", .string("json_schema")),
                ("json_schema", .object([
                    ("name", .string(structured.name)),
                    ("schema", structured.schema),
                    ("strict", .bool(structured.strict)),
                ])),
            ])))
        }
        if request.onText != nil {
            members.append(("stream", .bool(true)))
            if !lacking.contains(.streamUsage) { members.append(("stream_options", .object([("include_usage", .bool(true))]))) }
        }
        return .object(members)
    }

    func reply(from data: Data, for request: ChatRequest, endpoint: URL, structured: StructuredOutputSchema?) throws -> ChatResponse {
        let from = "the reply from \(endpoint.absoluteString)"
        let (json, choices) = try ProviderSupport.replyList("choices", in: data, from: from)
        guard let choice = choices.first else { throw ProviderError(.malformedReply, "\(from) has an empty 'choices' list") }
        guard let message = choice["message"], case .object = message else {
            throw ProviderError(.malformedReply, "\(from) has no 'message' in its first choice")
        }
        guard let content = message["content"]?.stringValue else {
            if let refusal = message["refusal"]?.stringValue { throw ProviderError(.malformedReply, "the model refused: \(refusal)") }
            throw ProviderError(.malformedReply, "\(from) has no text 'content' in its message")
        }
        return Self.response(text: structured?.unwrap(content) ?? content, model: json["model"]?.stringValue,
                             finishReason: choice["finish_reason"]?.stringValue, usage: json["usage"], request: request, counter: counter)
    }

    /// The response with the server's usage, or an estimate marked as such.
    static func response(text: String, model: String?, finishReason: String?, usage: JSONValue?, request: ChatRequest,
                         counter: any TokenCounter) -> ChatResponse {
        let reported = usage.flatMap { usage -> (Int, Int)? in
            guard let input = ProviderSupport.count(usage["prompt_tokens"]), let output = ProviderSupport.count(usage["completion_tokens"]) else {
                return nil
            }
            return (input, output)
        }
        let input = reported?.0 ?? ProviderSupport.estimatedInput(request, counter: counter)
        let output = reported?.1 ?? counter.count(text, encoding: request.model.tokenizer)
        let cached = ProviderSupport.count(usage?["prompt_tokens_details"]?["cached_tokens"]) ?? 0
        let reasoning = ProviderSupport.count(usage?["completion_tokens_details"]?["reasoning_tokens"]) ?? 0
        return ChatResponse(text: text, model: model, inputTokens: input, outputTokens: output,
                            cachedTokens: min(cached, input), reasoningTokens: min(reasoning, output), finishReason: finishReason,
                            usageEstimated: reported == nil)
    }

    // MARK: Embeddings

    public func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        try await embedWithUsage(texts, model: model).vectors
    }

    /// Embeds `texts` with `POST {base}/embeddings`, `embeddingBatchSize` texts per request, each
    /// reply put back in input order by its `index`. The input tokens are the sum of the replies'
    /// `usage.prompt_tokens`, nil when any reply has none.
    public func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        if texts.isEmpty { return Embeddings(vectors: [], inputTokens: 0) }
        let base = try baseURL(for: model)
        let endpoint = try ProviderSupport.url(base + "/embeddings", model: model)
        let key = try apiKey(for: model, endpoint: endpoint)
        try ProviderSupport.checkTimeout(model)
        let headers = Self.headers(key: key)
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var inputTokens: Int? = 0
        do {
            for start in stride(from: 0, to: texts.count, by: embeddingBatchSize) {
                let batch = Array(texts[start..<min(start + embeddingBatchSize, texts.count)])
                let body = JSONValue.object([("model", .string(model.id)), ("input", .array(batch.map(JSONValue.string)))])
                let reply = try await http.send(ProviderSupport.post(endpoint, body: body, timeout: model.timeout, headers: headers),
                                                timeout: model.timeout, connectTimeout: model.reliability.connectTimeout)
                let which = batch.count == texts.count ? "" : " (texts \(start + 1)–\(start + batch.count) of \(texts.count))"
                guard (200..<300).contains(reply.status) else {
                    var error = ProviderSupport.httpError(reply, url: endpoint, now: clock.now())
                    error.message += which
                    throw error
                }
                let (embedded, usage) = try Self.embeddings(from: reply.body, count: batch.count, endpoint: endpoint, which: which)
                inputTokens = inputTokens.flatMap { sum in usage.map { sum + $0 } }
                if let first = vectors.first, let next = embedded.first, first.count != next.count {
                    throw ProviderError(.malformedReply, "the embeddings from \(endpoint.absoluteString)\(which) have \(next.count) dimensions, "
                                        + "earlier ones \(first.count)")
                }
                vectors += embedded
            }
        } catch let error as ProviderError {
            throw ProviderSupport.redact(key, in: error)
        }
        return Embeddings(vectors: vectors, inputTokens: inputTokens)
    }

    /// The vectors of one embeddings reply and the input tokens it reports (`usage.prompt_tokens`, else `usage.total_tokens`).
    static func embeddings(from data: Data, count: Int, endpoint: URL, which: String) throws -> (vectors: [[Float]], inputTokens: Int?) {
        let from = "the embeddings reply from \(endpoint.absoluteString)\(which)"
        let (json, items) = try ProviderSupport.replyList("data", in: data, from: from)
        let inputTokens = ProviderSupport.count(json["usage"]?["prompt_tokens"]) ?? ProviderSupport.count(json["usage"]?["total_tokens"])
        guard items.count == count else {
            throw ProviderError(.malformedReply, "\(from) has \(items.count) embeddings for \(count) texts")
        }
        var slots = [[Float]?](repeating: nil, count: count)
        for (position, item) in items.enumerated() {
            let index: Int
            if let value = item["index"] {
                guard let number = value.numberValue, number == number.rounded(), number >= 0, number < Double(count) else {
                    throw ProviderError(.malformedReply, "\(from) has an embedding with index \(value.serialized()), outside 0..<\(count)")
                }
                index = Int(number)
            } else {
                index = position
            }
            guard slots[index] == nil else { throw ProviderError(.malformedReply, "\(from) has two embeddings with index \(index)") }
            slots[index] = try vector(item["embedding"], from: from, index: index)
        }
        let vectors = slots.map { $0 ?? [] }
        if let dimensions = vectors.first?.count, let odd = vectors.firstIndex(where: { $0.count != dimensions }) {
            throw ProviderError(.malformedReply, "\(from) has embeddings of different lengths (\(dimensions) and \(vectors[odd].count))")
        }
        return (vectors, inputTokens)
    }

    /// An embedding as a list of numbers, or base64 little-endian float32 (`encoding_format: base64`).
    private static func vector(_ value: JSONValue?, from: String, index: Int) throws -> [Float] {
        switch value {
        case .array(let numbers)?:
            guard !numbers.isEmpty else { throw ProviderError(.malformedReply, "\(from) has an empty embedding at index \(index)") }
            return try numbers.map { number in
                guard let x = number.numberValue else {
                    throw ProviderError(.malformedReply, "\(from) has a non-number in the embedding at index \(index)")
                }
                return Float(x)
            }
        case .string(let encoded)?:
            guard let data = Data(base64Encoded: encoded), !data.isEmpty, data.count % 4 == 0 else {
                throw ProviderError(.malformedReply, "\(from) has an embedding at index \(index) that is neither numbers nor base64 float32")
            }
            return stride(from: 0, to: data.count, by: 4).map { offset in
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[data.startIndex + offset + $1]) << (8 * UInt32($1)) }
                return Float(bitPattern: bits)
            }
        default:
            throw ProviderError(.malformedReply, "\(from) has no 'embedding' at index \(index)")
        }
    }
}

/// The state of one streamed chat completion.
struct OpenAIStream: StreamDecoder {
    let url: String
    /// The structured-output schema sent; when it wraps the reply, the text is held back and
    /// passed on unwrapped, whole, at the end.
    let structured: StructuredOutputSchema?
    private var text = ""
    private var refusal = ""
    private var model: String?
    private var finishReason: String?
    private var usage: JSONValue?
    private var sawChoice = false
    private(set) var done = false

    init(url: String, structured: StructuredOutputSchema? = nil) {
        self.url = url
        self.structured = structured
    }

    mutating func handle(_ event: SSEEvent, payload: String, pieces: inout [String]) throws {
        if payload == "[DONE]" { done = true; return }
        let json = try eventJSON(payload)
        if let error = json["error"], error != .null {
            let message = ProviderSupport.serverMessage(json) ?? error.serialized()
            throw ProviderError(.malformedReply, "the stream from \(url) reported an error: \(message)")
        }
        if let name = json["model"]?.stringValue { model = name }
        if let reported = json["usage"], case .object = reported { usage = reported }
        guard let choice = json["choices"]?.arrayValue?.first(where: { ($0["index"]?.numberValue ?? 0) == 0 }) else { return }
        sawChoice = true
        if let piece = choice["delta"]?["content"]?.stringValue, !piece.isEmpty {
            text += piece
            if structured?.wrapped != true { pieces.append(piece) }
        }
        if let piece = choice["delta"]?["refusal"]?.stringValue { refusal += piece }
        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
    }

    func response(request: ChatRequest, counter: any TokenCounter, onText: (String) -> Void) throws -> ChatResponse {
        guard done || finishReason != nil else {
            throw ProviderError(.transport, "the stream from \(url) was cut off before its end ([DONE]) after \(text.count) characters of text")
        }
        guard sawChoice else { throw ProviderError(.malformedReply, "the stream from \(url) has no choices") }
        if text.isEmpty, !refusal.isEmpty { throw ProviderError(.malformedReply, "the model refused: \(refusal)") }
        var text = text
        if let structured, structured.wrapped {
            text = structured.unwrap(text)
            if !text.isEmpty { onText(text) }
        }
        return OpenAICompatibleProvider.response(text: text, model: model, finishReason: finishReason, usage: usage, request: request,
                                                 counter: counter)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceRuntime
import SluiceTokenizers

/// The stable identity of a chat request, for record and replay: the SHA-256 of the canonical JSON
/// (object keys sorted, no spaces) of the model id, the messages, the effective temperature, the
/// max tokens, the stop sequences and the response schema. The prompt name, the model's local name
/// and streaming do not change the key.
public enum RequestKey {
    public static func canonical(_ request: ChatRequest) -> JSONValue {
        let temperature = request.temperature ?? request.model.temperature
        return sorted(.object([
            ("model", .string(request.model.id)),
            ("messages", .array(request.messages.map(\.json))),
            ("temperature", temperature.map(JSONValue.number) ?? .null),
            ("max_tokens", .number(Double(request.maxTokens))),
            ("stop", .array(request.stop.map(JSONValue.string))),
            ("schema", request.responseSchema.map { .object([("name", .string($0.name)), ("schema", $0.schema)]) } ?? .null),
        ]))
    }

    public static func key(_ request: ChatRequest) -> String {
        SHA256.hex(Array(canonical(request).serialized().utf8))
    }

    /// An embeddings request: the model id and the texts, marked as embeddings so it never shares a chat request's key.
    public static func canonicalEmbedding(_ texts: [String], model: ModelSpec) -> JSONValue {
        sorted(.object([("embed", .string(model.id)), ("input", .array(texts.map(JSONValue.string)))]))
    }

    public static func embeddingKey(_ texts: [String], model: ModelSpec) -> String {
        SHA256.hex(Array(canonicalEmbedding(texts, model: model).serialized().utf8))
    }

    /// The same value with every object's keys in byte order (the last of duplicate keys kept).
    static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map(sorted))
        case .object(let members):
            var latest: [String: JSONValue] = [:]
            for member in members { latest[member.key] = sorted(member.value) }
            return .object(latest.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { ($0, latest[$0]!) })
        default:
            return value
        }
    }
}

/// Wraps a provider and appends every exchange to a JSONL file, one line each, as it completes:
///
///     {"key": "<sha-256>", "model": "gpt_4o_mini", "prompt": "answer", "request": {...canonical request...},
///      "response": {"text": "...", "model": "gpt-4o-mini-2024-07-18", "usage": {"input": 57, "output": 9, "cached": 0,
///                   "cache_write": 0, "reasoning": 0},
///                   "usage_estimated": false, "finish_reason": "stop", "failed_attempts": [...]}}
///
/// or, for a call that failed, `"error": {"kind": "http", "message": "...", "status": 503, "retry_after": 2,
/// "attempts": [...]}` instead of `response`. The file is created when missing and appended to
/// otherwise (delete it first for a fresh recording); lines are written whole with `O_APPEND`, so
/// concurrent calls never interleave. Keys are never written: only the request's content is, and
/// every string of a line (messages, replies, errors) goes through `Redaction` first; a replay
/// answers with the redacted text.
///
/// Embeddings calls are recorded too, as `{"key", "model", "request": {"embed": "<model id>",
/// "input": [texts]}, "embeddings": {"input_tokens": 12, "vectors": [[...]]}}` (or `error`;
/// `input_tokens` is null when the server reported none).
public final class RecordingProvider: ModelProvider, EmbeddingProvider, EndpointNaming, @unchecked Sendable {
    public let path: String
    private let inner: any ModelProvider
    private let lock = NSLock()

    public init(_ inner: any ModelProvider, path: String) throws {
        self.inner = inner
        self.path = path
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else {
            throw ProviderError(.configuration, "cannot write the recording file \(path): \(String(cString: strerror(errno)))")
        }
        close(fd)
    }

    public func endpointName(for model: ModelSpec) -> String {
        (inner as? any EndpointNaming)?.endpointName(for: model) ?? "\(model.provider) \(model.baseURL ?? "(default)") \(model.id)"
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        do {
            let response = try await inner.complete(request)
            try append(Self.line(request, outcome: .success(response)))
            return response
        } catch let error as ProviderError {
            try append(Self.line(request, outcome: .failure(error)))
            throw error
        }
    }

    public func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        try await embedWithUsage(texts, model: model).vectors
    }

    public func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        guard let embedder = inner as? any EmbeddingProvider else {
            throw ProviderError(.configuration, "model '\(model.name)': the recorded provider cannot compute embeddings")
        }
        var members: [(key: String, value: JSONValue)] = [
            ("key", .string(RequestKey.embeddingKey(texts, model: model))),
            ("model", .string(model.name)),
            ("request", RequestKey.canonicalEmbedding(texts, model: model)),
        ]
        do {
            let embeddings = try await embedder.embedWithUsage(texts, model: model)
            members.append(("embeddings", .object([
                ("input_tokens", embeddings.inputTokens.map { .number(Double($0)) } ?? .null),
                ("vectors", .array(embeddings.vectors.map { .array($0.map { .number(Double($0)) }) })),
            ])))
            try append(Redaction.redact(JSONValue.object(members)).serialized())
            return embeddings
        } catch let error as ProviderError {
            members.append(("error", Self.errorJSON(error)))
            try append(Redaction.redact(JSONValue.object(members)).serialized())
            throw error
        }
    }

    private func append(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        try lock.withLock {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            guard fd >= 0 else {
                throw ProviderError(.configuration, "cannot write the recording file \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw ProviderError(.configuration, "cannot write the recording file \(path): \(String(cString: strerror(errno)))")
                }
                written += n
            }
        }
    }

    static func line(_ request: ChatRequest, outcome: Result<ChatResponse, ProviderError>) -> String {
        var members: [(key: String, value: JSONValue)] = [
            ("key", .string(RequestKey.key(request))),
            ("model", .string(request.model.name)),
            ("prompt", request.promptName.map(JSONValue.string) ?? .null),
            ("request", RequestKey.canonical(request)),
        ]
        switch outcome {
        case .success(let response):
            members.append(("response", .object([
                ("text", .string(response.text)),
                ("model", response.model.map(JSONValue.string) ?? .null),
                ("usage", .object([
                    ("input", .number(Double(response.inputTokens))),
                    ("output", .number(Double(response.outputTokens))),
                    ("cached", .number(Double(response.cachedTokens))),
                    ("cache_write", .number(Double(response.cacheWriteTokens))),
                    ("reasoning", .number(Double(response.reasoningTokens))),
                ])),
                ("usage_estimated", .bool(response.usageEstimated)),
                ("finish_reason", response.finishReason.map(JSONValue.string) ?? .null),
                ("failed_attempts", .array(response.failedAttempts.map(attemptJSON))),
                ("warnings", .array(response.warnings.map(JSONValue.string))),
                ("latency_ms", response.latencyMs.map(JSONValue.number) ?? .null),
            ])))
        case .failure(let error):
            members.append(("error", errorJSON(error)))
        }
        return Redaction.redact(JSONValue.object(members)).serialized()
    }

    static func errorJSON(_ error: ProviderError) -> JSONValue {
        var fields: [(key: String, value: JSONValue)] = [("kind", .string(error.kind.rawValue)), ("message", .string(error.message))]
        if let status = error.status { fields.append(("status", .number(Double(status)))) }
        if let retryAfter = error.retryAfter { fields.append(("retry_after", .number(retryAfter))) }
        fields.append(("attempts", .array(error.attempts.map(attemptJSON))))
        return .object(fields)
    }

    static func attemptJSON(_ attempt: ProviderAttempt) -> JSONValue {
        var fields: [(key: String, value: JSONValue)] = [("error", .string(attempt.error))]
        if let status = attempt.status { fields.append(("status", .number(Double(status)))) }
        fields.append(("latency_ms", .number(attempt.latencyMs)))
        fields.append(("waited_ms", .number(attempt.waitedMs)))
        return .object(fields)
    }
}

/// Answers from a file `RecordingProvider` wrote, by request key; a key recorded several times is
/// answered in recorded order. Recorded errors are thrown again, attempts included, so a replayed
/// run is byte-for-byte the run that was recorded. When `onText` is set the whole text is passed
/// to it in one piece. A request that is not in the file is an `.exhausted` error naming the
/// prompt, the model and how many exchanges the file holds. Embeddings are replayed the same way.
public final class ReplayProvider: ModelProvider, EmbeddingProvider, @unchecked Sendable {
    private enum Outcome {
        case chat(ChatResponse)
        case embeddings(Embeddings)
        case failure(ProviderError)
    }

    private struct Exchange {
        var line: Int
        var model: String
        var prompt: String?
        var outcome: Outcome
    }

    /// The file the exchanges came from.
    public let origin: String
    /// How many exchanges the file holds.
    public let count: Int
    private let exchanges: [String: [Exchange]]
    private let used = Locked<[String: Int]>([:])

    public convenience init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProviderError(.configuration, "cannot read the replay file \(path): no such readable file")
        }
        try self.init(jsonl: String(decoding: data, as: UTF8.self), origin: path)
    }

    public init(jsonl: String, origin: String) throws {
        self.origin = origin
        var exchanges: [String: [Exchange]] = [:]
        var count = 0
        for (index, line) in jsonl.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            let (key, exchange) = try Self.parse(text, line: index + 1, origin: origin)
            exchanges[key, default: []].append(exchange)
            count += 1
        }
        self.exchanges = exchanges
        self.count = count
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let what = (request.promptName.map { "prompt '\($0)' on " } ?? "a request to ") + "model '\(request.model.name)'"
        switch try next(RequestKey.key(request), what: what, model: request.model.name, prompt: request.promptName) {
        case .chat(let response):
            if let onText = request.onText, !response.text.isEmpty { onText(response.text) }
            return response
        case .embeddings:
            throw ProviderError(.configuration, "replay: \(origin) holds embeddings, not a chat reply, for \(what)")
        case .failure(let error):
            throw error
        }
    }

    public func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        try await embedWithUsage(texts, model: model).vectors
    }

    public func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        let what = "embeddings of \(texts.count) text\(texts.count == 1 ? "" : "s") with model '\(model.name)'"
        switch try next(RequestKey.embeddingKey(texts, model: model), what: what, model: model.name, prompt: nil) {
        case .embeddings(let embeddings):
            return embeddings
        case .chat:
            throw ProviderError(.configuration, "replay: \(origin) holds a chat reply, not embeddings, for \(what)")
        case .failure(let error):
            throw error
        }
    }

    /// The next unused exchange recorded under `key`.
    private func next(_ key: String, what: String, model: String, prompt: String?) throws -> Outcome {
        try used.withLock { used in
            let recorded = exchanges[key] ?? []
            let next = used[key, default: 0]
            guard next < recorded.count else { throw missing(what, model: model, prompt: prompt, key: key, recorded: recorded.count) }
            used[key] = next + 1
            return recorded[next].outcome
        }
    }

    private func missing(_ what: String, model: String, prompt: String?, key: String, recorded: Int) -> ProviderError {
        let total = "\(origin) has \(count) recorded exchange\(count == 1 ? "" : "s")"
        if recorded > 0 {
            return ProviderError(.exhausted, "replay: \(what) was recorded \(recorded) time\(recorded == 1 ? "" : "s") and has been "
                                 + "replayed that often already (\(total); key \(key.prefix(12)))")
        }
        let similar = exchanges.values.joined().filter { $0.model == model && $0.prompt == prompt }.count
        var message = "replay: no recorded exchange matches \(what) (key \(key.prefix(12))); \(total)"
        if similar > 0 {
            message += ", \(similar) of them for this prompt and model but with other messages or settings"
        }
        return ProviderError(.exhausted, message + "; record the run again with --record")
    }

    // MARK: Parsing

    private static func parse(_ text: String, line: Int, origin: String) throws -> (String, Exchange) {
        func fail(_ problem: String) -> ProviderError { ProviderError(.configuration, "\(origin):\(line): \(problem)") }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw fail("not valid JSON: \(error)") }
        guard let key = json["key"]?.stringValue, !key.isEmpty else { throw fail("a recorded exchange needs a 'key'") }
        let model = json["model"]?.stringValue ?? "?"
        let prompt = json["prompt"]?.stringValue
        func count(_ value: JSONValue?, _ name: String) throws -> Int {
            guard let number = value?.numberValue, number >= 0, number == number.rounded(), number < 1e15 else {
                throw fail("'\(name)' must be a whole number, at least 0")
            }
            return Int(number)
        }
        func attempts(_ value: JSONValue?, _ name: String) throws -> [ProviderAttempt] {
            guard let value, value != .null else { return [] }
            guard let items = value.arrayValue else { throw fail("'\(name)' must be a list") }
            return try items.map { item in
                guard let error = item["error"]?.stringValue else { throw fail("every entry of '\(name)' needs an 'error'") }
                return ProviderAttempt(error: error, status: item["status"]?.numberValue.flatMap(exactInt),
                                       latencyMs: item["latency_ms"]?.numberValue ?? 0, waitedMs: item["waited_ms"]?.numberValue ?? 0)
            }
        }
        if let response = json["response"], case .object = response {
            guard let text = response["text"]?.stringValue else { throw fail("'response.text' must be a string") }
            let usage = response["usage"]
            let reply = ChatResponse(text: text, model: response["model"]?.stringValue,
                                     inputTokens: try count(usage?["input"], "response.usage.input"),
                                     outputTokens: try count(usage?["output"], "response.usage.output"),
                                     cachedTokens: try count(usage?["cached"] ?? .number(0), "response.usage.cached"),
                                     cacheWriteTokens: try count(usage?["cache_write"] ?? .number(0), "response.usage.cache_write"),
                                     reasoningTokens: try count(usage?["reasoning"] ?? .number(0), "response.usage.reasoning"),
                                     finishReason: response["finish_reason"]?.stringValue,
                                     failedAttempts: try attempts(response["failed_attempts"], "response.failed_attempts"),
                                     usageEstimated: response["usage_estimated"] == .bool(true),
                                     warnings: (response["warnings"]?.arrayValue ?? []).compactMap(\.stringValue),
                                     latencyMs: response["latency_ms"]?.numberValue)
            return (key, Exchange(line: line, model: model, prompt: prompt, outcome: .chat(reply)))
        }
        if let embeddings = json["embeddings"], case .object = embeddings {
            guard let rows = embeddings["vectors"]?.arrayValue else { throw fail("'embeddings.vectors' must be a list of lists of numbers") }
            let vectors = try rows.map { row -> [Float] in
                guard let numbers = row.arrayValue else { throw fail("'embeddings.vectors' must be a list of lists of numbers") }
                return try numbers.map { number in
                    guard let x = number.numberValue else { throw fail("'embeddings.vectors' must hold only numbers") }
                    return Float(x)
                }
            }
            let tokens = embeddings["input_tokens"].flatMap { $0 == .null ? nil : $0 }
            let reply = Embeddings(vectors: vectors, inputTokens: try tokens.map { try count($0, "embeddings.input_tokens") })
            return (key, Exchange(line: line, model: model, prompt: prompt, outcome: .embeddings(reply)))
        }
        if let error = json["error"], case .object = error {
            guard let kindName = error["kind"]?.stringValue, let kind = ProviderError.Kind(rawValue: kindName) else {
                throw fail("'error.kind' must be one of transport, http, malformedReply, configuration, exhausted, circuitOpen, rateLimited")
            }
            let failure = ProviderError(kind, error["message"]?.stringValue ?? "recorded \(kindName) error",
                                        status: error["status"]?.numberValue.flatMap(exactInt),
                                        attempts: try attempts(error["attempts"], "error.attempts"), retryAfter: error["retry_after"]?.numberValue)
            return (key, Exchange(line: line, model: model, prompt: prompt, outcome: .failure(failure)))
        }
        throw fail("a recorded exchange needs a 'response', 'embeddings' or 'error' object")
    }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// Speaks OpenAI's chat completions API (`POST {base}/chat/completions`), which OpenAI and most
/// local servers (llama.cpp, vLLM, Ollama, LM Studio) understand.
///
/// Base URL: `ModelSpec.baseURL`, else `$OPENAI_BASE_URL`, else https://api.openai.com/v1.
/// Key: the variable named by `ModelSpec.apiKeyEnv`, else `$OPENAI_API_KEY`; optional except for
/// api.openai.com or when the model names its variable. The key never appears in an error.
public final class OpenAICompatibleProvider: ModelProvider {
    public static let defaultBaseURL = "https://api.openai.com/v1"

    private let environment: [String: String]
    /// Estimates token usage when a server does not report it.
    private let counter: any TokenCounter
    private let session: URLSession

    public init(environment: [String: String], counter: any TokenCounter = EstimatingTokenCounter()) {
        self.environment = environment
        self.counter = counter
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let model = request.model
        let endpoint = try endpoint(for: model)
        let key = try apiKey(for: model, endpoint: endpoint)
        guard model.timeout > 0 else {
            throw ProviderError(.configuration, "model '\(model.name)' has a timeout of \(model.timeout)s; it must be more than 0")
        }
        var http = URLRequest(url: endpoint)
        http.httpMethod = "POST"
        // The deadline is enforced by HTTPExchange; Foundation on Linux truncates this one to whole seconds
        // (0.5 becomes an immediate timeout), so it only backs ours up.
        http.timeoutInterval = model.timeout.rounded(.up) + 1
        http.setValue("application/json", forHTTPHeaderField: "Content-Type")
        http.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key { http.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        http.httpBody = Data(Self.body(for: request).serialized().utf8)

        let (data, response) = try await HTTPExchange.send(http, on: session, timeout: model.timeout)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw ProviderError(.http, redacting(key, in: "HTTP \(status) from \(endpoint.absoluteString): \(Self.errorDetail(data, status: status))"),
                                status: status)
        }
        do {
            return try reply(from: data, for: request, endpoint: endpoint)
        } catch let error as ProviderError {
            throw ProviderError(error.kind, redacting(key, in: error.message), status: error.status)
        }
    }

    // MARK: Configuration

    func endpoint(for model: ModelSpec) throws -> URL {
        let base = model.baseURL ?? environment["OPENAI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultBaseURL
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed + "/chat/completions"), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", url.host?.isEmpty == false else {
            throw ProviderError(.configuration, "model '\(model.name)' has an invalid base URL '\(base)': expected http://host[:port]/path or https://...")
        }
        return url
    }

    func apiKey(for model: ModelSpec, endpoint: URL) throws -> String? {
        let variable = model.apiKeyEnv ?? "OPENAI_API_KEY"
        if let key = environment[variable], !key.isEmpty { return key }
        if model.apiKeyEnv != nil {
            throw ProviderError(.configuration, "model '\(model.name)' reads its API key from $\(variable), which is not set")
        }
        if endpoint.host == "api.openai.com" {
            throw ProviderError(.configuration, "$OPENAI_API_KEY is not set: model '\(model.name)' calls api.openai.com, which needs a key")
        }
        return nil
    }

    private func redacting(_ key: String?, in message: String) -> String {
        guard let key, key.count >= 4 else { return message }
        return message.replacingOccurrences(of: key, with: "[redacted]")
    }

    // MARK: Wire format

    static func body(for request: ChatRequest) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("model", .string(request.model.id)),
            ("messages", .array(request.messages.map(\.json))),
        ]
        if let temperature = request.temperature ?? request.model.temperature { members.append(("temperature", .number(temperature))) }
        members.append(("max_tokens", .number(Double(request.maxTokens))))
        if !request.stop.isEmpty { members.append(("stop", .array(request.stop.map(JSONValue.string)))) }
        if let schema = request.responseSchema {
            members.append(("response_format", .object([
                ("type", .string("json_schema")),
                ("json_schema", .object([
                    ("name", .string(schemaName(schema.name))),
                    ("schema", schema.schema),
                    ("strict", .bool(true)),
                ])),
            ])))
        }
        return .object(members)
    }

    /// OpenAI accepts schema names of letters, digits, `_` and `-`, at most 64 long.
    static func schemaName(_ name: String) -> String {
        let allowed = name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-")
                ? Character(scalar) : "_"
        }
        return allowed.isEmpty ? "reply" : String(allowed.prefix(64))
    }

    func reply(from data: Data, for request: ChatRequest, endpoint: URL) throws -> ChatResponse {
        let from = "the reply from \(endpoint.absoluteString)"
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes: Array(data))
        } catch {
            throw ProviderError(.malformedReply, "\(from) is not JSON (\(error)): \(Self.snippet(data))")
        }
        guard let choices = json["choices"]?.arrayValue else {
            if let message = Self.serverMessage(json) { throw ProviderError(.malformedReply, "\(from) is an error: \(message)") }
            throw ProviderError(.malformedReply, "\(from) has no 'choices' list: \(Self.snippet(data))")
        }
        guard let choice = choices.first else { throw ProviderError(.malformedReply, "\(from) has an empty 'choices' list") }
        guard let message = choice["message"], case .object = message else {
            throw ProviderError(.malformedReply, "\(from) has no 'message' in its first choice")
        }
        guard let content = message["content"]?.stringValue else {
            if let refusal = message["refusal"]?.stringValue { throw ProviderError(.malformedReply, "the model refused: \(refusal)") }
            throw ProviderError(.malformedReply, "\(from) has no text 'content' in its message")
        }
        let usage = json["usage"]
        let encoding = request.model.tokenizer
        let input = Self.count(usage?["prompt_tokens"])
            ?? request.messages.reduce(0) { $0 + counter.count($1.content, encoding: encoding) }
        let output = Self.count(usage?["completion_tokens"]) ?? counter.count(content, encoding: encoding)
        let cached = Self.count(usage?["prompt_tokens_details"]?["cached_tokens"]) ?? 0
        return ChatResponse(text: content, model: json["model"]?.stringValue ?? request.model.id, inputTokens: input,
                            outputTokens: output, cachedTokens: cached, finishReason: choice["finish_reason"]?.stringValue)
    }

    private static func count(_ value: JSONValue?) -> Int? {
        guard let number = value?.numberValue, number >= 0, number < 1e15 else { return nil }
        return Int(number)
    }

    /// The server's own explanation: `error.message` (OpenAI), `error` as a string, or `message`.
    private static func serverMessage(_ json: JSONValue) -> String? {
        json["error"]?["message"]?.stringValue ?? json["error"]?.stringValue ?? json["message"]?.stringValue
    }

    static func errorDetail(_ data: Data, status: Int) -> String {
        if let json = try? JSONValue.parse(bytes: Array(data)), let message = serverMessage(json) { return message }
        let body = snippet(data)
        return body.isEmpty ? HTTPURLResponse.localizedString(forStatusCode: status) : body
    }

    /// The start of a body, on one line, for error messages.
    static func snippet(_ data: Data) -> String {
        let text = String(decoding: data.prefix(300), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return data.count > 300 ? text + "…" : text
    }
}

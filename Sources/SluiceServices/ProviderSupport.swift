import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// A provider that can say which endpoint a model's requests go to. `ReliableProvider` keeps its
/// circuit breaker and rate limits per endpoint; without this it falls back to the model's
/// declared provider, base URL and id.
public protocol EndpointNaming: Sendable {
    /// The endpoint for `model`: its resolved base URL and model id, e.g.
    /// "https://api.openai.com/v1 gpt-4o-mini". Never contains a key.
    func endpointName(for model: ModelSpec) -> String
}

/// A value behind a lock, for state shared across concurrent calls.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// What the OpenAI-compatible and Anthropic providers share: configuration from the environment, requests,
/// keys kept out of messages, server error details, Retry-After, and reading replies.
enum ProviderSupport {
    /// The base URL for a model: `ModelSpec.baseURL`, else the environment variable, else the default;
    /// trailing slashes removed and the scheme and host checked.
    static func baseURL(for model: ModelSpec, environment: [String: String], variable: String, default fallback: String) throws -> String {
        let base = model.baseURL ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        if let checked = checkedBaseURLs.withLock({ $0[base] }) { return checked }
        var trimmed = base.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host?.isEmpty == false else {
            throw ProviderError(.configuration, "model '\(model.name)' has an invalid base URL '\(base)': expected http://host[:port]/path or https://...")
        }
        checkedBaseURLs.withLock { $0[base] = trimmed }
        return trimmed
    }

    /// Base URLs already checked, as written to what `baseURL` made of them: every call asks again.
    private static let checkedBaseURLs = Locked<[String: String]>([:])

    static func url(_ text: String, model: ModelSpec) throws -> URL {
        guard let url = URL(string: text) else {
            throw ProviderError(.configuration, "model '\(model.name)' has an invalid base URL: cannot form \(text)")
        }
        return url
    }

    /// The key for a model: the variable the model names, else the provider's default variable.
    /// Optional for local servers; required when the model names a variable or calls `requiredHost`.
    static func apiKey(for model: ModelSpec, environment: [String: String], variable defaultVariable: String, endpoint: URL,
                       requiredHost: String) throws -> String? {
        let variable = model.apiKeyEnv ?? defaultVariable
        if let key = environment[variable], !key.isEmpty {
            Redaction.register(secret: key)
            return key
        }
        if model.apiKeyEnv != nil {
            throw ProviderError(.configuration, "model '\(model.name)' reads its API key from $\(variable), which is not set")
        }
        if endpoint.host == requiredHost {
            throw ProviderError(.configuration, "$\(defaultVariable) is not set: model '\(model.name)' calls \(requiredHost), which needs a key")
        }
        return nil
    }

    static func checkTimeout(_ model: ModelSpec) throws {
        guard model.timeout > 0 else {
            throw ProviderError(.configuration, "model '\(model.name)' has a timeout of \(model.timeout)s; it must be more than 0")
        }
    }

    /// A POST of `body` as JSON, asking for an event stream when the body streams, with the provider's own headers.
    static func post(_ url: URL, body: JSONValue, timeout: Double, headers: [(name: String, value: String)]) -> URLRequest {
        var http = URLRequest(url: url)
        http.httpMethod = "POST"
        // The deadline is enforced by HTTPClient; Foundation on Linux truncates this one to whole seconds
        // (0.5 becomes an immediate timeout), so it only backs ours up.
        http.timeoutInterval = timeout.rounded(.up) + 1
        http.setValue("application/json", forHTTPHeaderField: "Content-Type")
        http.setValue(body["stream"] == .bool(true) ? "text/event-stream" : "application/json", forHTTPHeaderField: "Accept")
        for header in headers { http.setValue(header.value, forHTTPHeaderField: header.name) }
        http.httpBody = Data(body.serializedBytes())
        return http
    }

    /// A reply's JSON and the list under `key` in it; `from` names the reply in errors.
    static func replyList(_ key: String, in data: Data, from: String) throws -> (json: JSONValue, list: [JSONValue]) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes: Array(data))
        } catch {
            throw ProviderError(.malformedReply, "\(from) is not JSON (\(error)): \(snippet(data))")
        }
        guard let list = json[key]?.arrayValue else {
            if let message = serverMessage(json) { throw ProviderError(.malformedReply, "\(from) is an error: \(message)") }
            throw ProviderError(.malformedReply, "\(from) has no '\(key)' list: \(snippet(data))")
        }
        return (json, list)
    }

    /// Removes the key (registered with `Redaction` when it was read) and anything key-like from an error.
    static func redact(_ key: String?, in error: ProviderError) -> ProviderError {
        if let key { Redaction.register(secret: key) }
        return Redaction.redact(error)
    }

    static func redact(_ key: String?, in attempts: [ProviderAttempt]) -> [ProviderAttempt] {
        if let key { Redaction.register(secret: key) }
        return Redaction.redact(attempts)
    }

    /// The error for a non-2xx reply: the server's own explanation, the status, and Retry-After.
    static func httpError(_ reply: HTTPClient.Reply, url: URL, now: Double) -> ProviderError {
        ProviderError(.http, "HTTP \(reply.status) from \(url.absoluteString): \(errorDetail(reply.body, status: reply.status))",
                      status: reply.status, retryAfter: retryAfter(reply.headers, now: now))
    }

    /// Seconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`.
    static func retryAfter(_ headers: [String: String], now: Double) -> Double? {
        if let text = headers["retry-after-ms"]?.trimmingCharacters(in: .whitespaces), let ms = Double(text), ms.isFinite, ms >= 0 {
            return ms / 1000
        }
        guard let text = headers["retry-after"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 { return seconds }
        guard let date = httpDate(text) else { return nil }
        return max(0, date - now)
    }

    /// An HTTP date (RFC 9110: IMF-fixdate, or the obsolete RFC 850 and asctime forms) as seconds since the epoch.
    static func httpDate(_ text: String) -> Double? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        }
        return nil
    }

    /// A whole, non-negative count from a reply, or nil.
    static func count(_ value: JSONValue?) -> Int? {
        guard let number = value?.numberValue, number >= 0, number < 1e15 else { return nil }
        return Int(number)
    }

    /// The server's own explanation: `error.message` (OpenAI, Anthropic), `error` as a string, or `message`.
    static func serverMessage(_ json: JSONValue) -> String? {
        json["error"]?["message"]?.stringValue ?? json["error"]?.stringValue ?? json["message"]?.stringValue
    }

    static func errorDetail(_ data: Data, status: Int) -> String {
        if let json = try? JSONValue.parse(bytes: Array(data)), let message = serverMessage(json) { return snippet(message) }
        let body = snippet(data)
        return body.isEmpty ? HTTPURLResponse.localizedString(forStatusCode: status) : body
    }

    /// The start of a body, on one line, for error messages: redacted first, then cut, so a key
    /// that crosses the cut leaves no part of itself behind. (Only the first 4,000 bytes are read;
    /// a key is far shorter than the 3,700 between them and the cut.)
    static func snippet(_ data: Data) -> String {
        snippet(String(decoding: data.prefix(4_000), as: UTF8.self), longer: data.count > 4_000)
    }

    static let snippetLength = 300

    static func snippet(_ text: String, longer: Bool = false) -> String {
        let redacted = Redaction.redact(text)
        let line = String(redacted.prefix(snippetLength)).replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
            .trimmingCharacters(in: .whitespaces)
        return longer || redacted.count > snippetLength ? line + "…" : line
    }

    /// When a server rejects an optional request feature (HTTP 400 or 422 whose message names it),
    /// the feature it names, so the request can be retried without it.
    static func rejectedFeature<F>(_ reply: HTTPClient.Reply, among features: [(feature: F, markers: [String])]) -> F? {
        guard reply.status == 400 || reply.status == 422 else { return nil }
        let text = String(decoding: reply.body.prefix(4000), as: UTF8.self).lowercased()
        return features.first { candidate in candidate.markers.contains { text.contains($0) } }?.feature
    }

    /// Estimated usage, for servers that report none.
    static func estimatedInput(_ request: ChatRequest, counter: any TokenCounter) -> Int {
        counter.countChat(request.messages, encoding: request.model.tokenizer, provider: request.model.provider)
    }

    static func milliseconds(since start: Double, clock: any Clock) -> Double { max(0, (clock.now() - start) * 1000) }
}

/// A flag set from a `@Sendable` callback.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// Where and how traces go out over OTLP/HTTP, from a flag and the standard OpenTelemetry
/// environment variables (https://opentelemetry.io/docs/specs/otel/protocol/exporter/).
public struct OTLPSettings: Sendable {
    public enum WireProtocol: String, Sendable, CaseIterable {
        case protobuf = "http/protobuf", json = "http/json"

        var contentType: String { self == .protobuf ? "application/x-protobuf" : "application/json" }
    }

    /// The full URL spans are posted to (`…/v1/traces`).
    public var endpoint: String
    public var wireProtocol: WireProtocol
    /// Sent with every request (`OTEL_EXPORTER_OTLP_HEADERS`); never printed, they often hold a key.
    public var headers: [(name: String, value: String)]
    /// Seconds one request may take.
    public var timeout: Double
    public var captureContent: Bool
    public var serviceName: String
    /// `OTEL_RESOURCE_ATTRIBUTES`, without `service.name` (that is `serviceName`).
    public var resourceAttributes: [(key: String, value: String)]

    /// A setting that cannot be used; the message names the flag or variable, never a header's value.
    public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The settings `flag` (`--otlp URL`) and `environment` give; nil when neither names an endpoint.
    /// `--otlp` is the traces endpoint itself, or a collector's base URL when it has no path (`http://host:4318`
    /// posts to `http://host:4318/v1/traces`); `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as it is and
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended, as the specification says.
    public static func resolve(flag: String?, captureContent: Bool, environment: [String: String]) throws(ConfigurationError) -> OTLPSettings? {
        func setting(_ name: String) -> (name: String, value: String)? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return (name, value)
        }
        let endpoint: String
        if let flag {
            let url = try checkedURL(flag, source: "--otlp")
            endpoint = url.path.isEmpty || url.path == "/" ? joined(flag, "v1/traces") : flag
        } else if let traces = setting("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            _ = try checkedURL(traces.value, source: traces.name)
            endpoint = traces.value
        } else if let base = setting("OTEL_EXPORTER_OTLP_ENDPOINT") {
            _ = try checkedURL(base.value, source: base.name)
            endpoint = joined(base.value, "v1/traces")
        } else {
            return nil
        }
        var wireProtocol = WireProtocol.protobuf
        if let chosen = setting("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? setting("OTEL_EXPORTER_OTLP_PROTOCOL") {
            guard let known = WireProtocol(rawValue: chosen.value) else {
                let hint = chosen.value == "grpc" ? " (gRPC is not supported: point it at the collector's OTLP/HTTP port, usually 4318)" : ""
                throw ConfigurationError("\(chosen.name) is '\(chosen.value)': use http/protobuf or http/json\(hint)")
            }
            wireProtocol = known
        }
        // Signal-specific headers add to the general ones and win for a name both set.
        func pairsSetting(_ name: String) throws(ConfigurationError) -> [(key: String, value: String)] {
            guard let found = setting(name) else { return [] }
            return try pairs(found.value, source: found.name)
        }
        var headers = try pairsSetting("OTEL_EXPORTER_OTLP_HEADERS")
        for header in try pairsSetting("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
            headers.removeAll { $0.key.lowercased() == header.key.lowercased() }
            headers.append(header)
        }
        var timeout = 10.0
        if let chosen = setting("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") ?? setting("OTEL_EXPORTER_OTLP_TIMEOUT") {
            guard let milliseconds = Double(chosen.value), milliseconds.isFinite, milliseconds > 0 else {
                throw ConfigurationError("\(chosen.name) is '\(chosen.value)': give the timeout in milliseconds, e.g. 10000")
            }
            timeout = milliseconds / 1000
        }
        let captureFromEnvironment = setting("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")?.value.lowercased() == "true"
        var resource = try pairsSetting("OTEL_RESOURCE_ATTRIBUTES")
        let serviceName = setting("OTEL_SERVICE_NAME")?.value ?? resource.last { $0.key == "service.name" }?.value ?? "sluice"
        resource.removeAll { $0.key == "service.name" }
        return OTLPSettings(endpoint: endpoint, wireProtocol: wireProtocol, headers: headers.map { ($0.key, $0.value) }, timeout: timeout,
                            captureContent: captureContent || captureFromEnvironment, serviceName: serviceName, resourceAttributes: resource)
    }

    private static func checkedURL(_ text: String, source: String) throws(ConfigurationError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw ConfigurationError("\(source) is '\(text)': give an http:// or https:// URL, e.g. http://127.0.0.1:4318")
        }
        return url
    }

    private static func joined(_ base: String, _ path: String) -> String { (base.hasSuffix("/") ? base : base + "/") + path }

    /// `key=value,key2=value2` with percent-encoded values (the W3C Baggage form the specification uses).
    /// A bad entry is named by its position, never shown: headers often hold keys.
    static func pairs(_ text: String, source: String) throws(ConfigurationError) -> [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        for (position, entry) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let item = entry.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            guard let equals = item.firstIndex(of: "=") else {
                throw ConfigurationError("\(source): entry \(position + 1) has no '=': write key=value pairs separated by commas")
            }
            let key = item[..<equals].trimmingCharacters(in: .whitespaces)
            let raw = item[item.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                throw ConfigurationError("\(source): entry \(position + 1) has an empty or invalid key")
            }
            guard let value = raw.removingPercentEncoding, !value.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw ConfigurationError("\(source): the value of '\(key)' is not valid percent-encoded text")
            }
            result.append((key, value))
        }
        return result
    }
}

/// Sends stored runs to an OTLP/HTTP collector.
public struct OTLPExporter: Sendable {
    public let settings: OTLPSettings
    /// At most this many runs go in one request.
    public static let runsPerRequest = 50

    public init(settings: OTLPSettings) {
        self.settings = settings
        // A header's value (an API key, as a rule) must not reach an error message, even quoted back by a collector.
        for header in settings.headers { Redaction.register(secret: header.value) }
    }

    public struct ExportError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The request body for `runs`, in the configured wire format.
    public func body(for runs: [RunDetail]) -> Data {
        let mapping = OTLPTraceMapping(captureContent: settings.captureContent)
        let request = OTLPTraceRequest(
            resource: [OTLPAttribute("service.name", .string(settings.serviceName))]
                + settings.resourceAttributes.map { OTLPAttribute($0.key, .string($0.value)) },
            scopeName: "sluice", spans: runs.flatMap(mapping.spans))
        switch settings.wireProtocol {
        case .protobuf: return request.protobuf()
        case .json: return Data(request.json().serialized().utf8)
        }
    }

    /// Posts `runs` (in batches of `runsPerRequest`); throws on the first request the collector does
    /// not accept with a 2xx, naming the endpoint and the reason.
    public func export(_ runs: [RunDetail]) async throws(ExportError) {
        var start = 0
        while start < runs.count {
            let batch = Array(runs[start..<min(runs.count, start + Self.runsPerRequest)])
            try await post(body(for: batch))
            start += batch.count
        }
    }

    private func post(_ body: Data) async throws(ExportError) {
        guard let url = URL(string: settings.endpoint) else {
            throw ExportError(description: "the OTLP endpoint '\(settings.endpoint)' is not a URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue(settings.wireProtocol.contentType, forHTTPHeaderField: "Content-Type")
        for header in settings.headers { request.setValue(header.value, forHTTPHeaderField: header.name) }
        let response: CurlTransport.Response
        do {
            response = try await CurlTransport.perform(request, timeout: settings.timeout, connectTimeout: min(settings.timeout, 5), onBody: nil)
        } catch {
            throw ExportError(description: "could not send traces to \(settings.endpoint): \(Redaction.redact("\(error)"))")
        }
        guard (200..<300).contains(response.status) else {
            let snippet = Redaction.redact(String(decoding: response.body.prefix(300), as: UTF8.self))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw ExportError(description: "the OTLP collector at \(settings.endpoint) answered HTTP \(response.status)"
                              + (snippet.isEmpty || settings.wireProtocol == .protobuf && !snippet.allSatisfy(\.isASCII) ? "" : ": \(snippet)"))
        }
    }
}

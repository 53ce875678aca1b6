import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// An optional request field a server or model may refuse. A body offers it when it has the
/// member named `rawValue`.
protocol FallbackFeature: RawRepresentable, CaseIterable, Hashable, Sendable where RawValue == String {
    /// What a 400 or 422 that refuses it says.
    var markers: [String] { get }
    /// What the next attempt does instead, for the rejected attempt's message.
    var instead: String { get }
}

extension FallbackFeature {
    var instead: String { "asking again without \(rawValue)" }
}

/// Chat exchanges with endpoints that may refuse optional request features: a reply rejecting one
/// the body offered becomes a failed attempt, the feature is remembered as lacking for that
/// endpoint, and the request goes again without it.
struct FeatureFallbackExchange<Feature: FallbackFeature>: Sendable {
    /// What one attempt sends and how its reply is read.
    struct Attempt<Decoder: StreamDecoder> {
        var body: JSONValue
        /// Reads the reply when it streams.
        var decoder: Decoder
        /// Reads a reply that came whole.
        var whole: (Data) throws -> ChatResponse
    }

    let http: HTTPClient
    let clock: any Clock
    let counter: any TokenCounter
    /// Per endpoint (base URL and model id), the features its server rejected.
    private let unsupported = Locked<[String: Set<Feature>]>([:])

    init(http: HTTPClient, clock: any Clock, counter: any TokenCounter) {
        self.http = http
        self.clock = clock
        self.counter = counter
    }

    /// Sends `request` to `endpoint` (named `name` for what it lacks) until a reply is not a
    /// feature rejection. Rejected attempts go into `failedAttempts` (or the thrown error's
    /// attempts); `key` is redacted from both.
    func complete<Decoder>(_ request: ChatRequest, endpoint: URL, name: String, key: String?, headers: [(name: String, value: String)],
                           attempt makeAttempt: (_ lacking: Set<Feature>) -> Attempt<Decoder>) async throws -> ChatResponse {
        let model = request.model
        var failed: [ProviderAttempt] = []
        var started = clock.now()
        do {
            while true {
                let lacking = unsupported.withLock { $0[name] ?? [] }
                let attempt = makeAttempt(lacking)
                let offered = Feature.allCases.filter { attempt.body[$0.rawValue] != nil }.map { (feature: $0, markers: $0.markers) }
                let stream = request.onText.map { ReplyStream(attempt.decoder, onText: $0) }
                var sink: HTTPClient.BodySink?
                if let stream { sink = { data in try stream.feed(data) } }
                started = clock.now()
                let reply = try await http.send(ProviderSupport.post(endpoint, body: attempt.body, timeout: model.timeout, headers: headers),
                                                timeout: model.timeout, connectTimeout: model.reliability.connectTimeout, onBody: sink)
                guard (200..<300).contains(reply.status) else {
                    if let feature = ProviderSupport.rejectedFeature(reply, among: offered) {
                        unsupported.withLock { _ = $0[name, default: []].insert(feature) }
                        let error = ProviderSupport.httpError(reply, url: endpoint, now: clock.now())
                        failed.append(ProviderAttempt(error: error.message + " (\(feature.instead))", status: reply.status,
                                                      latencyMs: ProviderSupport.milliseconds(since: started, clock: clock)))
                        continue
                    }
                    throw ProviderSupport.httpError(reply, url: endpoint, now: clock.now())
                }
                var response: ChatResponse
                if reply.streamed, let stream {
                    response = try stream.finish(request: request, counter: counter)
                } else {
                    response = try attempt.whole(reply.body)
                    // A server that ignored `stream: true` answered in one piece.
                    if let onText = request.onText, !response.text.isEmpty { onText(response.text) }
                }
                response.failedAttempts = ProviderSupport.redact(key, in: failed)
                return response
            }
        } catch var error as ProviderError {
            if !failed.isEmpty {
                let last = error.attempts.isEmpty
                    ? [ProviderAttempt(error: error.message, status: error.status, latencyMs: ProviderSupport.milliseconds(since: started, clock: clock))]
                    : error.attempts
                error.attempts = failed + last
            }
            throw ProviderSupport.redact(key, in: error)
        }
    }
}

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
    /// What a request loses when sent without the feature, for `ChatResponse.warnings`; nil when nothing it asked for.
    func warning(for request: ChatRequest, endpoint: String) -> String?
}

extension FallbackFeature {
    var instead: String { "asking again without \(rawValue)" }
}

/// Chat exchanges with endpoints that may refuse optional request features: a reply rejecting one
/// the body offered becomes a failed attempt, the feature is remembered as lacking for that
/// endpoint (in this process and, with a `FeatureMemory`, in the store for later ones), and the
/// request goes again without it. Whatever a reply lacks for it is said in its `warnings`.
struct FeatureFallbackExchange<Feature: FallbackFeature>: Sendable {
    /// What one attempt sends and how its reply is read.
    struct Attempt<Decoder: StreamDecoder> {
        var body: JSONValue
        /// Reads the reply when it streams.
        var decoder: Decoder
        /// What this attempt does differently from what the request asked, besides lacking features.
        var warnings: [String] = []
        /// Reads a reply that came whole.
        var whole: (Data) throws -> ChatResponse
    }

    let http: HTTPClient
    let clock: any Clock
    let counter: any TokenCounter
    /// Where refusals are kept for later processes.
    let memory: (any FeatureMemory)?
    /// Per endpoint (base URL and model id), the features its server rejected; an endpoint is
    /// present once what `memory` knows of it has been read.
    private let unsupported = Locked<[String: Set<Feature>]>([:])

    init(http: HTTPClient, clock: any Clock, counter: any TokenCounter, memory: (any FeatureMemory)? = nil) {
        self.http = http
        self.clock = clock
        self.counter = counter
        self.memory = memory
    }

    /// What `name` is known to refuse, read from `memory` the first time (a store that cannot be
    /// read is a warning, not a failed call).
    private func lackingFeatures(_ name: String, warnings: inout [String]) -> Set<Feature> {
        if let known = unsupported.withLock({ $0[name] }) { return known }
        var remembered: Set<Feature> = []
        do {
            remembered = Set(try memory?.refusedFeatures(endpoint: name).compactMap(Feature.init(rawValue:)) ?? [])
        } catch {
            warnings.append("cannot read which request features \(name) refused before: \(error)")
        }
        return unsupported.withLock { known in
            if known[name] == nil { known[name] = remembered }
            return known[name] ?? remembered
        }
    }

    private func remember(_ feature: Feature, for name: String, warnings: inout [String]) {
        unsupported.withLock { _ = $0[name, default: []].insert(feature) }
        do { try memory?.noteRefused(feature: feature.rawValue, endpoint: name, at: clock.now()) } catch {
            warnings.append("cannot remember that \(name) refuses \(feature.rawValue): \(error)")
        }
    }

    /// Sends `request` to `endpoint` (named `name` for what it lacks) until a reply is not a
    /// feature rejection. Rejected attempts go into `failedAttempts` (or the thrown error's
    /// attempts); `key` is redacted from both.
    func complete<Decoder>(_ request: ChatRequest, endpoint: URL, name: String, key: String?, headers: [(name: String, value: String)],
                           attempt makeAttempt: (_ lacking: Set<Feature>) -> Attempt<Decoder>) async throws -> ChatResponse {
        let model = request.model
        var failed: [ProviderAttempt] = []
        var warnings: [String] = []
        var started = clock.now()
        // Asking again without a refused feature is part of the same try: it shares the try's
        // timeout (which the reliable layer cut to what is left of the call's deadline), so the
        // re-asks can never take a call past its deadline.
        let until = started + model.timeout
        do {
            while true {
                let timeout = failed.isEmpty ? model.timeout : until - clock.now()
                guard timeout > 0 else {
                    throw ProviderError(.transport, "no answer from \(endpoint) within \(JSONValue.formatNumber(model.timeout))s: "
                                        + "the time ran out while asking again without what it refused")
                }
                let lacking = lackingFeatures(name, warnings: &warnings)
                let attempt = makeAttempt(lacking)
                let offered = Feature.allCases.filter { attempt.body[$0.rawValue] != nil }.map { (feature: $0, markers: $0.markers) }
                let stream = request.onText.map { ReplyStream(attempt.decoder, onText: $0) }
                var sink: HTTPClient.BodySink?
                if let stream { sink = { data in try stream.feed(data) } }
                started = clock.now()
                let reply = try await http.send(ProviderSupport.post(endpoint, body: attempt.body, timeout: timeout, headers: headers),
                                                timeout: timeout, connectTimeout: min(model.reliability.connectTimeout, timeout),
                                                onBody: sink)
                guard (200..<300).contains(reply.status) else {
                    if let feature = ProviderSupport.rejectedFeature(reply, among: offered) {
                        remember(feature, for: name, warnings: &warnings)
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
                response.latencyMs = ProviderSupport.milliseconds(since: started, clock: clock)
                response.warnings += warnings + attempt.warnings
                    + Feature.allCases.filter(lacking.contains).compactMap { $0.warning(for: request, endpoint: name) }
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

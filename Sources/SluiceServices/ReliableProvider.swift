import Foundation
import SluiceRuntime

/// Keeps calls to models alive in production, around any provider, configured per model by
/// `ModelSpec.reliability` (the connect and total timeouts are the wrapped provider's, from the
/// same spec):
///
/// - **Retries** (`retries` after the first try) on 429, 408, 409, 5xx (529 included), transport
///   failures (connection refused, timeouts, a cut-off stream) and malformed replies; never on
///   400, 401, 403, 404, 422 or any other 4xx, which cannot succeed by asking again, nor on
///   configuration errors. The wait before retry *n* (0-based) is full jitter: a uniform random
///   fraction (from the injected `RandomSource`) of `min(maxBackoff, backoff × 2ⁿ)`; when the
///   server sent `Retry-After` (seconds, an HTTP date, or `retry-after-ms`), exactly that, capped by
///   `maxBackoff`.
/// - **Streams:** a streamed try that fails after some text already went to `onText` is not
///   retried (the caller has shown that text; a second try would repeat or contradict it); one
///   that fails before any text is retried like any other.
/// - **Circuit breaker** per endpoint (resolved base URL + model id, see `EndpointNaming`): after
///   `breakerFailures` consecutive failed tries that say the endpoint is unwell (the retryable kinds
///   above), the circuit opens for `breakerCooldown` seconds and every call is refused at once with
///   `.circuitOpen`, so a cascade moves to its next model without waiting. Then it is half-open:
///   one trial call goes through (others are still refused); success closes the circuit, failure
///   opens it for another cooldown. An answer that is the caller's fault (a 400, say) shows the
///   endpoint is up and resets the count. `breakerFailures: 0` disables the breaker.
/// - **Client-side rate limits** per endpoint, `requestsPerMinute` and `tokensPerMinute` over a
///   sliding 60-second window; a request's tokens are estimated as its prompt (with the counter)
///   plus its `maxTokens`. Calls queue in arrival order: a call waits (on the injected clock) for its
///   slot, or, when the slot is further away than the model's `timeout`, is refused with
///   `.rateLimited`, as is a request larger than the whole per-minute token limit. Every try,
///   retries included, takes a slot.
/// - **Attempts:** every failed try is reported, oldest first: in `ChatResponse.failedAttempts` on
///   success, in `ProviderError.attempts` (the last one included) on failure. Tries the wrapped
///   provider made itself (a structured-output fallback) are included. Each try's latency is its
///   own: the waits before it (backoff, Retry-After, rate limits) are in the previous try's
///   `waitedMs`, and the answering try's is `ChatResponse.latencyMs`.
///
/// All waiting goes through the injected `Clock`, so tests run instantly with a fake one. State is
/// shared by all calls through one instance and guarded by locks.
public final class ReliableProvider: ModelProvider, EmbeddingProvider, EndpointNaming, @unchecked Sendable {
    public enum CircuitState: Sendable, Equatable {
        /// Calls pass; `failures` consecutive failures so far.
        case closed(failures: Int)
        /// Calls are refused until `until` (clock seconds).
        case open(until: Double)
        /// The cooldown is over: the next call is a trial (`trialInFlight` when one is running).
        case halfOpen(trialInFlight: Bool)
    }

    private struct Breaker {
        var failures = 0
        var openedAt: Double?
        var trialInFlight = false
        var lastError = ""
    }

    private enum Admission {
        case allowed(trial: Bool)
        case refused(String)
    }

    private let inner: any ModelProvider
    private let clock: any Clock
    private let random: any RandomSource
    private let counter: any TokenCounter
    private let breakers = Locked<[String: Breaker]>([:])
    /// Per endpoint, the start times and token estimates of tries in the last minute (or scheduled).
    private let windows = Locked<[String: [(time: Double, tokens: Int)]]>([:])

    public init(_ inner: any ModelProvider, clock: any Clock = SystemClock(), random: any RandomSource = SystemRandom(),
                counter: any TokenCounter = EstimatingTokenCounter()) {
        self.inner = inner
        self.clock = clock
        self.random = random
        self.counter = counter
    }

    public func endpointName(for model: ModelSpec) -> String {
        (inner as? any EndpointNaming)?.endpointName(for: model) ?? "\(model.provider) \(model.baseURL ?? "(default)") \(model.id)"
    }

    /// The breaker's state for a model's endpoint now.
    public func circuitState(for model: ModelSpec) -> CircuitState {
        let now = clock.now()
        let breaker = breakers.withLock { $0[endpointName(for: model)] ?? Breaker() }
        guard let opened = breaker.openedAt else { return .closed(failures: breaker.failures) }
        let until = opened + model.reliability.breakerCooldown
        return now < until ? .open(until: until) : .halfOpen(trialInFlight: breaker.trialInFlight)
    }

    // MARK: Calls

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let tokens = counter.countChat(request.messages, encoding: request.model.tokenizer, provider: request.model.provider) + max(0, request.maxTokens)
        return try await perform(model: request.model, tokens: tokens) { emitted in
            var attempt = request
            if let onText = request.onText {
                attempt.onText = { piece in
                    emitted.set()
                    onText(piece)
                }
            }
            let response = try await inner.complete(attempt)
            return (response, response.failedAttempts)
        } finish: { response, attempts, latency in
            var response = response
            response.failedAttempts = attempts
            // The answering try alone: not the failed tries and backoff waits before it.
            response.latencyMs = response.latencyMs ?? latency
            return response
        }
    }

    public func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        try await embedWithUsage(texts, model: model).vectors
    }

    /// Embeddings with the same retries, breaker and limits, when the wrapped provider embeds.
    public func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        guard let embedder = inner as? any EmbeddingProvider else {
            throw ProviderError(.configuration, "model '\(model.name)': its provider cannot compute embeddings")
        }
        let tokens = texts.reduce(0) { $0 + counter.count($1, encoding: model.tokenizer) }
        return try await perform(model: model, tokens: tokens) { _ in
            (try await embedder.embedWithUsage(texts, model: model), [])
        } finish: { embeddings, _, _ in embeddings }
    }

    private func perform<T>(model: ModelSpec, tokens: Int, operation: (Flag) async throws -> (T, [ProviderAttempt]),
                            finish: (T, [ProviderAttempt], _ latencyMs: Double) -> T) async throws -> T {
        let settings = model.reliability
        let endpoint = endpointName(for: model)
        var attempts: [ProviderAttempt] = []
        var retry = 0
        while true {
            let trial: Bool
            switch admit(endpoint, settings: settings) {
            case .refused(let message):
                attempts.append(ProviderAttempt(error: message, latencyMs: 0))
                throw ProviderError(.circuitOpen, message, attempts: attempts)
            case .allowed(let isTrial):
                trial = isTrial
            }
            do {
                let wait = try reserve(endpoint, model: model, tokens: tokens)
                if wait > 0 { try await clock.sleep(seconds: wait) }
            } catch var error as ProviderError {
                release(endpoint, trial: trial)
                attempts.append(ProviderAttempt(error: error.message, latencyMs: 0))
                error.attempts = attempts
                throw error
            } catch {
                release(endpoint, trial: trial)
                throw error
            }

            let emitted = Flag()
            let started = clock.now()
            do {
                let (value, innerFailures) = try await operation(emitted)
                succeeded(endpoint)
                return finish(value, attempts + innerFailures, max(0, (clock.now() - started) * 1000))
            } catch {
                if error is CancellationError || Task.isCancelled {
                    release(endpoint, trial: trial)
                    throw error
                }
                var failure = error as? ProviderError ?? ProviderError(.transport, "\(error)")
                var tries = failure.attempts.isEmpty
                    ? [ProviderAttempt(error: failure.message, status: failure.status, latencyMs: max(0, (clock.now() - started) * 1000))]
                    : failure.attempts
                failed(endpoint, failure, trial: trial, settings: settings)
                let retryable = Self.isRetryable(failure)
                guard retryable, retry < settings.retries, !emitted.isSet else {
                    failure.attempts = attempts + tries
                    if retryable, emitted.isSet {
                        failure.message += " (not retried: part of the reply had already been streamed)"
                    } else if failure.attempts.count > 1 {
                        failure.message += " (gave up after \(failure.attempts.count) attempts)"
                    }
                    throw failure
                }
                let delay = backoff(retry: retry, retryAfter: failure.retryAfter, settings: settings)
                tries[tries.count - 1].waitedMs = delay * 1000
                attempts += tries
                retry += 1
                if delay > 0 { try await clock.sleep(seconds: delay) }
            }
        }
    }

    // MARK: Policy

    /// Failures worth another try, which are also the ones that say the endpoint is unwell.
    static func isRetryable(_ error: ProviderError) -> Bool {
        switch error.kind {
        case .transport, .malformedReply:
            return true
        case .http:
            guard let status = error.status else { return true }
            return status == 408 || status == 409 || status == 429 || status >= 500
        case .configuration, .exhausted, .circuitOpen, .rateLimited:
            return false
        }
    }

    func backoff(retry: Int, retryAfter: Double?, settings: Reliability) -> Double {
        if let retryAfter, retryAfter.isFinite { return min(max(0, retryAfter), max(0, settings.maxBackoff)) }
        let ceiling = min(max(0, settings.maxBackoff), max(0, settings.backoff) * pow(2, Double(min(retry, 60))))
        return ceiling * Double(random.next() >> 11) / Double(UInt64(1) << 53)
    }

    // MARK: Circuit breaker

    private func admit(_ endpoint: String, settings: Reliability) -> Admission {
        guard settings.breakerFailures > 0 else { return .allowed(trial: false) }
        let now = clock.now()
        return breakers.withLock { breakers in
            var breaker = breakers[endpoint] ?? Breaker()
            guard let opened = breaker.openedAt else { return .allowed(trial: false) }
            let remaining = opened + settings.breakerCooldown - now
            if remaining > 0 {
                return .refused("circuit open for \(endpoint) after \(breaker.failures) consecutive failures (the last: \(breaker.lastError)); "
                                + "calls are refused for another \(Self.seconds(remaining))s")
            }
            if breaker.trialInFlight {
                return .refused("circuit half-open for \(endpoint): a trial call is in flight after \(breaker.failures) consecutive failures "
                                + "(the last: \(breaker.lastError)); other calls are refused until it succeeds")
            }
            breaker.trialInFlight = true
            breakers[endpoint] = breaker
            return .allowed(trial: true)
        }
    }

    private func succeeded(_ endpoint: String) {
        breakers.withLock { _ = $0.removeValue(forKey: endpoint) }
    }

    private func failed(_ endpoint: String, _ error: ProviderError, trial: Bool, settings: Reliability) {
        guard settings.breakerFailures > 0 else { return }
        let now = clock.now()
        breakers.withLock { breakers in
            guard Self.isRetryable(error) else {
                // The endpoint answered; the request was at fault.
                breakers.removeValue(forKey: endpoint)
                return
            }
            var breaker = breakers[endpoint] ?? Breaker()
            breaker.failures += 1
            breaker.lastError = ProviderSupport.snippet(error.message)
            if trial {
                breaker.openedAt = now
                breaker.trialInFlight = false
            } else if breaker.openedAt == nil, breaker.failures >= settings.breakerFailures {
                breaker.openedAt = now
            }
            breakers[endpoint] = breaker
        }
    }

    /// A trial call that ended without a verdict (cancelled, or refused by the rate limit).
    private func release(_ endpoint: String, trial: Bool) {
        guard trial else { return }
        breakers.withLock { breakers in breakers[endpoint]?.trialInFlight = false }
    }

    // MARK: Rate limits

    /// Takes the next free slot under the endpoint's limits and returns how long to wait for it.
    private func reserve(_ endpoint: String, model: ModelSpec, tokens: Int) throws -> Double {
        let settings = model.reliability
        let rpm = settings.requestsPerMinute
        let tpm = settings.tokensPerMinute
        guard rpm != nil || tpm != nil else { return 0 }
        if let rpm, rpm <= 0 {
            throw ProviderError(.rateLimited, "client-side rate limit for \(endpoint): model '\(model.name)' allows \(rpm) requests per minute")
        }
        if let tpm, tokens > tpm {
            throw ProviderError(.rateLimited, "client-side rate limit for \(endpoint): this request needs about \(tokens) tokens "
                                + "(prompt + max tokens), more than model '\(model.name)' may use in a minute (\(tpm))")
        }
        let now = clock.now()
        return try windows.withLock { windows in
            var entries = windows[endpoint] ?? []
            entries.removeAll { $0.time <= now - 60 }
            var at = max(now, entries.last?.time ?? now)
            while true {
                let window = entries.filter { $0.time > at - 60 }
                let used = window.reduce(0) { $0 + $1.tokens }
                let fits = (rpm.map { window.count + 1 <= $0 } ?? true) && (tpm.map { used + tokens <= $0 } ?? true)
                if fits { break }
                guard let oldest = window.first else { break }
                at = oldest.time + 60
            }
            let wait = at - now
            if wait > model.timeout {
                windows[endpoint] = entries
                var limits: [String] = []
                if let rpm { limits.append("\(rpm) requests") }
                if let tpm { limits.append("\(tpm) tokens") }
                throw ProviderError(.rateLimited, "client-side rate limit for \(endpoint) (\(limits.joined(separator: " and ")) per minute): "
                                    + "the next free slot is in \(Self.seconds(wait))s, longer than model '\(model.name)''s \(Self.seconds(model.timeout))s timeout")
            }
            entries.append((at, tokens))
            windows[endpoint] = entries
            return wait
        }
    }

    private static func seconds(_ value: Double) -> String {
        JSONValue.formatNumber((value * 10).rounded(.up) / 10)
    }
}

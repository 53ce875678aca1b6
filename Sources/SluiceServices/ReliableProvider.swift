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
/// - **Deadline** (`deadline`) for the whole call: every try, backoff, Retry-After and rate-limit
///   wait. Each try's timeout is cut to what is left of it, and when the next wait would reach the
///   deadline the call fails at once (`.deadlineExceeded`) naming the deadline, the attempts made
///   and the last error, instead of sleeping into a certain failure.
/// - **Shared state:** the breaker and the rate limits live in a `ProviderCoordination`: this
///   process's memory by default, or the store, so that every process sharing the file sees one
///   breaker and one per-minute budget per endpoint.
/// - **Attempts:** every failed try is reported, oldest first: in `ChatResponse.failedAttempts` on
///   success, in `ProviderError.attempts` (the last one included) on failure. Tries the wrapped
///   provider made itself (a structured-output fallback) are included. Each try's latency is its
///   own: the waits before it (backoff, Retry-After, rate limits) are in the previous try's
///   `waitedMs`, and the answering try's is `ChatResponse.latencyMs`.
///
/// All waiting goes through the injected `Clock`, so tests run instantly with a fake one.
public final class ReliableProvider: ModelProvider, EmbeddingProvider, EndpointNaming, @unchecked Sendable {
    public enum CircuitState: Sendable, Equatable {
        /// Calls pass; `failures` consecutive failures so far.
        case closed(failures: Int)
        /// Calls are refused until `until` (clock seconds).
        case open(until: Double)
        /// The cooldown is over: the next call is a trial (`trialInFlight` when one is running).
        case halfOpen(trialInFlight: Bool)
    }

    private enum Admission {
        case allowed(trial: Bool)
        case refused(String)
    }

    private let inner: any ModelProvider
    private let clock: any Clock
    private let random: any RandomSource
    private let counter: any TokenCounter
    private let coordination: any ProviderCoordination

    public init(_ inner: any ModelProvider, clock: any Clock = SystemClock(), random: any RandomSource = SystemRandom(),
                counter: any TokenCounter = EstimatingTokenCounter(), coordination: any ProviderCoordination = InProcessCoordination()) {
        self.inner = inner
        self.clock = clock
        self.random = random
        self.counter = counter
        self.coordination = coordination
    }

    public func endpointName(for model: ModelSpec) -> String {
        (inner as? any EndpointNaming)?.endpointName(for: model) ?? "\(model.provider) \(model.baseURL ?? "(default)") \(model.id)"
    }

    /// The breaker's state for a model's endpoint now.
    public func circuitState(for model: ModelSpec) throws -> CircuitState {
        let now = clock.now()
        let breaker = try coordination.updateBreaker(endpointName(for: model)) { $0 }
        guard let opened = breaker.openedAt else { return .closed(failures: breaker.failures) }
        let until = opened + model.reliability.breakerCooldown
        return now < until ? .open(until: until) : .halfOpen(trialInFlight: breaker.trialUntil.map { $0 > now } ?? false)
    }

    // MARK: Calls

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let prompt = request.promptTokens ?? counter.countChat(request.messages, encoding: request.model.tokenizer, provider: request.model.provider)
        let tokens = prompt + max(0, request.maxTokens)
        return try await perform(model: request.model, tokens: tokens) { model, emitted in
            var attempt = request
            attempt.model = model
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
        return try await perform(model: model, tokens: tokens) { model, _ in
            (try await embedder.embedWithUsage(texts, model: model), [])
        } finish: { embeddings, _, _ in embeddings }
    }

    /// `operation` gets the model with its timeout cut to what is left of the deadline.
    private func perform<T>(model: ModelSpec, tokens: Int, operation: (ModelSpec, Flag) async throws -> (T, [ProviderAttempt]),
                            finish: (T, [ProviderAttempt], _ latencyMs: Double) -> T) async throws -> T {
        let settings = model.reliability
        let endpoint = endpointName(for: model)
        guard settings.deadline > 0, settings.deadline.isFinite else {
            throw ProviderError(.configuration, "model '\(model.name)' has a deadline of \(JSONValue.formatNumber(settings.deadline))s; it must be more than 0")
        }
        let deadline = Deadline(at: clock.now() + settings.deadline, seconds: settings.deadline, endpoint: endpoint)
        var attempts: [ProviderAttempt] = []
        var retry = 0
        while true {
            let trial: Bool
            switch try admit(endpoint, settings: settings, lease: deadline.at) {
            case .refused(let message):
                attempts.append(ProviderAttempt(error: message, latencyMs: 0))
                throw ProviderError(.circuitOpen, message, attempts: attempts)
            case .allowed(let isTrial):
                trial = isTrial
            }
            do {
                let wait = try reserve(endpoint, model: model, tokens: tokens, deadline: deadline)
                if wait > 0 { try await clock.sleep(seconds: wait) }
            } catch var error as ProviderError {
                release(endpoint, trial: trial)
                if error.kind == .deadlineExceeded {
                    throw deadline.exceeded(attempts: attempts, waiting: error.message)
                }
                attempts.append(ProviderAttempt(error: error.message, latencyMs: 0))
                error.attempts = attempts
                throw error
            } catch {
                release(endpoint, trial: trial)
                throw error
            }

            let emitted = Flag()
            let started = clock.now()
            var bounded = model
            bounded.timeout = min(model.timeout, max(0.001, deadline.at - started))
            do {
                let (value, innerFailures) = try await operation(bounded, emitted)
                succeeded(endpoint, settings: settings)
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
                let left = deadline.at - clock.now()
                if delay >= left {
                    let why = left <= 0 ? "" : failure.retryAfter != nil
                        ? "the server asked to wait \(Self.seconds(delay))s (Retry-After), more than the \(Self.seconds(left))s left"
                        : "the next backoff of \(Self.seconds(delay))s would pass it"
                    throw deadline.exceeded(attempts: attempts + tries, waiting: why)
                }
                tries[tries.count - 1].waitedMs = delay * 1000
                attempts += tries
                retry += 1
                if delay > 0 { try await clock.sleep(seconds: delay) }
            }
        }
    }

    /// When a call must be over, and the error that says it is.
    private struct Deadline {
        var at: Double
        var seconds: Double
        var endpoint: String

        /// `attempts` are the failed tries so far (the last one's error is the cause); `waiting`
        /// says why no other try fits, when one would have followed.
        func exceeded(attempts: [ProviderAttempt], waiting: String) -> ProviderError {
            var message = "no answer from \(endpoint) within the call's deadline of \(ReliableProvider.seconds(seconds))s"
            if let last = attempts.last {
                message += " after \(attempts.count) attempt\(attempts.count == 1 ? "" : "s") (the last: \(last.error))"
            }
            if !waiting.isEmpty { message += "; \(waiting)" }
            return ProviderError(.deadlineExceeded, message, status: attempts.last?.status, attempts: attempts)
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
        case .configuration, .exhausted, .circuitOpen, .rateLimited, .deadlineExceeded:
            return false
        }
    }

    func backoff(retry: Int, retryAfter: Double?, settings: Reliability) -> Double {
        if let retryAfter, retryAfter.isFinite { return min(max(0, retryAfter), max(0, settings.maxBackoff)) }
        let ceiling = min(max(0, settings.maxBackoff), max(0, settings.backoff) * pow(2, Double(min(retry, 60))))
        return ceiling * Double(random.next() >> 11) / Double(UInt64(1) << 53)
    }

    // MARK: Circuit breaker

    /// `lease`: until when a trial call may hold a half-open circuit (the call's deadline), so a
    /// trial whose process died does not keep the circuit half-open for good.
    private func admit(_ endpoint: String, settings: Reliability, lease: Double) throws -> Admission {
        guard settings.breakerFailures > 0 else { return .allowed(trial: false) }
        let now = clock.now()
        return try coordination.updateBreaker(endpoint) { breaker in
            guard let opened = breaker.openedAt else { return .allowed(trial: false) }
            let remaining = opened + settings.breakerCooldown - now
            if remaining > 0 {
                return .refused("circuit open for \(endpoint) after \(breaker.failures) consecutive failures (the last: \(breaker.lastError)); "
                                + "calls are refused for another \(Self.seconds(remaining))s")
            }
            if let trialUntil = breaker.trialUntil, trialUntil > now {
                return .refused("circuit half-open for \(endpoint): a trial call is in flight after \(breaker.failures) consecutive failures "
                                + "(the last: \(breaker.lastError)); other calls are refused until it succeeds")
            }
            breaker.trialUntil = lease
            return .allowed(trial: true)
        }
    }

    // The verdicts below are recorded after the call, best effort: the call's outcome stands
    // even when the store cannot take the update (it is then lost, as if the process had ended
    // before recording it; a trial's lease still ends at its deadline).

    private func succeeded(_ endpoint: String, settings: Reliability) {
        guard settings.breakerFailures > 0 else { return }
        _ = try? coordination.updateBreaker(endpoint) { $0 = BreakerRecord() }
    }

    private func failed(_ endpoint: String, _ error: ProviderError, trial: Bool, settings: Reliability) {
        guard settings.breakerFailures > 0 else { return }
        let now = clock.now()
        _ = try? coordination.updateBreaker(endpoint) { breaker in
            guard Self.isRetryable(error) else {
                // The endpoint answered; the request was at fault.
                breaker = BreakerRecord()
                return
            }
            breaker.failures += 1
            breaker.lastError = ProviderSupport.snippet(error.message)
            if trial {
                breaker.openedAt = now
                breaker.trialUntil = nil
            } else if breaker.openedAt == nil, breaker.failures >= settings.breakerFailures {
                breaker.openedAt = now
            }
        }
    }

    /// A trial call that ended without a verdict (cancelled, or refused by the rate limit).
    private func release(_ endpoint: String, trial: Bool) {
        guard trial else { return }
        _ = try? coordination.updateBreaker(endpoint) { $0.trialUntil = nil }
    }

    // MARK: Rate limits

    /// Takes the next free slot under the endpoint's limits and returns how long to wait for it.
    /// A slot further away than the model's `timeout` is refused (`.rateLimited`); one that is
    /// further than the call's deadline allows throws `.deadlineExceeded` with the reason.
    private func reserve(_ endpoint: String, model: ModelSpec, tokens: Int, deadline: Deadline) throws -> Double {
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
        return try coordination.takeSlot(endpoint, since: now - 60) { entries in
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
            var limits: [String] = []
            if let rpm { limits.append("\(rpm) requests") }
            if let tpm { limits.append("\(tpm) tokens") }
            let limit = "client-side rate limit for \(endpoint) (\(limits.joined(separator: " and ")) per minute)"
            if wait > model.timeout {
                throw ProviderError(.rateLimited, "\(limit): the next free slot is in \(Self.seconds(wait))s, "
                                    + "longer than model '\(model.name)''s \(Self.seconds(model.timeout))s timeout")
            }
            if at >= deadline.at {
                throw ProviderError(.deadlineExceeded, "the next free slot under the \(limit) is in \(Self.seconds(wait))s, "
                                    + "past the deadline (\(Self.seconds(max(0, deadline.at - now)))s left)")
            }
            return (RateSlot(time: at, tokens: tokens), wait)
        }
    }

    fileprivate static func seconds(_ value: Double) -> String {
        JSONValue.formatNumber((value * 10).rounded(.up) / 10)
    }
}

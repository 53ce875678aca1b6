import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class ReliableProviderTests: XCTestCase {
    private func spec(retries: Int = 2, backoff: Double = 1, maxBackoff: Double = 8, breaker: Int = 0, cooldown: Double = 30,
                      rpm: Int? = nil, tpm: Int? = nil, timeout: Double = 60, deadline: Double = 600, baseURL: String? = nil) -> ModelSpec {
        ModelSpec(name: "m", id: "m-1", baseURL: baseURL, timeout: timeout,
                  reliability: Reliability(retries: retries, backoff: backoff, maxBackoff: maxBackoff, connectTimeout: 5, breakerFailures: breaker,
                                           breakerCooldown: cooldown, requestsPerMinute: rpm, tokensPerMinute: tpm, deadline: deadline))
    }

    private func ask(_ provider: any ModelProvider, _ model: ModelSpec, maxTokens: Int = 10,
                     onText: (@Sendable (String) -> Void)? = nil) async throws -> ChatResponse {
        try await provider.complete(ChatRequest(model: model, messages: [ChatMessage(role: "user", content: "hi")], maxTokens: maxTokens,
                                                onText: onText))
    }

    private func http(_ status: Int, retryAfter: Double? = nil) -> ProviderError {
        ProviderError(.http, "HTTP \(status) from http://test/v1", status: status, retryAfter: retryAfter)
    }

    // MARK: Retries

    func testRetriesWithExponentialBackoffAndFullJitter() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider([.fail(http(500)), .fail(ProviderError(.transport, "connection refused")), .reply("ok")])
        let provider = ReliableProvider(inner, clock: clock, random: FixedRandom.half)
        let reply = try await ask(provider, spec(retries: 3))
        XCTAssertEqual(reply.text, "ok")
        XCTAssertEqual(clock.sleeps, [0.5, 1], "half of 1×2⁰, then half of 1×2¹")
        XCTAssertEqual(reply.failedAttempts.map(\.error), ["HTTP 500 from http://test/v1", "connection refused"])
        XCTAssertEqual(reply.failedAttempts.map(\.status), [500, nil])
        XCTAssertEqual(reply.failedAttempts.map(\.waitedMs), [500, 1000])
    }

    /// Each try's latency is its own: the backoff waits before a try are not part of it.
    func testAttemptLatenciesExcludeTheBackoffBeforeThem() async throws {
        let clock = FakeClock()
        // Tries take 0.2 s, 0.3 s and 0.05 s of the fake clock; the waits between them are 0.5 s and 1 s.
        let inner = TimedProvider(clock: clock, tries: [(0.2, .fail(http(500))), (0.3, .fail(http(502))), (0.05, .reply("ok"))])
        let reply = try await ask(ReliableProvider(inner, clock: clock, random: FixedRandom.half), spec(retries: 3))
        XCTAssertEqual(clock.sleeps, [0.5, 1])
        // (Rounded: the fake clock counts seconds since 1970, where a microsecond is below a Double's precision.)
        XCTAssertEqual(reply.failedAttempts.map { $0.latencyMs.rounded() }, [200, 300])
        XCTAssertEqual(reply.failedAttempts.map(\.waitedMs), [500, 1000])
        XCTAssertEqual(try XCTUnwrap(reply.latencyMs), 50, accuracy: 0.01, "the answering try alone, not the 2.05 s since the first")
    }

    func testJitterIsCappedByMaxBackoff() {
        let provider = ReliableProvider(SequenceProvider([]), clock: FakeClock(), random: FixedRandom([UInt64.max]))
        let settings = Reliability(backoff: 1, maxBackoff: 5)
        let waits = (0..<6).map { provider.backoff(retry: $0, retryAfter: nil, settings: settings) }
        for (wait, ceiling) in zip(waits, [1.0, 2, 4, 5, 5, 5]) { XCTAssertEqual(wait, ceiling, accuracy: 1e-9) }
        let zero = ReliableProvider(SequenceProvider([]), clock: FakeClock(), random: FixedRandom([0]))
        XCTAssertEqual(zero.backoff(retry: 3, retryAfter: nil, settings: settings), 0)
    }

    func testRetryAfterIsHonouredAndCapped() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider([.fail(http(429, retryAfter: 3)), .fail(http(503, retryAfter: 120)), .reply("ok")])
        let reply = try await ask(ReliableProvider(inner, clock: clock, random: FixedRandom.half), spec(retries: 2, maxBackoff: 10))
        XCTAssertEqual(clock.sleeps, [3, 10])
        XCTAssertEqual(reply.failedAttempts.map(\.waitedMs), [3000, 10_000])
    }

    func testNoRetryOnRequestsThatCannotSucceed() async throws {
        for status in [400, 401, 403, 404, 422] {
            let inner = SequenceProvider([.fail(http(status)), .reply("never")])
            let error = await expectProviderError({ try await self.ask(ReliableProvider(inner, clock: FakeClock()), self.spec()) },
                                                  kind: .http, status: status)
            XCTAssertEqual(inner.callCount, 1)
            XCTAssertEqual(error?.attempts.count, 1)
            XCTAssertEqual(error?.message, "HTTP \(status) from http://test/v1")
        }
        let configuration = SequenceProvider([.fail(ProviderError(.configuration, "no key"))])
        _ = await expectProviderError({ try await self.ask(ReliableProvider(configuration, clock: FakeClock()), self.spec()) }, kind: .configuration)
        XCTAssertEqual(configuration.callCount, 1)
    }

    func testGivingUpReportsEveryAttempt() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider([.fail(http(502)), .fail(http(503)), .fail(ProviderError(.malformedReply, "empty choices"))])
        let error = await expectProviderError({ try await self.ask(ReliableProvider(inner, clock: clock, random: FixedRandom.half), self.spec(retries: 2)) },
                                              kind: .malformedReply, containing: ["empty choices (gave up after 3 attempts)"])
        XCTAssertEqual(error?.attempts.map(\.status), [502, 503, nil])
        XCTAssertEqual(error?.attempts.last?.waitedMs, 0)
        XCTAssertEqual(inner.callCount, 3)
    }

    func testInnerAttemptsAreKept() async throws {
        // A provider's own fallback try (the response_format one) is part of the record.
        struct Fallback: ModelProvider {
            func complete(_ request: ChatRequest) async throws -> ChatResponse {
                ChatResponse(text: "x", model: "m", inputTokens: 1, outputTokens: 1,
                             failedAttempts: [ProviderAttempt(error: "HTTP 400: response_format", status: 400, latencyMs: 3)])
            }
        }
        let reply = try await ask(ReliableProvider(Fallback(), clock: FakeClock()), spec())
        XCTAssertEqual(reply.failedAttempts.map(\.status), [400])
    }

    func testAStreamThatAlreadyEmittedTextIsNotRetried() async throws {
        let cut = ProviderError(.transport, "the stream from http://test/v1 was cut off")
        let inner = SequenceProvider([.streamThenFail(["par", "tial"], cut), .reply("whole")])
        let pieces = Pieces()
        let error = await expectProviderError({ try await self.ask(ReliableProvider(inner, clock: FakeClock()), self.spec(), onText: pieces.onText) },
                                              kind: .transport, containing: ["not retried: part of the reply had already been streamed"])
        XCTAssertEqual(pieces.all, ["par", "tial"])
        XCTAssertEqual(inner.callCount, 1)
        XCTAssertEqual(error?.attempts.count, 1)

        // Failing before any text is retried as usual.
        let early = SequenceProvider([.streamThenFail([], cut), .reply("whole")])
        let fresh = Pieces()
        let reply = try await ask(ReliableProvider(early, clock: FakeClock()), spec(), onText: fresh.onText)
        XCTAssertEqual(reply.text, "whole")
        XCTAssertEqual(fresh.all, ["whole"])
        XCTAssertEqual(reply.failedAttempts.count, 1)
    }

    // MARK: Circuit breaker

    func testBreakerOpensRefusesThenHalfOpensAndCloses() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider([.fail(http(500)), .fail(http(500)), .fail(http(500)), .reply("back")])
        let provider = ReliableProvider(inner, clock: clock, random: FixedRandom([0]))
        let model = spec(retries: 5, breaker: 3, cooldown: 30)

        // Three consecutive failures open the circuit mid-call: the call stops retrying at once.
        let opened = await expectProviderError({ try await self.ask(provider, model) }, kind: .circuitOpen,
                                               containing: ["circuit open for http://test/v1 m after 3 consecutive failures",
                                                            "refused for another 30s"])
        XCTAssertEqual(opened?.attempts.count, 4, "three failed tries and the refusal")
        XCTAssertEqual(inner.callCount, 3)
        XCTAssertEqual(try provider.circuitState(for: model), .open(until: clock.now() + 30))

        // While open, calls are refused without reaching the endpoint or waiting.
        clock.advance(10)
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .circuitOpen, containing: ["another 20s"])
        XCTAssertEqual(inner.callCount, 3)

        // After the cooldown one trial goes through; it succeeds and the circuit closes.
        clock.advance(20)
        XCTAssertEqual(try provider.circuitState(for: model), .halfOpen(trialInFlight: false))
        let reply = try await ask(provider, model)
        XCTAssertEqual(reply.text, "back")
        XCTAssertEqual(try provider.circuitState(for: model), .closed(failures: 0))
    }

    func testAFailedTrialReopensAndOnlyOneTrialRunsAtATime() async throws {
        let clock = FakeClock()
        let gate = Gate()
        let inner = GatedProvider(gate: gate, outcomes: [.fail(http(503)), .fail(http(503)), .fail(http(503)), .reply("later")])
        let provider = ReliableProvider(inner, clock: clock, random: FixedRandom([0]))
        let model = spec(retries: 0, breaker: 2, cooldown: 5)
        gate.open()
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .http)
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .http)
        XCTAssertEqual(try provider.circuitState(for: model), .open(until: clock.now() + 5))

        // The trial fails: open again for a full cooldown.
        clock.advance(5)
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .http, status: 503)
        XCTAssertEqual(try provider.circuitState(for: model), .open(until: clock.now() + 5))

        // Next trial: held at the gate while a second call arrives and is refused.
        clock.advance(5)
        gate.close()
        let before = gate.arrivals
        let trial = Task { try await askOnce(provider, model) }
        await gate.waitForArrival(after: before)
        XCTAssertEqual(try provider.circuitState(for: model), .halfOpen(trialInFlight: true))
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .circuitOpen, containing: ["a trial call is in flight"])
        gate.open()
        let reply = try await trial.value
        XCTAssertEqual(reply.text, "later")
        XCTAssertEqual(try provider.circuitState(for: model), .closed(failures: 0))
    }

    func testClientErrorsDoNotOpenTheBreakerAndEndpointsAreSeparate() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider([.fail(http(500)), .fail(http(400)), .fail(http(500)), .reply("ok")])
        let provider = ReliableProvider(inner, clock: clock)
        let model = spec(retries: 0, breaker: 2)
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .http, status: 500)
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .http, status: 400)
        XCTAssertEqual(try provider.circuitState(for: model), .closed(failures: 0), "the endpoint answered; the count starts over")
        _ = await expectProviderError({ try await self.ask(provider, model) }, kind: .http, status: 500)
        XCTAssertEqual(try provider.circuitState(for: model), .closed(failures: 1))

        // Breaker state is per endpoint: the fallback name includes the base URL and model id.
        let unnamed = Gate()
        unnamed.open()
        let plain = ReliableProvider(GatedProvider(gate: unnamed, outcomes: [.fail(http(500)), .fail(http(500))]), clock: clock)
        let a = spec(retries: 0, breaker: 1, baseURL: "http://a/v1")
        let b = spec(retries: 0, breaker: 1, baseURL: "http://b/v1")
        _ = await expectProviderError({ try await self.ask(plain, a) }, kind: .http)
        XCTAssertEqual(try plain.circuitState(for: a), .open(until: clock.now() + 30))
        XCTAssertEqual(try plain.circuitState(for: b), .closed(failures: 0))
    }

    // MARK: Rate limits

    func testRequestsPerMinuteWaitOnTheClock() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider(Array(repeating: .reply("ok"), count: 5))
        let provider = ReliableProvider(inner, clock: clock)
        let model = spec(rpm: 2)
        for _ in 0..<5 { _ = try await ask(provider, model) }
        XCTAssertEqual(clock.sleeps, [60, 60], "two per minute: the 3rd waits for the 1st to age out, the 5th for the 3rd")
    }

    func testTokensPerMinuteAndRefusals() async throws {
        let clock = FakeClock()
        let provider = ReliableProvider(SequenceProvider(Array(repeating: .reply("ok"), count: 5)), clock: clock)
        // The prompt is 8 tokens with the default counter (framing included), plus 100 max tokens: 108 per request.
        let model = spec(tpm: 250, timeout: 30)
        _ = try await ask(provider, model, maxTokens: 100)
        _ = try await ask(provider, model, maxTokens: 100)
        XCTAssertEqual(clock.sleeps, [])
        clock.advance(20)
        // A third would pass 250 within the minute: its slot is 40s away, beyond the 30s timeout.
        let refused = await expectProviderError({ try await self.ask(provider, model, maxTokens: 100) }, kind: .rateLimited,
                                                containing: ["client-side rate limit", "250 tokens per minute", "next free slot is in 40s",
                                                             "30s timeout"])
        XCTAssertEqual(refused?.attempts.count, 1)
        clock.advance(15)
        _ = try await ask(provider, model, maxTokens: 100)
        XCTAssertEqual(clock.sleeps, [25])

        // A request bigger than the whole minute's budget can never pass.
        _ = await expectProviderError({ try await self.ask(provider, model, maxTokens: 1000) }, kind: .rateLimited,
                                      containing: ["more than model 'm' may use in a minute (250)"])
    }

    func testRateLimitIsSharedByConcurrentCalls() async throws {
        // Time stands still, so every wait is measured from the same moment, whatever order the calls run in.
        let clock = FakeClock(advancing: false)
        let provider = ReliableProvider(SequenceProvider(Array(repeating: .reply("ok"), count: 6)), clock: clock)
        let model = spec(rpm: 3, timeout: 600)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 { group.addTask { _ = try await askOnce(provider, model) } }
            try await group.waitForAll()
        }
        XCTAssertEqual(clock.sleeps, [60, 60, 60], "three go at once; three wait a minute for a slot")
    }
}

/// One plain request, from any task.
func askOnce(_ provider: any ModelProvider, _ model: ModelSpec) async throws -> ChatResponse {
    try await provider.complete(ChatRequest(model: model, messages: [ChatMessage(role: "user", content: "hi")], maxTokens: 10))
}

/// Lets a test hold calls at a gate and know when one has arrived.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var arrived = 0

    func open() { lock.withLock { isOpen = true } }
    func close() { lock.withLock { isOpen = false } }

    func pass() async {
        lock.withLock { arrived += 1 }
        while !lock.withLock({ isOpen }) { try? await Task.sleep(nanoseconds: 1_000_000) }
    }

    var arrivals: Int { lock.withLock { arrived } }

    func waitForArrival(after count: Int) async {
        while lock.withLock({ arrived }) <= count { try? await Task.sleep(nanoseconds: 1_000_000) }
    }
}

final class GatedProvider: ModelProvider, @unchecked Sendable {
    let gate: Gate
    let inner: SequenceProvider
    init(gate: Gate, outcomes: [SequenceProvider.Outcome]) {
        self.gate = gate
        inner = SequenceProvider(outcomes)
    }
    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        await gate.pass()
        return try await inner.complete(request)
    }
}

/// A provider whose tries take time on a fake clock.
final class TimedProvider: ModelProvider, @unchecked Sendable {
    private let clock: FakeClock
    private let lock = NSLock()
    private var tries: [(seconds: Double, outcome: SequenceProvider.Outcome)]

    init(clock: FakeClock, tries: [(Double, SequenceProvider.Outcome)]) {
        self.clock = clock
        self.tries = tries.map { (seconds: $0.0, outcome: $0.1) }
    }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let next = lock.withLock { tries.removeFirst() }
        clock.advance(next.seconds)
        switch next.outcome {
        case .reply(let text): return ChatResponse(text: text, model: request.model.id, inputTokens: 1, outputTokens: 1)
        case .fail(let error), .streamThenFail(_, let error): throw error
        }
    }
}

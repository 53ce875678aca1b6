import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// The per-call deadline: every try, backoff and wait of one call fits in it, and a call that
/// cannot finish in time fails at once, naming the deadline, the attempts and the last error.
final class DeadlineTests: XCTestCase {
    private func spec(retries: Int = 5, backoff: Double = 1, maxBackoff: Double = 20, timeout: Double = 60, deadline: Double,
                      rpm: Int? = nil, baseURL: String? = nil) -> ModelSpec {
        ModelSpec(name: "m", id: "m-1", baseURL: baseURL, timeout: timeout,
                  reliability: Reliability(retries: retries, backoff: backoff, maxBackoff: maxBackoff, connectTimeout: 5, breakerFailures: 0,
                                           requestsPerMinute: rpm, deadline: deadline))
    }

    private func http(_ status: Int, retryAfter: Double? = nil) -> ProviderError {
        ProviderError(.http, "HTTP \(status) from http://test/v1", status: status, retryAfter: retryAfter)
    }

    func testTheDefaultDeadlineIsOneDefaultTimeout() {
        XCTAssertEqual(Reliability().deadline, 60)
        XCTAssertEqual(ModelSpec(name: "m").timeout, Reliability().deadline, "a stalled first try is not followed by more")
    }

    func testABackoffThatWouldPassTheDeadlineFailsAtOnce() async throws {
        let clock = FakeClock()
        // Tries take 2 s each; full jitter at its ceiling: waits of 1, 2, 4 s.
        let inner = TimedProvider(clock: clock, tries: [(2, .fail(http(503))), (2, .fail(http(502))), (2, .fail(http(500))), (2, .reply("late"))])
        let provider = ReliableProvider(inner, clock: clock, random: FixedRandom([UInt64.max]))
        let started = clock.now()
        let error = await expectProviderError({ try await askOnce(provider, self.spec(deadline: 10)) }, kind: .deadlineExceeded,
                                              status: 500,
                                              containing: ["no answer from openai (default) m-1 within the call's deadline of 10s after 3 attempts",
                                                           "(the last: HTTP 500 from http://test/v1)",
                                                           "the next backoff of 4s would pass it"])
        // 2 + 1 + 2 + 2 + 2 = 9 s: the 4 s backoff is never slept.
        XCTAssertEqual(clock.sleeps.map { $0.rounded() }, [1, 2])
        XCTAssertEqual(clock.now() - started, 9, accuracy: 0.001)
        XCTAssertEqual(error?.attempts.map(\.status), [503, 502, 500])
        XCTAssertEqual(error?.attempts.map { $0.waitedMs.rounded() }, [1000, 2000, 0])
    }

    func testARetryAfterPastTheDeadlineFailsAtOnce() async throws {
        let clock = FakeClock()
        let inner = SequenceProvider([.fail(http(429, retryAfter: 15)), .reply("never")])
        let error = await expectProviderError({ try await askOnce(ReliableProvider(inner, clock: clock), self.spec(deadline: 10)) },
                                              kind: .deadlineExceeded,
                                              containing: ["deadline of 10s after 1 attempt (the last: HTTP 429",
                                                           "the server asked to wait 15s (Retry-After), more than the 10s left"])
        XCTAssertEqual(clock.sleeps, [])
        XCTAssertEqual(inner.callCount, 1)
        XCTAssertEqual(error?.attempts.count, 1)
    }

    func testEachTryGetsWhatIsLeftOfTheDeadlineAsItsTimeout() async throws {
        let clock = FakeClock()
        let seen = Locked<[Double]>([])
        struct Recording: ModelProvider {
            let clock: FakeClock
            let seen: Locked<[Double]>
            func complete(_ request: ChatRequest) async throws -> ChatResponse {
                seen.withLock { $0.append(request.model.timeout) }
                clock.advance(request.model.timeout)
                throw ProviderError(.transport, "no reply within \(request.model.timeout)s")
            }
        }
        let provider = ReliableProvider(Recording(clock: clock, seen: seen), clock: clock, random: FixedRandom([0]))
        _ = await expectProviderError({ try await askOnce(provider, self.spec(timeout: 4, deadline: 10)) }, kind: .deadlineExceeded,
                                      containing: ["after 3 attempts (the last: no reply within 2.0s)"])
        XCTAssertEqual(seen.withLock { $0 }, [4, 4, 2], "the third try has 2 s of the 10 left")
    }

    func testARateLimitSlotPastTheDeadlineIsRefusedAtOnce() async throws {
        let clock = FakeClock()
        let provider = ReliableProvider(SequenceProvider([.reply("a"), .reply("b")]), clock: clock)
        let model = spec(deadline: 30, rpm: 1)
        _ = try await askOnce(provider, model)
        _ = await expectProviderError({ try await askOnce(provider, model) }, kind: .deadlineExceeded,
                                      containing: ["deadline of 30s; the next free slot under the client-side rate limit",
                                                   "(1 requests per minute) is in 60s, past the deadline (30s left)"])
        XCTAssertEqual(clock.sleeps, [])
    }

    func testANonPositiveDeadlineIsAConfigurationError() async {
        _ = await expectProviderError({ try await askOnce(ReliableProvider(SequenceProvider([.reply("x")]), clock: FakeClock()), self.spec(deadline: 0)) },
                                      kind: .configuration, containing: ["model 'm' has a deadline of 0s; it must be more than 0"])
    }

    /// A server that takes the request and never answers, on the real clock: the call ends at its
    /// deadline (not after timeout × attempts), with every try in the error.
    func testAStalledEndpointFailsAtTheDeadline() async throws {
        let server = try TestHTTPServer(answers: [.stall])
        addTeardownBlock { server.stop() }
        let provider = ReliableProvider(OpenAICompatibleProvider(environment: [:]), random: FixedRandom([0]))
        let model = spec(retries: 5, backoff: 0.05, timeout: 1, deadline: 1.5, baseURL: server.baseURL)
        let started = Date()
        let error = await expectProviderError({ try await askOnce(provider, model) }, kind: .deadlineExceeded,
                                              containing: ["no answer from", "within the call's deadline of 1.5s after",
                                                           "no reply from \(server.baseURL)/chat/completions within"])
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 1.4)
        XCTAssertLessThan(elapsed, 4, "timeout 1 s × 6 attempts would be 6 s")
        // A 1 s try, then one with the 0.5 s left (a loaded machine may leave no time for the second).
        XCTAssertTrue((1...2).contains(error?.attempts.count ?? 0), "\(error?.attempts ?? [])")
        XCTAssertEqual(server.requests.count, error?.attempts.count)
    }
}

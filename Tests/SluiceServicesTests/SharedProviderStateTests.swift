import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// The circuit breaker and the rate limits kept in the store: two store handles on one file (each
/// with its own SQLite connection, as two processes have) see one breaker and one per-minute limit.
final class SharedProviderStateTests: XCTestCase {
    private var path: String!

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-shared-\(UUID().uuidString).db").path
    }

    override func tearDownWithError() throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private func spec(breaker: Int = 0, rpm: Int? = nil, timeout: Double = 30) -> ModelSpec {
        ModelSpec(name: "m", id: "m-1", timeout: timeout,
                  reliability: Reliability(retries: 0, breakerFailures: breaker, breakerCooldown: 30, requestsPerMinute: rpm, deadline: 600))
    }

    private func http(_ status: Int) -> ProviderError { ProviderError(.http, "HTTP \(status) from http://test/v1", status: status) }

    func testOneBreakerOpensForEveryHandleAfterNFailures() async throws {
        let clock = FakeClock()
        let first = ReliableProvider(SequenceProvider(Array(repeating: .fail(http(503)), count: 3)), clock: clock,
                                     coordination: try SQLiteStore(path: path))
        let secondInner = SequenceProvider([.fail(http(503)), .reply("never")])
        let second = ReliableProvider(secondInner, clock: clock, coordination: try SQLiteStore(path: path))
        let model = spec(breaker: 3)

        // Failures from both handles count towards one breaker: 2 + 1 = 3 opens it.
        _ = await expectProviderError({ try await askOnce(first, model) }, kind: .http)
        _ = await expectProviderError({ try await askOnce(second, model) }, kind: .http)
        XCTAssertEqual(try first.circuitState(for: model), .closed(failures: 2))
        _ = await expectProviderError({ try await askOnce(first, model) }, kind: .http)
        XCTAssertEqual(try second.circuitState(for: model), .open(until: clock.now() + 30))

        // The other handle is refused without reaching its endpoint.
        _ = await expectProviderError({ try await askOnce(second, model) }, kind: .circuitOpen,
                                      containing: ["circuit open for http://test/v1 m after 3 consecutive failures", "HTTP 503"])
        XCTAssertEqual(secondInner.callCount, 1)

        // After the cooldown one handle's trial holds the circuit half-open for both; its success closes it for both.
        clock.advance(30)
        let gate = Gate()
        /// Held at the gate, under the same endpoint name as the others.
        struct NamedGated: ModelProvider, EndpointNaming {
            let inner: GatedProvider
            func endpointName(for model: ModelSpec) -> String { "http://test/v1 m" }
            func complete(_ request: ChatRequest) async throws -> ChatResponse { try await inner.complete(request) }
        }
        let trialProvider = ReliableProvider(NamedGated(inner: GatedProvider(gate: gate, outcomes: [.reply("back")])), clock: clock,
                                             coordination: try SQLiteStore(path: path))
        let trial = Task { try await askOnce(trialProvider, model) }
        await gate.waitForArrival(after: 0)
        _ = await expectProviderError({ try await askOnce(second, model) }, kind: .circuitOpen, containing: ["a trial call is in flight"])
        gate.open()
        let answer = try await trial.value
        XCTAssertEqual(answer.text, "back")
        XCTAssertEqual(try first.circuitState(for: model), .closed(failures: 0))
    }

    func testATrialWhoseProcessDiedStopsHoldingTheCircuitAtItsDeadline() async throws {
        let clock = FakeClock()
        let store = try SQLiteStore(path: path)
        // A trial taken by a process that then died: its lease runs to its call's deadline.
        try store.updateBreaker("http://test/v1 m") { record in
            record = BreakerRecord(failures: 3, openedAt: clock.now() - 60, trialUntil: clock.now() + 10, lastError: "HTTP 503")
        }
        let provider = ReliableProvider(SequenceProvider([.reply("ok")]), clock: clock, coordination: try SQLiteStore(path: path))
        _ = await expectProviderError({ try await askOnce(provider, self.spec(breaker: 3)) }, kind: .circuitOpen, containing: ["a trial call is in flight"])
        clock.advance(10)
        let answer = try await askOnce(provider, spec(breaker: 3))
        XCTAssertEqual(answer.text, "ok")
    }

    /// Ten calls at one instant over two handles, limited to 4 a minute with a 30 s timeout: the
    /// handles together admit exactly 4 (a fifth slot is 60 s away and refused), where two
    /// separate in-process limits would admit 8.
    func testRequestsPerMinuteAcrossTwoHandlesSumToTheLimit() async throws {
        let clock = FakeClock(advancing: false)
        let model = spec(rpm: 4)
        func admitted(_ providers: [ReliableProvider]) async -> Int {
            await withTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    let provider = providers[index % providers.count]
                    group.addTask { (try? await askOnce(provider, model)) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        let shared = [try SQLiteStore(path: path), try SQLiteStore(path: path)].map {
            ReliableProvider(SequenceProvider(Array(repeating: .reply("ok"), count: 10)), clock: clock, coordination: $0)
        }
        let sharedAdmitted = await admitted(shared)
        XCTAssertEqual(sharedAdmitted, 4)
        let separate = (0..<2).map { _ in ReliableProvider(SequenceProvider(Array(repeating: .reply("ok"), count: 10)), clock: clock) }
        let separateAdmitted = await admitted(separate)
        XCTAssertEqual(separateAdmitted, 8, "each process alone keeps its own limit")

        // A minute later the slots are free again, for either handle.
        clock.advance(60)
        let later = try await askOnce(shared[1], model)
        XCTAssertEqual(later.text, "ok")
    }

    func testSlotsAreForgottenAfterAMinute() throws {
        let store = try SQLiteStore(path: path)
        for time in [100.0, 130, 170] {
            try store.takeSlot("e", since: time - 60) { _ in (RateSlot(time: time, tokens: 1), ()) }
        }
        let seen = try store.takeSlot("e", since: 175 - 60) { entries in (nil, entries.map(\.time)) }
        XCTAssertEqual(seen, [130, 170])
        let rows = try store.database.withConnection { db in try db.query("SELECT count(*) FROM provider_rate_slots") { $0.int(0) } }
        XCTAssertEqual(rows, [2], "the slot from before the window is deleted")
    }
}

import Foundation
import SluiceRuntime
import SluiceSemantics
@testable import SluiceServices
import XCTest

/// Alerts evaluated against the store after a run: each metric, windows, one firing per window
/// across store handles, budget alerts through `BudgetWindowUsage`, and webhook delivery.
final class AlertTests: XCTestCase {
    private var path: String!

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-alerts-\(UUID().uuidString).db").path
    }

    override func tearDownWithError() throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private func rule(_ name: String, _ subject: AlertRule.Subject, _ threshold: Double, comparison: ExpectDecl.Comparison = .above,
                      window: Double? = 600, condition: String = "") -> AlertRule {
        AlertRule(name: name, subject: subject, comparison: comparison, threshold: threshold, window: window,
                  condition: condition.isEmpty ? name : condition, origin: "a.sluice:1:1")
    }

    /// A run of `pipeline` from `start` for `seconds`, ending with `status`.
    @discardableResult
    private func run(_ store: SQLiteStore, _ id: String, pipeline: String = "p", start: Double, seconds: Double,
                     status: TraceRunEnd.Status = .ok, cost: Double = 0.01, tokens: Int = 100, user: String? = nil) throws -> String {
        try store.runStarted(TraceRun(id: id, pipeline: pipeline, file: "a.sluice", startedAt: start, inputs: .object([]), user: user))
        try store.runEnded(TraceRunEnd(id: id, status: status, endedAt: start + seconds, output: nil, error: status == .error ? "boom" : nil,
                                       cost: cost, tokens: tokens))
        return id
    }

    func testPerRunMetricsFireOncePerWindow() throws {
        let clock = FakeClock(start: 10_000)
        let store = try SQLiteStore(path: path)
        let evaluator = AlertEvaluator(store: store, clock: clock)
        let rules = [rule("costly", .metric(.request_cost), 0.5, window: 3_600, condition: "request_cost > $0.50"),
                     rule("big", .metric(.request_tokens), 1_000, window: 3_600),
                     rule("slow", .metric(.latency), 2, window: 3_600)]
        try run(store, "r1", start: 9_990, seconds: 3, cost: 0.75, tokens: 500)
        let first = try evaluator.evaluate(rules, afterRun: "r1")
        XCTAssertEqual(first.map(\.alert.alert), ["costly", "slow"])
        XCTAssertEqual(first.first?.alert.observedText, "$0.75")
        XCTAssertEqual(first.first?.alert.line, "alert costly: request_cost > $0.50 (observed $0.75) · pipeline p · run r1")
        XCTAssertEqual(first.last?.alert.observedText, "3s")

        // Within the hour the same alerts do not fire again; after it they do.
        clock.advance(60)
        try run(store, "r2", start: 10_050, seconds: 5, cost: 0.9)
        XCTAssertEqual(try evaluator.evaluate(rules, afterRun: "r2").count, 0)
        clock.advance(3_600)
        try run(store, "r3", start: 13_650, seconds: 5, cost: 0.9)
        XCTAssertEqual(try evaluator.evaluate(rules, afterRun: "r3").map(\.alert.alert), ["costly", "slow"])
        XCTAssertEqual(try store.firedAlerts(limit: 10).count, 4)
    }

    func testErrorRateAndPercentilesOverTheWindow() throws {
        let clock = FakeClock(start: 100_000)
        let store = try SQLiteStore(path: path)
        // Outside the 10-minute window: a failure that no longer counts.
        try run(store, "old", start: 100_000 - 700, seconds: 1, status: .error)
        // Inside: 20 runs of 1..20 s, two failed, one blocked (not a failure), one of another pipeline.
        for i in 1...20 {
            try run(store, "r\(i)", start: 100_000 - 500 + Double(i), seconds: Double(i), status: i <= 2 ? .error : i == 3 ? .blocked : .ok)
        }
        try run(store, "other", pipeline: "q", start: 99_900, seconds: 100, status: .error)
        let evaluator = AlertEvaluator(store: store, clock: clock)
        let rules = [rule("failing", .metric(.error_rate), 0.05, condition: "error_rate > 5% over 10m"),
                     rule("very_failing", .metric(.error_rate), 0.2),
                     rule("p95", .metric(.p95_latency), 18.5),
                     rule("p50", .metric(.p50_latency), 10, comparison: .atLeast),
                     rule("p99", .metric(.p99_latency), 20),
                     rule("spend", .metric(.spend), 0.19)]
        let fired = try evaluator.evaluate(rules, afterRun: "r20")
        XCTAssertEqual(fired.map(\.alert.alert), ["failing", "p95", "p50", "spend"])
        XCTAssertEqual(fired[0].alert.observed, 0.1, accuracy: 1e-12, "2 of 20")
        XCTAssertEqual(fired[0].alert.observedText, "10%")
        XCTAssertEqual(fired[1].alert.observed, 19, "nearest rank: the 19th of 20")
        XCTAssertEqual(fired[2].alert.observed, 10)
        XCTAssertEqual(fired[3].alert.observed, 0.2, accuracy: 1e-9)
        XCTAssertEqual(AlertEvaluator.percentile([], 0.95), nil)
    }

    func testTwoStoreHandlesRecordOneFiringPerWindow() async throws {
        let clock = FakeClock(start: 50_000)
        let first = try SQLiteStore(path: path)
        let second = try SQLiteStore(path: path)
        try run(first, "r1", start: 49_990, seconds: 1, status: .error)
        let rules = [rule("failing", .metric(.error_rate), 0.05)]
        // Both handles evaluate at once, many times: exactly one records the firing.
        let fired = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                let store = index % 2 == 0 ? first : second
                group.addTask { try AlertEvaluator(store: store, clock: clock).evaluate(rules, afterRun: "r1").count }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(fired, 1)
        XCTAssertEqual(try second.firedAlerts(limit: 10).map(\.alert), ["failing"])
    }

    func testBudgetAlertsReadTheBudgetWindowAndFireOncePerWindowAndUser() throws {
        let clock = FakeClock(start: 1_764_590_400)  // 2025-12-01T12:00:00Z
        let ledger = InMemorySpendLedger()
        func spend(_ user: String, _ dollars: Double) throws {
            let request = SpendRequest(runId: "r", time: clock.now(), user: user, session: nil, pipeline: "p", dollars: dollars, tokens: 10,
                                       leaseSeconds: 60)
            guard case .reserved(let ticket) = try ledger.reserve(request, limits: []) else { return XCTFail("refused") }
            try ledger.settle(ticket, dollars: dollars, tokens: 10, at: clock.now())
        }
        try spend("heavy", 1.7)
        try spend("light", 0.2)
        let store = try SQLiteStore(path: path)
        // Only `user_day` is declared: the `day` alert has no budget to read and stays quiet.
        let rules = [rule("burn", .budget(.userDay), 0.8, window: nil, condition: "budget user_day > 80%"),
                     rule("total", .budget(.day), 0.8, window: nil)]
        let budgets = DeclaredBudgetWindows(limits: [.userDay: WindowAmount(dollars: 2)], ledger: ledger)
        let evaluator = AlertEvaluator(store: store, budgets: budgets, clock: clock)
        try run(store, "a", start: clock.now() - 5, seconds: 1, user: "heavy")
        try run(store, "b", start: clock.now() - 4, seconds: 1, user: "light")
        try run(store, "c", start: clock.now() - 3, seconds: 1, user: "heavy")
        let fired = try evaluator.evaluate(rules, afterRun: "a")
        XCTAssertEqual(fired.map(\.alert.scope), ["user_day heavy 2025-12-01"])
        XCTAssertEqual(fired.first?.alert.observedText, "85% of $2")
        XCTAssertEqual(fired.first?.alert.json["window"], .string("one user's UTC day"))
        XCTAssertEqual(fired.first?.alert.json["window_seconds"], .null)
        XCTAssertEqual(try evaluator.evaluate(rules, afterRun: "b").count, 0, "the light user is under 80%")
        XCTAssertEqual(try evaluator.evaluate(rules, afterRun: "c").count, 0, "once per user and day")
        clock.advance(86_400)
        try spend("heavy", 1.7)
        try run(store, "d", start: clock.now() - 1, seconds: 1, user: "heavy")
        XCTAssertEqual(try evaluator.evaluate(rules, afterRun: "d").map(\.alert.scope), ["user_day heavy 2025-12-02"])

        // Without a declared budget, budget alerts read nothing and stay quiet.
        let quiet = AlertEvaluator(store: store, clock: clock)
        try run(store, "e", start: clock.now() - 1, seconds: 1, user: "heavy")
        XCTAssertEqual(try quiet.evaluate(rules, afterRun: "e").count, 0)
    }

    func testAWebhookGetsOnePostWithTheAlertAndRetriesAfterAServerError() async throws {
        let server = try TestHTTPServer(answers: [.reply(status: 503, body: "busy"), .reply(status: 200, body: "{}")])
        addTeardownBlock { server.stop() }
        let printed = Locked<[String]>([])
        let notifier = AlertNotifier(printLine: { line in printed.withLock { $0.append(line) } })
        let alert = FiredAlert(alert: "failing", pipeline: "p", scope: "", condition: "error_rate > 5% over 10m", observed: 0.125,
                               observedText: "12.5%", window: 600, runId: "r1", firedAt: 1_764_590_400)
        let (outcomes, failures) = await notifier.notify([(7, alert)], targets: [.stderr, .webhook(server.root + "/hook/SECRET")])
        XCTAssertEqual(failures, [])
        XCTAssertEqual(printed.withLock { $0 }, [alert.line])
        XCTAssertEqual(outcomes[7], .object([("stderr", .string("printed")), ("webhook http://127.0.0.1:\(server.port)/…", .string("delivered"))]))
        XCTAssertEqual(server.requests.count, 2, "the 503 is retried")
        let request = try XCTUnwrap(server.requests.last)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/hook/SECRET")
        XCTAssertEqual(request.headers["content-type"], "application/json")
        let body = try JSONValue.parse(bytes: Array(request.body))
        XCTAssertEqual(body["alert"], .string("failing"))
        XCTAssertEqual(body["condition"], .string("error_rate > 5% over 10m"))
        XCTAssertEqual(body["observed"], .number(0.125))
        XCTAssertEqual(body["window"], .string("10m"))
        XCTAssertEqual(body["window_seconds"], .number(600))
        XCTAssertEqual(body["pipeline"], .string("p"))
        XCTAssertEqual(body["run_id"], .string("r1"))
        XCTAssertEqual(body["time"], .string("2025-12-01T12:00:00.000Z"))
    }

    func testAnUnreachableWebhookIsOneFailureWithinTheBoundAndKeepsItsPathSecret() async throws {
        let port = try TestHTTPServer.closedPort()
        let notifier = AlertNotifier(printLine: { _ in })
        let alerts = ["a", "b", "c"].enumerated().map { index, name in
            (index, FiredAlert(alert: name, pipeline: "p", scope: "", condition: "latency > 1s", observed: 2, observedText: "2s", window: 3_600,
                               runId: "r", firedAt: 0))
        }
        let started = Date()
        let (outcomes, failures) = await notifier.notify(alerts, targets: [.webhook("http://127.0.0.1:\(port)/hooks/T0KEN")])
        XCTAssertLessThan(Date().timeIntervalSince(started), AlertNotifier.defaultBound + 1)
        XCTAssertEqual(failures.count, 1)
        XCTAssertEqual(failures.first?.alerts, ["a", "b", "c"])
        XCTAssertEqual(failures.first?.webhook, "webhook http://127.0.0.1:\(port)/…")
        XCTAssertFalse(failures.first?.error.contains("T0KEN") ?? true, failures.first?.error ?? "")
        XCTAssertTrue(outcomes[2]?.serialized().contains("not sent") ?? false)
    }

    func testDurationsReadAsWritten() {
        XCTAssertEqual(AlertEvaluator.duration(600), "10m")
        XCTAssertEqual(AlertEvaluator.duration(5_400), "90m")
        XCTAssertEqual(AlertEvaluator.duration(86_400), "1d")
        XCTAssertEqual(AlertEvaluator.duration(2.5), "2.5s")
    }
}

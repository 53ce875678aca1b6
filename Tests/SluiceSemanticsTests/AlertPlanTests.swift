import SluiceSemantics
import SluiceSyntax
import XCTest

/// What a checked file's alerts become for Services: plain rules in each metric's unit.
final class AlertPlanTests: XCTestCase {
    func testRulesAreInTheMetricsUnitsWithTheirWindows() {
        let (program, diagnostics) = checkSource("""
            alert costly when request_cost > $0.50
            alert failing when error_rate >= 5% over 10m
            alert slow when p95_latency > 2.5s over 1h
            alert burn when budget user_day > 80%
            notify "https://hooks.example.com/sluice"
            notify stderr
            pipeline p() { return 1 }
            """)
        XCTAssertEqual(summary(diagnostics), [])
        let plan = AlertPlan.declared(in: program)
        XCTAssertEqual(plan.targets, [.webhook("https://hooks.example.com/sluice"), .stderr])
        XCTAssertEqual(plan.rules, [
            AlertRule(name: "costly", subject: .metric(.request_cost), comparison: .above, threshold: 0.5, window: AlertPlan.defaultRunAlertWindow,
                      condition: "request_cost > $0.50", origin: "main.sluice:1:1"),
            AlertRule(name: "failing", subject: .metric(.error_rate), comparison: .atLeast, threshold: 0.05, window: 600,
                      condition: "error_rate >= 5% over 10m", origin: "main.sluice:2:1"),
            AlertRule(name: "slow", subject: .metric(.p95_latency), comparison: .above, threshold: 2.5, window: 3_600,
                      condition: "p95_latency > 2.5s over 1h", origin: "main.sluice:3:1"),
            AlertRule(name: "burn", subject: .budget(.userDay), comparison: .above, threshold: 0.8, window: nil,
                      condition: "budget user_day > 80%", origin: "main.sluice:4:1"),
        ])
        XCTAssertTrue(plan.rules[1].holds(0.05))
        XCTAssertFalse(plan.rules[0].holds(0.5))
    }

    func testWithoutNotifyAlertsGoToStandardError() {
        let (program, diagnostics) = checkSource("alert slow when latency > 30s\npipeline p() { return 1 }\n")
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertEqual(AlertPlan.declared(in: program).targets, [.stderr])
    }

    func testNotifyWithoutAlertsIsAWarning() {
        let (_, diagnostics) = checkSource("notify stderr\npipeline p() { return 1 }\n")
        XCTAssertEqual(diagnostics.map(\.message), ["`notify` without any `alert` in this file sends nothing"])
        XCTAssertEqual(diagnostics.first?.severity, .warning)
    }
}

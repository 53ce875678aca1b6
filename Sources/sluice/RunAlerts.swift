import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices

/// The script's alerts, checked after `sluice run` has printed its result (or `sluice test` its
/// report): evaluated against the store, recorded there once per window, and sent to their
/// targets within a short bound. Nothing here changes the result or exit status; a problem is
/// one warning on standard error.
enum RunAlerts {
    /// A finished run; `limits` is the budget it ended with: `budget LIMIT` alerts read its windows' spending.
    struct Checked {
        var runId: String
        var limits: BudgetLimits
    }

    static func check(_ program: Program, runId: String, limits: BudgetLimits, store: SQLiteStore) async {
        await check(program, after: [Checked(runId: runId, limits: limits)], store: store)
    }

    /// A batch of runs, in order (`sluice test`'s cases): an alert on the run itself (`request_cost`,
    /// `request_tokens`, `latency`) is checked on each, one over a window of runs or a budget's window
    /// once, after the last, when the window holds them all. Everything that fired is sent together.
    static func check(_ program: Program, after runs: [Checked], store: SQLiteStore) async {
        let plan = AlertPlan.declared(in: program)
        guard !plan.rules.isEmpty, let last = runs.last else { return }
        let perRun = plan.rules.filter { rule in
            if case .metric(let metric) = rule.subject { return !metric.isWindowed }
            return false
        }
        var fired: [(id: Int, alert: FiredAlert)] = []
        do {
            for run in runs.dropLast() where !perRun.isEmpty {
                fired += try evaluator(run, store: store).evaluate(perRun, afterRun: run.runId)
            }
            fired += try evaluator(last, store: store).evaluate(plan.rules, afterRun: last.runId)
        } catch {
            Terminal.error(Terminal.red("warning:") + " the alerts were not evaluated: \(error)")
            return
        }
        guard !fired.isEmpty else { return }
        let notifier = AlertNotifier(printLine: { Terminal.error(Terminal.red("alert") + String($0.dropFirst("alert".count))) })
        let (outcomes, failures) = await notifier.notify(fired, targets: plan.targets)
        for (id, outcome) in outcomes { try? store.noteNotified(id, outcome) }
        for failure in failures {
            let alerts = failure.alerts.map { "`\($0)`" }.joined(separator: ", ")
            Terminal.error(Terminal.red("warning:") + " alert \(alerts) could not be sent to the \(failure.webhook): \(failure.error) "
                           + "(recorded in the store: sluice traces alerts)")
        }
    }

    private static func evaluator(_ run: Checked, store: SQLiteStore) -> AlertEvaluator {
        AlertEvaluator(store: store, budgets: DeclaredBudgetWindows(limits: run.limits.windows, ledger: store))
    }
}

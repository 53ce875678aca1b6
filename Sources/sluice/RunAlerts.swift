import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices

/// The script's alerts, checked after `sluice run` has printed its result: evaluated against the
/// store, recorded there once per window, and sent to their targets within a short bound. Nothing
/// here changes the run's result or exit status; a problem is one warning on standard error.
enum RunAlerts {
    /// `limits` is the budget the run ended with: `budget LIMIT` alerts read its windows' spending.
    static func check(_ program: Program, runId: String, limits: BudgetLimits, store: SQLiteStore) async {
        let plan = AlertPlan.declared(in: program)
        guard !plan.rules.isEmpty else { return }
        let fired: [(id: Int, alert: FiredAlert)]
        do {
            fired = try AlertEvaluator(store: store, budgets: DeclaredBudgetWindows(limits: limits.windows, ledger: store)).evaluate(plan.rules, afterRun: runId)
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
}

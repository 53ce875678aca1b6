import ArgumentParser
import Foundation
import SluiceServices
import SluiceSyntax

/// `sluice traces alerts`: the alerts that fired, newest first, read from the store without writing.
struct TracesAlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "The alerts that fired, newest first: condition, observed value, run, and what became of each notification."
    )
    @OptionGroup var store: StoreOptions
    @Option(name: .long, help: "How many alerts to show.") var limit = 20
    @Flag(name: .long, help: "Print as JSON.") var json = false

    func run() throws {
        let alerts: [FiredAlert]
        do { alerts = try openStoreForReading(store.path)?.firedAlerts(limit: limit) ?? [] } catch let error as UsageError { throw error.exit() } catch {
            throw UsageError("cannot read alerts from \(store.path): \(error)").exit()
        }
        if json {
            Terminal.out(JSONValue.array(alerts.map { alert in
                guard case .object(var members) = alert.json else { return alert.json }
                members.append(("notified", alert.notified ?? .null))
                return .object(members)
            }).prettyPrinted())
            return
        }
        if alerts.isEmpty {
            Terminal.out("no alert has fired in \(store.path)")
            return
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        for alert in alerts {
            var line = [formatter.string(from: Date(timeIntervalSince1970: alert.firedAt)), alert.alert, alert.pipeline,
                        alert.condition, "observed \(alert.observedText)", "run \(alert.runId)"]
            if !alert.scope.isEmpty { line.insert(alert.scope, at: 4) }
            if case .object(let targets)? = alert.notified {
                line.append(targets.map { "\($0.key): \($0.value.stringValue ?? $0.value.serialized())" }.joined(separator: ", "))
            }
            Terminal.out(line.joined(separator: "  "))
        }
    }
}

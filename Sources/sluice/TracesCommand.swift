import ArgumentParser
import Foundation
import SluiceServices
import SluiceSyntax

struct TracesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces",
        abstract: "What runs did, what they cost.",
        subcommands: [List.self, Show.self, TracesAlertsCommand.self, TracesServeCommand.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The most recent runs, newest first.")
        @OptionGroup var store: StoreOptions
        @Option(name: .long, help: "How many runs to show.") var limit = 20
        @Flag(name: .long, help: "Print as JSON.") var json = false

        func run() throws {
            let runs: [RunSummary]
            do { runs = try openStoreForReading(store.path)?.listRuns(limit: limit) ?? [] } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("cannot read traces from \(store.path): \(error)").exit()
            }
            if json {
                Terminal.out(JSONValue.array(runs.map(\.json)).prettyPrinted())
                return
            }
            if runs.isEmpty {
                Terminal.out("no runs recorded in \(store.path) yet")
                return
            }
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            for run in runs {
                let when = formatter.string(from: Date(timeIntervalSince1970: run.startedAt))
                let duration = run.duration.map { String(format: "%.0fms", $0 * 1000) } ?? "-"
                Terminal.out([run.id, when, run.status.padding(toLength: 11, withPad: " ", startingAt: 0),
                              run.pipeline, duration, "\(run.tokens) tok", NumberDisplay.money(run.cost)].joined(separator: "  "))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One run's stages, model calls, guard verdicts and scores.")
        @ArgumentParser.Argument(help: "The run id (a unique prefix is enough).") var id: String
        @OptionGroup var store: StoreOptions
        @Flag(name: .long, help: "Print as JSON.") var json = false

        func run() throws {
            let sqlite: SQLiteStore?
            let detail: RunDetail?
            do {
                sqlite = try openStoreForReading(store.path)
                detail = try sqlite?.run(id: id)
            } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("\(error)").exit()
            }
            guard let sqlite, let detail else { throw UsageError("no run with id \(id) in \(store.path)").exit() }
            Terminal.out(json ? detail.json.prettyPrinted() : sqlite.renderTrace(detail))
        }
    }
}

import SluiceRuntime

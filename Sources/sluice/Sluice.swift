import ArgumentParser
import Foundation

/// Exit codes: 0 ok, 1 a script or pipeline error, 2 a usage error, 3 a dry-run over budget,
/// 4 a run that succeeded but whose trace could not be saved; a run stopped by a signal exits
/// 128 + its number (`SignalCancellation`).
enum Exit {
    static let scriptError = ExitCode(1)
    static let usage = ExitCode(2)
    static let overBudget = ExitCode(3)
    static let traceNotSaved = ExitCode(4)
    /// `sluice run`: a provider reported more usage than was reserved, and the real spend passed a limit.
    static let overBudgetRun = ExitCode(5)
}

struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Run, check and estimate LLM pipelines written in Sluice.",
        version: "0.1.0",
        subcommands: [RunCommand.self, CheckCommand.self, DryRunCommand.self, ReplCommand.self, TracesCommand.self, IndexCommand.self,
                      SessionsCommand.self, TokensCommand.self, MetricCommand.self, TestCommand.self]
    )
}

@main
enum Entry {
    static func main() async {
        do {
            var command = try Sluice.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            // Argument parser errors: usage mistakes exit 2 rather than its default 64.
            let code = Sluice.exitCode(for: error)
            let message = Sluice.fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(code == .validationFailure ? Exit.usage.rawValue : code.rawValue)
        }
    }
}

/// Options every command that touches the store shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The SQLite file for traces and indexes (default: $SLUICE_DB or .sluice/sluice.db).")
    var db: String?

    var path: String { db ?? ProcessInfo.processInfo.environment["SLUICE_DB"] ?? ".sluice/sluice.db" }
}

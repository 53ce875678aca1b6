import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceServices
import SluiceTokenizers

/// Where a command's model replies come from: `--replies` (scripted), `--replay` (a recording),
/// or each model's declared provider configured from the environment; `--record` saves every
/// exchange for a later `--replay`.
struct ProviderOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Answer every model call from this JSONL file of replies.", valueName: "file"))
    var replies: String?
    @Option(name: .long, help: ArgumentHelp("Append every model exchange to this file, for --replay.", valueName: "file"))
    var record: String?
    @Option(name: .long, help: ArgumentHelp("Answer every model call from a file --record wrote; no network.", valueName: "file"))
    var replay: String?

    /// The providers for a command. With a `store`, what servers refused is remembered there; with
    /// a `session` too, `--replies` lines used by the conversation's earlier runs are skipped.
    func makeProvider(store: SQLiteStore? = nil, session: String? = nil) throws -> ModelProvider {
        let environment = ProcessInfo.processInfo.environment
        var scripted: ScriptedProvider?
        if let replies {
            let ledger = session.flatMap { id in store?.replyLedger(session: id) }
            do { scripted = try ScriptedProvider(path: replies, ledger: ledger) } catch {
                throw UsageError("cannot use replies file \(replies): \(error)")
            }
        }
        do {
            return try RoutingProvider.standard(environment: environment, replies: scripted, record: record, replay: replay,
                                                counter: defaultTokenCounter(), memory: store)
        } catch {
            throw UsageError("\(error)")
        }
    }
}

/// Token counting for every command: exact for OpenAI's encodings, a calibrated estimate for
/// models without a public tokenizer.
func defaultTokenCounter() -> TokenCounter { ModelTokenCounter() }

import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceServices
import SluiceSyntax

struct DryRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Estimate a run's tokens and cost, and the budget verdict, without calling any model.",
        discussion: """
            The pipeline runs with every model replaced by a stand-in that records each request and \
            answers with the smallest reply of the right type. Retrieval runs for real against the \
            store. Accept conditions fail on stand-in replies, so cascades show their dearest path. \
            Exit code 3 when the worst case would pass the budget.
            """
    )

    @ArgumentParser.Argument(help: "The script to estimate.") var file: String
    @OptionGroup var input: InputOptions
    @OptionGroup var store: StoreOptions
    @Flag(name: .long, help: "Print the estimate as JSON.") var json = false

    func run() async throws {
        let script = try loadScript(file)
        let pipeline: String
        let inputs: [String: JSONValue]
        let sqlite: SQLiteStore
        do {
            pipeline = try choosePipeline(script.program, named: input.pipeline)
            inputs = try input.collect()
            sqlite = try openStore(store.path)
        } catch let error as UsageError {
            throw error.exit()
        }
        let provider = DryRunProvider()
        let counter = EstimatingTokenCounter()
        let interpreter = Interpreter(program: script.program, effects: RuntimeEffects(
            provider: provider, retrieval: sqlite, trace: DiscardingTraceSink(), clock: SystemClock(), random: SystemRandom(),
            tokens: counter))
        interpreter.enforcesBudget = false
        let limits: BudgetLimits
        var stoppedBy: String?
        do {
            limits = try await interpreter.run(pipeline: pipeline, inputs: inputs).limits
        } catch {
            // A guard that blocks these inputs, or a context window too small, still leaves the calls made so far to estimate.
            guard error.error.kind == .budget || error.error.kind == .guardBlocked else {
                Terminal.error(DiagnosticRenderer.render(error.error.diagnostic, color: Terminal.colorOnStderr))
                throw Exit.scriptError
            }
            stoppedBy = error.error.message
            limits = BudgetLimits()
        }
        let estimate = Estimate(calls: provider.calls, counter: counter)
        let verdict = estimate.verdict(limits, stoppedBy: stoppedBy)
        if json {
            Terminal.out(estimate.json(verdict: verdict).prettyPrinted())
        } else {
            Terminal.out(estimate.table(verdict: verdict))
        }
        if !verdict.withinBudget { throw Exit.overBudget }
    }
}

/// Token and cost figures for the model calls a dry run saw.
struct Estimate {
    struct Row {
        var prompt: String
        var model: String
        var inputTokens: Int
        var maxOutputTokens: Int
        var worstCost: Double
    }
    struct Verdict {
        var withinBudget: Bool
        var message: String
    }

    var rows: [Row]

    init(calls: [DryRunProvider.Call], counter: TokenCounter) {
        rows = calls.map { call in
            let input = call.messages.reduce(3) { $0 + 4 + counter.count($1.content, encoding: call.model.tokenizer) }
            return Row(prompt: call.prompt, model: call.model.name, inputTokens: input, maxOutputTokens: call.maxTokens,
                       worstCost: Double(input) * call.model.inputPrice + Double(call.maxTokens) * call.model.outputPrice)
        }
    }

    var totalTokens: Int { rows.reduce(0) { $0 + $1.inputTokens + $1.maxOutputTokens } }
    var totalCost: Double { rows.reduce(0) { $0 + $1.worstCost } }

    func verdict(_ limits: BudgetLimits, stoppedBy: String?) -> Verdict {
        if let stoppedBy { return Verdict(withinBudget: false, message: stoppedBy) }
        var problems: [String] = []
        if let dollars = limits.requestDollars, totalCost > dollars + 1e-9 {
            problems.append("worst case \(formatMoney(totalCost)) is over the request budget of \(formatMoney(dollars))")
        }
        if let tokens = limits.tokens, totalTokens > tokens {
            problems.append("worst case \(totalTokens) tokens is over the token budget of \(tokens)")
        }
        if !problems.isEmpty { return Verdict(withinBudget: false, message: problems.joined(separator: "; ")) }
        if limits.requestDollars == nil && limits.tokens == nil { return Verdict(withinBudget: true, message: "no budget declared") }
        var limitsText: [String] = []
        if let dollars = limits.requestDollars { limitsText.append(formatMoney(dollars)) }
        if let tokens = limits.tokens { limitsText.append("\(tokens) tokens") }
        return Verdict(withinBudget: true, message: "within budget (" + limitsText.joined(separator: ", ") + ")")
    }

    func table(verdict: Verdict) -> String {
        let header = ["stage", "model", "input tok", "max output tok", "worst cost"]
        var lines = [header] + rows.map { [$0.prompt, $0.model, "\($0.inputTokens)", "\($0.maxOutputTokens)", formatMoney($0.worstCost)] }
        lines.append(["total", "", "\(rows.reduce(0) { $0 + $1.inputTokens })", "\(rows.reduce(0) { $0 + $1.maxOutputTokens })",
                      formatMoney(totalCost)])
        let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        let rendered = lines.map { row in
            row.enumerated().map { column, cell in
                column >= 2 ? String(repeating: " ", count: widths[column] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }
        let note = "token counts are estimates (4 bytes per token); no model was called"
        return (rendered + ["", (verdict.withinBudget ? "ok: " : "over budget: ") + verdict.message, note]).joined(separator: "\n")
    }

    func json(verdict: Verdict) -> JSONValue {
        .object([
            ("stages", .array(rows.map { row in
                .object([("prompt", .string(row.prompt)), ("model", .string(row.model)), ("input_tokens", .number(Double(row.inputTokens))),
                         ("max_output_tokens", .number(Double(row.maxOutputTokens))), ("worst_cost", .number(row.worstCost))])
            })),
            ("total_tokens", .number(Double(totalTokens))),
            ("worst_cost", .number(totalCost)),
            ("within_budget", .bool(verdict.withinBudget)),
            ("verdict", .string(verdict.message)),
        ])
    }
}

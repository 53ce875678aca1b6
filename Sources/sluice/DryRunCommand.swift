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
            The pipeline runs with every model call recorded instead of sent, answered with the smallest \
            reply of the right type. Retrieval runs for real against the store. Cascades are estimated \
            on their cheapest path (the first model) and their dearest (every model), and `validate` with \
            all its retries in the worst case. Inputs you leave out are estimated as empty, and the report \
            says so. Exit code 3 when the worst case would pass the budget.
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
        let counter = defaultTokenCounter()
        let estimator = CostEstimator(history: sqlite)
        let interpreter = Interpreter(program: script.program, effects: RuntimeEffects(
            provider: NoModelProvider(), retrieval: sqlite, trace: DiscardingTraceSink(), clock: SystemClock(), random: SystemRandom(),
            tokens: counter))
        interpreter.estimator = estimator
        var limits = BudgetLimits()
        var stoppedBy: String?
        do {
            limits = try await interpreter.run(pipeline: pipeline, inputs: inputs).limits
        } catch {
            // A guard that blocks these inputs ends the run early; what was estimated so far still stands.
            guard error.error.kind == .guardBlocked else {
                Terminal.error(DiagnosticRenderer.render(error.error.diagnostic, color: Terminal.colorOnStderr))
                throw Exit.scriptError
            }
            stoppedBy = error.error.message
        }
        let report = DryRunReport(estimator: estimator, limits: limits, stoppedBy: stoppedBy)
        Terminal.out(json ? report.json.prettyPrinted() : report.table)
        if !report.withinBudget { throw Exit.overBudget }
    }
}

/// Dry runs must never reach a model; this provider makes sure of it.
struct NoModelProvider: ModelProvider {
    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        throw ProviderError(.configuration, "a dry run calls no model")
    }
}

/// What `dry-run` prints: a row per model call and per retrieval, the cheapest and dearest
/// path, and the budget verdict.
struct DryRunReport {
    let estimator: CostEstimator
    let limits: BudgetLimits
    let stoppedBy: String?

    var calls: [CostEstimator.Call] { estimator.calls }
    var cheapest: [CostEstimator.Call] { calls.filter(\.onCheapestPath) }

    var worstTokens: Int { calls.reduce(0) { $0 + $1.inputTokens + $1.maxOutputTokens } }
    var worstCost: Double { calls.reduce(0) { $0 + $1.worstCost } }
    var expectedTokens: Int { cheapest.reduce(0) { $0 + $1.inputTokens + $1.expectedOutputTokens } }
    var expectedCost: Double { cheapest.reduce(0) { $0 + $1.expectedCost } }
    var cheapestWorstCost: Double { cheapest.reduce(0) { $0 + $1.worstCost } }

    var problems: [String] {
        var problems: [String] = []
        if let dollars = limits.requestDollars, worstCost > dollars + 1e-9 {
            problems.append("the worst case of \(formatMoney(worstCost)) is over the request budget of \(formatMoney(dollars))")
        }
        if let tokens = limits.tokens, worstTokens > tokens {
            problems.append("the worst case of \(worstTokens) tokens is over the token budget of \(tokens)")
        }
        return problems
    }

    var withinBudget: Bool { problems.isEmpty }

    var verdict: String {
        if !problems.isEmpty { return "over budget: " + problems.joined(separator: "; ") }
        var parts: [String] = []
        if let dollars = limits.requestDollars { parts.append(formatMoney(dollars)) }
        if let tokens = limits.tokens { parts.append("\(tokens) tokens") }
        return parts.isEmpty ? "ok: no budget declared" : "ok: within budget (" + parts.joined(separator: ", ") + ") even in the worst case"
    }

    func pathLabel(_ path: CostEstimator.Call.Path) -> String {
        switch path {
        case .always: "always"
        case .cascadeStep(let index, let count): "cascade \(index + 1)/\(count)"
        case .retry(let index, let count): "retry \(index)/\(count)"
        }
    }

    var notes: [String] {
        var notes: [String] = []
        if !estimator.missingInputs.isEmpty {
            notes.append("inputs not given, estimated as empty: " + estimator.missingInputs.joined(separator: ", "))
        }
        if estimator.retrievals.contains(where: \.fromStatistics) {
            notes.append("retrieved context sized from the index's average chunk (the query was not known)")
        }
        let estimated = Set(calls.filter { !$0.exact }.map { $0.model.name })
        if !estimated.isEmpty {
            notes.append("token counts are estimates for: " + estimated.sorted().joined(separator: ", "))
        }
        if calls.contains(where: { !$0.expectedFromHistory }) {
            notes.append("expected output is a guess (a quarter of max tokens) where no past runs are recorded")
        }
        if let stoppedBy { notes.append("the run stopped early: \(stoppedBy)") }
        notes.append("no model was called")
        return notes
    }

    var table: String {
        let header = ["stage", "model", "path", "input", "context", "expected out", "max out", "worst cost"]
        var rows = [header]
        for call in calls {
            rows.append(["prompt \(call.prompt)", call.model.name, pathLabel(call.path), "\(call.inputTokens)\(call.exact ? "" : "~")",
                         "\(call.contextTokens)", "\(call.expectedOutputTokens)", "\(call.maxOutputTokens)", formatMoney(call.worstCost)])
        }
        for retrieval in estimator.retrievals {
            rows.append(["retrieve \(retrieval.index)", "", "always", "", "\(retrieval.tokens)\(retrieval.fromStatistics ? "~" : "")",
                         "", "", ""])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { column, cell in
                column >= 3 ? String(repeating: " ", count: widths[column] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }
        lines.insert(String(repeating: "-", count: lines[0].count), at: 1)
        lines.append("")
        lines.append("cheapest path: \(expectedTokens) tokens expected, \(formatMoney(expectedCost)) expected, \(formatMoney(cheapestWorstCost)) at most")
        lines.append("dearest path:  \(worstTokens) tokens, \(formatMoney(worstCost)) at most (every cascade model, every retry)")
        lines.append(verdict)
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        .object([
            ("calls", .array(calls.map { call in
                .object([("prompt", .string(call.prompt)), ("model", .string(call.model.name)), ("path", .string(pathLabel(call.path))),
                         ("input_tokens", .number(Double(call.inputTokens))), ("exact", .bool(call.exact)),
                         ("context_tokens", .number(Double(call.contextTokens))),
                         ("expected_output_tokens", .number(Double(call.expectedOutputTokens))),
                         ("max_output_tokens", .number(Double(call.maxOutputTokens))),
                         ("expected_cost", .number(call.expectedCost)), ("worst_cost", .number(call.worstCost))])
            })),
            ("retrievals", .array(estimator.retrievals.map { r in
                .object([("index", .string(r.index)), ("documents", .number(Double(r.documents))), ("tokens", .number(Double(r.tokens))),
                         ("from_statistics", .bool(r.fromStatistics))])
            })),
            ("cheapest_path", .object([("expected_tokens", .number(Double(expectedTokens))), ("expected_cost", .number(expectedCost)),
                                       ("worst_cost", .number(cheapestWorstCost))])),
            ("dearest_path", .object([("tokens", .number(Double(worstTokens))), ("worst_cost", .number(worstCost))])),
            ("budget", .object([("request", limits.requestDollars.map(JSONValue.number) ?? .null),
                                ("tokens", limits.tokens.map { .number(Double($0)) } ?? .null)])),
            ("within_budget", .bool(withinBudget)),
            ("verdict", .string(verdict)),
            ("notes", .array(notes.map { .string($0) })),
        ])
    }
}

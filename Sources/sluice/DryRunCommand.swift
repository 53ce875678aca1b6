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
            try checkInputs(inputs, for: pipeline, in: script.program, allowMissing: true)
            sqlite = try openStore(store.path)
        } catch let error as UsageError {
            throw error.exit()
        }
        let interpreter = Interpreter(program: script.program, effects: RuntimeEffects(
            provider: NoModelProvider(), retrieval: sqlite, trace: DiscardingTraceSink(), clock: SystemClock(), random: SystemRandom(),
            tokens: defaultTokenCounter()))
        let estimate: DryRunEstimate
        do {
            estimate = try await interpreter.estimate(pipeline: pipeline, inputs: inputs, history: sqlite)
        } catch {
            Terminal.error(DiagnosticRenderer.render(error.error.diagnostic, color: Terminal.colorOnStderr))
            throw Exit.scriptError
        }
        let report = DryRunReport(estimate: estimate, file: script.program.main.file)
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

/// What `dry-run` prints: a row per model call, embedding and retrieval of the dearest path,
/// the cheapest and dearest of every path, and the budget verdict.
struct DryRunReport {
    let estimate: DryRunEstimate
    let file: SourceFile

    var limits: BudgetLimits { estimate.limits }
    var dearest: EstimationPath { estimate.dearest }
    var cheapest: EstimationPath { estimate.cheapest }

    var problems: [String] {
        var problems: [String] = []
        let worstCost = dearest.worstCost, worstTokens = estimate.dearestTokens.worstTokens
        if let dollars = limits.requestDollars, worstCost > dollars + 1e-9 {
            problems.append("the worst case of \(NumberDisplay.money(worstCost)) is over the request budget of \(NumberDisplay.money(dollars))")
        }
        if let tokens = limits.tokens, worstTokens > tokens {
            problems.append("the worst case of \(worstTokens) tokens is over the token budget of \(tokens)")
        }
        // A called pipeline's own budget, or a limit reached before the end, refuses a call on some path.
        if problems.isEmpty, let refusal = estimate.refusals.first { problems.append("on some path a real run would be refused: " + refusal) }
        return problems
    }

    var withinBudget: Bool { problems.isEmpty }

    var verdict: String {
        if !problems.isEmpty { return "over budget: " + problems.joined(separator: "; ") }
        var parts: [String] = []
        if let dollars = limits.requestDollars { parts.append(NumberDisplay.money(dollars)) }
        if let tokens = limits.tokens { parts.append("\(tokens) tokens") }
        let loops = estimate.paths.contains { !$0.loops.isEmpty }
        return parts.isEmpty ? "ok: no budget declared"
            : "ok: within budget (" + parts.joined(separator: ", ") + ") on every path"
                + (loops ? ", with loops counted as noted" : "")
    }

    var pathCount: String {
        let count = "\(estimate.paths.count) path\(estimate.paths.count == 1 ? "" : "s") explored"
        return estimate.truncated ? count + " (there are more: the dearest is of those)" : count
    }

    func describe(_ path: EstimationPath) -> String {
        path.choices.isEmpty ? "" : " — " + path.choices.map(\.description).joined(separator: ", ")
    }

    var notes: [String] {
        var notes: [String] = []
        let all = estimate.paths
        let missing = all.first?.missingInputs ?? []
        if !missing.isEmpty { notes.append("inputs not given, estimated as empty: " + missing.joined(separator: ", ")) }
        if all.contains(where: { $0.retrievals.contains(where: \.fromStatistics) }) {
            notes.append("retrieved context sized from the index's average chunk (the query was not known)")
        }
        let estimated = Set(all.flatMap { $0.calls.filter { !$0.exact }.map { $0.model.name } })
        if !estimated.isEmpty { notes.append("token counts are estimates for: " + estimated.sorted().joined(separator: ", ")) }
        if all.contains(where: { $0.calls.contains { !$0.expectedFromHistory } }) {
            notes.append("expected output is a guess (a quarter of max tokens) where no past runs are recorded")
        }
        if all.flatMap(\.calls).contains(where: { !$0.maxTokensDeclared }) {
            notes.append("a prompt without `max_tokens` reserves at most \(defaultMaxTokens) output tokens (less when the model's window or `max_output` is smaller)")
        }
        var loops: Set<EstimationPath.Loop> = []
        for path in all { loops.formUnion(path.loops) }
        for loop in loops.sorted(by: { $0.line < $1.line }) {
            notes.append("the loop at line \(loop.line) calls models once per item: this estimate counts \(loop.items) "
                         + "item\(loop.items == 1 ? "" : "s"); a list from a model's reply counts as one item unless "
                         + "`take(list, N)` bounds it, so the estimate is a bound only for lists so bounded or given")
        }
        let bounds = Set(all.flatMap(\.declaredBounds)).sorted()
        if !bounds.isEmpty {
            notes.append("lists known only at run time are counted at the length `take` declares: "
                         + bounds.map(String.init).joined(separator: ", ") + " items")
        }
        var stops: [String] = []
        for path in all { if let stop = path.stoppedBy, !stops.contains(stop) { stops.append(stop) } }
        for stop in stops { notes.append("a path stopped early: \(stop)") }
        notes.append("no model was called")
        return notes
    }

    var table: String {
        let header = ["stage", "model", "input", "context", "expected out", "max out", "worst cost"]
        var rows = [header]
        for call in dearest.calls {
            rows.append(["prompt \(call.prompt)", call.model.name, "\(call.inputTokens)\(call.exact ? "" : "~")",
                         "\(call.contextTokens)", "\(call.expectedOutputTokens)", "\(call.maxOutputTokens)", NumberDisplay.money(call.worstCost)])
        }
        for embedding in dearest.embeddings {
            rows.append(["embed \(embedding.texts) texts", embedding.model.name, "\(embedding.tokens)\(embedding.exact ? "" : "~")",
                         "", "", "", NumberDisplay.money(embedding.cost)])
        }
        for retrieval in dearest.retrievals {
            rows.append(["retrieve \(retrieval.index)", "", "", "\(retrieval.tokens)\(retrieval.fromStatistics ? "~" : "")", "", "", ""])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { column, cell in
                column >= 2 ? String(repeating: " ", count: widths[column] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }
        lines.insert(String(repeating: "-", count: lines[0].count), at: 1)
        lines.append("")
        lines.append("\(pathCount): every branch of every `if`, every cascade model, every `validate` retry")
        lines.append("cheapest path: \(cheapest.expectedTokens) tokens expected, \(NumberDisplay.money(cheapest.expectedCost)) expected, "
                     + "\(NumberDisplay.money(cheapest.worstCost)) at most\(describe(cheapest))")
        lines.append("dearest path:  \(dearest.worstTokens) tokens, \(NumberDisplay.money(dearest.worstCost)) at most\(describe(dearest))")
        lines.append(verdict)
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }

    func pathJSON(_ path: EstimationPath) -> JSONValue {
        .object([("choices", .array(path.choices.map { .string($0.description) })),
                 ("worst_tokens", .number(Double(path.worstTokens))), ("worst_cost", NumberDisplay.moneyJSON(path.worstCost)),
                 ("expected_tokens", .number(Double(path.expectedTokens))), ("expected_cost", NumberDisplay.moneyJSON(path.expectedCost)),
                 ("stopped_by", path.stoppedBy.map(JSONValue.string) ?? .null)])
    }

    func callJSON(_ call: EstimationPath.Call) -> JSONValue {
        .object([("prompt", .string(call.prompt)), ("model", .string(call.model.name)),
                 ("input_tokens", .number(Double(call.inputTokens))), ("exact", .bool(call.exact)),
                 ("context_tokens", .number(Double(call.contextTokens))),
                 ("expected_output_tokens", .number(Double(call.expectedOutputTokens))),
                 ("max_output_tokens", .number(Double(call.maxOutputTokens))),
                 ("expected_cost", NumberDisplay.moneyJSON(call.expectedCost)), ("worst_cost", NumberDisplay.moneyJSON(call.worstCost))])
    }

    var json: JSONValue {
        let budget: JSONValue = .object([("request", limits.requestDollars.map(NumberDisplay.moneyJSON) ?? .null),
                                         ("tokens", limits.tokens.map { .number(Double($0)) } ?? .null)])
        let embeddings: [JSONValue] = dearest.embeddings.map { e in
            .object([("model", .string(e.model.name)), ("texts", .number(Double(e.texts))), ("tokens", .number(Double(e.tokens))),
                     ("cost", NumberDisplay.moneyJSON(e.cost))])
        }
        let retrievals: [JSONValue] = dearest.retrievals.map { r in
            .object([("index", .string(r.index)), ("documents", .number(Double(r.documents))), ("tokens", .number(Double(r.tokens))),
                     ("from_statistics", .bool(r.fromStatistics))])
        }
        return .object([
            ("calls", .array(dearest.calls.map(callJSON))),
            ("embeddings", .array(embeddings)),
            ("retrievals", .array(retrievals)),
            ("paths", .array(estimate.paths.map(pathJSON))),
            ("paths_truncated", .bool(estimate.truncated)),
            ("cheapest_path", pathJSON(cheapest)),
            ("dearest_path", pathJSON(dearest)),
            ("budget", budget),
            ("within_budget", .bool(withinBudget)),
            ("verdict", .string(verdict)),
            ("notes", .array(notes.map { .string($0) })),
        ])
    }
}

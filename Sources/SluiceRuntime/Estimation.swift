import Foundation
import SluiceSemantics
import SluiceSyntax

/// One path of a dry run. The pipeline runs for real except that models answer with synthetic
/// replies (the smallest reply of the prompt's type) and every decision — which branch of an
/// `if`, which model of a cascade answers, how many `validate` attempts fail — is taken as the
/// path says. Each call is recorded with its input tokens (exact when the inputs and the
/// tokenizer are), its retrieved-context tokens, and its expected and worst-case output.
public final class EstimationPath: @unchecked Sendable {
    public struct Call: Sendable {
        public var prompt: String
        public var model: ModelSpec
        public var inputTokens: Int
        public var contextTokens: Int
        public var maxOutputTokens: Int
        /// False when the prompt sets no `max_tokens` and the default applies.
        public var maxTokensDeclared: Bool
        public var expectedOutputTokens: Int
        public var expectedFromHistory: Bool
        public var exact: Bool

        public var worstCost: Double {
            Double(inputTokens) * model.inputPrice + Double(maxOutputTokens) * model.outputPrice
        }
        public var expectedCost: Double {
            Double(inputTokens) * model.inputPrice + Double(expectedOutputTokens) * model.outputPrice
        }
    }

    public struct Retrieval: Sendable {
        public var index: String
        public var documents: Int
        public var tokens: Int
        /// True when the query was unknown and the size comes from the index's statistics.
        public var fromStatistics: Bool
    }

    /// An embeddings call (hybrid retrieval, `similarity`), estimated, not made.
    public struct Embedding: Sendable {
        public var model: ModelSpec
        public var texts: Int
        public var tokens: Int
        public var exact: Bool
        public var cost: Double { Double(tokens) * model.inputPrice }
    }

    /// A `for` loop whose body calls models: it costs as much per item as its list holds.
    public struct Loop: Sendable, Hashable {
        public var line: Int
        public var items: Int
        public var callsInside: Int
    }

    /// A decision the path took: where, and which of the named options.
    public struct Choice: Sendable, Hashable {
        public var label: String
        public var names: [String]
        public var option: Int
        public var options: Int { names.count }
        public var description: String { "\(label): \(names[option])" }
    }

    private let lock = NSLock()
    let forced: [Int]
    let history: EstimationHistory?
    public private(set) var choices: [Choice] = []
    public private(set) var calls: [Call] = []
    public private(set) var retrievals: [Retrieval] = []
    public private(set) var embeddings: [Embedding] = []
    public private(set) var loops: [Loop] = []
    /// Bounds declared with `take(list, N)` on lists known only at run time.
    public private(set) var declaredBounds: [Int] = []
    /// Inputs the dry run was not given; counts that depend on them are estimates.
    public private(set) var missingInputs: [String] = []
    /// Why the path ended before its pipeline returned (a guard blocked the input, ...).
    public internal(set) var stoppedBy: String?

    init(forced: [Int], history: EstimationHistory?) {
        self.forced = forced
        self.history = history
    }

    /// The option this path takes at its next decision.
    func decide(_ label: String, _ names: [String]) -> Int {
        lock.withLock {
            let position = choices.count
            let option = position < forced.count ? min(forced[position], names.count - 1) : 0
            choices.append(Choice(label: label, names: names, option: option))
            return option
        }
    }

    func record(_ call: Call) { lock.withLock { calls.append(call) } }
    func record(_ retrieval: Retrieval) { lock.withLock { retrievals.append(retrieval) } }
    func record(_ embedding: Embedding) { lock.withLock { embeddings.append(embedding) } }
    func missing(_ input: String) { lock.withLock { missingInputs.append(input) } }
    func boundDeclared(_ items: Int) { lock.withLock { declaredBounds.append(items) } }
    func loopSeen(line: Int, items: Int, callsInside: Int) {
        guard callsInside > 0 else { return }
        lock.withLock { loops.append(Loop(line: line, items: items, callsInside: callsInside)) }
    }

    var callCount: Int { lock.withLock { calls.count + embeddings.count } }
    var hasMissingInputs: Bool { lock.withLock { !missingInputs.isEmpty } }

    public var worstCost: Double { calls.reduce(0) { $0 + $1.worstCost } + embeddings.reduce(0) { $0 + $1.cost } }
    public var worstTokens: Int { calls.reduce(0) { $0 + $1.inputTokens + $1.maxOutputTokens } + embeddings.reduce(0) { $0 + $1.tokens } }
    public var expectedCost: Double { calls.reduce(0) { $0 + $1.expectedCost } + embeddings.reduce(0) { $0 + $1.cost } }
    public var expectedTokens: Int {
        calls.reduce(0) { $0 + $1.inputTokens + $1.expectedOutputTokens } + embeddings.reduce(0) { $0 + $1.tokens }
    }

    /// The next path to explore after this one (depth first over the choices), nil when done.
    var next: [Int]? {
        var taken = choices
        while let last = taken.last, last.option + 1 >= last.options { taken.removeLast() }
        guard let last = taken.popLast() else { return nil }
        return taken.map(\.option) + [last.option + 1]
    }

    /// Output tokens to expect: the mean of past calls when the store has some, else a quarter
    /// of the maximum (at least 16), a guess the report labels as such.
    func expectedOutput(prompt: String, model: String, maxTokens: Int) -> (tokens: Int, fromHistory: Bool) {
        if let mean = try? history?.averageOutputTokens(prompt: prompt, model: model), mean.isFinite {
            return (min(maxTokens, max(0, exactInt(mean.rounded()) ?? maxTokens)), true)
        }
        return (min(maxTokens, max(16, maxTokens / 4)), false)
    }

    /// The smallest JSON value valid for a schema made by `jsonSchema(for:)`.
    static func placeholder(for schema: JSONValue) -> JSONValue {
        if let cases = schema["enum"]?.arrayValue, let first = cases.first { return first }
        if let options = schema["anyOf"]?.arrayValue, let first = options.first { return placeholder(for: first) }
        let type: String? = schema["type"]?.stringValue ?? schema["type"]?.arrayValue?.first?.stringValue
        switch type {
        case "object":
            guard case .object(let properties)? = schema["properties"] else { return .object([]) }
            let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            return .object(properties.filter { required.contains($0.key) }.map { ($0.key, placeholder(for: $0.value)) })
        // One item: a loop over a reply's list costs one item's calls unless `take` says more.
        case "array": return .array(schema["items"].map { [placeholder(for: $0)] } ?? [])
        case "string": return .string("")
        case "number", "integer": return .number(0)
        case "boolean": return .bool(false)
        default: return .null
        }
    }
}

/// The dry run's model: answers every call at once with the smallest reply of its type, and
/// reports the worst-case output as used, so the budget ledger charges every path its worst.
struct SyntheticReplies: ModelProvider {
    let tokens: TokenCounter

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let json = request.responseSchema.map { EstimationPath.placeholder(for: $0.schema) }
        let input = tokens.countChat(request.messages, encoding: request.model.tokenizer, provider: request.model.provider)
        return ChatResponse(text: json?.serialized() ?? "", model: request.model.id, inputTokens: input, outputTokens: request.maxTokens)
    }
}

/// Every path of a pipeline, explored without calling a model.
public struct DryRunEstimate: Sendable {
    public var paths: [EstimationPath]
    /// True when there were more paths than `Interpreter.maxEstimatedPaths`: the dearest is
    /// then the dearest of those explored.
    public var truncated: Bool
    /// The budget the pipeline declares (file-wide, or its own), known from the text.
    public var limits: BudgetLimits
    /// Budget refusals a real run would meet on some path, in the order found.
    public var refusals: [String]
    /// Each window the pipeline's budget limits, with what the spend ledger holds in it now.
    public var windows: [WindowEstimate]

    public var cheapest: EstimationPath { paths.min { $0.worstCost < $1.worstCost } ?? paths[0] }
    public var dearest: EstimationPath {
        paths.max { ($0.worstCost, $0.worstTokens) < ($1.worstCost, $1.worstTokens) } ?? paths[0]
    }
    public var dearestTokens: EstimationPath { paths.max { $0.worstTokens < $1.worstTokens } ?? paths[0] }
}

/// A window a dry run's budget limits, and what is already spent and reserved in it.
public struct WindowEstimate: Sendable {
    public var window: BudgetWindow
    public var limit: WindowAmount
    /// Nil when the dry run has no subject for it (a `user_day` budget without `--user`).
    public var standing: WindowStanding?
    /// Set when the spend ledger could not be read.
    public var error: String?

    /// "the user_day budget of $2 for user `cust-42` (2026-12-01 UTC: $1.998 spent, $0.001 reserved)";
    /// "… token budget of 200000 …" for its token limit.
    public func describe(_ kind: WindowStanding.LimitKind) -> String {
        let name = window.rawValue
        guard let standing else {
            return "the \(name) budget" + (error.map { " (the spend ledger could not be read: \($0))" } ?? "")
        }
        switch kind {
        case .dollars:
            return "the \(name) budget of \(formatMoney(limit.dollars ?? 0)) \(standing.key.whose)\(formatMoney(standing.spentDollars)) spent, "
                + "\(formatMoney(standing.reservedDollars)) reserved)"
        case .tokens:
            return "the \(name) token budget of \(limit.tokens ?? 0) \(standing.key.whose)\(standing.spentTokens) spent, \(standing.reservedTokens) reserved)"
        }
    }

    /// The first of the limit's amounts that `dollars` and `tokens` more would pass; nil when they fit or it is unknown.
    public func passed(dollars: Double, tokens: Int) -> WindowStanding.LimitKind? {
        guard let standing else { return nil }
        return standing.passed(by: WindowLimit(key: standing.key, dollars: limit.dollars, tokens: limit.tokens), dollars: dollars, tokens: tokens)
    }
}

extension Interpreter {
    /// Paths beyond this many are not explored (the report says so).
    public static let maxEstimatedPaths = 4_096

    /// A dry run: every path of `pipeline` (each branch of every `if`, each model of every
    /// cascade, each number of `validate` retries) with synthetic replies and no model called.
    /// `user` and `session` say whose windows (`user_day`, `session`) the report reads; nothing is reserved.
    public func estimate(pipeline name: String, inputs: [String: JSONValue], history: EstimationHistory?,
                         user: String? = nil, session: String? = nil) async throws(RunFailure) -> DryRunEstimate {
        var paths: [EstimationPath] = []
        var refusals: [String] = []
        var forced: [Int]? = []
        while let choices = forced, paths.count < Self.maxEstimatedPaths {
            let path = EstimationPath(forced: choices, history: history)
            let run = RunContext(interpreter: self, sessionId: session, userId: user, onText: nil, estimate: path)
            do {
                _ = try await run.execute(pipeline: name, inputs: inputs)
            } catch {
                // A script or input problem before any decision or call is the dry run's own failure.
                if paths.isEmpty, path.choices.isEmpty, path.callCount == 0, error.error.kind != .guardBlocked {
                    throw error
                }
                path.stoppedBy = error.error.message
            }
            for refusal in run.ledger.refusals where !refusals.contains(refusal) { refusals.append(refusal) }
            paths.append(path)
            forced = path.next
        }
        let limits = declaredLimits(of: name)
        return DryRunEstimate(paths: paths, truncated: forced != nil, limits: limits, refusals: refusals,
                              windows: windowEstimates(limits, pipeline: name, user: user, session: session))
    }

    /// What the spend ledger holds now in each window `limits` names, for this pipeline, user and session.
    func windowEstimates(_ limits: BudgetLimits, pipeline: String, user: String?, session: String?) -> [WindowEstimate] {
        let day = WindowKey.utcDay(of: effects.clock.now())
        return limits.windows.sorted { $0.key < $1.key }.map { window, amount in
            let subject: String? = switch window {
            case .userDay: user
            case .pipelineDay: pipeline
            case .day: ""
            case .session: session
            }
            guard let subject else { return WindowEstimate(window: window, limit: amount) }
            let key = WindowKey(window: window, subject: subject, day: window == .session ? "" : day)
            do {
                return WindowEstimate(window: window, limit: amount, standing: try effects.spend.standings(of: [key]).first ?? WindowStanding(key: key))
            } catch {
                return WindowEstimate(window: window, limit: amount, error: "\(error)")
            }
        }
    }

    /// The limits a run of `pipeline` has from the start: the file-wide budget, replaced limit
    /// by limit by the pipeline's own top-level `budget` statements.
    func declaredLimits(of name: String) -> BudgetLimits {
        var limits = program.budget.flatMap { try? self.limits(of: $0.decl, file: $0.file) } ?? BudgetLimits()
        guard let pipeline = program.pipelines[name] else { return limits }
        for statement in pipeline.decl.body.statements {
            guard case .budget(let budget) = statement.kind, let declared = try? self.limits(of: budget, file: pipeline.file) else { continue }
            limits = limits.overridden(by: declared)
        }
        return limits
    }
}

import Foundation
import SluiceSemantics
import SluiceSyntax

/// What the interpreter is handed instead of touching the world itself.
public struct RuntimeEffects: Sendable {
    public var provider: ModelProvider
    public var retrieval: RetrievalStore
    public var trace: TraceSink
    public var clock: Clock
    public var random: RandomSource
    public var tokens: TokenCounter
    /// Where `--session` conversations live; nil when the run keeps none.
    public var sessions: SessionStore?
    /// Embeds text for reranking retrieval (`index ... { embed MODEL }`) and `similarity` scores.
    public var embeddings: EmbeddingProvider?

    public init(provider: ModelProvider, retrieval: RetrievalStore, trace: TraceSink, clock: Clock,
                random: RandomSource, tokens: TokenCounter, sessions: SessionStore? = nil, embeddings: EmbeddingProvider? = nil) {
        self.provider = provider; self.retrieval = retrieval; self.trace = trace; self.clock = clock
        self.random = random; self.tokens = tokens; self.sessions = sessions; self.embeddings = embeddings
    }
}

public struct RunResult: Sendable {
    public var runId: String
    public var output: Value
    public var scores: [(name: String, value: Double)]
    /// Guard verdicts with action `flag` that matched: "guard/pattern".
    public var flags: [String]
    public var cost: Double
    public var tokens: Int
    /// The budget that applied, file-wide and pipeline limits combined.
    public var limits: BudgetLimits
    /// Set when the trace store failed; the run itself still completed.
    public var traceError: String?
}

/// The error of a failed run, with what the run had spent and recorded until then.
public struct RunFailure: Error, Sendable {
    public var runId: String
    public var error: RuntimeError
    public var cost: Double
    public var tokens: Int
}

/// Runs a checked program's pipelines. One interpreter serves one run at a time; it does no
/// I/O itself, only through `RuntimeEffects`.
public final class Interpreter {
    public static let maxPipelineDepth = 32

    let program: Program
    let effects: RuntimeEffects
    /// When set, replies are streamed: called with a label naming the call (prompt, model, call
    /// number) and each piece of text as it arrives.
    public var onText: (@Sendable (_ call: String, _ text: String) -> Void)?
    var streamedCalls = 0
    /// Set for dry runs: no model is called, every call is recorded here instead.
    public var estimator: CostEstimator?
    /// Where the next estimated call sits on the run's paths (cascade step, retry).
    var estimationPath = CostEstimator.Call.Path.always
    var ledger = BudgetLedger(limits: BudgetLimits())
    var tracer: Tracer
    var scores: [(name: String, value: Double)] = []
    var flags: [String] = []
    var pipelineDepth = 0
    var modelSpecs: [String: ModelSpec] = [:]
    var compiledGuards: [String: CompiledGuard] = [:]
    /// The conversation the run continues (`--session ID`), and its state once `session` ran.
    var sessionId: String?
    var activeSession: ActiveSession?

    public init(program: Program, effects: RuntimeEffects) {
        self.program = program
        self.effects = effects
        self.tracer = Tracer(sink: effects.trace, clock: effects.clock, random: effects.random)
    }

    /// Runs `pipeline` with inputs as JSON (strings from the command line are converted to the
    /// declared parameter types). Every run is traced, failed ones too.
    public func run(pipeline name: String, inputs: [String: JSONValue], session: String? = nil) async throws(RunFailure) -> RunResult {
        tracer = Tracer(sink: effects.trace, clock: effects.clock, random: effects.random)
        scores = []
        flags = []
        sessionId = session
        activeSession = nil
        ledger = BudgetLedger(limits: BudgetLimits())
        let file = program.main.file
        tracer.startRun(pipeline: name, file: file.path, inputs: .object(inputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        do {
            guard let declared = program.pipelines[name] else {
                let known = program.pipelines.keys.sorted()
                throw RuntimeError(.script, "no pipeline named `\(name)` in \(file.path)", file: nil, span: .none,
                                   help: closestMatch(to: name, in: known).map { "did you mean `\($0)`?" }
                                       ?? (known.isEmpty ? nil : "pipelines here: " + known.joined(separator: ", ")))
            }
            if let budget = program.budget { try applyBudget(budget.decl, file: budget.file) }
            let arguments = try bindInputs(inputs, to: declared)
            let output = try await callPipeline(declared, arguments: arguments)
            try await finishSession(output: output)
            let result = RunResult(runId: tracer.runId, output: output, scores: scores, flags: flags,
                                   cost: ledger.spentDollars, tokens: ledger.spentTokens, limits: ledger.limits,
                                   traceError: tracer.sinkError.map { "\($0)" })
            tracer.endRun(status: .ok, output: output.json, error: nil, cost: ledger.spentDollars, tokens: ledger.spentTokens)
            return result
        } catch let error as RuntimeError {
            tracer.endRun(status: error.kind == .guardBlocked ? .blocked : .error, output: nil, error: error.message,
                          cost: ledger.spentDollars, tokens: ledger.spentTokens)
            throw RunFailure(runId: tracer.runId, error: error, cost: ledger.spentDollars, tokens: ledger.spentTokens)
        } catch {
            let wrapped = RuntimeError(.script, "\(error)", file: file, span: .none)
            tracer.endRun(status: .error, output: nil, error: wrapped.message, cost: ledger.spentDollars, tokens: ledger.spentTokens)
            throw RunFailure(runId: tracer.runId, error: wrapped, cost: ledger.spentDollars, tokens: ledger.spentTokens)
        }
    }

    /// Runs statements typed into the REPL against `locals`, which persist between calls.
    /// Returns the value of a final expression or assignment.
    public func evaluate(_ statements: [Stmt], file: SourceFile, locals: inout [String: Value]) async throws(RuntimeError) -> Value? {
        var frame = Frame(file: file, locals: locals)
        defer { locals = frame.locals }
        do {
            var last: Value?
            for statement in statements {
                last = nil
                switch statement.kind {
                case .expression(let expr):
                    last = try await eval(expr, &frame)
                case .assign(let name, _):
                    _ = try await execute(statement, &frame)
                    last = frame.locals[name.text]
                default:
                    if case .returned(let value) = try await execute(statement, &frame) { return value }
                }
            }
            return last
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw RuntimeError(.script, "\(error)", file: file, span: .none)
        }
    }

    // MARK: Inputs

    func bindInputs(_ inputs: [String: JSONValue], to declared: Declared<PipelineDecl>) throws -> [String: Value] {
        let decl = declared.decl
        let paramNames = decl.params.map(\.name.text)
        for key in inputs.keys.sorted() where !paramNames.contains(key) {
            throw RuntimeError(.script, "pipeline `\(decl.name.text)` has no input `\(key)`", file: declared.file, span: decl.name.span,
                               help: closestMatch(to: key, in: paramNames).map { "did you mean `\($0)`?" }
                                   ?? "its inputs are: " + paramNames.joined(separator: ", "))
        }
        var values: [String: Value] = [:]
        for param in decl.params {
            let type = param.type.map { resolveType($0) } ?? .any
            if let given = inputs[param.name.text] {
                values[param.name.text] = try convertInput(given, to: type, param: param, file: declared.file)
            } else if param.defaultValue == nil, !isOptional(type), let estimator {
                // A dry run without this input estimates with an empty one.
                estimator.missing(param.name.text)
                values[param.name.text] = if case .list = type { .list([]) } else { .string("", .untrusted) }
            } else if param.defaultValue == nil, !isOptional(type) {
                throw RuntimeError(.script, "missing input `\(param.name.text)` (\(type)) for pipeline `\(decl.name.text)`",
                                   file: declared.file, span: param.span,
                                   help: "pass it with --input \(param.name.text)=... or in --input-file")
            }
        }
        return values
    }

    func isOptional(_ type: SluiceType) -> Bool {
        if case .optional = type { return true }
        return false
    }

    /// Inputs are untrusted data. A string given for a number, bool or structured parameter is parsed.
    func convertInput(_ json: JSONValue, to type: SluiceType, param: Param, file: SourceFile) throws -> Value {
        var json = json
        let base: SluiceType = if case .optional(let inner) = type { inner } else { type }
        if case .string(let s) = json {
            switch base {
            case .number, .int, .money:
                guard let n = Double(s.trimmingCharacters(in: .whitespaces)) else {
                    throw RuntimeError(.script, "input `\(param.name.text)` must be a number, got \"\(s)\"", file: file, span: param.span)
                }
                json = .number(n)
            case .bool:
                guard s == "true" || s == "false" else {
                    throw RuntimeError(.script, "input `\(param.name.text)` must be true or false, got \"\(s)\"", file: file, span: param.span)
                }
                json = .bool(s == "true")
            case .list, .record:
                do { json = try JSONValue.parse(s) } catch {
                    throw RuntimeError(.script, "input `\(param.name.text)` must be JSON (\(base)): \(error)", file: file, span: param.span)
                }
            default: break
            }
        }
        if base != .any {
            let problems = validate(json, against: type)
            if let first = problems.first {
                throw RuntimeError(.script, "input `\(param.name.text)` does not match \(type): \(first)", file: file, span: param.span)
            }
        }
        return Value(json: json, trust: .untrusted)
    }

    // MARK: Types

    func resolveType(_ ref: TypeRef) -> SluiceType {
        switch ref {
        case .named(let n):
            switch n.text {
            case "string": return .string
            case "number": return .number
            case "int": return .int
            case "bool": return .bool
            case "money": return .money
            case "any": return .any
            case "Doc": return program.resolvedTypes["Doc"] ?? SluiceType.doc
            case "Message": return Builtins.historyMessage
            default: return program.resolvedTypes[n.text] ?? .any
            }
        case .list(let inner, _): return .list(resolveType(inner))
        case .optional(let inner, _): return .optional(resolveType(inner))
        case .enumeration(let cases, _): return .enumeration(cases)
        }
    }

    // MARK: Budgets

    func applyBudget(_ budget: BudgetDecl, file: SourceFile) throws {
        var limits = ledger.limits
        for limit in budget.limits {
            let value = try constant(limit.value, file: file)
            switch (limit.name.text, value) {
            case ("request", .money(let m)): limits.requestDollars = m
            case ("tokens", .number(let n)): limits.tokens = Int(n)
            default:
                throw RuntimeError(.script, "budget `\(limit.name.text)` cannot be \(value.typeName)", file: file, span: limit.span)
            }
        }
        ledger.limits = limits
    }

    // MARK: Pipelines

    func callPipeline(_ declared: Declared<PipelineDecl>, arguments: [String: Value],
                      callSite: (file: SourceFile, span: Span)? = nil) async throws -> Value {
        let decl = declared.decl
        guard pipelineDepth < Interpreter.maxPipelineDepth else {
            throw RuntimeError(.limit, "pipelines call each other more than \(Interpreter.maxPipelineDepth) deep",
                               file: callSite?.file ?? declared.file, span: callSite?.span ?? decl.name.span)
        }
        pipelineDepth += 1
        defer { pipelineDepth -= 1 }
        return try await tracer.span("pipeline", decl.name.text) { _ in
            var frame = Frame(file: declared.file, pipeline: decl)
            for param in decl.params {
                if let given = arguments[param.name.text] {
                    frame.locals[param.name.text] = given
                } else if let defaultValue = param.defaultValue {
                    frame.locals[param.name.text] = try await eval(defaultValue, &frame)
                } else {
                    frame.locals[param.name.text] = .null
                }
            }
            if case .returned(let value) = try await execute(decl.body, &frame) { return value }
            return .null
        }
    }

    struct Frame {
        let file: SourceFile
        var locals: [String: Value] = [:]
        /// The pipeline whose body this frame runs (nil for prompts and the REPL).
        var pipeline: PipelineDecl? = nil
    }

    enum Flow { case normal, returned(Value) }

    func execute(_ block: Block, _ frame: inout Frame) async throws -> Flow {
        for statement in block.statements {
            if case .returned(let value) = try await execute(statement, &frame) { return .returned(value) }
        }
        return .normal
    }

    func execute(_ statement: Stmt, _ frame: inout Frame) async throws -> Flow {
        switch statement.kind {
        case .assign(let name, let expr):
            frame.locals[name.text] = try await eval(expr, &frame, bindingName: name.text)
        case .expression(let expr):
            _ = try await eval(expr, &frame)
        case .returnValue(let expr):
            guard let expr else { return .returned(.null) }
            return .returned(try await eval(expr, &frame))
        case .ifElse(let branches, let elseBody):
            for branch in branches where try await eval(branch.condition, &frame).isTruthy {
                return try await execute(branch.body, &frame)
            }
            if let elseBody { return try await execute(elseBody, &frame) }
        case .forIn(let name, let sequence, let body):
            let items: [Value]
            switch try await eval(sequence, &frame) {
            case .list(let list): items = list
            case .null: items = []
            case let other:
                throw RuntimeError(.script, "`for` needs a list, got \(other.typeName)", file: frame.file, span: sequence.span)
            }
            for item in items {
                frame.locals[name.text] = item
                if case .returned(let value) = try await execute(body, &frame) { return .returned(value) }
            }
        case .budget(let budget):
            try applyBudget(budget, file: frame.file)
        case .session(let name, let settings):
            try startSession(name, settings, &frame, span: statement.span)
        case .guardStage(let target, let uses):
            try await runGuards(target, uses, &frame)
        case .validate(let name, let typeRef, let retries):
            try await runValidate(name, typeRef, retries, &frame)
        case .score(let target, let uses):
            try await runScores(target, uses, &frame)
        }
        return .normal
    }

    // MARK: Expressions

    func eval(_ expr: Expr, _ frame: inout Frame, bindingName: String? = nil) async throws -> Value {
        switch expr.kind {
        case .string(let parts):
            var text = ""
            var trust = Trust.trusted
            for part in parts {
                switch part {
                case .text(let s): text += s
                case .hole(let hole):
                    let value = try await eval(hole, &frame)
                    text += value.text
                    trust = trust.combined(with: value.trust)
                }
            }
            return .string(text, trust)
        case .number(let n): return .number(n)
        case .money(let m): return .money(m)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .list(let items):
            var values: [Value] = []
            for item in items { values.append(try await eval(item, &frame)) }
            return .list(values)
        case .record(let members):
            var values: [(key: String, value: Value)] = []
            for member in members { values.append((member.name.text, try await eval(member.value, &frame))) }
            return .record(values)
        case .name(let name):
            if let value = frame.locals[name] { return value }
            throw unknownName(name, expr.span, frame)
        case .member(let base, let name):
            let value = try await eval(base, &frame)
            if case .null = value { return .null }
            if let member = value.member(name.text) { return member }
            switch value {
            case .record(let members):
                throw RuntimeError(.script, "the record has no field `\(name.text)`", file: frame.file, span: name.span,
                                   help: closestMatch(to: name.text, in: members.map(\.key)).map { "did you mean `\($0)`?" })
            case .reply(let reply) where reply.json == nil:
                return .null   // a reply that is not JSON has no members: conditions on it are simply false
            case .reply:
                return .null
            default:
                throw RuntimeError(.script, "a \(value.typeName) has no field `\(name.text)`", file: frame.file, span: name.span)
            }
        case .index(let base, let index):
            let container = try await eval(base, &frame)
            let key = try await eval(index, &frame)
            return try subscriptValue(container, key, expr, frame)
        case .unary(let op, let operand):
            let value = try await eval(operand, &frame)
            return try applyUnary(op, value, expr.span, frame.file)
        case .binary(let op, let lhs, let rhs):
            let left = try await eval(lhs, &frame)
            switch op {
            case .and: return left.isTruthy ? try await eval(rhs, &frame) : left
            case .or: return left.isTruthy ? left : try await eval(rhs, &frame)
            case .coalesce:
                if case .null = left { return try await eval(rhs, &frame) }
                return left
            default:
                let right = try await eval(rhs, &frame)
                return try applyBinary(op, left, right, expr.span, frame.file)
            }
        case .filter(let input, let name, let args):
            var values = [try await eval(input, &frame)]
            for arg in args { values.append(try await eval(arg.value, &frame)) }
            return try callBuiltin(name.text, values, span: name.span, file: frame.file)
        case .call(let callee, let args, let using):
            return try await evalCall(callee, args, using: using, expr: expr, &frame)
        case .retrieve(let query, let index, let top, let order):
            return try await runRetrieve(query, index, top, order, &frame)
        case .template(let call):
            guard case .call(let callee, let args, _) = call.kind, case .name(let promptName) = callee.kind,
                  let prompt = program.prompts[promptName] else {
                throw RuntimeError(.script, "`template` needs a prompt call such as `template answer(question: q)`", file: frame.file, span: call.span)
            }
            let rendered = try await renderPrompt(prompt, args, &frame)
            return .list(rendered.messages.map { .record([("role", .text($0.role)), ("content", .string($0.content, .fenced))]) })
        case .cascade(let call, let steps):
            return try await runCascade(call, steps, bindingName: bindingName, &frame)
        }
    }

    func unknownName(_ name: String, _ span: Span, _ frame: Frame) -> RuntimeError {
        RuntimeError(.script, "unknown name `\(name)`", file: frame.file, span: span,
                     help: closestMatch(to: name, in: frame.locals.keys).map { "did you mean `\($0)`?" })
    }

    func subscriptValue(_ container: Value, _ key: Value, _ expr: Expr, _ frame: Frame) throws -> Value {
        switch (container, key) {
        case (.list(let items), .number(let n)):
            let i = Int(n)
            let position = i < 0 ? items.count + i : i
            guard Double(i) == n, position >= 0, position < items.count else {
                throw RuntimeError(.script, "index \(JSONValue.formatNumber(n)) is out of range for a list of \(items.count)",
                                   file: frame.file, span: expr.span)
            }
            return items[position]
        case (.string(let s, let trust), .number(let n)):
            let chars = Array(s)
            let i = Int(n)
            let position = i < 0 ? chars.count + i : i
            guard Double(i) == n, position >= 0, position < chars.count else {
                throw RuntimeError(.script, "index \(JSONValue.formatNumber(n)) is out of range for a string of \(chars.count)",
                                   file: frame.file, span: expr.span)
            }
            return .string(String(chars[position]), trust)
        case (_, .string(let k, _)):
            return container.member(k) ?? .null
        case (.null, _):
            return .null
        default:
            throw RuntimeError(.script, "cannot index a \(container.typeName) with a \(key.typeName)", file: frame.file, span: expr.span)
        }
    }

    // MARK: Calls

    func evalCall(_ callee: Expr, _ args: [Argument], using: Name?, expr: Expr, _ frame: inout Frame) async throws -> Value {
        guard case .name(let name) = callee.kind else {
            throw RuntimeError(.script, "only prompts, pipelines and built-in functions can be called", file: frame.file, span: callee.span)
        }
        if let prompt = program.prompts[name] {
            let modelName = try using?.text ?? defaultModel(of: prompt, span: callee.span, frame.file)
            let rendered = try await renderPrompt(prompt, args, &frame)
            return try await tracer.span("prompt", name) { detail in
                detail["model"] = .string(modelName)
                return .reply(try await callModel(modelName, rendered, span: expr.span, file: frame.file, detail: &detail))
            }
        }
        if let pipeline = program.pipelines[name] {
            var arguments: [String: Value] = [:]
            for arg in args {
                guard let label = arg.label else {
                    throw RuntimeError(.script, "arguments to pipeline `\(name)` need names, as in `\(name)(x: ...)`", file: frame.file, span: arg.span)
                }
                arguments[label.text] = try await eval(arg.value, &frame)
            }
            return try await callPipeline(pipeline, arguments: arguments, callSite: (frame.file, expr.span))
        }
        var values: [Value] = []
        for arg in args { values.append(try await eval(arg.value, &frame)) }
        return try callBuiltin(name, values, span: callee.span, file: frame.file)
    }

    func defaultModel(of prompt: Declared<PromptDecl>, span: Span, _ file: SourceFile) throws -> String {
        if let field = prompt.decl.fields.first(where: { $0.name.text == "model" }), case .name(let model) = field.value.kind {
            return model
        }
        throw RuntimeError(.script, "prompt `\(prompt.decl.name.text)` names no model", file: file, span: span,
                           help: "add `model NAME` to the prompt, or call it with `using NAME`")
    }
}

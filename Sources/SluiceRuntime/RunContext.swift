import Foundation
import SluiceSemantics
import SluiceSyntax

/// Everything that belongs to one run of a pipeline: its trace, budget ledger, scores, flags,
/// redactions and conversation. The program and the effects are shared with every other run
/// of the same interpreter; nothing here is. Branches of a `parallel` statement share their
/// run's context, so its mutable state is kept under a lock.
final class RunContext: @unchecked Sendable {
    let interpreter: Interpreter
    var program: Program { interpreter.program }
    var effects: RuntimeEffects { interpreter.effects }
    let redactions = Redactions()
    let tracer: Tracer
    let ledger: BudgetLedger
    /// The conversation the run continues (`--session ID`).
    let sessionId: String?
    /// Who the run is for (`--user ID`).
    let userId: String?
    let onText: (@Sendable (_ call: String, _ text: String) -> Void)?
    /// Set for one path of a dry run: models are answered with synthetic replies, and every
    /// decision (branch, cascade step, retry) is taken as the path says.
    let estimate: EstimationPath?
    /// Who answers model calls: the injected provider, or synthetic replies in a dry run.
    let provider: ModelProvider
    /// True inside a metric declaration's evaluation: its judge's calls keep their model under
    /// `Interpreter.modelOverride`.
    @TaskLocal static var judging = false
    /// When the run began (the clock's seconds), for `latency(...)` of the run so far.
    let startedAt: Double

    private let lock = NSLock()
    private var recordedScores: [(name: String, value: Double)] = []
    private var recordedFlags: [FlagVerdict] = []
    private var session: ActiveSession?
    private var streamedCalls = 0

    /// Call targets of REPL statements, checked on their own.
    private let extraCalls: [ObjectIdentifier: CallTarget]
    /// The slots of the locals of REPL statements, checked on their own.
    private let extraBindings: BindingTable

    init(interpreter: Interpreter, sessionId: String?, userId: String? = nil, onText: (@Sendable (String, String) -> Void)?,
         estimate: EstimationPath?, extraCalls: [ObjectIdentifier: CallTarget] = [:], extraBindings: BindingTable = BindingTable()) {
        self.interpreter = interpreter
        self.userId = userId
        self.extraCalls = extraCalls
        self.extraBindings = extraBindings
        self.sessionId = sessionId
        self.onText = onText
        self.estimate = estimate
        self.provider = estimate == nil ? interpreter.effects.provider : SyntheticReplies(tokens: interpreter.effects.tokens)
        self.startedAt = interpreter.effects.clock.now()
        self.tracer = Tracer(sink: interpreter.effects.trace, clock: interpreter.effects.clock, random: interpreter.effects.random,
                             redactions: redactions)
        self.ledger = BudgetLedger(enforcing: estimate == nil, spend: interpreter.effects.spend,
                                   owner: SpendOwner(runId: tracer.runId, user: userId, session: sessionId), clock: interpreter.effects.clock)
    }

    /// What the checker resolved a call or filter expression to.
    func callTarget(of expr: Expr) -> CallTarget? {
        program.callTargets[ObjectIdentifier(expr)] ?? extraCalls[ObjectIdentifier(expr)]
    }

    // MARK: Locals, as the checker resolved them

    /// The slot a `.name` expression reads.
    func readSlot(of expr: Expr) -> Int? {
        program.bindings.reads[ObjectIdentifier(expr)] ?? extraBindings.reads[ObjectIdentifier(expr)]
    }

    /// The slots a `parallel` branch binds, as the checker resolved them.
    func branchSlots(of statement: Stmt, in file: SourceFile) -> [Int]? {
        let site = BindingSite(file, statement.span)
        return program.bindings.branches[site] ?? extraBindings.branches[site]
    }

    /// The slot a binding site (an assignment target, a `for` variable, an argument's label in
    /// the callee, ...) of `file` writes.
    func siteSlot(of name: Name, in file: SourceFile) -> Int? {
        let site = BindingSite(file, name.span)
        return program.bindings.sites[site] ?? extraBindings.sites[site]
    }

    /// The slot of the candidate reply of a cascade's `accept` conditions.
    func candidateSlot(of cascade: Expr) -> Int? {
        program.bindings.candidates[ObjectIdentifier(cascade)] ?? extraBindings.candidates[ObjectIdentifier(cascade)]
    }

    /// The frame layout of a pipeline's or prompt's body.
    func layout(of name: Name, in file: SourceFile) throws -> SlotLayout {
        guard let layout = program.bindings.layouts[BindingSite(file, name.span)] else {
            throw RuntimeError(.script, "internal error: the checker laid out no frame for `\(name.text)`", file: file, span: name.span,
                               help: "please report this script; `sluice check` should have accepted or refused it")
        }
        return layout
    }

    /// The value of the local `expr` reads.
    func local(_ expr: Expr, _ frame: Frame) throws -> Value {
        guard let slot = readSlot(of: expr), frame.slots.indices.contains(slot) else {
            throw unresolvedLocal("`\(frame.file.slice(expr.span))`", expr.span, frame.file)
        }
        guard let value = frame.slots[slot] else { throw unbound(frame.file.slice(expr.span), expr.span, frame) }
        return value
    }

    /// Writes the slot of the binding site `name`.
    func bind(_ name: Name, to value: Value, _ frame: inout Frame) throws {
        frame.slots[try slot(of: name, frame)] = value
    }

    /// The slot of the binding site `name` in `frame`.
    func slot(of name: Name, _ frame: Frame) throws -> Int {
        guard let slot = siteSlot(of: name, in: frame.file), frame.slots.indices.contains(slot) else {
            throw unresolvedLocal("`\(name.text)`", name.span, frame.file)
        }
        return slot
    }

    /// A local the checker did not resolve: only a checked program runs, so this is a bug of
    /// the checker, reported as such rather than guessed at by name.
    func unresolvedLocal(_ what: String, _ span: Span, _ file: SourceFile) -> RuntimeError {
        RuntimeError(.script, "internal error: the checker did not resolve the local \(what)", file: file, span: span,
                     help: "please report this script; `sluice check` should have accepted or refused it")
    }

    /// A resolved local whose slot holds nothing yet: bound only on a path this run did not take.
    func unbound(_ name: String, _ span: Span, _ frame: Frame) -> RuntimeError {
        RuntimeError(.script, "`\(name)` has no value here: it is bound only on a path this run did not take",
                     file: frame.file, span: span, help: "bind it before this point on every path, or give it a value first")
    }

    // MARK: Shared run state

    var scores: [(name: String, value: Double)] { lock.withLock { recordedScores } }
    var flags: [String] { lock.withLock { recordedFlags.map { "\($0.guardName)/\($0.pattern)" } } }

    /// Adds a score under a name not used yet in the run (`name`, `name#2`, ...).
    func addScore(_ base: String, _ compute: (String) async throws -> Double) async throws {
        let name: String = lock.withLock {
            var name = base, n = 2
            while recordedScores.contains(where: { $0.name == name }) || pendingScores.contains(name) { name = "\(base)#\(n)"; n += 1 }
            pendingScores.insert(name)
            return name
        }
        defer { _ = lock.withLock { pendingScores.remove(name) } }
        let value = try await compute(name)
        lock.withLock { recordedScores.append((name, value)) }
    }
    private var pendingScores: Set<String> = []
    private var recordedFailures: [(name: String, error: String)] = []

    /// A score that could not be computed: the run goes on without it.
    func addFailedScore(_ name: String, _ error: String) { lock.withLock { recordedFailures.append((name, error)) } }
    var failedScores: [(name: String, error: String)] { lock.withLock { recordedFailures } }

    func addFlags(_ flags: [FlagVerdict]) { lock.withLock { recordedFlags += flags } }

    /// Whether a guard with action `flag` has matched so far in this run (`flagged("G")`).
    func hasFlag(guardName: String) -> Bool { lock.withLock { recordedFlags.contains { $0.guardName == guardName } } }
    var anyFlag: Bool { lock.withLock { !recordedFlags.isEmpty } }

    var activeSession: ActiveSession? {
        get { lock.withLock { session } }
        set { lock.withLock { session = newValue } }
    }

    /// The request's streaming callback, when the run streams. Each call gets a label of its own.
    func streamHandler(for label: String) -> (@Sendable (String) -> Void)? {
        guard let onText else { return nil }
        let number = lock.withLock { streamedCalls += 1; return streamedCalls }
        let label = "\(label) (call \(number))"
        return { piece in onText(label, piece) }
    }

    // MARK: A whole run

    func execute(pipeline name: String, inputs: [String: JSONValue]) async throws(RunFailure) -> RunResult {
        let file = program.main.file
        let declared = program.pipelines[name]
        if let declared { learnSensitiveInputs(declared.decl, inputs) }
        tracer.startRun(pipeline: name, file: file.path, inputs: .object(inputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }),
                        user: userId, session: sessionId)
        do {
            if let first = program.errors.first {
                throw RuntimeError(.script, "the program has \(program.errors.count) check error\(program.errors.count == 1 ? "" : "s") "
                                   + "and cannot run; the first: \(first.message)", file: first.file, span: first.span,
                                   help: "`sluice check \(file.path)` lists them all")
            }
            guard let declared else {
                let known = program.pipelines.keys.sorted()
                throw RuntimeError(.script, "no pipeline named `\(name)` in \(file.path)", file: nil, span: .none,
                                   help: closestMatch(to: name, in: known).map { "did you mean `\($0)`?" }
                                       ?? (known.isEmpty ? nil : "pipelines here: " + known.joined(separator: ", ")))
            }
            ledger.startPipeline(name)
            if let budget = program.budget { try applyBudget(budget.decl, file: budget.file, to: ledger.root) }
            let arguments = try bindInputs(inputs, to: declared)
            let output = try await callPipeline(declared, arguments: arguments, budget: ledger.root, depth: 0)
            // A call whose real spend passed a limit ends the run over budget, even where a `catch` took its error.
            if let overrun = ledger.overrun { throw overBudget(overrun, file: file, span: .none) }
            try await finishSession(output: output)
            tracer.endRun(status: .ok, output: output.json, error: nil, cost: ledger.spentDollars, tokens: ledger.spentTokens)
            // After the run's end is written, so a store that failed on the last write is reported too.
            return RunResult(runId: tracer.runId, output: output, scores: scores, flags: flags,
                             cost: ledger.spentDollars, tokens: ledger.spentTokens, limits: ledger.limits,
                             traceError: storeError, failedScores: failedScores)
        } catch {
            let runtime: RuntimeError
            let status: TraceRunEnd.Status
            if error is CancellationError || Task.isCancelled {
                // Stopped from outside (the CLI cancels the run's task on a signal): not a failure of the pipeline.
                runtime = RuntimeError(.cancelled, "the run was cancelled", file: nil, span: .none)
                status = .cancelled
            } else if let overrun = ledger.overrun {
                // Whatever failed after it, the run is over budget.
                if let thrown = error as? RuntimeError, thrown.kind == .overBudget {
                    runtime = redactions.scrub(thrown)
                } else {
                    runtime = redactions.scrub(overBudget(overrun, file: file, span: .none))
                }
                status = .overBudget
            } else {
                runtime = redactions.scrub(error as? RuntimeError ?? RuntimeError(.script, "\(error)", file: file, span: .none))
                status = runtime.kind == .guardBlocked ? .blocked : .error
            }
            tracer.endRun(status: status, output: nil, error: runtime.message, cost: ledger.spentDollars, tokens: ledger.spentTokens)
            throw RunFailure(runId: tracer.runId, error: runtime, cost: ledger.spentDollars, tokens: ledger.spentTokens,
                             traceError: storeError, limits: ledger.limits)
        }
    }

    /// REPL statements against persistent locals: the REPL keeps them by name between inputs;
    /// here they go into the slots `layout` gives them and come back out.
    func evaluate(_ statements: [Stmt], file: SourceFile, layout: SlotLayout,
                  locals: inout [String: Value]) async throws(RuntimeError) -> Value? {
        var frame = Frame(file: file, layout: layout, budget: ledger.root)
        for (name, slot) in layout.outer { frame.slots[slot] = locals[name] }
        defer {
            for (name, slot) in layout.outer { if let value = frame.slots[slot] { locals[name] = value } }
        }
        do {
            var last: Value?
            for statement in statements {
                last = nil
                switch statement.kind {
                case .expression(let expr):
                    last = try await eval(expr, &frame)
                case .assign(let name, _):
                    _ = try await execute(statement, &frame)
                    last = frame.slots[try slot(of: name, frame)]
                default:
                    if case .returned(let value) = try await execute(statement, &frame) { return value }
                }
            }
            return last
        } catch let error as RuntimeError {
            throw redactions.scrub(error)
        } catch {
            throw RuntimeError(.script, "\(error)", file: file, span: .none)
        }
    }

    // MARK: Inputs

    /// Inputs declared `sensitive` are never stored raw: their text is a redaction from the start.
    func learnSensitiveInputs(_ pipeline: PipelineDecl, _ inputs: [String: JSONValue]) {
        var secrets: [Redactions.Replacement] = []
        for param in pipeline.params where param.sensitive {
            guard let given = inputs[param.name.text] else { continue }
            for text in given.strings where !text.isEmpty {
                secrets.append(.init(secret: text, replacement: "[SENSITIVE:\(param.name.text)]"))
            }
        }
        redactions.add(secrets)
    }

    /// The inputs, given by name, as the values of the pipeline's parameters in order (nil for
    /// one not given, which takes its default).
    func bindInputs(_ inputs: [String: JSONValue], to declared: Declared<PipelineDecl>) throws -> [Value?] {
        let decl = declared.decl
        let paramNames = decl.params.map(\.name.text)
        for key in inputs.keys.sorted() where !paramNames.contains(key) {
            throw RuntimeError(.script, "pipeline `\(decl.name.text)` has no input `\(key)`", file: declared.file, span: decl.name.span,
                               help: closestMatch(to: key, in: paramNames).map { "did you mean `\($0)`?" }
                                   ?? "its inputs are: " + paramNames.joined(separator: ", "))
        }
        var values = [Value?](repeating: nil, count: decl.params.count)
        for (index, param) in decl.params.enumerated() {
            let type = param.type.map(program.resolve) ?? .any
            if let given = inputs[param.name.text] {
                values[index] = try convertInput(given, to: type, param: param, file: declared.file)
            } else if param.defaultValue == nil, !type.isOptional, let estimate {
                // A dry run without this input estimates with an empty one.
                estimate.missing(param.name.text)
                values[index] = if case .list = type { .list([]) } else { .string("", .untrusted) }
            } else if param.defaultValue == nil, !type.isOptional {
                throw RuntimeError(.script, "missing input `\(param.name.text)` (\(type)) for pipeline `\(decl.name.text)`",
                                   file: declared.file, span: param.span,
                                   help: "pass it with --input \(param.name.text)=... or in --input-file")
            }
        }
        return values
    }

    /// Inputs are untrusted data unless the parameter is declared `trusted` (the caller vouches
    /// for it). A string given for a number, bool or structured parameter is parsed.
    func convertInput(_ json: JSONValue, to type: SluiceType, param: Param, file: SourceFile) throws -> Value {
        var json = json
        let base = type.nonOptional
        if case .string(let s) = json {
            switch base {
            case .number, .int, .money:
                guard let n = Double(s.trimmingCharacters(in: .whitespaces)), n.isFinite else {
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
        let value = Value(json: json, trust: param.trusted ? .trusted : .untrusted)
        return base == .money ? value.asMoney : value
    }

    // MARK: Budgets

    /// Sets the named limits of `scope`, keeping the others.
    func applyBudget(_ budget: BudgetDecl, file: SourceFile, to scope: BudgetScope) throws {
        ledger.setLimits(scope.limits.overridden(by: try limits(of: budget, file: file)), of: scope)
    }

    /// The limits a `budget` sets, refused when a window it limits has no subject in this run (a
    /// `user_day` budget in a run for no user): a per-user limit kept for nobody would either pool
    /// every anonymous run or limit none, and neither is what it says.
    func limits(of budget: BudgetDecl, file: SourceFile) throws -> BudgetLimits {
        let limits = try interpreter.limits(of: budget, file: file)
        // A dry run reports such a window as not checked instead.
        guard estimate == nil else { return limits }
        for limit in budget.limits {
            guard let window = BudgetWindow(rawValue: limit.name.text), ledger.subject(of: window) == nil else { continue }
            throw RuntimeError(.budget, BudgetLedger.missingSubject(window), file: file, span: limit.span,
                               help: BudgetLedger.missingSubjectHelp(window))
        }
        return limits
    }

    /// The run's end when a call's real spend passed a limit.
    func overBudget(_ overrun: Overrun, file: SourceFile?, span: Span) -> RuntimeError {
        RuntimeError(.overBudget, "over budget: the provider reported more usage than was reserved (\(formatMoney(overrun.dollars)), "
                     + "\(overrun.tokens) tokens over), and the real spend passed " + overrun.passedLimits.joined(separator: "; "),
                     file: file, span: span)
    }

    /// A failure of the trace store or the spend ledger that did not stop the run.
    var storeError: String? { (tracer.sinkError ?? ledger.storeError).map { "\($0)" } }
}

/// A guard verdict with action `flag` that matched.
struct FlagVerdict: Sendable, Hashable {
    var guardName: String
    var pattern: String
}

/// The variables of one pipeline call (or prompt rendering, or REPL input), and the budget
/// scope its calls are charged to. Locals live in the slots the checker laid out for the body;
/// every read and write goes through a slot it recorded, never through a name.
struct Frame: Sendable {
    let file: SourceFile
    /// The value of each slot of the body's layout; nil until bound.
    var slots: [Value?]
    /// The pipeline whose body this frame runs (nil for prompts and the REPL).
    var pipeline: PipelineDecl? = nil
    var budget: BudgetScope
    /// How many pipeline calls deep this frame is (the run's pipeline is 1).
    var depth = 0

    init(file: SourceFile, layout: SlotLayout, pipeline: PipelineDecl? = nil, budget: BudgetScope, depth: Int = 0) {
        self.file = file; self.pipeline = pipeline; self.budget = budget; self.depth = depth
        self.slots = Array(repeating: nil, count: layout.size)
    }
}

extension SluiceType {
    var isOptional: Bool { if case .optional = self { true } else { false } }
}

extension Value {
    /// A number given for a `money` parameter is money.
    var asMoney: Value { if case .number(let n) = self { .money(n) } else { self } }
}

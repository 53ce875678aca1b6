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
    /// Where spending across runs is kept, for `user_day`, `pipeline_day`, `day` and `session`
    /// budgets; every call is recorded there. Runs of interpreters that share it share the windows.
    public var spend: SpendLedger
    /// Compiles and runs code for the code metrics (`syntax_valid`, `code_runs`, `passes_tests`);
    /// nil when this host runs none, and those metrics fail saying so.
    public var code: CodeRunner?

    public init(provider: ModelProvider, retrieval: RetrievalStore, trace: TraceSink, clock: Clock,
                random: RandomSource, tokens: TokenCounter, sessions: SessionStore? = nil, embeddings: EmbeddingProvider? = nil,
                spend: SpendLedger = InMemorySpendLedger(), code: CodeRunner? = nil) {
        self.provider = provider; self.retrieval = retrieval; self.trace = trace; self.clock = clock
        self.random = random; self.tokens = tokens; self.sessions = sessions; self.embeddings = embeddings; self.spend = spend
        self.code = code
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
    /// Scores that could not be computed (a judge whose reply is not a grade), with why: the run
    /// went on, and they are recorded as failed, not as a number.
    public var failedScores: [(name: String, error: String)] = []
}

/// The error of a failed run, with what the run had spent and recorded until then.
public struct RunFailure: Error, Sendable {
    public var runId: String
    public var error: RuntimeError
    public var cost: Double
    public var tokens: Int
    /// Set when the trace store failed, as for `RunResult.traceError`.
    public var traceError: String? = nil
    /// The budget that applied when the run ended, as for `RunResult.limits`.
    public var limits = BudgetLimits()
}

/// Runs a checked program's pipelines. An interpreter is immutable and shared: any number of
/// runs of its program may proceed at once, each with its own `RunContext` (budget ledger,
/// tracer, scores, flags, session). It does no I/O itself, only through `RuntimeEffects`.
public final class Interpreter: Sendable {
    public static let maxPipelineDepth = 32

    public let program: Program
    let effects: RuntimeEffects
    /// Model specs and compiled guards, resolved once and shared by every run.
    let declarations = DeclarationCache()

    /// Whether `score … sample N%` scores only that share of runs (production); `sluice test`
    /// turns it off so every case is scored.
    public let samplesScores: Bool
    /// When set, every model call of a run goes to this model instead of the one the script
    /// names (`sluice test --compare-model`), except the calls of a metric's judge, so that both
    /// sides of a comparison are graded alike.
    public let modelOverride: ModelSpec?

    /// A program whose check found errors is refused by every run (`Program.errors`).
    public init(program: Program, effects: RuntimeEffects, samplesScores: Bool = true, modelOverride: ModelSpec? = nil) {
        self.program = program
        self.effects = effects
        self.samplesScores = samplesScores
        self.modelOverride = modelOverride
    }

    /// A model the program declares or imports, resolved as a run resolves it: for commands that
    /// call a model outside any pipeline (`sluice metric similarity --model M`).
    public func modelSpec(named name: String) throws(RuntimeError) -> ModelSpec {
        let context = RunContext(interpreter: self, sessionId: nil, onText: nil, estimate: nil)
        do { return try context.modelSpec(name, span: Span(0, 0), file: program.main.file) } catch let error as RuntimeError {
            throw error
        } catch {
            throw RuntimeError(.script, "\(error)", file: program.main.file, span: Span(0, 0))
        }
    }

    /// Runs `pipeline` with inputs as JSON (strings from the command line are converted to the
    /// declared parameter types). Every run is traced, failed ones too. `onText`, when given,
    /// streams replies: it is called with a label naming the call and each piece of text. `user`
    /// names who the run is for: it is on the trace, and per-user budgets are kept by it.
    public func run(pipeline name: String, inputs: [String: JSONValue], session: String? = nil, user: String? = nil,
                    onText: (@Sendable (_ call: String, _ text: String) -> Void)? = nil) async throws(RunFailure) -> RunResult {
        let run = RunContext(interpreter: self, sessionId: session, userId: user, onText: onText, estimate: nil)
        return try await run.execute(pipeline: name, inputs: inputs)
    }

    /// Runs statements typed into the REPL against `locals`, which persist between calls by name,
    /// with the call targets, frame layout and local slots the checker resolved for them
    /// (`Checker.checkStatementsAndLocals`). Returns the value of a final expression or assignment.
    public func evaluate(_ statements: [Stmt], file: SourceFile, locals: inout [String: Value],
                         calls: [ObjectIdentifier: CallTarget], layout: SlotLayout,
                         bindings: BindingTable) async throws(RuntimeError) -> Value? {
        let run = RunContext(interpreter: self, sessionId: nil, onText: nil, estimate: nil, extraCalls: calls, extraBindings: bindings)
        return try await run.evaluate(statements, file: file, layout: layout, locals: &locals)
    }
}

/// Declarations resolved to plain values on first use, shared by concurrent runs.
final class DeclarationCache: @unchecked Sendable {
    private let lock = NSLock()
    private var models: [String: ModelSpec] = [:]
    private var guards: [String: CompiledGuard] = [:]

    func model(_ name: String, orMake make: () throws -> ModelSpec) rethrows -> ModelSpec {
        if let cached = lock.withLock({ models[name] }) { return cached }
        let spec = try make()
        lock.withLock { models[name] = spec }
        return spec
    }

    func guardSet(_ name: String, orMake make: () throws -> CompiledGuard) rethrows -> CompiledGuard {
        if let cached = lock.withLock({ guards[name] }) { return cached }
        let compiled = try make()
        lock.withLock { guards[name] = compiled }
        return compiled
    }
}

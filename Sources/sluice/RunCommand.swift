import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceServices
import SluiceSyntax

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline, tracing every stage into the store.",
        discussion: """
            Models are called through their declared provider (OPENAI_BASE_URL and OPENAI_API_KEY for \
            OpenAI-compatible servers), or all answered from a JSONL file of scripted replies with --replies.
            """
    )

    @ArgumentParser.Argument(help: "The script to run.") var file: String
    @OptionGroup var input: InputOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var providers: ProviderOptions
    @OptionGroup var otlp: OTLPOptions
    @Flag(name: .long, help: "Print the result as one JSON object.") var json = false
    @Flag(name: .long, help: "Print each model's reply as it arrives (server-sent events).") var stream = false
    @Option(name: .long, help: ArgumentHelp("Continue this conversation (see `sluice sessions list`).", valueName: "id"))
    var session: String?
    @Flag(name: .customLong("new-session"), help: "Start a new conversation; its id is printed.") var newSession = false
    @Option(name: .long, help: ArgumentHelp("Who the run is for: recorded on its trace, and per-user budgets (`user_day`) are kept by it "
                                            + "(default: $SLUICE_USER).", valueName: "id"))
    var user: String?
    @Option(name: .customLong("trace-field-limit"),
            help: ArgumentHelp("The most bytes one text field of the trace keeps (inputs, messages, replies...); longer ones are cut, "
                               + "with their length and SHA-256 (default: $SLUICE_TRACE_FIELD_LIMIT or 262144).", valueName: "bytes"))
    var traceFieldLimit: Int?

    func validate() throws {
        if session != nil && newSession { throw ValidationError("use either --session ID or --new-session, not both") }
        if let user {
            do { try UserId.validate(user, source: "--user") } catch { throw ValidationError(error.description) }
        }
        if let traceFieldLimit, traceFieldLimit < TraceFieldLimit.minimumBytes {
            throw ValidationError("--trace-field-limit must be at least \(TraceFieldLimit.minimumBytes) bytes, got \(traceFieldLimit)")
        }
    }


    /// `--trace-field-limit`, else `SLUICE_TRACE_FIELD_LIMIT`, else the default.
    func fieldLimit() throws -> TraceFieldLimit {
        if let traceFieldLimit { return TraceFieldLimit(bytes: traceFieldLimit) }
        guard let setting = ProcessInfo.processInfo.environment["SLUICE_TRACE_FIELD_LIMIT"], !setting.isEmpty else { return TraceFieldLimit() }
        guard let bytes = Int(setting.trimmingCharacters(in: .whitespaces)), bytes >= TraceFieldLimit.minimumBytes else {
            throw UsageError("SLUICE_TRACE_FIELD_LIMIT must be a whole number of bytes, at least \(TraceFieldLimit.minimumBytes), got '\(setting)'")
        }
        return TraceFieldLimit(bytes: bytes)
    }

    func run() async throws {
        let script = try loadScript(file)
        let pipeline: String
        let inputs: [String: JSONValue]
        let provider: ModelProvider
        let sqlite: SQLiteStore
        let sessionId: String?
        let runUser: String?
        let otlpSettings: OTLPSettings?
        do {
            pipeline = try choosePipeline(script.program, named: input.pipeline)
            inputs = try input.collect()
            try checkInputs(inputs, for: pipeline, in: script.program, allowMissing: false)
            sqlite = try openStore(store.path, fieldLimit: try fieldLimit())
            sessionId = try resolveSession(sqlite)
            runUser = try commandLineUser(user)
            otlpSettings = try otlp.liveSettings()
            provider = WarningReportingProvider(try providers.makeProvider(store: sqlite, session: sessionId))
        } catch let error as UsageError {
            throw error.exit()
        }
        let traces = TraceWriter(store: sqlite)
        let interpreter = Interpreter(program: script.program, effects: RuntimeEffects(
            provider: provider, retrieval: sqlite, trace: traces, clock: SystemClock(), random: SystemRandom(),
            tokens: defaultTokenCounter(), sessions: sqlite, embeddings: provider as? EmbeddingProvider, spend: sqlite,
            code: SandboxCodeRunner()))
        // With --json, standard output is one JSON document, so streamed text goes to standard error.
        let printer = StreamPrinter(text: json ? .standardError : .standardOutput)
        let onText = stream ? printer.print : nil
        let runTask = Task { () async -> Result<RunResult, RunFailure> in
            do throws(RunFailure) {
                return .success(try await interpreter.run(pipeline: pipeline, inputs: inputs, session: sessionId, user: runUser, onText: onText))
            } catch {
                return .failure(error)
            }
        }
        let signals = SignalCancellation(beforeQuitting: traces.flush) { runTask.cancel() }
        let outcome = await runTask.value
        // The whole trace is in the store (or known lost) before anything is printed, and before any exit.
        traces.close()
        signals.stop()
        // The run's trace goes to the collector once it is complete and the result is printed.
        let exportTrace = { (runId: String) async in
            if let otlpSettings { await exportFinishedRun(runId, from: sqlite, to: otlpSettings) }
        }
        switch outcome {
        case .success(var result):
            // The writer's own verdict first: it names why the store took nothing (a read-only file, a full disk).
            result.traceError = traces.failure(ofRun: result.runId).map { "\($0)" } ?? result.traceError
            if let traceError = result.traceError { Terminal.error("warning: the trace could not be fully saved: \(traceError)") }
            for failed in result.failedScores {
                Terminal.error(Terminal.red("score \(failed.name) failed:") + " \(failed.error) " + Terminal.dim("(sluice traces show \(result.runId))"))
            }
            if json {
                printer.finish()
                var report = RunReport.json(result)
                if let sessionId, case .object(var members) = report {
                    members.append(("session", .string(sessionId)))
                    report = .object(members)
                }
                Terminal.out(report.prettyPrinted())
            } else {
                let output = RunReport.humanOutput(result.output)
                if printer.finish() != output { Terminal.out(output) }
                Terminal.error(Terminal.dim(RunReport.summary(result) + (sessionId.map { " · session \($0)" } ?? "")))
            }
            await exportTrace(result.runId)
            await RunAlerts.check(script.program, runId: result.runId, limits: result.limits, store: sqlite)
            if result.traceError != nil { throw Exit.traceNotSaved }
        case .failure(var error):
            error.traceError = traces.failure(ofRun: error.runId).map { "\($0)" } ?? error.traceError
            printer.finish()
            if json {
                Terminal.out(RunReport.failureJSON(error).prettyPrinted())
            }
            if let traceError = error.traceError { Terminal.error("warning: the trace could not be fully saved: \(traceError)") }
            if error.error.kind == .cancelled {
                let signal = signals.received
                Terminal.error(Terminal.dim("run \(error.runId) cancelled\(signal.map { " by " + SignalCancellation.name(of: $0) } ?? "") after "
                                            + "\(NumberDisplay.money(error.cost)), \(error.tokens) tokens; its trace: sluice traces show \(error.runId)"))
                await exportTrace(error.runId)
                throw ExitCode(signal.map(SignalCancellation.exitStatus) ?? Exit.scriptError.rawValue)
            }
            Terminal.error(DiagnosticRenderer.render(error.error.diagnostic, color: Terminal.colorOnStderr))
            if error.error.kind == .overBudget {
                Terminal.error(Terminal.dim("run \(error.runId) is over budget after \(NumberDisplay.money(error.cost)), \(error.tokens) tokens; "
                                            + "its trace: sluice traces show \(error.runId)"))
                await exportTrace(error.runId)
                await RunAlerts.check(script.program, runId: error.runId, limits: error.limits, store: sqlite)
                throw Exit.overBudgetRun
            }
            Terminal.error(Terminal.dim("run \(error.runId) failed after \(NumberDisplay.money(error.cost)), \(error.tokens) tokens; "
                                        + "its trace: sluice traces show \(error.runId)"))
            await exportTrace(error.runId)
            await RunAlerts.check(script.program, runId: error.runId, limits: error.limits, store: sqlite)
            throw Exit.scriptError
        }
    }
}

extension RunCommand {
    /// The conversation this run continues or starts; an unknown id is a usage error.
    func resolveSession(_ store: any Store) throws -> String? {
        if newSession {
            let id = String(SystemRandom().next(), radix: 16)
            do { try store.createSession(id, at: SystemClock().now()) } catch {
                throw UsageError("cannot start a session: \(error)")
            }
            return id
        }
        guard let session else { return nil }
        let exists: Bool
        do { exists = try store.loadSession(session) != nil } catch {
            throw UsageError("cannot read session \(session): \(error)")
        }
        guard exists else {
            throw UsageError("no session \(session) in \(store.path): start one with --new-session (`sluice sessions list` shows the existing ones)")
        }
        return session
    }
}

/// Writes streamed replies as they arrive (to standard output, or to standard error when standard
/// output is reserved for --json), naming each prompt on standard error.
final class StreamPrinter: @unchecked Sendable {
    private let text: FileHandle
    private let lock = NSLock()
    private var currentCall: String?
    private var currentText = ""
    private var finished = false

    init(text: FileHandle) { self.text = text }

    func print(call: String, piece: String) {
        lock.withLock {
            if currentCall != call {
                if currentCall != nil { text.write(Data("\n".utf8)) }
                Terminal.error(Terminal.dim("── \(call)"))
                currentCall = call
                currentText = ""
            }
            currentText += piece
            text.write(Data(piece.utf8))
        }
    }

    /// Ends the stream (once); returns the last reply's text, nil when nothing streamed.
    @discardableResult
    func finish() -> String? {
        lock.withLock {
            guard currentCall != nil, !finished else { return nil }
            finished = true
            text.write(Data("\n".utf8))
            return currentText
        }
    }
}

/// Prints the warnings providers attach to replies (`ChatResponse.warnings`: a structured-output
/// fallback, a schema sent non-strict) on standard error as they arrive, each distinct one once.
struct WarningReportingProvider: ModelProvider, EmbeddingProvider {
    let inner: any ModelProvider
    private let printed = PrintedWarnings()

    init(_ inner: any ModelProvider) { self.inner = inner }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let response = try await inner.complete(request)
        for warning in response.warnings where printed.firstTime(warning) {
            Terminal.error(Terminal.red("warning:") + " \(warning)")
        }
        return response
    }

    func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        try await embedder(for: model).embed(texts, model: model)
    }

    func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        try await embedder(for: model).embedWithUsage(texts, model: model)
    }

    private func embedder(for model: ModelSpec) throws -> any EmbeddingProvider {
        guard let embedder = inner as? any EmbeddingProvider else {
            throw ProviderError(.configuration, "model '\(model.name)': this run's provider cannot compute embeddings")
        }
        return embedder
    }
}

final class PrintedWarnings: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    func firstTime(_ warning: String) -> Bool { lock.withLock { seen.insert(warning).inserted } }
}

/// Whom a command's runs are for: `--user` (validated by the command's `validate()`), else
/// `SLUICE_USER`, else nobody.
func commandLineUser(_ flag: String?) throws -> String? {
    if let flag { return flag }
    guard let setting = ProcessInfo.processInfo.environment["SLUICE_USER"], !setting.isEmpty else { return nil }
    do { try UserId.validate(setting, source: "SLUICE_USER") } catch { throw UsageError(error.description) }
    return setting
}

/// Opens the store a command reads and writes: the SQLite file at `path`, the CLI's engine (code
/// that needs only what every store offers takes `any Store`). A command that traces writes its
/// runs through a `TraceWriter` on it, and closes the writer before it prints or exits.
func openStore(_ path: String, fieldLimit: TraceFieldLimit = TraceFieldLimit()) throws -> SQLiteStore {
    do { return try SQLiteStore(path: path, tokenCounter: defaultTokenCounter(), fieldLimit: fieldLimit) } catch {
        throw UsageError("cannot open the store \(path): \(error)")
    }
}

/// Opens an existing store only to read it (`traces list|show`): nothing is written, so a read-only
/// file or folder can be read. Nil when there is no store at `path` yet.
func openStoreForReading(_ path: String) throws -> SQLiteStore? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do { return try SQLiteStore(path: path, tokenCounter: defaultTokenCounter(), readOnly: true) } catch {
        throw UsageError("cannot read the store \(path): \(error)")
    }
}

/// How a run's result is shown.
enum RunReport {
    static func humanOutput(_ value: Value) -> String {
        if case .string(let s, _) = value { return s }
        if case .reply(let r) = value, r.json == nil { return r.text }
        return value.json.prettyPrinted()
    }

    static func summary(_ result: RunResult) -> String {
        var parts = ["run \(result.runId) ok", "\(result.tokens) tokens", NumberDisplay.money(result.cost)]
        let scores = result.scores.map { "\($0.name)=\(NumberDisplay.score($0.value))" } + result.failedScores.map { "\($0.name) failed" }
        if !scores.isEmpty { parts.append("scores: " + scores.joined(separator: " ")) }
        if !result.flags.isEmpty { parts.append("flagged: " + result.flags.joined(separator: ", ")) }
        return parts.joined(separator: " · ")
    }

    /// `failed_scores` (each metric that could not be computed, with its error) follows `scores`
    /// only when there are some.
    static func json(_ result: RunResult) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("run_id", .string(result.runId)),
            ("status", .string("ok")),
            ("output", result.output.json),
            ("scores", .object(result.scores.map { ($0.name, NumberDisplay.scoreJSON($0.value)) })),
        ]
        if !result.failedScores.isEmpty {
            members.append(("failed_scores", .object(result.failedScores.map { ($0.name, .string($0.error)) })))
        }
        members += [
            ("flags", .array(result.flags.map { .string($0) })),
            ("cost", NumberDisplay.moneyJSON(result.cost)),
            ("tokens", .number(Double(result.tokens))),
            ("trace_saved", .bool(result.traceError == nil)),
        ]
        return .object(members)
    }

    /// The status a failed run ends with, as its trace records it.
    static func status(of kind: RuntimeError.Kind) -> TraceRunEnd.Status {
        switch kind {
        case .guardBlocked: .blocked
        case .cancelled: .cancelled
        case .overBudget: .overBudget
        case .script, .budget, .provider, .validation, .limit: .error
        }
    }

    static func failureJSON(_ failure: RunFailure) -> JSONValue {
        var error: [(key: String, value: JSONValue)] = [("kind", .string(failure.error.kind.rawValue)), ("message", .string(failure.error.message))]
        let diagnostic = failure.error.diagnostic
        if let file = diagnostic.file {
            let (line, column) = file.location(of: diagnostic.span.start)
            error.append(("location", .string("\(file.path):\(line):\(column)")))
        }
        return .object([
            ("run_id", .string(failure.runId)),
            ("status", .string(status(of: failure.error.kind).rawValue)),
            ("error", .object(error)),
            ("cost", NumberDisplay.moneyJSON(failure.cost)),
            ("tokens", .number(Double(failure.tokens))),
            ("trace_saved", .bool(failure.traceError == nil)),
        ])
    }
}

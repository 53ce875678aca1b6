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
    @Flag(name: .long, help: "Print the result as one JSON object.") var json = false
    @Flag(name: .long, help: "Print each model's reply as it arrives (server-sent events).") var stream = false
    @Option(name: .long, help: ArgumentHelp("Continue this conversation (see `sluice sessions list`).", valueName: "id"))
    var session: String?
    @Flag(name: .customLong("new-session"), help: "Start a new conversation; its id is printed.") var newSession = false

    func validate() throws {
        if session != nil && newSession { throw ValidationError("use either --session ID or --new-session, not both") }
    }

    func run() async throws {
        let script = try loadScript(file)
        let pipeline: String
        let inputs: [String: JSONValue]
        let provider: ModelProvider
        let sqlite: SQLiteStore
        let sessionId: String?
        do {
            pipeline = try choosePipeline(script.program, named: input.pipeline)
            inputs = try input.collect()
            provider = try providers.makeProvider()
            sqlite = try openStore(store.path)
            sessionId = try resolveSession(sqlite)
        } catch let error as UsageError {
            throw error.exit()
        }
        let interpreter = Interpreter(program: script.program, effects: RuntimeEffects(
            provider: provider, retrieval: sqlite, trace: sqlite, clock: SystemClock(), random: SystemRandom(),
            tokens: defaultTokenCounter(), sessions: sqlite, embeddings: provider as? EmbeddingProvider))
        let printer = StreamPrinter()
        do {
            let result = try await interpreter.run(pipeline: pipeline, inputs: inputs, session: sessionId,
                                                   onText: stream && !json ? printer.print : nil)
            if let traceError = result.traceError { Terminal.error("warning: the trace could not be fully saved: \(traceError)") }
            if json {
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
        } catch {
            if json {
                Terminal.out(RunReport.failureJSON(error).prettyPrinted())
            }
            Terminal.error(DiagnosticRenderer.render(error.error.diagnostic, color: Terminal.colorOnStderr))
            Terminal.error(Terminal.dim("run \(error.runId) failed after \(formatMoney(error.cost)), \(error.tokens) tokens; "
                                        + "its trace: sluice traces show \(error.runId)"))
            throw Exit.scriptError
        }
    }
}

extension RunCommand {
    /// The conversation this run continues or starts; an unknown id is a usage error.
    func resolveSession(_ store: SQLiteStore) throws -> String? {
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

/// Writes streamed replies to standard output as they arrive, naming each prompt on standard error.
final class StreamPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private var currentCall: String?
    private var currentText = ""

    func print(call: String, piece: String) {
        lock.withLock {
            if currentCall != call {
                if currentCall != nil { FileHandle.standardOutput.write(Data("\n".utf8)) }
                Terminal.error(Terminal.dim("── \(call)"))
                currentCall = call
                currentText = ""
            }
            currentText += piece
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
    }

    /// Ends the stream; returns the last reply's text.
    func finish() -> String? {
        lock.withLock {
            guard currentCall != nil else { return nil }
            FileHandle.standardOutput.write(Data("\n".utf8))
            return currentText
        }
    }
}

func openStore(_ path: String) throws -> SQLiteStore {
    do { return try SQLiteStore(path: path, tokenCounter: defaultTokenCounter()) } catch {
        throw UsageError("cannot open the store \(path): \(error)")
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
        var parts = ["run \(result.runId) ok", "\(result.tokens) tokens", formatMoney(result.cost)]
        if !result.scores.isEmpty {
            parts.append("scores: " + result.scores.map { "\($0.name)=\(JSONValue.formatNumber($0.value))" }.joined(separator: " "))
        }
        if !result.flags.isEmpty { parts.append("flagged: " + result.flags.joined(separator: ", ")) }
        return parts.joined(separator: " · ")
    }

    static func json(_ result: RunResult) -> JSONValue {
        .object([
            ("run_id", .string(result.runId)),
            ("status", .string("ok")),
            ("output", result.output.json),
            ("scores", .object(result.scores.map { ($0.name, .number($0.value)) })),
            ("flags", .array(result.flags.map { .string($0) })),
            ("cost", .number(result.cost)),
            ("tokens", .number(Double(result.tokens))),
        ])
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
            ("status", .string(failure.error.kind == .guardBlocked ? "blocked" : "error")),
            ("error", .object(error)),
            ("cost", .number(failure.cost)),
            ("tokens", .number(Double(failure.tokens))),
        ])
    }
}

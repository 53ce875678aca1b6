import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceSyntax

struct ReplCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Declare models, prompts and guards, and run stages one line at a time.",
        discussion: "Declarations are kept between lines; statements run against the names bound so far. Type :help for commands."
    )

    @ArgumentParser.Argument(help: "A script whose declarations to start from.") var file: String?
    @OptionGroup var store: StoreOptions
    @OptionGroup var providers: ProviderOptions

    func run() async throws {
        if let file {
            // A path that names no readable file is a usage error, before anything is opened.
            do { _ = try readSource(file) } catch let error as SourceReadError where error.isUsage {
                Terminal.error(Terminal.red("error:") + " \(error)")
                throw Exit.usage
            }
        }
        var session: ReplSession
        do {
            let sqlite = try openStore(store.path)
            session = ReplSession(provider: WarningReportingProvider(try providers.makeProvider(store: sqlite)), store: sqlite, spend: sqlite)
        } catch let error as UsageError {
            throw error.exit()
        }
        if let file, !session.load(file) { throw Exit.scriptError }
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive { Terminal.out("Sluice REPL. Declarations persist; :help for commands, :quit to leave.") }
        var pending = ""
        while true {
            if interactive {
                FileHandle.standardOutput.write(Data((pending.isEmpty ? "sluice> " : "   ...> ").utf8))
            }
            guard let line = readLine(strippingNewline: true) else { break }
            pending += pending.isEmpty ? line : "\n" + line
            guard inputIsComplete(pending) else { continue }
            let input = pending
            pending = ""
            let trimmed = input.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix(":") {
                if !session.command(trimmed) { break }
                continue
            }
            await session.evaluate(input)
        }
    }
}

/// True when brackets and triple-quoted strings are closed, so the input can be parsed.
func inputIsComplete(_ text: String) -> Bool {
    var depth = 0
    var inString = false, inTriple = false, inComment = false
    let bytes = Array(text.utf8)
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        if inComment {
            if b == UInt8(ascii: "\n") { inComment = false }
        } else if inTriple {
            if b == UInt8(ascii: "\""), i + 2 < bytes.count, bytes[i + 1] == b, bytes[i + 2] == b { inTriple = false; i += 2 }
        } else if inString {
            if b == UInt8(ascii: "\\") { i += 1 } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\n") { inString = false }
        } else {
            switch b {
            case UInt8(ascii: "#"): inComment = true
            case UInt8(ascii: "\""):
                if i + 2 < bytes.count, bytes[i + 1] == b, bytes[i + 2] == b { inTriple = true; i += 2 } else { inString = true }
            case UInt8(ascii: "{"), UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
        i += 1
    }
    return depth <= 0 && !inTriple
}

/// The REPL's state: the program declared so far and the values bound by statements.
struct ReplSession {
    let provider: ModelProvider
    let store: any Store
    /// The store's spend ledger: what the REPL's calls cost counts in the day's windows, as every
    /// other run's does, so a `day` budget sees it.
    let spend: any SpendLedger
    var program: Program
    var locals: [String: Value] = [:]
    var inputCount = 0

    init(provider: ModelProvider, store: any Store, spend: any SpendLedger) {
        self.provider = provider
        self.store = store
        self.spend = spend
        program = Checker.check(Parser.parse(SourceFile(path: "<repl>", text: "")).module, loader: FileModuleLoader()).program
    }

    /// Adds declarations (a later one may redefine a name) when they check; otherwise shows why
    /// and keeps the program as it was.
    @discardableResult
    mutating func addDeclarations(_ decls: [Decl], file: SourceFile) -> Bool {
        let (extended, diagnostics) = Checker.extend(program, with: decls, file: file, loader: FileModuleLoader())
        let errors = diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty {
            Terminal.error(DiagnosticRenderer.render(errors, color: Terminal.colorOnStderr))
            return false
        }
        program = extended
        return true
    }

    /// Adds every declaration of a script file.
    @discardableResult
    mutating func load(_ path: String) -> Bool {
        do {
            let file = try readSource(path)
            let (module, diagnostics) = Parser.parse(file)
            if !diagnostics.isEmpty {
                Terminal.error(DiagnosticRenderer.render(diagnostics, color: Terminal.colorOnStderr))
                return false
            }
            return addDeclarations(module.decls, file: file)
        } catch {
            Terminal.error(Terminal.red("error:") + " \(error)")
            return false
        }
    }

    mutating func evaluate(_ input: String) async {
        inputCount += 1
        let file = SourceFile(path: "<repl:\(inputCount)>", text: input)
        let parsed = Parser.parseReplInput(file)
        if !parsed.diagnostics.isEmpty {
            Terminal.error(DiagnosticRenderer.render(parsed.diagnostics, color: Terminal.colorOnStderr))
            return
        }
        if !parsed.decls.isEmpty {
            guard addDeclarations(parsed.decls, file: file) else { return }
            let names = parsed.decls.compactMap { $0.name?.text }
            Terminal.out(names.isEmpty ? "ok" : "declared " + names.joined(separator: ", "))
        }
        if parsed.statements.isEmpty { return }
        let types = locals.mapValues { _ in SluiceType.any }
        // The trust each value carries, so that the checker does not take every earlier name for untrusted.
        let trust = locals.mapValues { value -> TrustLevel in
            switch value.trust {
            case .trusted: .trusted
            case .fenced: .fenced
            case .untrusted: .untrusted
            }
        }
        let checked = Checker.checkStatementsAndLocals(parsed.statements, file: file, program: program, locals: types, trust: trust)
        let problems = checked.diagnostics
        if !problems.isEmpty {
            Terminal.error(DiagnosticRenderer.render(problems, color: Terminal.colorOnStderr))
            if problems.contains(where: { $0.severity == .error }) { return }
        }
        let interpreter = Interpreter(program: program, effects: RuntimeEffects(
            provider: provider, retrieval: store, trace: DiscardingTraceSink(), clock: SystemClock(), random: SystemRandom(),
            tokens: defaultTokenCounter(), embeddings: provider as? EmbeddingProvider, spend: spend, code: SandboxCodeRunner()))
        do {
            if let value = try await interpreter.evaluate(parsed.statements, file: file, locals: &locals, calls: checked.callTargets,
                                                             layout: checked.layout, bindings: checked.bindings) {
                Terminal.out(RunReport.humanOutput(value))
            }
        } catch {
            Terminal.error(DiagnosticRenderer.render(error.diagnostic, color: Terminal.colorOnStderr))
        }
    }

    /// Runs a `:command`; false means leave.
    mutating func command(_ text: String) -> Bool {
        let words = text.split(separator: " ", maxSplits: 1).map(String.init)
        switch words[0] {
        case ":quit", ":q", ":exit":
            return false
        case ":help":
            Terminal.out("""
                Type declarations (model, type, prompt, index, guard, budget, pipeline, use) or statements
                (x = ..., guard ..., validate ..., score ..., expressions). Multi-line input continues until
                brackets close.
                  :decls        list what is declared
                  :locals       list bound names
                  :load FILE    add a script's declarations
                  :reset        forget everything
                  :quit         leave
                """)
        case ":decls":
            let tables: [(String, [String])] = [("models", Array(program.models.keys)), ("types", Array(program.types.keys)),
                                                ("prompts", Array(program.prompts.keys)), ("indexes", Array(program.indexes.keys)),
                                                ("guards", Array(program.guards.keys)), ("pipelines", Array(program.pipelines.keys))]
            for (kind, names) in tables where !names.isEmpty { Terminal.out("\(kind): " + names.sorted().joined(separator: ", ")) }
        case ":locals":
            for name in locals.keys.sorted() { Terminal.out("\(name) = \(RunReport.humanOutput(locals[name] ?? .null))") }
        case ":load":
            guard words.count == 2 else { Terminal.error("usage: :load FILE"); return true }
            if load(words[1]) { Terminal.out("loaded \(words[1])") }
        case ":reset":
            self = ReplSession(provider: provider, store: store, spend: spend)
            Terminal.out("reset")
        default:
            Terminal.error("unknown command \(words[0]); :help lists them")
        }
        return true
    }
}

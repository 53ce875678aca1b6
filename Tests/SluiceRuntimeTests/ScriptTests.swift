import Foundation
import GoldenSupport
import SluiceSemantics
import SluiceStdlib
import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// Each `Scripts/NAME.sluice` runs with the directives in its leading comments, and its
/// transcript (output, scores, trace outline, or the rendered error) must equal `NAME.out`.
/// Directives:
///   # input NAME: VALUE            a pipeline input (JSON if it parses, else a string)
///   # reply: TEXT                  the next model reply; `# reply MODEL: TEXT` only for MODEL
///   # fail: MESSAGE                the next model call fails; `# fail MODEL: MESSAGE`
///   # doc INDEX SOURCE: TEXT       a document in an in-memory index
///   # pipeline: NAME               which pipeline to run (default: the last declared)
///   # session: ID                  run in this conversation (created empty)
///   # turn ROLE: TEXT              an earlier turn of that conversation
/// Update the goldens with `SLUICE_UPDATE_GOLDENS=1 swift test --filter ScriptTests`.
final class ScriptTests: XCTestCase {
    static let scriptsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")

    func testScripts() async {
        await Golden.forEach(Golden.fixtures(in: Self.scriptsFolder, suffix: "sluice")) { url in
            let transcript = await Self.transcript(of: url)
            Golden.check(transcript, against: url.deletingPathExtension().appendingPathExtension("out"), for: url)
        }
    }

    static func transcript(of url: URL) async -> String {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return "cannot read \(url.path)" }
        let file = SourceFile(path: "Scripts/" + url.lastPathComponent, text: text)
        var inputs: [String: JSONValue] = [:]
        var replies: [QueuedProvider.Scripted] = []
        var documents: [String: [(source: String, text: String)]] = [:]
        var pipeline: String?
        let sessions = MemorySessions()
        var session: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where line.hasPrefix("# ") {
            let body = line.dropFirst(2)
            guard let colon = body.firstIndex(of: ":") else { continue }
            let head = body[..<colon].split(separator: " ").map(String.init)
            let value = String(body[body.index(after: colon)...].dropFirst())
            switch head.first {
            case "input" where head.count == 2: inputs[head[1]] = (try? JSONValue.parse(value)) ?? .string(value)
            case "reply": replies.append(.init(model: head.count > 1 ? head[1] : nil, text: value, error: nil))
            case "fail": replies.append(.init(model: head.count > 1 ? head[1] : nil, text: nil, error: value))
            case "doc" where head.count == 3: documents[head[1], default: []].append((head[2], value))
            case "pipeline": pipeline = value
            case "session":
                session = value
                try? sessions.createSession(value, at: 0)
            case "turn" where head.count == 2:
                if let session { _ = try? sessions.appendTurns(session, [(head[1], value)], at: 0) }
            default: break
            }
        }
        let (module, parseDiagnostics) = Parser.parse(file)
        let (program, checkDiagnostics) = Checker.check(module, loader: EmbeddedLoader())
        let diagnostics = parseDiagnostics + checkDiagnostics
        if diagnostics.contains(where: { $0.severity == .error }) {
            return "check failed:\n" + DiagnosticRenderer.render(diagnostics)
        }
        let chosen = pipeline ?? module.decls.compactMap { decl -> String? in
            if case .pipeline(let p) = decl { return p.name.text }
            return nil
        }.last ?? "main"
        let provider = QueuedProvider(replies)
        let trace = RecordingTrace()
        let interpreter = Interpreter(program: program, effects: RuntimeEffects(
            provider: provider, retrieval: MemoryRetrieval(documents: documents), trace: trace, clock: FixedClock(),
            random: CountingRandom(), tokens: EstimatingTokenCounter(), sessions: sessions, embeddings: LetterEmbedder()))
        var lines: [String] = []
        do {
            let result = try await interpreter.run(pipeline: chosen, inputs: inputs, session: session)
            lines.append("output: " + result.output.json.serialized())
            if !result.scores.isEmpty {
                lines.append("scores: " + result.scores.map { "\($0.name)=\(JSONValue.formatNumber($0.value))" }.joined(separator: " "))
            }
            for failed in result.failedScores { lines.append("failed score \(failed.name): \(failed.error)") }
            if !result.flags.isEmpty { lines.append("flags: " + result.flags.joined(separator: " ")) }
            lines.append("spent: \(formatMoney(result.cost)), \(result.tokens) tokens")
        } catch {
            lines.append("error (\(error.error.kind.rawValue)):")
            lines.append(DiagnosticRenderer.render(error.error.diagnostic))
        }
        for (i, request) in provider.requests.enumerated() {
            lines.append("request \(i + 1) to \(request.model.name) (max \(request.maxTokens) tokens):")
            for message in request.messages { lines.append("  [\(message.role)] " + message.content.replacingOccurrences(of: "\n", with: "\n  ")) }
        }
        if let session { lines.append(sessions.describe(session)) }
        lines.append("trace:")
        lines.append(trace.outline)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The standard library as embedded in the binary; no local files.
struct EmbeddedLoader: ModuleLoader {
    func loadModule(_ path: [String]) -> SourceFile? {
        StandardLibrary.source(module: path).map { SourceFile(path: "stdlib/" + path.joined(separator: "/") + ".sluice", text: $0) }
    }
    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        // Test scripts import files beside them, in Scripts/.
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : ScriptTests.scriptsFolder.appendingPathComponent(path)
        return SourceFile(path: path, text: try String(contentsOf: url, encoding: .utf8))
    }
}

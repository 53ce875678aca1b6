import Foundation
import SluiceSemantics
import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// The standard library's guards against a corpus (Fixtures/guards, see its README): every
/// `.match` line trips its guard through the named pattern, every `.pass` line trips none.
/// Each guard is its own test, and each failing line its own failure naming file and line.
final class StdlibGuardCorpusTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("guards")

    func testInjection() throws { try checkCorpus(of: "injection") }
    func testPII() throws { try checkCorpus(of: "pii") }
    func testLeak() throws { try checkCorpus(of: "leak") }
    func testProfanity() throws { try checkCorpus(of: "profanity") }
    func testSecrets() throws { try checkCorpus(of: "secrets") }

    func testEveryGuardWithACorpusHasATest() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path)
        let guarded = Set(files.filter { $0.hasSuffix(".match") || $0.hasSuffix(".pass") }.map { String($0.split(separator: ".")[0]) })
        XCTAssertEqual(guarded, ["injection", "pii", "leak", "profanity", "secrets"])
    }

    /// The guard as the runtime compiles it, from the embedded standard library.
    private func compiledGuard(_ name: String) throws -> CompiledGuard {
        let file = SourceFile(path: "corpus.sluice", text: "use std.guards.{\(name)}\n")
        let (program, diagnostics) = Checker.check(Parser.parse(file).module, loader: EmbeddedLoader())
        XCTAssertEqual(DiagnosticRenderer.render(diagnostics), "")
        let declared = try XCTUnwrap(program.guards[name], "std.guards has no guard \(name)")
        let interpreter = Interpreter(program: program, effects: RuntimeEffects(
            provider: QueuedProvider([]), retrieval: MemoryRetrieval(documents: [:]), trace: RecordingTrace(),
            clock: FixedClock(), random: CountingRandom(), tokens: EstimatingTokenCounter()))
        return try CompiledGuard(declared) { expr, file in try interpreter.constant(expr, file: file) }
    }

    /// The cases of a corpus file: (line number, text), comments and blank lines left out.
    private func cases(_ fileName: String) throws -> [(line: Int, text: String)] {
        let text = try String(contentsOf: Self.corpus.appendingPathComponent(fileName), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            line.isEmpty || line.hasPrefix("# ") ? nil : (index + 1, String(line))
        }
    }

    private func checkCorpus(of name: String) throws {
        let compiled = try compiledGuard(name)
        let patternNames = Set(compiled.patterns.map(\.name))
        let matching = try cases("\(name).match")
        let passing = try cases("\(name).pass")
        XCTAssertFalse(matching.isEmpty, "\(name).match has no cases")
        XCTAssertFalse(passing.isEmpty, "\(name).pass has no cases")
        for (line, entry) in matching {
            guard let colon = entry.range(of: ": ") else {
                XCTFail("\(name).match:\(line): expected `PATTERN: text`"); continue
            }
            let pattern = String(entry[..<colon.lowerBound]), text = String(entry[colon.upperBound...])
            guard patternNames.contains(pattern) else {
                XCTFail("\(name).match:\(line): guard \(name) has no pattern `\(pattern)`"); continue
            }
            let fired = compiled.inspect(.text(text), action: compiled.action).matches.map(\.pattern)
            XCTAssertTrue(fired.contains(pattern),
                          "\(name).match:\(line): `\(pattern)` did not fire on \"\(text)\" (fired: \(fired))")
        }
        for (line, text) in passing {
            let fired = compiled.inspect(.text(text), action: compiled.action).matches.map(\.pattern)
            XCTAssertEqual(fired, [], "\(name).pass:\(line): \"\(text)\" tripped \(fired)")
        }
    }
}

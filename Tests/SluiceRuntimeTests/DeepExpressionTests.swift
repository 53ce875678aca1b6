import Foundation
import SluiceSemantics
import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// The expression height limit is chosen so that the checker and the interpreter, which walk
/// expressions recursively, stay within the stack: here every chain kind at exactly the limit,
/// inside blocks nested almost as deep as blocks may go, is checked and run on a Swift
/// concurrency thread (where `sluice run` evaluates). Measured in a debug build on a 2-core
/// Linux machine: the checker's walk overflowed between 800 and 900 levels (it was 2000 to 3000
/// before the checker followed trust through every expression), so 256 leaves a threefold
/// margin. When this test crashes, the walks got heavier: lower the limit or lighten them.
final class DeepExpressionTests: XCTestCase {
    static let limit = Parser.maximumExpressionHeight
    /// The pipeline body, the statement's expression, the string hole, the expression in it
    /// and an index inside that take the last levels of nesting.
    static let blocks = Parser.maximumNestingDepth - 5

    struct Case: Sendable {
        /// The chain's text with `links` links (its tree is `links` high).
        var chain: @Sendable (_ links: Int) -> String
        var input: JSONValue
        var output: JSONValue
    }

    static let cases: [(kind: String, Case)] = {
        let n = limit
        return [
            ("negate", Case(chain: { String(repeating: "-", count: $0 - 1) + "r" }, input: .number(1), output: .number(n % 2 == 0 ? -1 : 1))),
            ("not", Case(chain: { String(repeating: "not ", count: $0 - 1) + "r" }, input: .bool(true), output: .bool(n % 2 == 1))),
            ("add", Case(chain: { "r" + String(repeating: "+1", count: $0 - 1) }, input: .number(1), output: .number(Double(n)))),
            ("and", Case(chain: { "r" + String(repeating: " and r", count: $0 - 1) }, input: .bool(true), output: .bool(true))),
            ("coalesce", Case(chain: { "r" + String(repeating: " ?? r", count: $0 - 1) }, input: .null, output: .null)),
            ("filter", Case(chain: { "r" + String(repeating: " | upper", count: $0 - 1) }, input: .string("x"), output: .string("X"))),
            ("member", Case(chain: { "r" + String(repeating: ".a", count: $0 - 1) }, input: .null, output: .null)),
            ("index", Case(chain: { "r" + String(repeating: "[0]", count: $0 - 1) }, input: .null, output: .null)),
        ]
    }()

    func testEveryChainAtTheLimitChecksAndRunsOnAConcurrencyThread() async throws {
        for (kind, testCase) in Self.cases {
            var text = "pipeline p(r: any) {\n"
            text += String(repeating: "if true {\n", count: Self.blocks)
            // The string literal is one level over its hole.
            text += "x = \"{\(testCase.chain(Self.limit - 1))}\"\nreturn \(testCase.chain(Self.limit))\n"
            text += String(repeating: "}\n", count: Self.blocks) + "}\n"
            let file = SourceFile(path: "\(kind).sluice", text: text)
            let result = await Task.detached { () -> String in
                let (module, parseDiagnostics) = Parser.parse(file)
                let (program, checkDiagnostics) = Checker.check(module, loader: EmbeddedLoader())
                let diagnostics = (parseDiagnostics + checkDiagnostics).filter { $0.severity == .error }
                guard diagnostics.isEmpty else { return DiagnosticRenderer.render(diagnostics) }
                let interpreter = Interpreter(program: program, effects: RuntimeEffects(
                    provider: QueuedProvider([]), retrieval: MemoryRetrieval(documents: [:]), trace: RecordingTrace(),
                    clock: FixedClock(), random: CountingRandom(), tokens: EstimatingTokenCounter()))
                do throws(RunFailure) {
                    return try await interpreter.run(pipeline: "p", inputs: ["r": testCase.input]).output.json.serialized()
                } catch {
                    return "error: " + error.error.message
                }
            }.value
            XCTAssertEqual(result, testCase.output.serialized(), kind)
            XCTAssertEqual(Parser.parse(SourceFile(path: "t", text: "pipeline p(r: any) {\n  return \(testCase.chain(Self.limit + 1))\n}\n"))
                .diagnostics.map(\.message), ["expression deeper than \(Self.limit) levels"], kind)
        }
    }
}

import Foundation
import GoldenSupport
import XCTest
@testable import SluiceSyntax

/// Parse goldens: each example in `grammar/examples/` (read where it lives, no copies) and each
/// extra `Fixtures/parse/NAME.sluice` must parse without diagnostics to the tree in
/// `Fixtures/parse/NAME.ast`. Error goldens: each `Fixtures/errors/NAME.sluice` must render
/// exactly the diagnostics in `NAME.diag` (these keep the rendered snippets and carets under
/// test). `SLUICE_UPDATE_GOLDENS=1 swift test --filter GoldenTests` rewrites the goldens.
final class GoldenTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let examples = Golden.repository.appendingPathComponent("grammar/examples")

    func testParseGoldens() {
        let sources = Golden.fixtures(in: Self.examples, suffix: "sluice")
            + Golden.fixtures(in: Self.fixtures.appendingPathComponent("parse"), suffix: "sluice")
        Golden.forEach(sources) { url in
            let file = SourceFile(path: Golden.relativePath(url), bytes: Array(try Data(contentsOf: url)))
            let (module, diagnostics) = Parser.parse(file)
            XCTAssertEqual(DiagnosticRenderer.render(diagnostics), "", "\(file.path) should parse without errors")
            let golden = Self.fixtures.appendingPathComponent("parse").appendingPathComponent(url.lastPathComponent)
                .deletingPathExtension().appendingPathExtension("ast")
            Golden.check(dumpAST(module), against: golden, for: url)
        }
    }

    func testEveryParseGoldenHasItsSource() {
        let parse = Self.fixtures.appendingPathComponent("parse")
        for golden in Golden.fixtures(in: parse, suffix: "ast") {
            let name = golden.deletingPathExtension().appendingPathExtension("sluice").lastPathComponent
            let exists = [Self.examples, parse].contains { FileManager.default.fileExists(atPath: $0.appendingPathComponent(name).path) }
            XCTAssertTrue(exists, "\(Golden.relativePath(golden)) has no \(name) in grammar/examples or Fixtures/parse")
        }
    }

    func testErrorGoldens() {
        let directory = Self.fixtures.appendingPathComponent("errors")
        Golden.forEach(Golden.fixtures(in: directory, suffix: "sluice")) { url in
            let file = SourceFile(path: "errors/\(url.lastPathComponent)", bytes: Array(try Data(contentsOf: url)))
            let diagnostics = Parser.parse(file).diagnostics
            XCTAssertFalse(diagnostics.isEmpty, "\(file.path) should report errors")
            Golden.check(DiagnosticRenderer.render(diagnostics) + "\n",
                         against: url.deletingPathExtension().appendingPathExtension("diag"), for: url)
        }
    }
}

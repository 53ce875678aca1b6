import Foundation
import XCTest
@testable import SluiceSyntax

/// Golden tests: each `Fixtures/parse/NAME.sluice` must parse without diagnostics to the tree
/// in `NAME.ast`; each `Fixtures/errors/NAME.sluice` must give the diagnostics in `NAME.diag`.
/// `SLUICE_UPDATE_GOLDENS=1 swift test --filter SluiceSyntaxTests` rewrites the golden files.
final class GoldenTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let updating = ProcessInfo.processInfo.environment["SLUICE_UPDATE_GOLDENS"] == "1"

    func testParseGoldens() throws {
        try forEachFixture(in: "parse", goldenExtension: "ast") { file in
            let (module, diagnostics) = Parser.parse(file)
            XCTAssertEqual(DiagnosticRenderer.render(diagnostics), "", "\(file.path) should parse without errors")
            return dumpAST(module)
        }
    }

    func testErrorGoldens() throws {
        try forEachFixture(in: "errors", goldenExtension: "diag") { file in
            let diagnostics = Parser.parse(file).diagnostics
            XCTAssertFalse(diagnostics.isEmpty, "\(file.path) should report errors")
            return DiagnosticRenderer.render(diagnostics) + "\n"
        }
    }

    private func forEachFixture(in folder: String, goldenExtension: String,
                                produce: (SourceFile) throws -> String) throws {
        let directory = Self.fixtures.appendingPathComponent(folder)
        let sources = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sluice") }.sorted()
        XCTAssertFalse(sources.isEmpty, "no fixtures in \(directory.path)")
        for source in sources {
            let url = directory.appendingPathComponent(source)
            let file = SourceFile(path: "\(folder)/\(source)", bytes: Array(try Data(contentsOf: url)))
            let actual = try produce(file)
            let goldenURL = url.deletingPathExtension().appendingPathExtension(goldenExtension)
            if Self.updating {
                try actual.write(to: goldenURL, atomically: true, encoding: .utf8)
                continue
            }
            guard let expected = try? String(contentsOf: goldenURL, encoding: .utf8) else {
                XCTFail("missing golden \(goldenURL.lastPathComponent); run with SLUICE_UPDATE_GOLDENS=1")
                continue
            }
            XCTAssertEqual(actual, expected, "\(file.path) differs from \(goldenURL.lastPathComponent)\n\(firstDifference(actual, expected))")
        }
    }

    private func firstDifference(_ actual: String, _ expected: String) -> String {
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(actualLines.count, expectedLines.count) {
            let a = index < actualLines.count ? String(actualLines[index]) : "<end>"
            let e = index < expectedLines.count ? String(expectedLines[index]) : "<end>"
            if a != e { return "line \(index + 1):\n  actual:   \(a)\n  expected: \(e)" }
        }
        return ""
    }
}

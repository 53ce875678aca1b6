import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

/// Golden tests: each `Fixtures/check/NAME.sluice` is parsed and checked (std modules come
/// inline from `InlineStd`, `use "./file"` reads next to the fixture) and its rendered
/// diagnostics must equal `NAME.diag`.
/// `SLUICE_UPDATE_GOLDENS=1 swift test --filter SluiceSemanticsTests` rewrites the goldens.
final class CheckGoldenTests: XCTestCase {
    static let updating = ProcessInfo.processInfo.environment["SLUICE_UPDATE_GOLDENS"] == "1"

    func testCheckGoldens() throws {
        let directory = Paths.fixtures.appendingPathComponent("check")
        let sources = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sluice") }.sorted()
        XCTAssertFalse(sources.isEmpty, "no fixtures in \(directory.path)")
        var loader = InlineStd.loader
        loader.root = Paths.fixtures
        for source in sources {
            let url = directory.appendingPathComponent(source)
            let file = SourceFile(path: "check/\(source)", bytes: Array(try Data(contentsOf: url)))
            let parsed = Parser.parse(file)
            XCTAssertEqual(DiagnosticRenderer.render(parsed.diagnostics), "", "\(file.path) should parse cleanly")
            let diagnostics = Checker.check(parsed.module, loader: loader).diagnostics
            let actual = diagnostics.isEmpty ? "" : DiagnosticRenderer.render(diagnostics) + "\n"
            if source.hasPrefix("valid") {
                XCTAssertEqual(actual, "", "\(file.path) should check without diagnostics")
            } else {
                XCTAssertTrue(diagnostics.contains { $0.severity == .error }, "\(file.path) should report errors")
            }
            let goldenURL = url.deletingPathExtension().appendingPathExtension("diag")
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
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(a.count, e.count) {
            let x = i < a.count ? String(a[i]) : "<end>", y = i < e.count ? String(e[i]) : "<end>"
            if x != y { return "line \(i + 1):\n  actual:   \(x)\n  expected: \(y)" }
        }
        return ""
    }
}

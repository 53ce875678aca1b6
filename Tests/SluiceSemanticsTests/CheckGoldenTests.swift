import Foundation
import GoldenSupport
import SluiceSemantics
import SluiceSyntax
import XCTest

/// Each `Fixtures/check/NAME.sluice` is parsed and checked (std modules come inline from
/// `InlineStd`, `use "./file"` reads next to the fixture). Its diagnostics are expected inline,
/// as `# error: <message>` comments on the lines they point at (see `InlineDiagnostics`); a
/// fixture without any is expected to check cleanly. A fixture that also has `NAME.diag` must
/// render exactly as that golden (the older form, still supported; `names.diag` keeps the
/// rendered snippets, notes and help of checker diagnostics under test).
/// `SLUICE_UPDATE_GOLDENS=1 swift test --filter CheckGoldenTests` rewrites the `.diag` goldens.
final class CheckGoldenTests: XCTestCase {
    func testCheckFixtures() {
        let directory = Paths.fixtures.appendingPathComponent("check")
        var loader = InlineStd.loader
        loader.root = Paths.fixtures
        Golden.forEach(Golden.fixtures(in: directory, suffix: "sluice")) { url in
            let file = SourceFile(path: "check/\(url.lastPathComponent)", bytes: Array(try Data(contentsOf: url)))
            let parsed = Parser.parse(file)
            let diagnostics = parsed.diagnostics + Checker.check(parsed.module, loader: loader).diagnostics
            let golden = url.deletingPathExtension().appendingPathExtension("diag")
            let hasGolden = FileManager.default.fileExists(atPath: golden.path)
            if hasGolden {
                Golden.check(diagnostics.isEmpty ? "" : DiagnosticRenderer.render(diagnostics) + "\n", against: golden, for: url)
            }
            if !hasGolden || !InlineDiagnostics.expectations(in: file).isEmpty {
                InlineDiagnostics.verify(diagnostics, fixture: file, url: url)
            }
        }
    }
}

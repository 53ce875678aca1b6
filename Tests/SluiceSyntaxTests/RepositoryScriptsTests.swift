import Foundation
import XCTest
import SluiceSyntax

/// Every script shipped with the repository parses without a single diagnostic.
final class RepositoryScriptsTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testAllRepositoryScriptsParse() throws {
        var parsedCount = 0
        for folder in ["grammar/examples", "pipelines", "stdlib"] {
            let root = Self.repositoryRoot.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(atPath: root.path) else { continue }
            for case let relative as String in walker where relative.hasSuffix(".sluice") {
                let url = root.appendingPathComponent(relative)
                let file = SourceFile(path: "\(folder)/\(relative)", bytes: Array(try Data(contentsOf: url)))
                let diagnostics = Parser.parse(file).diagnostics
                XCTAssertTrue(diagnostics.isEmpty, "\(file.path):\n\(DiagnosticRenderer.render(diagnostics))")
                parsedCount += 1
            }
        }
        XCTAssertGreaterThanOrEqual(parsedCount, 4, "the grammar examples should be found")
    }
}

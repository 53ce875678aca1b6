import Foundation
import XCTest

/// Sources/SluiceStdlib/Embedded.swift is generated from stdlib/**/*.sluice by
/// scripts/embed-stdlib. This test fails when someone edits stdlib/ and forgets to regenerate,
/// so the binary never ships a standard library different from the one in the repository.
final class StdlibEmbeddingTests: XCTestCase {
    /// The repository root: this file is Tests/SluiceCLITests/StdlibEmbeddingTests.swift.
    private let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func runScript(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let script = root.appendingPathComponent("scripts/embed-stdlib").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.currentDirectoryURL = root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()   // read before waiting: a full pipe would block the child
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testEmbeddedStandardLibraryMatchesStdlibFolder() throws {
        let (status, output) = try runScript(["--check"])
        XCTAssertEqual(status, 0, """
            Sources/SluiceStdlib/Embedded.swift does not match stdlib/. Run scripts/embed-stdlib \
            and commit the result.
            \(output)
            """)
    }

    func testEveryStdlibFileIsEmbedded() throws {
        let (status, generated) = try runScript(["--stdout"])
        XCTAssertEqual(status, 0, generated)
        let stdlib = root.appendingPathComponent("stdlib")
        guard let walker = FileManager.default.enumerator(at: stdlib, includingPropertiesForKeys: nil) else {
            return XCTFail("cannot read \(stdlib.path)")
        }
        var modules: [String] = []
        for case let url as URL in walker where url.pathExtension == "sluice" {
            let relative = url.standardizedFileURL.path.dropFirst(stdlib.standardizedFileURL.path.count + 1)
            modules.append(String(relative.dropLast(".sluice".count)))
        }
        XCTAssertTrue(modules.contains("std/models"), "stdlib/std/models.sluice is missing")
        for module in modules {
            XCTAssertTrue(generated.contains("\n        \"\(module)\": #"), "module \(module) is not embedded")
        }
    }
}

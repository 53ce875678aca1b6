import Foundation
import XCTest

/// A test that runs the built `sluice` binary as a user would, from the repository root, with
/// a scratch folder of its own.
class SluiceCLITestCase: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    var scratch: URL!
    var db: String { scratch.appendingPathComponent("sluice.db").path }

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    /// The binary sits beside the test bundle in the build folder.
    static var binary: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("sluice").path), folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("sluice")
    }

    /// The exit code reported when `timeLimit` stopped the process.
    static let stoppedCode: Int32 = -1

    /// Runs sluice with no colour, no API key and the shipped tokenizer files, in the repository
    /// root or in `directory`; with a `timeLimit`, a process still running after that many seconds
    /// is stopped.
    @discardableResult
    func sluice(_ args: [String], stdin: Data? = nil, environment: [String: String] = [:],
                timeLimit: TimeInterval? = nil, in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = args
        process.currentDirectoryURL = directory ?? Self.repo
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for key in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SLUICE_TOKENIZER_DIR", "SLUICE_DB"] { env.removeValue(forKey: key) }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // Standard error goes to a file, so that neither stream can fill a pipe and stall the process.
        let errorFile = scratch.appendingPathComponent("stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let err = try FileHandle(forWritingTo: errorFile)
        defer { try? err.close() }
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let stopper = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        if let timeLimit { DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: stopper) }
        defer { stopper.cancel() }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal {
            return Result(code: Self.stoppedCode, stdout: String(decoding: stdoutData, as: UTF8.self),
                          stderr: String(decoding: (try? Data(contentsOf: errorFile)) ?? Data(), as: UTF8.self))
        }
        let stderrData = (try? Data(contentsOf: errorFile)) ?? Data()
        return Result(code: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }

    @discardableResult
    func sluice(_ args: [String], stdin: String, environment: [String: String] = [:]) throws -> Result {
        try sluice(args, stdin: Data(stdin.utf8), environment: environment)
    }

    /// Writes `text` to `name` in the test's scratch folder; returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A one-call pipeline `p(q)` and the scripted reply file that answers it with "the answer".
    func replyScript() throws -> (script: String, replies: String) {
        let script = try write("echo.sluice", """
            model m { provider "openai" id "x" context 10000000 tokenizer "estimate" }
            prompt ask(q: string) {
              model m
              user "{q}"
            }
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
        return (script, try write("replies.jsonl", "{\"content\": \"the answer\"}\n"))
    }
}

import Foundation
import SluiceRuntime
import SluiceSemantics
import XCTest
@testable import SluiceServices

/// The code metrics' sandbox, for real: syntax checks through the parser, exit codes, the time
/// and memory limits, no network (not even the host's loopback), no inherited environment.
final class CodeSandboxTests: XCTestCase {
    let runner = SandboxCodeRunner()

    override func setUp() async throws {
        let probe = try await SandboxCodeRunner.execute(["unshare", "-r", "-n", "--", "true"], in: FileManager.default.temporaryDirectory)
        try XCTSkipUnless(probe.status == 0, "this host forbids unprivileged network namespaces")
    }

    func run(_ code: String, _ mode: CodeRun.Mode = .run, language: CodeLanguage = .python, seconds: Double = 5,
             megabytes: Int = 256) async throws -> CodeRunResult {
        try await runner.run(CodeRun(language: language, code: code, mode: mode, timeLimit: seconds, memoryLimit: megabytes * 1_048_576))
    }

    func testSyntaxChecksParseWithoutRunning() async throws {
        let valid = try await run("def f(x):\n    return x * 2\nraise SystemExit(7)\n", .syntax)
        XCTAssertEqual(valid.outcome, .passed, "py_compile parses; the exit in the code is never run")
        let invalid = try await run("def f(x)\n    return x\n", .syntax)
        XCTAssertEqual(invalid.outcome, .failed)
        XCTAssertTrue(invalid.output.contains("SyntaxError"), invalid.output)
        XCTAssertFalse(invalid.output.contains("sluice-code-"), "the sandbox folder is not shown: \(invalid.output)")
        let shell = try await run("if true; then echo x\n", .syntax, language: .bash)
        XCTAssertEqual(shell.outcome, .failed)
    }

    func testExitCodesDecide() async throws {
        let passing = try await run("def f(x): return x * 2\nassert f(2) == 4\n")
        XCTAssertEqual(passing.outcome, .passed)
        XCTAssertEqual(passing.exitCode, 0)
        let failing = try await run("def f(x): return x + 2\nassert f(3) == 6, 'f(3)'\n")
        XCTAssertEqual(failing.outcome, .failed)
        XCTAssertEqual(failing.exitCode, 1)
        XCTAssertTrue(failing.output.contains("AssertionError: f(3)"), failing.output)
    }

    func testTheTimeLimitKillsTheProgram() async throws {
        let started = Date()
        let result = try await run("while True:\n    pass\n", seconds: 1)
        XCTAssertEqual(result.outcome, .timedOut)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }

    func testTheMemoryLimitRefusesLargeAllocations() async throws {
        let result = try await run("x = bytearray(512 * 1024 * 1024)\n", megabytes: 128)
        XCTAssertEqual(result.outcome, .failed)
        XCTAssertTrue(result.output.contains("MemoryError"), result.output)
        let small = try await run("x = bytearray(16 * 1024 * 1024)\n", megabytes: 128)
        XCTAssertEqual(small.outcome, .passed, small.output)
    }

    func testNoNetworkNotEvenTheHostsLoopback() async throws {
        let server = try TestHTTPServer(answers: [.reply(status: 200, body: "reachable")])
        defer { server.stop() }
        let code = """
            import socket, sys
            try:
                socket.create_connection(("127.0.0.1", \(server.port)), timeout=2)
            except OSError as error:
                print("refused:", error)
                sys.exit(0)
            sys.exit(3)
            """
        let result = try await run(code)
        XCTAssertEqual(result.outcome, .passed, "the host's server was reachable: \(result.output)")
    }

    func testTheCallersEnvironmentIsNotPassedOn() async throws {
        setenv("SLUICE_SANDBOX_SECRET", "sk-not-for-the-program", 1)
        defer { unsetenv("SLUICE_SANDBOX_SECRET") }
        let result = try await run("import os, sys\nsys.exit(5 if 'SLUICE_SANDBOX_SECRET' in os.environ else 0)\n")
        XCTAssertEqual(result.outcome, .passed)
        let files = try await run("import os\nopen('scratch.txt', 'w').write('x')\nassert os.getcwd() == os.environ['HOME']\n")
        XCTAssertEqual(files.outcome, .passed, files.output)
    }
}

import Foundation
import XCTest

/// The code metrics end to end: `sluice test` scores the code a model wrote by parsing it,
/// running it and running the case's tests in the sandbox.
final class CodeMetricsCLITests: SluiceCLITestCase {
    func testCodeIsParsedRunAndTestedInTheSandbox() throws {
        let unshare = Process()
        unshare.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        unshare.arguments = ["unshare", "-r", "-n", "--", "true"]
        try unshare.run()
        unshare.waitUntilExit()
        try XCTSkipUnless(unshare.terminationStatus == 0, "this host forbids unprivileged network namespaces")

        let script = try write("coder.sluice", """
            model coder { provider "scripted" }
            prompt write(task: string) {
              model coder
              user "{task}"
            }
            pipeline main(task: string, tests: [string]) {
              code = write(task: task)
              score code with syntax_valid("python"), code_runs("python", 2, 128), passes_tests("python", tests, 2, 128)
              return code
            }
            """)
        let tests = #"["assert double(2) == 4", "assert double(-1) == -2", "assert double(0) == 0"]"#
        let cases = try write("cases.jsonl", (1...3).map { #"{"task": "double \#($0)", "tests": \#(tests)}"# }.joined(separator: "\n") + "\n")
        func reply(_ code: String) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["content": code]), as: UTF8.self)
        }
        let replies = try write("replies.jsonl", [
            try reply("Here it is:\n```python\ndef double(x):\n    return x * 2\n```\n"),
            try reply("def double(x):\n    return x + 2\n"),
            try reply("def double(x)\n    return x * 2\n"),
        ].joined(separator: "\n") + "\n")
        let result = try sluice(["test", script, "--cases", cases, "--replies", replies, "--db", db, "--json", "--concurrency", "1"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let scores = try XCTUnwrap(object["results"] as? [[String: Any]]).map { $0["scores"] as? [String: Double] ?? [:] }
        XCTAssertEqual(scores.map { $0["syntax_valid"] }, [1, 1, 0], "the fenced code is taken out of the reply")
        XCTAssertEqual(scores.map { $0["code_runs"] }, [1, 1, 0])
        XCTAssertEqual(scores[0]["passes_tests"], 1)
        XCTAssertEqual(try XCTUnwrap(scores[1]["passes_tests"]), 1.0 / 3.0, accuracy: 1e-6, "x + 2 passes double(2) == 4 only")
        XCTAssertEqual(scores[2]["passes_tests"], 0)
    }
}

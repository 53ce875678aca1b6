import GoldenSupport
import SluiceSyntax
import XCTest

/// The shared golden-test machinery: inline diagnostic expectations and the line diff.
final class GoldenSupportTests: XCTestCase {
    let file = SourceFile(path: "fixture.sluice", text: """
        x = 1   # error: first problem = help: did you mean
        y = 2   # warning: a warning  # error: second
        # error@+2: two lines down
        # plain comment: not an expectation
        z = 3
        """)

    /// A diagnostic of `severity` at the start of 1-based `line`.
    private func diagnostic(_ severity: Diagnostic.Severity, _ message: String, line: Int, help: String? = nil) -> Diagnostic {
        let offset = file.text.split(separator: "\n", omittingEmptySubsequences: false).prefix(line - 1).reduce(0) { $0 + $1.utf8.count + 1 }
        return Diagnostic(severity, message, file: file, span: Span(offset, offset + 1), help: help)
    }

    func testExpectationsAreReadFromTrailingComments() {
        XCTAssertEqual(InlineDiagnostics.expectations(in: file).map(\.description), [
            "fixture.sluice:1: error: first problem = help: did you mean",
            "fixture.sluice:2: warning: a warning",
            "fixture.sluice:2: error: second",
            "fixture.sluice:5: error: two lines down",
        ])
    }

    func testEveryDiagnosticMeetsOneExpectationOnItsLine() {
        let all = [
            diagnostic(.error, "the first problem here", line: 1, help: "did you mean `x`?"),
            diagnostic(.warning, "a warning", line: 2),
            diagnostic(.error, "the second", line: 2),
            diagnostic(.error, "two lines down", line: 5),
        ]
        XCTAssertEqual(InlineDiagnostics.mismatches(all, fixture: file), [])
    }

    func testMismatchesNameWhatIsMissingAndWhatIsUnexpected() {
        let problems = InlineDiagnostics.mismatches([
            diagnostic(.error, "the first problem here", line: 1, help: "another help"),   // help differs
            diagnostic(.error, "a warning", line: 2),                                        // severity differs
            diagnostic(.error, "the second", line: 3),                                       // wrong line
        ], fixture: file)
        XCTAssertEqual(problems.filter { $0.hasPrefix("unexpected diagnostic") }.count, 3, problems.joined(separator: "\n"))
        XCTAssertTrue(problems.contains { $0.hasPrefix("unexpected diagnostic (add `# error: the second` to fixture.sluice:3)") })
        XCTAssertEqual(problems.filter { $0.hasPrefix("expected but not reported") }, [
            "expected but not reported: fixture.sluice:1: error: first problem = help: did you mean",
            "expected but not reported: fixture.sluice:2: warning: a warning",
            "expected but not reported: fixture.sluice:2: error: second",
            "expected but not reported: fixture.sluice:5: error: two lines down",
        ])
        // An unexpected diagnostic is shown rendered, with its caret.
        XCTAssertTrue(problems[0].contains("1 | x = 1"), problems[0])
    }

    func testLineDiffShowsHunksWithContext() {
        let expected = (1...12).map { "line \($0)" }.joined(separator: "\n")
        var lines = (1...12).map { "line \($0)" }
        lines[2] = "line three"
        lines.insert("new line", at: 10)
        XCTAssertEqual(Golden.lineDiff(expected: expected, actual: lines.joined(separator: "\n")), """
            @@ golden line 1, actual line 1 @@
              line 1
              line 2
            - line 3
            + line three
              line 4
              line 5
            @@ golden line 9, actual line 9 @@
              line 9
              line 10
            + new line
              line 11
              line 12
            """)
        XCTAssertEqual(Golden.lineDiff(expected: "same", actual: "same"), "")
    }
}

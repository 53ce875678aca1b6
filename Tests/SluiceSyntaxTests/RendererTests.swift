import XCTest
import SluiceSyntax

final class RendererTests: XCTestCase {
    private func file(_ lines: [String]) -> SourceFile {
        SourceFile(path: "pipelines/support.sluice", text: lines.joined(separator: "\n") + "\n")
    }

    /// The offset of `needle` on 1-based line `line`.
    private func offset(of needle: String, line: Int, in file: SourceFile) -> Int {
        let lines = file.text.split(separator: "\n", omittingEmptySubsequences: false)
        let before = lines.prefix(line - 1).reduce(0) { $0 + $1.utf8.count + 1 }
        let text = String(lines[line - 1])
        guard let range = text.range(of: needle) else { return before }
        return before + text.utf8.distance(from: text.startIndex, to: range.lowerBound)
    }

    func testTheReferenceFormat() {
        let source = file(Array(repeating: "", count: 11) + ["  guard questoin with injection"])
        let start = offset(of: "questoin", line: 12, in: source)
        let diagnostic = Diagnostic.error("unknown name `questoin`", in: source, at: Span(start, start + 8),
                                          help: "did you mean `question`?")
        XCTAssertEqual(DiagnosticRenderer.render(diagnostic), """
        error: unknown name `questoin`
          --> pipelines/support.sluice:12:9
           |
        12 |   guard questoin with injection
           |         ^^^^^^^^
           = help: did you mean `question`?
        """)
    }

    func testALongLineIsShownAsAWindowAroundTheCaret() {
        let line = "  x = " + Array(repeating: "1", count: 400).joined(separator: "+")
        let source = file([line])
        let start = 6 + 2 * 200   // the `1` after 200 `+`
        let rendered = DiagnosticRenderer.render(Diagnostic.error("here", in: source, at: Span(start, start + 3)))
        let before = String(repeating: "1+", count: 20), after = String(repeating: "+1", count: 38)
        XCTAssertEqual(rendered, """
        error: here
         --> pipelines/support.sluice:1:\(start + 1)
          |
        1 | …\(before)1+1\(after)…
          |                                          ^^^
        """)
        // A line that fits is shown whole, however far the caret is.
        let fits = String(repeating: "a", count: 110) + " b"
        let short = DiagnosticRenderer.render(Diagnostic.error("here", in: file([fits]), at: Span(111, 112)))
        XCTAssertTrue(short.contains("1 | " + fits + "\n"), short)
    }

    func testNotesZeroWidthSpansAndGutterWidth() {
        let source = file(["pipeline p() {", "  x = 1"] + Array(repeating: "", count: 8))
        let opener = offset(of: "{", line: 1, in: source)
        let end = source.bytes.count
        let diagnostic = Diagnostic(.error, "expected `}` to close the block opened at 1:14", file: source,
                                    span: Span(end, end),
                                    notes: [.init("the block opened here", file: source, span: Span(opener, opener + 1)),
                                            .init("blocks close with `}`")])
        XCTAssertEqual(DiagnosticRenderer.render(diagnostic), """
        error: expected `}` to close the block opened at 1:14
          --> pipelines/support.sluice:11:1
           |
        11 |
           | ^
           = note: blocks close with `}`
        note: the block opened here
          --> pipelines/support.sluice:1:14
           |
        1  | pipeline p() {
           |              ^
        """)
    }

    func testTabsAreExpandedAndMultiLineSpansUnderlineTheFirstLine() {
        let source = SourceFile(path: "t.sluice", text: "\tx =\t\"abc\n\tdef\"\n")
        let start = offset(of: "\"", line: 1, in: source)
        let diagnostic = Diagnostic.error("a string", in: source, at: Span(start, start + 10))
        XCTAssertEqual(DiagnosticRenderer.render(diagnostic), """
        error: a string
         --> t.sluice:1:6
          |
        1 |     x = "abc
          |         ^^^^
        """)
    }

    func testWithoutAFileOnlyTheMessageAndNotesPrint() {
        let diagnostic = Diagnostic(.error, "budget exceeded", file: nil, span: .none, help: "raise the budget")
        XCTAssertEqual(DiagnosticRenderer.render(diagnostic), "error: budget exceeded\n = help: raise the budget")
        XCTAssertEqual(DiagnosticRenderer.render(Diagnostic.error("plain", in: nil, at: .none)), "error: plain")
    }

    func testColorUsesAnsiOnlyWhenAsked() {
        let source = SourceFile(path: "t", text: "x\n")
        let diagnostic = Diagnostic.error("bad", in: source, at: Span(0, 1))
        XCTAssertFalse(DiagnosticRenderer.render(diagnostic).contains("\u{1B}"))
        let colored = DiagnosticRenderer.render(diagnostic, color: true)
        XCTAssertTrue(colored.hasPrefix("\u{1B}[1;31merror\u{1B}[0m\u{1B}[1m: bad\u{1B}[0m"))
        XCTAssertTrue(colored.contains("\u{1B}[1;34m|\u{1B}[0m"))
    }

    func testSeveralDiagnosticsAreSeparatedByABlankLine() {
        let diagnostics = [Diagnostic.error("one", in: nil, at: .none), Diagnostic.error("two", in: nil, at: .none)]
        XCTAssertEqual(DiagnosticRenderer.render(diagnostics), "error: one\n\nerror: two")
    }
}

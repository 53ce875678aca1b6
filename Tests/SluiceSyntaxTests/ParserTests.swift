import XCTest
@testable import SluiceSyntax

final class ParserTests: XCTestCase {
    /// Parses `body` as the statements of a pipeline and dumps them.
    private func statements(_ body: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        let (module, diagnostics) = Parser.parse(SourceFile(path: "t.sluice", text: "pipeline p() {\n\(body)\n}\n"))
        XCTAssertEqual(DiagnosticRenderer.render(diagnostics), "", file: file, line: line)
        guard case .pipeline(let pipeline)? = module.decls.first else { return [] }
        return pipeline.body.statements.map(dumpStatement)
    }

    private func errors(_ text: String) -> [String] {
        Parser.parse(SourceFile(path: "t.sluice", text: text)).diagnostics.map(\.message)
    }

    func testPrecedenceFromLoosest() {
        XCTAssertEqual(statements("x = a ?? b or c and not d == e + f * -g.h[0](1)"),
                       ["(= x (?? a (or b (and c (not (== d (+ e (* f (- (call (index (. g h) 0) 1))))))))))"])
        XCTAssertEqual(statements("x = a - b - c / d % e"), ["(= x (- (- a b) (% (/ c d) e)))"])
        XCTAssertEqual(statements("x = not not a or -(-b)"), ["(= x (or (not (not a)) (- (- b))))"])
    }

    func testFiltersTakeArgumentsAndBindLoosest() {
        XCTAssertEqual(statements("x = a ?? b | join(\", \") | upper"), ["(= x (| (| (?? a b) join (string \", \")) upper))"])
    }

    func testNewlineRules() {
        // A line starting with a binary operator continues the expression before it.
        XCTAssertEqual(statements("x = a\n  + b\n  | upper"), ["(= x (| (+ a b) upper))"])
        XCTAssertEqual(statements("x = a\n  and b\n  or c"), ["(= x (or (and a b) c))"])
        // Inside ( ) and [ ] line breaks do not matter.
        XCTAssertEqual(statements("x = f(\n  1,\n  2\n)\ny = [\n 1\n]"), ["(= x (call f 1 2))", "(= y (list 1))"])
        // `(` and `[` on the next line start a new statement rather than call or index.
        XCTAssertEqual(statements("x = a\n(b)\n[c]"), ["(= x a)", "(expr b)", "(expr (list c))"])
        XCTAssertEqual(statements("return\nx = 1"), ["(return)", "(= x 1)"])
        // Records separate fields with commas or line breaks.
        XCTAssertEqual(statements("x = {\n  a: 1, b: 2\n  c: 3\n}"), ["(= x (record (a: 1) (b: 2) (c: 3)))"])
    }

    func testStagesAndStatements() {
        XCTAssertEqual(statements("guard q with injection, pii(redact)"), ["(guard q (injection) (pii redact))"])
        XCTAssertEqual(statements("score r with exact(e) when e != null, contains(\"x\")"),
                       ["(score r (exact e (when (!= e null))) (contains (string \"x\")))"])
        XCTAssertEqual(statements("validate r as [T]? retries 2"), ["(validate r (as [T]?) (retries 2))"])
        XCTAssertEqual(statements("d = retrieve q from kb top 5 order score | numbered"),
                       ["(= d (| (retrieve q kb (top 5) (order score)) numbered))"])
        XCTAssertEqual(statements("m = template p(x: 1)\nr = p(x: 1) using fast"),
                       ["(= m (template (call p x: 1)))", "(= r (call p x: 1 (using fast)))"])
        XCTAssertEqual(statements("x = d.score + d.type"), ["(= x (+ (. d score) (. d type)))"])
        XCTAssertEqual(statements("if a { b() } else if c { } else { return }"), ["""
            (if
              (branch a
                (block
                  (expr (call b))))
              (branch c
                (block))
              (else
                (block
                  (return))))
            """])
    }

    func testStringHolesParseInPlace() throws {
        let text = "pipeline p() {\n  x = \"\"\"\n    a {b | upper}\n      c {d}\n    \"\"\"\n}\n"
        let file = SourceFile(path: "t.sluice", text: text)
        let (module, diagnostics) = Parser.parse(file)
        XCTAssertEqual(diagnostics, [])
        guard case .pipeline(let pipeline)? = module.decls.first,
              case .assign(_, let value) = pipeline.body.statements.first?.kind,
              case .string(let parts) = value.kind else { return XCTFail("unexpected tree") }
        XCTAssertEqual(parts.count, 4)
        guard case .text(let first) = parts[0], case .hole(let filter) = parts[1],
              case .text(let middle) = parts[2], case .hole(let name) = parts[3] else { return XCTFail("unexpected parts") }
        XCTAssertEqual(first, "a ")
        XCTAssertEqual(middle, "\n  c ")
        XCTAssertEqual(file.slice(filter.span), "b | upper")
        XCTAssertEqual(file.slice(name.span), "d")
        XCTAssertEqual(file.location(of: name.span.start).line, 4)
    }

    func testDeepNestingIsAnErrorNotACrash() {
        for (open, close) in [("(", ")"), ("[", "]"), ("{a: ", "}"), ("\"{", "}\"")] {
            let depth = 10_000
            let text = "pipeline p() {\n  x = " + String(repeating: open, count: depth) + "1"
                + String(repeating: close, count: depth) + "\n  y = 2\n}\n"
            let diagnostics = Parser.parse(SourceFile(path: "t", text: text)).diagnostics
            XCTAssertEqual(diagnostics.map(\.message), ["nesting deeper than 128 levels"], open)
        }
        let blocks = "pipeline p() {\n" + String(repeating: "if x {\n", count: 500) + String(repeating: "}\n", count: 500) + "}\n"
        XCTAssertTrue(errors(blocks).contains("nesting deeper than 128 levels"))
        let types = "type T = " + String(repeating: "[", count: 5000) + "string" + String(repeating: "]", count: 5000) + "\n"
        XCTAssertEqual(errors(types), ["nesting deeper than 128 levels"])
    }

    func testModerateNestingIsFine() {
        let text = "pipeline p() {\n  x = " + String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100) + "\n}\n"
        XCTAssertEqual(errors(text), [])
    }

    func testEveryErrorOfAFileIsReported() {
        let text = """
        pipeline p() {
          a = (1 +
          b = 2 +
          c = ]
          if { }
        }
        modle m { }
        """
        XCTAssertEqual(errors(text), [
            // Inside `( )` line breaks do not matter, so the next line continues the expression.
            "expected `)` to close the parenthesis opened at 2:7, found `=`",
            "expected an expression, found `]`",
            "expected a condition after `if`, found `{`",
            "expected a declaration (use, model, type, prompt, index, guard, budget, pipeline), found `modle`",
        ])
    }

    func testUnknownDeclarationSuggestsAKeyword() {
        let diagnostics = Parser.parse(SourceFile(path: "t", text: "promt p { user \"x\" }\n")).diagnostics
        XCTAssertEqual(diagnostics.first?.help, "did you mean `prompt`?")
    }

    func testReplInputMixesDeclarationsAndStatements() {
        let file = SourceFile(path: "<repl>", text: "model m { provider \"scripted\" }\nx = 1\nguard g { action flag }\nguard x with g\nbudget tokens 1k")
        let (decls, statements, diagnostics) = Parser.parseReplInput(file)
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(decls.map { $0.name?.text ?? "budget" }, ["m", "g", "budget"])
        XCTAssertEqual(statements.map(dumpStatement), ["(= x 1)", "(guard x (g))"])
    }

    func testUseForms() {
        let text = "use std.models.{a, b}\nuse std.guards\nuse \"./x.sluice\".{c}\nuse \"./y.sluice\"\n"
        let (module, diagnostics) = Parser.parse(SourceFile(path: "t", text: text))
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(dumpAST(module), """
        (module
          (use (module std.models) (names a b))
          (use (module std.guards) all)
          (use (file "./x.sluice") (names c))
          (use (file "./y.sluice") all))

        """)
    }
}

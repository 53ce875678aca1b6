import XCTest
@testable import SluiceSyntax

/// Chains parsed by loops build trees as deep as they are long; the parser refuses any
/// expression higher than `Parser.maximumExpressionHeight` with one diagnostic and goes on.
final class DeepExpressionTests: XCTestCase {
    static let limit = Parser.maximumExpressionHeight

    /// Each chain kind as the text of an expression of `length` links.
    static func chain(_ kind: String, length: Int) -> String {
        switch kind {
        case "negate": String(repeating: "-", count: length - 1) + "1"
        case "not": String(repeating: "not ", count: length - 1) + "true"
        case "add": Array(repeating: "1", count: length).joined(separator: "+")
        case "and": Array(repeating: "true", count: length).joined(separator: " and ")
        case "or": Array(repeating: "false", count: length).joined(separator: " or ")
        case "coalesce": Array(repeating: "null", count: length).joined(separator: " ?? ")
        case "filter": "x" + String(repeating: " | upper", count: length - 1)
        case "member": "x" + String(repeating: ".a", count: length - 1)
        case "index": "x" + String(repeating: "[0]", count: length - 1)
        case "call": "f" + String(repeating: "()", count: length - 1)
        default: fatalError("unknown chain \(kind)")
        }
    }

    static let kinds = ["negate", "not", "add", "and", "or", "coalesce", "filter", "member", "index", "call"]

    private func parse(_ text: String) -> (module: Module, diagnostics: [Diagnostic]) {
        Parser.parse(SourceFile(path: "t.sluice", text: text))
    }

    func testAChainAtTheLimitParses() throws {
        for kind in Self.kinds {
            let (module, diagnostics) = parse("pipeline p() {\n  y = \(Self.chain(kind, length: Self.limit))\n}\n")
            XCTAssertEqual(diagnostics.map(\.message), [], kind)
            guard case .pipeline(let pipeline)? = module.decls.first, case .assign(_, let value)? = pipeline.body.statements.first?.kind else {
                XCTFail("\(kind): no assignment parsed"); continue
            }
            XCTAssertEqual(value.height, Self.limit, kind)
        }
    }

    func testALongerChainIsOneErrorWithACaretAndParsingGoesOn() {
        for kind in Self.kinds {
            for length in [Self.limit + 1, 30_000] {
                let text = "pipeline p() {\n  y = \(Self.chain(kind, length: length))\n  z = 2\n}\npipeline q() {\n}\n"
                let (module, diagnostics) = parse(text)
                XCTAssertEqual(diagnostics.map(\.message), ["expression deeper than \(Self.limit) levels"], "\(kind) × \(length)")
                guard let diagnostic = diagnostics.first else { continue }
                // The caret is on the operator, postfix or filter that adds the level too many.
                let marked = String(decoding: diagnostic.file!.bytes[diagnostic.span.start..<diagnostic.span.end], as: UTF8.self)
                let expected: Set<String> = ["-", "not", "+", "and", "or", "??", "upper", ".a", "[", "("]
                XCTAssertTrue(expected.contains(marked), "\(kind): caret on `\(marked)`")
                XCTAssertEqual(diagnostic.help, "split the expression with intermediate names")
                // Recovery: the next statement and the next declaration are still there.
                XCTAssertEqual(module.decls.compactMap(\.name?.text), ["p", "q"], kind)
                if case .pipeline(let p)? = module.decls.first {
                    XCTAssertEqual(p.body.statements.map(dumpStatement), ["(= z 2)"], kind)
                }
            }
        }
    }

    func testAHundredThousandLinksAreRefusedQuickly() {
        let started = Date()
        for kind in ["filter", "member", "index", "negate"] {
            let diagnostics = parse("pipeline p() {\n  return \(Self.chain(kind, length: 100_000))\n}\n").diagnostics
            XCTAssertEqual(diagnostics.map(\.message), ["expression deeper than \(Self.limit) levels"], kind)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testAChainOverSeveralLinesIsStillOneError() {
        let lines = Array(repeating: "    + 1", count: 3000).joined(separator: "\n")
        let text = "pipeline p() {\n  y = 1\n\(lines)\n  z = 2\n}\n"
        let (module, diagnostics) = parse(text)
        XCTAssertEqual(diagnostics.map(\.message), ["expression deeper than \(Self.limit) levels"])
        if case .pipeline(let p)? = module.decls.first {
            XCTAssertEqual(p.body.statements.map(dumpStatement), ["(= z 2)"])
        }
    }

    func testHeightCountsThroughBracketsAndHoles() {
        // Every node counts, whatever it is: 100 lists around a chain of 980 links is too high.
        let inner = Self.chain("add", length: Self.limit - 20)
        let wrapped = String(repeating: "[", count: 100) + inner + String(repeating: "]", count: 100)
        XCTAssertEqual(parse("pipeline p() {\n  y = \(wrapped)\n}\n").diagnostics.map(\.message),
                       ["expression deeper than \(Self.limit) levels"])
        let hole = "\"{" + Self.chain("member", length: Self.limit) + "}\""
        XCTAssertEqual(parse("pipeline p() {\n  y = \(hole)\n}\n").diagnostics.map(\.message),
                       ["expression deeper than \(Self.limit) levels"])
    }

    func testHeightIsComputedFromTheChildren() throws {
        let (module, _) = parse("pipeline p() {\n  y = f(a.b, [1, 2 + -3]) | upper\n}\n")
        guard case .pipeline(let p)? = module.decls.first, case .assign(_, let value)? = p.body.statements.first?.kind else {
            return XCTFail("no assignment")
        }
        // filter → call → list → + → - → 3
        XCTAssertEqual(value.height, 6)
    }

    func testThousandsOfErrorsOnOneLineAreCappedAndQuick() {
        let started = Date()
        let text = "pipeline p(x: any) {\n  y = " + String(repeating: "x.}x | ", count: 20_000) + "\n}\n"
        let diagnostics = parse(text).diagnostics
        XCTAssertEqual(diagnostics.count, Parser.maximumErrorCount + 1)
        XCTAssertEqual(diagnostics.last?.message, "too many syntax errors: 19902 more not shown")
        // Rendering them stays quick too: each snippet is a window of the long line.
        XCTAssertLessThan(DiagnosticRenderer.render(diagnostics).utf8.count, 60_000)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testRetrieveInsideTopCountsAsNesting() {
        let chain = String(repeating: "retrieve q from kb top ", count: 50_000) + "1"
        let (module, diagnostics) = parse("pipeline p(q: string) {\n  y = \(chain)\n  z = 2\n}\n")
        XCTAssertEqual(diagnostics.map(\.message), ["nesting deeper than \(Parser.maximumNestingDepth) levels"])
        if case .pipeline(let p)? = module.decls.first {
            XCTAssertEqual(p.body.statements.map(dumpStatement), ["(= z 2)"])
        }
    }

    func testARunOfQuestionMarksCountsAsNesting() {
        let text = "type T { a: string" + String(repeating: " ?", count: 10_000) + " }\ntype U = string\n"
        let (module, diagnostics) = parse(text)
        XCTAssertEqual(diagnostics.map(\.message), ["nesting deeper than \(Parser.maximumNestingDepth) levels"])
        XCTAssertEqual(module.decls.compactMap(\.name?.text), ["T", "U"])
        XCTAssertEqual(parse("type T { a: string? ? }\n").diagnostics.map(\.message), [])
    }

    func testNumbersPastTwoToTheFiftyThirdAreErrors() {
        func diagnostics(_ literal: String) -> [String] {
            let text = "pipeline p() {\n  x = [1]\n  return x[\(literal)]\n}\n"
            return parse(text).diagnostics.map { d in
                let file = d.file!
                let marked = String(decoding: file.bytes[d.span.start..<d.span.end], as: UTF8.self)
                return "\(d.message) at `\(marked)`"
            }
        }
        XCTAssertEqual(diagnostics("9007199254740992"), [])
        XCTAssertEqual(diagnostics("9_007_199_254_740k"), [])
        XCTAssertEqual(diagnostics("9_007_199_254_741k"), ["number too large at `9_007_199_254_741k`"])
        XCTAssertEqual(diagnostics("9007199254740993"), ["number too large at `9007199254740993`"])
        XCTAssertEqual(diagnostics("99999999999999999999M"), ["number too large at `99999999999999999999M`"])
        XCTAssertEqual(diagnostics(String(repeating: "9", count: 400)), ["number too large at `\(String(repeating: "9", count: 400))`"])
        XCTAssertEqual(diagnostics("$99999999999999999999"), ["number too large at `$99999999999999999999`"])
        XCTAssertEqual(diagnostics("9007199254740992.5"), ["number too large at `9007199254740992.5`"])
        XCTAssertEqual(diagnostics("9007199254740.992k"), [])
        XCTAssertEqual(diagnostics("9007199254740.9925k"), ["number too large at `9007199254740.9925k`"])
        XCTAssertEqual(diagnostics("0.5"), [])
    }
}

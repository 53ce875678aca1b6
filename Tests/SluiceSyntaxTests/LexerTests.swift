import XCTest
@testable import SluiceSyntax

final class LexerTests: XCTestCase {
    private func lex(_ text: String) -> (tokens: [Token], diagnostics: [Diagnostic]) {
        Lexer.tokenize(SourceFile(path: "t.sluice", text: text))
    }

    private func kinds(_ text: String) -> [TokenKind] { lex(text).tokens.map(\.kind) }

    private func onlyString(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [StringSegment] {
        let (tokens, diagnostics) = lex(text)
        XCTAssertEqual(diagnostics, [], file: file, line: line)
        XCTAssertEqual(tokens.count, 2, file: file, line: line)
        return tokens.first?.stringSegments ?? []
    }

    func testNumbersWithSeparatorsAndSuffixes() {
        let cases: [(String, Double)] = [
            ("42", 42), ("0.7", 0.7), ("1_000", 1000), ("8k", 8000), ("1M", 1_000_000), ("1.5k", 1500),
            ("128k", 128_000), ("16_384", 16384), ("0.5M", 500_000),
        ]
        for (text, value) in cases {
            let (tokens, diagnostics) = lex(text)
            XCTAssertEqual(diagnostics, [], text)
            XCTAssertEqual(tokens.first?.kind, .number, text)
            XCTAssertEqual(tokens.first?.numberValue, value, text)
            XCTAssertEqual(tokens.first?.span, Span(0, text.utf8.count), text)
        }
    }

    func testMoney() {
        for (text, value) in [("$0.10", 0.10), ("$2", 2.0), ("$0.15", 0.15), ("$2.50", 2.5), ("$1k", 1000.0)] {
            let (tokens, diagnostics) = lex(text)
            XCTAssertEqual(diagnostics, [], text)
            XCTAssertEqual(tokens.first?.kind, .money, text)
            XCTAssertEqual(tokens.first?.numberValue, value, text)
        }
        XCTAssertEqual(kinds("$0.15 / 1M"), [.money, .slash, .number, .endOfFile])
    }

    func testBadNumbersAreReported() {
        XCTAssertEqual(lex("8kb").diagnostics.map(\.message), ["unknown number suffix `kb`"])
        XCTAssertEqual(lex("1_").diagnostics.map(\.message), ["a number cannot end with `_`"])
        XCTAssertEqual(lex("$x").diagnostics.map(\.message), ["expected an amount after `$`"])
    }

    func testOperatorsAndPunctuation() {
        XCTAssertEqual(kinds("( ) [ ] { } , : . | ?? == != < <= > >= + - * / % = -> ?"), [
            .leftParen, .rightParen, .leftBracket, .rightBracket, .leftBrace, .rightBrace, .comma, .colon, .dot,
            .pipe, .coalesce, .equalEqual, .notEqual, .less, .lessEqual, .greater, .greaterEqual,
            .plus, .minus, .star, .slash, .percent, .assign, .arrow, .question, .endOfFile,
        ])
    }

    func testKeywordsIdentifiersAndLineStarts() {
        let tokens = lex("pipeline p_1 # comment\n  if x_y\nnot").tokens
        XCTAssertEqual(tokens.map(\.kind), [.keyword(.pipeline), .identifier, .keyword(.if), .identifier, .keyword(.not), .endOfFile])
        XCTAssertEqual(tokens.map(\.isAtLineStart), [true, false, true, false, true, true])
    }

    func testEscapes() {
        XCTAssertEqual(onlyString(#""a\nb\tc\"d\\e\{f\}g\u{1F600}""#), [.text("a\nb\tc\"d\\e{f}g😀")])
        XCTAssertEqual(onlyString(#""""#), [.text("")])
        XCTAssertEqual(lex(#""\q""#).diagnostics.map(\.message), ["unknown escape `\\q`"])
    }

    func testRawStringsHaveNoEscapesOrHoles() {
        XCTAssertEqual(onlyString(#"r"\d{3}\b""#), [.text(#"\d{3}\b"#)])
    }

    func testHolesKeepAbsoluteSpans() {
        let text = #"x = "Hi {name | upper}, {{literal}} {f("}")}!""#
        let segments = onlyString(String(text.dropFirst(4)))
        XCTAssertEqual(segments.count, 5)
        let tokens = lex(text).tokens
        guard case .hole(let span) = tokens[2].stringSegments[1] else { return XCTFail("expected a hole") }
        XCTAssertEqual(SourceFile(path: "t", text: text).slice(span), "name | upper")
        XCTAssertEqual(tokens[2].stringSegments[2], .text(", {literal} "))
        guard case .hole(let second) = tokens[2].stringSegments[3] else { return XCTFail("expected a hole") }
        XCTAssertEqual(SourceFile(path: "t", text: text).slice(second), #"f("}")"#)
    }

    func testTripleQuotedStringsAreDedented() {
        let text = "\"\"\"\n    first\n      indented\n\n    last {x}\n    \"\"\""
        let segments = onlyString(text)
        XCTAssertEqual(segments.first, .text("first\n  indented\n\nlast "))
        guard case .hole(let span) = segments.last else { return XCTFail("expected a hole") }
        XCTAssertEqual(SourceFile(path: "t", text: text).slice(span), "x")
        XCTAssertEqual(onlyString("\"\"\"one line\"\"\""), [.text("one line")])
        XCTAssertEqual(onlyString("\"\"\"\r\n  a\r\n  b\r\n  \"\"\""), [.text("a\nb")])
    }

    func testUnterminatedStringsAndBadCharactersAreReportedAndLexingGoesOn() {
        let (tokens, diagnostics) = lex("a = \"open\nb = @ 1\nc = \u{201C}x\u{201D}")
        XCTAssertEqual(diagnostics.map(\.message), [
            "unterminated string", "unexpected character `@`",
            "unexpected character `\u{201C}` (U+201C)", "unexpected character `\u{201D}` (U+201D)",
        ])
        XCTAssertEqual(tokens.map(\.kind), [.identifier, .assign, .string, .identifier, .assign, .number,
                                            .identifier, .assign, .identifier, .endOfFile])
    }

    func testInvalidUTF8IsReported() {
        let file = SourceFile(path: "t", bytes: Array("x = \"a".utf8) + [0xC3, 0x28] + Array("\" # \u{00E9}".utf8) + [0xFF])
        let diagnostics = Lexer.tokenize(file).diagnostics
        XCTAssertEqual(diagnostics.map(\.message), ["invalid UTF-8 in a string (0xC3)", "invalid UTF-8 in a comment (0xFF)"])
    }

    func testSourceFileLocationCountsScalars() {
        let file = SourceFile(path: "t", text: "ab\ncé d\n\nx")
        XCTAssertEqual(file.location(of: 0).line, 1)
        XCTAssertEqual(file.location(of: 3).column, 1)
        let dOffset = Array("ab\ncé ".utf8).count
        XCTAssertEqual(file.location(of: dOffset).line, 2)
        XCTAssertEqual(file.location(of: dOffset).column, 4)
        XCTAssertEqual(file.location(of: file.bytes.count - 1).line, 4)
        XCTAssertEqual(file.lineText(2), "cé d")
    }
}

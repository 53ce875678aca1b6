import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

/// Trust is a static property of every value: these check where untrusted text may not go
/// (system messages, arguments for `trusted` parameters) by every route it can take.
final class TrustFlowTests: XCTestCase {
    /// A prompt with one untrusted parameter `x`, one number `n`, one trusted `t` and a list of
    /// documents, whose system message holds `hole`.
    private func systemHole(_ hole: String, user: String = "{x}") -> [String] {
        summary(checkSource("""
        prompt p(x: string, n: number, t: trusted string, docs: [Doc]) {
          system "Rules. \(hole)"
          user "\(user)"
        }
        """).diagnostics)
    }

    func testFencingFilterMustBeTheLastStep() {
        XCTAssertEqual(systemHole("{(x | fenced | lines)[1]}"), [
            "2:20: untrusted text in a system message: `lines` is applied after the fencing filter, and text computed from fenced text is not fenced [make the fencing filter the last step, after every other filter and access]",
        ])
        XCTAssertEqual(systemHole("{x | fenced | truncate(12)}"), [
            "2:19: untrusted text in a system message: `truncate` is applied after the fencing filter, and text computed from fenced text is not fenced [make the fencing filter the last step, after every other filter and access]",
        ])
        XCTAssertEqual(systemHole("{x | json | upper}"), [
            "2:19: untrusted text in a system message: `upper` is applied after the fencing filter, and text computed from fenced text is not fenced [make the fencing filter the last step, after every other filter and access]",
        ])
    }

    func testTheFenceIsLostWhereTheOperationIs() {
        let diagnostics = checkSource("""
        prompt p(x: string) {
          system "Rules. {x | fenced | truncate(12)}"
          user "go"
        }
        """).diagnostics
        XCTAssertEqual(diagnostics.count, 1)
        let note = diagnostics.first?.notes.first
        XCTAssertEqual(note?.message, "the fence is lost here")
        XCTAssertEqual(note.flatMap { n in n.span.map { diagnostics[0].file?.slice($0) } }, "truncate")
    }

    func testSafeHolesInSystemMessages() {
        for hole in ["{x | fenced}", "{x | json}", "{x | trusted}", "{x | upper | fenced}", "{n}", "{len(x)}", "{t}",
                     "{t | upper}", "{\"a\" + (x | fenced)}", "{(x | fenced) ?? \"none\"}", "{x ?? \"none\" | fenced}",
                     "{[x | fenced, \"b\"]}", "{docs | numbered | fenced}", "{len(docs) > 2}", "{docs[0].score}"] {
            XCTAssertEqual(systemHole(hole, user: "{docs | numbered}"), [], hole)
        }
    }

    func testUntrustedHolesInSystemMessages() {
        XCTAssertEqual(systemHole("{x}"), [
            "2:19: untrusted `x` in a system message: pass it through `| fenced` (marks it as data) or `| trusted` [or declare the parameter as `x: trusted ...` if the script author supplies it]",
        ])
        XCTAssertEqual(systemHole("{docs[0].text}"), [
            "2:19: untrusted `docs` in a system message: pass it through `| fenced` (marks it as data) or `| trusted` [or declare the parameter as `docs: trusted ...` if the script author supplies it]",
        ])
        XCTAssertEqual(systemHole("{[x | fenced, t] | join(\", \")}"), [
            "2:19: untrusted text in a system message: `join` is applied after the fencing filter, and text computed from fenced text is not fenced [make the fencing filter the last step, after every other filter and access]",
        ])
        XCTAssertEqual(systemHole("{t + x}"), [
            "2:19: untrusted `x` in a system message: pass it through `| fenced` (marks it as data) or `| trusted` [or declare the parameter as `x: trusted ...` if the script author supplies it]",
        ])
    }

    func testUserMessagesTakeUntrustedText() {
        XCTAssertEqual(systemHole("{t}", user: "{docs | numbered} {x} {x | fenced | lines}"), [])
    }

    /// A pipeline that passes `value` (after `setup`) for the trusted parameter `style`.
    private func trustedArgument(_ value: String, setup: String = "", params: String = "q: string") -> [String] {
        summary(checkSource("""
        use std.models.{gpt_4o_mini}
        use std.guards.{pii}
        prompt styled(style: trusted string, text: string) {
          model gpt_4o_mini
          system "Write in this style: {style}"
          user "{text}"
        }
        pipeline main(\(params)) {
        \(setup)
          return styled(style: \(value), text: "hello")
        }
        """).diagnostics)
    }

    func testTrustedArgumentsByEveryRoute() {
        let help = " [pass it through `| fenced` (marks it as data), or vouch for it with `| trusted` if the script author controls it]"
        let fromInput = "untrusted text passed to the trusted parameter `style` of prompt `styled`: it comes from `q`, an input of pipeline `main` not declared `trusted`"
        XCTAssertEqual(trustedArgument("q"), ["10:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("\"A \" + q"), ["10:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("q | upper"), ["10:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("{v: q}.v"), ["10:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("[q, \"b\"] | join(\", \")"), ["10:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("\"Style: {q}\""), ["10:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("s", setup: "  s = \"plain\"\n  if len(q) > 3 { s = q }"), ["11:17: " + fromInput + help])
        XCTAssertEqual(trustedArgument("q | fenced | upper"), [
            "10:17: untrusted text passed to the trusted parameter `style` of prompt `styled`: `upper` is applied after the fencing filter, and text computed from fenced text is not fenced [make the fencing filter the last step, after every other filter and access]",
        ])
    }

    func testTrustedArgumentsThatPass() {
        XCTAssertEqual(trustedArgument("\"plain\""), [])
        XCTAssertEqual(trustedArgument("q | fenced"), [])
        XCTAssertEqual(trustedArgument("q | trusted"), [])
        XCTAssertEqual(trustedArgument("\"Style: \" + (q | json)"), [])
        XCTAssertEqual(trustedArgument("s", setup: "  s = \"a\"\n  if len(q) > 3 { s = \"b\" } else { s = \"c\" }"), [])
        // A branch that returns leaves nothing behind.
        XCTAssertEqual(trustedArgument("s", setup: "  s = q\n  if len(q) > 3 { s = \"b\" } else { return \"short\" }"), [])
        XCTAssertEqual(trustedArgument("str(len(q))"), [])
    }

    func testRedactedFencedTextIsNotFenced() {
        XCTAssertEqual(trustedArgument("s", setup: "  s = q | fenced\n  guard s with pii(redact)"), [
            "11:17: untrusted text passed to the trusted parameter `style` of prompt `styled`: redaction by a guard is applied after the fencing filter, and text computed from fenced text is not fenced [make the fencing filter the last step, after every other filter and access]",
        ])
        XCTAssertEqual(trustedArgument("s", setup: "  s = \"plain\"\n  guard s with pii(redact)"), [])
        XCTAssertEqual(trustedArgument("t.s | fenced", setup: "  t = {s: q}\n  guard t.s with pii(redact)"), [])
    }

    func testTrustedPipelineParameter() {
        XCTAssertEqual(trustedArgument("ctx", params: "q: string, ctx: trusted string"), [])
        XCTAssertEqual(trustedArgument("ctx | upper | truncate(20)", params: "q: string, ctx: trusted string"), [])
        XCTAssertEqual(trustedArgument("ctx + q", params: "q: string, ctx: trusted string").count, 1)
    }

    func testUntrustedOrigins() {
        let diagnostics = summary(checkSource("""
        use std.models.{gpt_4o_mini}
        index kb { source "docs/" }
        prompt styled(style: trusted string, text: string) {
          model gpt_4o_mini
          system "Write in this style: {style}"
          user "{text}"
        }
        prompt ask(q: string) { model gpt_4o_mini  user "{q}" }
        pipeline sub(ctx: trusted string) -> string { return ctx }
        pipeline main(q: string) {
          docs = retrieve q from kb
          a = styled(style: docs[0].text, text: "x")
          reply = ask(q: q)
          b = styled(style: reply | str, text: "x")
          c = styled(style: sub(ctx: "fine"), text: "x")
          d = sub(ctx: q)
          session turns
          e = styled(style: turns[0].content, text: "x")
          for doc in docs { f = styled(style: doc.source, text: "x") }
          g = styled(style: str(docs[0].score), text: "x")
        }
        """).diagnostics)
        let prefix = "untrusted text passed to the trusted parameter"
        let help = " [pass it through `| fenced` (marks it as data), or vouch for it with `| trusted` if the script author controls it]"
        XCTAssertEqual(diagnostics, [
            "12:14: \(prefix) `style` of prompt `styled`: it comes from retrieved documents" + help,
            "14:14: \(prefix) `style` of prompt `styled`: it comes from a model reply" + help,
            "15:14: \(prefix) `style` of prompt `styled`: it comes from the result of pipeline `sub`" + help,
            "16:11: \(prefix) `ctx` of pipeline `sub`: it comes from `q`, an input of pipeline `main` not declared `trusted`" + help,
            "18:14: \(prefix) `style` of prompt `styled`: it comes from the conversation history" + help,
            "19:32: \(prefix) `style` of prompt `styled`: it comes from retrieved documents" + help,
        ])
    }

    func testLoopBodiesSeeWhatLaterPassesBind() {
        XCTAssertEqual(trustedArgument("acc", setup: """
          acc = "start"
          for w in lines(q) { acc = acc + w }
        """), ["11:17: untrusted text passed to the trusted parameter `style` of prompt `styled`: it comes from `q`, an input of pipeline `main` not declared `trusted` [pass it through `| fenced` (marks it as data), or vouch for it with `| trusted` if the script author controls it]"])
        // Used before it is rebound in the same body: the second pass sees the untrusted value.
        let inBody = trustedArgument("\"done\"", setup: """
          acc = "start"
          for w in lines(q) {
            x = styled(style: acc, text: w)
            acc = w
          }
        """)
        XCTAssertEqual(inBody.count, 1)
        XCTAssertTrue(inBody.first?.hasPrefix("11:16: untrusted text passed") == true, "\(inBody)")
        XCTAssertEqual(trustedArgument("\"done\"", setup: """
          for w in ["formal", "plain"] { x = styled(style: w, text: q) }
        """), [])
    }

    func testReplCarriesTrust() {
        let (program, diagnostics) = checkSource("""
        use std.models.{gpt_4o_mini}
        prompt styled(style: trusted string, text: string) {
          model gpt_4o_mini
          system "Write in this style: {style}"
          user "{text}"
        }
        """)
        XCTAssertEqual(summary(diagnostics), [])
        let file = SourceFile(path: "<repl>", text: """
        s = "plain"
        a = styled(style: s, text: q)
        b = styled(style: q, text: q)
        c = styled(style: old, text: q)
        u = q | upper
        """)
        let parsed = Parser.parseReplInput(file)
        let result = Checker.checkStatementsAndLocals(parsed.statements, file: file, program: program,
                                                      locals: ["q": .string, "old": .any], trust: ["old": .trusted])
        XCTAssertEqual(summary(result.diagnostics), [
            "3:12: untrusted text passed to the trusted parameter `style` of prompt `styled`: it comes from `q`, bound by an earlier input [pass it through `| fenced` (marks it as data), or vouch for it with `| trusted` if the script author controls it]",
        ])
        XCTAssertEqual(result.trust["s"], .trusted)
        XCTAssertEqual(result.trust["u"], .untrusted)
        XCTAssertEqual(result.trust["a"], .untrusted)
    }
}

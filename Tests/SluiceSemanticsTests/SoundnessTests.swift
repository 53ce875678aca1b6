import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

/// What the runtime refuses, `check` refuses first: operators, history, returns, enum
/// comparisons, text replies, `validate`, and the call table the interpreter follows.
final class SoundnessTests: XCTestCase {
    /// Diagnostics of a pipeline body (statements indented by two spaces, first on line 4).
    private func body(_ statements: String, params: String = "q: string, v: any", returns: String = "") -> [String] {
        summary(checkSource("""
        use std.models.{gpt_4o_mini}
        type Route { route: "billing" | "bug" | "other"  reason: string }
        prompt text_reply(q: string) { model gpt_4o_mini  user "{q}" }
        pipeline main(\(params))\(returns) {
        \(statements)
        }
        prompt classify(q: string) { model gpt_4o_mini  user "{q}"  returns Route }
        """).diagnostics)
    }

    // MARK: Money and numbers

    func testMoneyDoesNotMixWithPlainNumbers() {
        XCTAssertEqual(body("""
          a = $0.10 + 5
          b = $0.10 > 0.05
          c = 5 - $1
          d = 2 / $1
          e = 5 % $1
          f = 1 + $2
        """), [
            "5:7: cannot apply `+` to money and a number [money and plain numbers do not mix here: write the amount as money, `$5`]",
            "6:7: cannot apply `>` to money and a number [money and plain numbers do not mix here: write the amount as money, `$0.05`]",
            "7:7: cannot apply `-` to a number and money [money and plain numbers do not mix here: write the amount as money, `$5`]",
            "8:7: cannot apply `/` to a number and money [money and plain numbers do not mix here: write the amount as money, `$2`]",
            "9:7: cannot apply `%` to a number and money [money and plain numbers do not mix here: write the amount as money, `$5`]",
            "10:7: cannot apply `+` to a number and money [money and plain numbers do not mix here: write the amount as money, `$1`]",
        ])
    }

    func testTheRuntimesOperatorTableIsAccepted() {
        XCTAssertEqual(body("""
          a = $1 * 2
          b = 2 * $1
          c = $1 / 2
          d = $1 - $0.5
          e = $1 % 2
          f = $1 + $2
          g = $1 < $2
          h = "cost: " + $1
          i = [1] + [2]
          j = 3 - 1
          k = null < 3
          l = "a" < "b"
        """), [])
    }

    func testResultTypesOfMoneyArithmetic() {
        XCTAssertEqual(body("""
          ratio = $1 / $2
          a = ratio + 1
          price = $1 / 1M
          b = price * 1000 + 1
          c = price * 1000 > ratio
        """), [
            "8:7: cannot apply `+` to money and a number [money and plain numbers do not mix here: write the amount as money, `$1`]",
            "9:7: cannot apply `>` to money and a number [money and plain numbers do not mix here: write amounts as money, like `$0.05`]",
        ])
    }

    func testUnknownTypesStaySilent() {
        XCTAssertEqual(body("""
          a = v + 5
          b = v > $1
          c = v - $1
          d = v + true
          e = -v
        """), [])
        XCTAssertEqual(body("  a = v - true"), ["5:7: cannot apply `-` to `any` and a bool"])
    }

    func testTextRepliesInOperators() {
        XCTAssertEqual(body("""
          r = text_reply(q: q)
          a = r + 1
          b = r < "m"
          c = r + "!"
          d = (r | str) + 1
          e = r == "yes"
        """), [
            "6:7: cannot apply `+` to a text reply and a number [a reply is not a string: turn it into one first, with `| str`]",
            "7:7: cannot apply `<` to a text reply and a string [a reply is not a string: turn it into one first, with `| str`]",
        ])
    }

    // MARK: history

    private func history(_ expression: String, params: String = "h: string") -> [String] {
        summary(checkSource("""
        use std.models.{gpt_4o_mini}
        prompt p(\(params)) {
          model gpt_4o_mini
          history \(expression)
          user "go"
        }
        """).diagnostics)
    }

    func testHistoryNeedsMessages() {
        let help = " [a `session NAME` statement binds the conversation so far; or write a list like `[{role: \"user\", content: text}]`]"
        XCTAssertEqual(history("h"), ["4:11: `history` needs a list of `{role, content}` messages, not a string" + help])
        XCTAssertEqual(history("h", params: "h: [string]"),
                       ["4:11: `history` needs a list of `{role, content}` messages, not a list (`[string]`)" + help])
        XCTAssertEqual(history("[{role: \"user\", text: h}]"),
                       ["4:11: `history` needs a list of `{role, content}` messages, not a list of records without `content`" + help])
        XCTAssertEqual(history("[{role: \"system\", content: h}]"),
                       ["4:19: a `history` message's role is \"user\" or \"assistant\", not \"system\" [instructions go in `system` messages of the prompt itself]"])
    }

    func testHistoryThatFits() {
        XCTAssertEqual(history("h", params: "h: [Message]"), [])
        XCTAssertEqual(history("h", params: "h: any"), [])
        XCTAssertEqual(history("[{role: \"user\", content: h}, {role: \"assistant\", content: \"ok\", at: 1}]"), [])
        XCTAssertEqual(summary(checkSource("""
        use std.models.{gpt_4o_mini}
        prompt p(h: [Message]) { model gpt_4o_mini  history h  user "go" }
        prompt q(x: string) { model gpt_4o_mini  user "{x}" }
        pipeline main(x: string) {
          session turns
          a = p(h: turns)
          return p(h: template q(x: x))
        }
        """).diagnostics), [])
    }

    // MARK: return

    func testPathsThatEndWithoutReturn() {
        XCTAssertEqual(body("  if len(q) > 2 { return q }", returns: " -> string"),
                       ["6:1: pipeline `main` returns `string`, but it can end without `return` [end every path with `return VALUE`]"])
        XCTAssertEqual(body("  for w in lines(q) { return w }", returns: " -> string"),
                       ["6:1: pipeline `main` returns `string`, but it can end without `return` [end every path with `return VALUE`]"])
        XCTAssertEqual(body("  if len(q) > 2 { return q } else if len(q) > 1 { x = 1 } else { return \"\" }", returns: " -> string"),
                       ["6:1: pipeline `main` returns `string`, but it can end without `return` [end every path with `return VALUE`]"])
        XCTAssertEqual(body("  x = q", returns: " -> string?"),
                       ["6:1: pipeline `main` returns `string?`, but it can end without `return` [end every path with `return VALUE`]"])
    }

    func testTheReasonAPathEndsIsANote() {
        let diagnostics = checkSource("""
        pipeline main(q: string) -> string {
          if len(q) > 2 { return q }
        }
        """).diagnostics
        XCTAssertEqual(diagnostics.first?.notes.map(\.message), ["this `if` has no `else`: when no condition holds, nothing is returned"])
    }

    func testPathsThatAllReturn() {
        XCTAssertEqual(body("  if len(q) > 2 { return q } else { return \"short\" }", returns: " -> string"), [])
        XCTAssertEqual(body("""
          if len(q) > 2 {
            if len(q) > 5 { return "long" } else { return "medium" }
          } else if len(q) > 1 { return "short" } else { return "" }
        """, returns: " -> string"), [])
        XCTAssertEqual(body("  for w in lines(q) { x = w }", returns: ""), [])
    }

    func testUnreachableStatements() {
        XCTAssertEqual(body("""
          return q
          x = 1
          y = 2
        """), ["6:3: unreachable statement: it comes after a `return` [remove it, or move it before the `return`]"])
        XCTAssertEqual(body("""
          if len(q) > 2 { return q } else { return "x" }
          y = 2
        """), ["6:3: unreachable statement: every branch of the `if` before it returns [remove it, or move it before the `return`]"])
        XCTAssertEqual(body("""
          for w in lines(q) {
            return w
            x = w
          }
        """), ["7:5: unreachable statement: it comes after a `return` [remove it, or move it before the `return`]"])
    }

    func testReturnValueOnTheNextLine() {
        XCTAssertEqual(body("""
          return
            q + "!"
        """, returns: " -> string"), [
            "5:3: this `return` gives no value: the expression on the next line is a statement of its own, never run [the value must start on the same line as `return`]",
        ])
        XCTAssertEqual(body("""
          return
            {answer: q}
        """), [
            "5:3: this `return` gives no value: the expression on the next line is a statement of its own, never run [the value must start on the same line as `return`]",
        ])
    }

    // MARK: Enums

    func testComparingAnEnumWithAStringThatIsNoCase() {
        XCTAssertEqual(body("""
          r = classify(q: q)
          a = r.route == "biling"
          b = "bugg" != r.route
          c = r.route == "refund"
          d = r.route == "bug"
          validate r
          e = r.route != "other"
          f = r.reason == "anything"
        """), [
            "6:18: \"biling\" is not a case of `\"billing\" | \"bug\" | \"other\"`, so this comparison is always false [did you mean \"billing\"?]",
            "7:7: \"bugg\" is not a case of `\"billing\" | \"bug\" | \"other\"`, so this comparison is always true [did you mean \"bug\"?]",
            "8:18: \"refund\" is not a case of `\"billing\" | \"bug\" | \"other\"`, so this comparison is always false [the cases are \"billing\", \"bug\", \"other\"]",
        ])
    }

    // MARK: Text replies

    func testMembersOfATextReply() {
        XCTAssertEqual(body("""
          r = text_reply(q: q)
          a = r.answer
          b = r["answer"]
          c = text_reply(q: q).confidence
        """), [
            "6:9: the reply of prompt `text_reply` is text, so it has no field `answer` [give prompt `text_reply` a `returns TYPE` to read fields of its JSON reply]",
            "7:7: the reply of prompt `text_reply` is text, so it cannot be indexed [give prompt `text_reply` a `returns TYPE` to read fields of its JSON reply]",
            "8:24: the reply of prompt `text_reply` is text, so it has no field `confidence` [give prompt `text_reply` a `returns TYPE` to read fields of its JSON reply]",
        ])
    }

    func testMembersOfATextReplyInACascade() {
        XCTAssertEqual(summary(checkSource("""
        use std.models.{gpt_4o_mini, claude_sonnet}
        prompt text_reply(q: string) { user "{q}" }
        pipeline main(q: string) {
          reply = cascade text_reply(q: q) {
            gpt_4o_mini accept reply.confidence > 0.5
            claude_sonnet
          }
          return reply
        }
        """).diagnostics), [
            "5:30: the reply of prompt `text_reply` is text, so it has no field `confidence` [give prompt `text_reply` a `returns TYPE` to read fields of its JSON reply]",
        ])
    }

    func testAValidatedTextReplyHasFields() {
        XCTAssertEqual(body("""
          r = text_reply(q: q)
          validate r as Route
          a = r.reason
        """), [])
    }

    func testRepliesBeforeValidation() {
        XCTAssertEqual(summary(checkSource("""
        use std.models.{gpt_4o_mini}
        type Item { name: string }
        prompt items(q: string) { model gpt_4o_mini  user "{q}"  returns [Item] }
        pipeline main(q: string) {
          list = items(q: q)
          for i in list { x = i }
          y = list[0]
          validate list
          for i in list { z = i.name }
          return list[0]
        }
        """).diagnostics), [
            "6:12: cannot loop over a reply before it is validated [validate it first (`validate NAME`): then it is a `[Item]`]",
            "7:7: a reply cannot be indexed by a number before it is validated [validate it first (`validate NAME`): then it is a `[Item]`]",
        ])
    }

    func testBuiltinArgumentsTheRuntimeRefuses() {
        XCTAssertEqual(body("""
          a = keys(q)
          b = q | truncate("x")
          c = q | truncate(2.5)
          d = keys({a: 1})
          e = q | truncate(3)
        """), [
            "5:12: `keys` takes a record, not a string",
            "6:20: `truncate` takes a number of characters, not a string",
            "7:20: `truncate` takes a whole number of characters, 0 or more",
        ])
    }

    func testFlaggedNamesAGuard() {
        let (program, diagnostics) = checkSource("""
        use std.guards.{pii, injection}
        pipeline main(q: string) -> bool {
          guard q with injection(flag)
          a = flagged("injection") or flagged()
          b = flagged("injecton")
          return a
        }
        """)
        XCTAssertEqual(summary(diagnostics), ["5:15: `flagged`: no guard named `injecton` [did you mean `injection`?]"])
        XCTAssertNotNil(program.guards["injection"])
    }

    func testMetricArgumentsTheRuntimeRefuses() {
        XCTAssertEqual(body("""
          score q with length("a", 10), regex(r"(abc"), regex("ok+"), length(1, $2), length(1)
        """), [
            "5:23: `length` takes numbers of characters, not a string",
            "5:41: invalid regular expression: `(` is never closed",
            "5:73: `length` takes numbers of characters, not money",
        ])
    }

    func testSessionsTheRuntimeRefuses() {
        XCTAssertEqual(body("""
          session turns
          session again
        """, params: "n: number"), [
            "5:3: the session needs to know which input is the user's turn [add `with user INPUT`, naming a parameter of pipeline `main`]",
            "6:3: a run has one session; this is a second `session` statement",
        ])
        XCTAssertEqual(body("  session turns with user n", params: "n: number"), [])
        XCTAssertEqual(body("  session turns"), [])
        let (program, _) = checkSource("use std.models.{gpt_4o_mini}")
        let file = SourceFile(path: "<repl>", text: "session turns")
        let parsed = Parser.parseReplInput(file)
        XCTAssertEqual(summary(Checker.checkStatements(parsed.statements, file: file, program: program, locals: [:])),
                       ["1:1: `session` belongs in a pipeline"])
    }

    func testARedactedReplyIsStillAReply() {
        XCTAssertEqual(summary(checkSource("""
        use std.models.{gpt_4o_mini}
        use std.guards.{pii}
        prompt text_reply(q: string) { model gpt_4o_mini  user "{q}" }
        pipeline main(q: string) {
          r = text_reply(q: q)
          guard r with pii(redact)
          return r.answer
        }
        """).diagnostics), [
            "7:12: the reply of prompt `text_reply` is text, so it has no field `answer` [give prompt `text_reply` a `returns TYPE` to read fields of its JSON reply]",
        ])
    }

    // MARK: validate

    /// The advice in stdlib/std/prompts.sluice, as a script written from it would read.
    func testValidateAgainstYourOwnLabels() {
        let loader = DiskStdLoader(root: Paths.repository)
        let enumForm = checkSource("""
        use std.models.{gpt_4o_mini}
        use std.prompts.{classify_zero_shot}
        type MyLabels = "billing" | "bug" | "other"
        pipeline route(ticket: string) -> string {
          reply = classify_zero_shot(item: ticket, labels: ["billing", "bug", "other"]) using gpt_4o_mini
          validate reply as MyLabels
          return reply
        }
        """, loader: loader)
        XCTAssertEqual(summary(enumForm.diagnostics), [
            "6:21: `reply` can never match `MyLabels`: prompt `classify_zero_shot` asks the model for `Classification` [to check its `label` against the enum, validate a record whose field has the enum's type: `type Checked { label: MyLabels  confidence: number }` and `validate reply as Checked`]",
        ])
        let recordForm = checkSource("""
        use std.models.{gpt_4o_mini}
        use std.prompts.{classify_zero_shot}
        type MyLabels { label: "billing" | "bug" | "other"  confidence: number }
        pipeline route(ticket: string) -> "billing" | "bug" | "other" {
          reply = classify_zero_shot(item: ticket, labels: ["billing", "bug", "other"]) using gpt_4o_mini
          validate reply as MyLabels
          if reply.label == "bug" { return "bug" }
          return reply.label
        }
        """, loader: loader)
        XCTAssertEqual(summary(recordForm.diagnostics), [])
    }

    func testValidateAgainstAnIncompatibleRecord() {
        XCTAssertEqual(body("""
          r = classify(q: q)
          validate r as Message
        """), ["6:17: `r` can never match `Message`: prompt `classify` asks the model for `Route`, which lacks field `role`"])
    }

    // MARK: Call targets

    func testCallTargetsForEveryCallAndFilter() throws {
        let source = """
        use std.models.{gpt_4o_mini, claude_sonnet}
        prompt ask(q: string) { model gpt_4o_mini  user "{q | trim} {len(q)}" }
        pipeline helper(x: string) -> string { return x | upper }
        pipeline main(q: string) {
          a = ask(q: q)
          b = helper(x: q)
          c = len(q)
          d = template ask(q: q)
          e = cascade ask(q: q) {
            gpt_4o_mini
            claude_sonnet
          }
          return q | lower
        }
        """
        let (program, diagnostics) = checkSource(source)
        XCTAssertEqual(summary(diagnostics), [])
        var found: [String] = []
        func collect(_ expr: Expr) {
            switch expr.kind {
            case .call(let callee, let args, _):
                found.append("\(program.callTargets[ObjectIdentifier(expr)].map { "\($0)" } ?? "none") \(expr.span.start)")
                collect(callee); args.forEach { collect($0.value) }
            case .filter(let subject, _, let args):
                found.append("\(program.callTargets[ObjectIdentifier(expr)].map { "\($0)" } ?? "none") \(expr.span.start)")
                collect(subject); args.forEach { collect($0.value) }
            case .string(let parts): for case .hole(let h) in parts { collect(h) }
            case .template(let call), .cascade(let call, _): collect(call)
            default: break
            }
        }
        for message in try XCTUnwrap(program.prompts["ask"]).decl.messages { collect(message.content) }
        for name in ["helper", "main"] {
            for statement in try XCTUnwrap(program.pipelines[name]).decl.body.statements {
                switch statement.kind {
                case .assign(_, let e), .returnValue(let e?): collect(e)
                default: break
                }
            }
        }
        XCTAssertEqual(found.map { $0.split(separator: " ")[0] }, [
            "builtin(\"trim\")", "builtin(\"len\")", "builtin(\"upper\")", "prompt(\"ask\")", "pipeline(\"helper\")",
            "builtin(\"len\")", "prompt(\"ask\")", "prompt(\"ask\")", "builtin(\"lower\")",
        ])
    }

    func testCallTargetsOfReplStatements() {
        let (program, _) = checkSource("""
        use std.models.{gpt_4o_mini}
        prompt ask(q: string) { model gpt_4o_mini  user "{q}" }
        """)
        let file = SourceFile(path: "<repl>", text: "a = ask(q: \"hi\" | upper)")
        let parsed = Parser.parseReplInput(file)
        let result = Checker.checkStatementsAndLocals(parsed.statements, file: file, program: program, locals: [:])
        guard case .assign(_, let call) = parsed.statements.first?.kind, case .call(_, let args, _) = call.kind else {
            return XCTFail("expected an assignment of a call")
        }
        XCTAssertEqual(result.callTargets[ObjectIdentifier(call)], .prompt("ask"))
        XCTAssertEqual(result.callTargets[ObjectIdentifier(args[0].value)], .builtin("upper"))
    }

    func testReplDeclarationsKeepTheirCallTargets() {
        let (program, _) = checkSource("""
        use std.models.{gpt_4o_mini}
        pipeline shout(x: string) -> string { return x | upper }
        """)
        let file = SourceFile(path: "<repl>", text: "pipeline whisper(x: string) -> string { return x | lower }")
        let parsed = Parser.parseReplInput(file)
        let (extended, diagnostics) = Checker.extend(program, with: parsed.decls, file: file, loader: InlineStd.loader)
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertEqual(Set(extended.callTargets.values), [.builtin("upper"), .builtin("lower")])
    }

    // MARK: REPL

    func testReplStatementsFollowTheSameRules() {
        let (program, _) = checkSource("""
        use std.models.{gpt_4o_mini}
        prompt text_reply(q: string) { model gpt_4o_mini  user "{q}" }
        """)
        let file = SourceFile(path: "<repl>", text: """
        a = $0.10 + 5
        r = text_reply(q: "x")
        b = r.answer
        return 1
        c = 2
        """)
        let parsed = Parser.parseReplInput(file)
        XCTAssertEqual(summary(Checker.checkStatements(parsed.statements, file: file, program: program, locals: [:])), [
            "1:5: cannot apply `+` to money and a number [money and plain numbers do not mix here: write the amount as money, `$5`]",
            "3:7: the reply of prompt `text_reply` is text, so it has no field `answer` [give prompt `text_reply` a `returns TYPE` to read fields of its JSON reply]",
            "5:1: unreachable statement: it comes after a `return` [remove it, or move it before the `return`]",
        ])
    }
}

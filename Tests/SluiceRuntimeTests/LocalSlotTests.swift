import Foundation
import SluiceSemantics
import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// Locals live in the slots the checker lays out: names reused across bodies, loops, cascades,
/// `parallel` and REPL inputs each reach their own slot, and the runtime finds no local by name.
final class LocalSlotTests: XCTestCase {
    let models = """
        model m { provider "scripted"  context 8k  max_output 100  input $1 / 1M  output $1 / 1M }
        model big { provider "scripted"  context 8k  max_output 100  input $1 / 1M  output $1 / 1M }
        prompt echo(q: string) { model m  max_tokens 20  user "{q}" }

        """

    func testNamesReusedAcrossPipelinesLoopsCascadesAndParallelEachKeepTheirValue() async throws {
        let program = try checkedProgram(models + """
            pipeline shout(item: string) -> string {
              out = item + "!"
              return out
            }

            pipeline main(item: string) -> string {
              out = ""
              for x in [item + "1", item + "2"] {
                out = out + shout(item: x)
              }
              for x in [item + "3"] {
                out = out + "," + x
              }
              a = cascade echo(q: out) {
                m accept a == "never"
                big
              }
              b = cascade echo(q: item) {
                m accept it != ""
              }
              parallel {
                c = echo(q: b)
                d = parallel shout(item: x) for x in [item + "p"]
              }
              return "{out}|{a}|{b}|{c}|{d[0]}"
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        let result = try await interpreter.run(pipeline: "main", inputs: ["item": .string("hi")])
        XCTAssertEqual(result.output.text, "hi1!hi2!,hi3|hi1!hi2!,hi3|hi|hi|hip!")

        // `shout` and `main` both name `item` and `out`; each body has its own layout, parameters first.
        let file = program.main.file
        let main = try XCTUnwrap(program.pipelines["main"]).decl
        let layout = try XCTUnwrap(program.bindings.layouts[BindingSite(file, main.name.span)])
        XCTAssertEqual(layout.names.first, "item")
        XCTAssertEqual(layout.names.filter { $0 == "x" }.count, 3, "each loop variable has a slot of its own")
        XCTAssertEqual(layout.names.filter { $0 == "it" }.count, 2, "each cascade's candidate has a slot of its own")
        XCTAssertNil(layout.outer["x"], "a loop variable is not bound after its loop")
        XCTAssertNil(layout.outer["it"])
        let shout = try XCTUnwrap(program.pipelines["shout"]).decl
        XCTAssertEqual(program.bindings.layouts[BindingSite(file, shout.name.span)]?.names, ["item", "out"])
    }

    func testAForVariableLeavesTheNameItShadowsAsTheCheckerSays() async throws {
        let program = try checkedProgram(models + """
            pipeline main(items: [string]) -> string {
              x = "before"
              seen = ""
              for x in items {
                seen = seen + x
              }
              return "{x} {seen}"
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        let result = try await interpreter.run(pipeline: "main", inputs: ["items": .array([.string("a"), .string("b")])])
        XCTAssertEqual(result.output.text, "before ab")
    }

    func testANameBoundOnlyOnAPathNotTakenHasNoValue() async throws {
        let program = try checkedProgram(models + """
            pipeline main(q: string) -> string {
              if q == "yes" {
                answer = q
              }
              return answer
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        let taken = try await interpreter.run(pipeline: "main", inputs: ["q": .string("yes")])
        XCTAssertEqual(taken.output.text, "yes")
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("no")])
            XCTFail("a slot never bound was read")
        } catch {
            XCTAssertEqual(error.error.message, "`answer` has no value here: it is bound only on a path this run did not take")
            XCTAssertEqual(program.main.file.slice(error.error.diagnostic.span), "answer")
        }
    }

    func testReplInputsKeepTheirLocalsByNameOnlyBetweenInputs() async throws {
        let program = try checkedProgram(models)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        // An untrusted value, so that the echoing model sees it fenced and answers with it.
        var locals: [String: Value] = ["seed": .string("a", .untrusted)]
        var number = 0
        func input(_ text: String) async throws -> Value? {
            number += 1
            let file = SourceFile(path: "<repl:\(number)>", text: text)
            let parsed = Parser.parseReplInput(file)
            XCTAssertEqual(parsed.diagnostics.map(\.message), [])
            let checked = Checker.checkStatementsAndLocals(parsed.statements, file: file, program: program,
                                                           locals: locals.mapValues { _ in .any })
            XCTAssertEqual(checked.diagnostics.filter { $0.severity == .error }.map(\.message), [])
            XCTAssertEqual(Array(checked.layout.names.prefix(locals.count)), locals.keys.sorted(), "earlier locals come first, by name")
            return try await interpreter.evaluate(parsed.statements, file: file, locals: &locals, calls: checked.callTargets,
                                                  layout: checked.layout, bindings: checked.bindings)
        }
        _ = try await input("x = seed")
        _ = try await input(#"for item in ["b", "c"] { y = item }"#)
        XCTAssertEqual(Set(locals.keys), ["seed", "x", "y"], "the loop variable stays inside its loop")
        let item = try await input("item = y + x")
        XCTAssertEqual(item?.text, "ca")
        _ = try await input("parallel {\n  z = item + \"!\"\n  w = echo(q: x)\n}")
        _ = try await input(#"r = cascade echo(q: z) { m accept it != "" }"#)
        let all = try await input(#""{item} {z} {w} {r}""#)
        XCTAssertEqual(all?.text, "ca ca! a ca!")
    }

    func testTheRuntimeFindsNoLocalByName() async throws {
        let program = try checkedProgram(models + """
            pipeline main(q: string) -> string {
              a = q + "!"
              return a
            }
            """)
        // A frame is laid out from the checker's table: slots, no names to look up.
        let main = try XCTUnwrap(program.pipelines["main"])
        let layout = try XCTUnwrap(program.bindings.layouts[BindingSite(main.file, main.decl.name.span)])
        XCTAssertEqual(layout.names, ["q", "a"])
        let frame = Frame(file: main.file, layout: layout, budget: BudgetScope(parent: nil, owner: nil, limits: BudgetLimits()))
        XCTAssertEqual(frame.slots.count, 2)
        for child in Mirror(reflecting: frame).children {
            XCTAssertFalse(child.value is [String: Value], "`Frame.\(child.label ?? "?")` is a dictionary of locals by name")
            XCTAssertFalse(child.value is [String: Value?], "`Frame.\(child.label ?? "?")` is a dictionary of locals by name")
        }

        // REPL statements run without the checker's slots fail as an internal error, even though
        // a local of that name is right there in the REPL's dictionary.
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        let file = SourceFile(path: "<repl>", text: "b = x")
        let parsed = Parser.parseReplInput(file)
        let checked = Checker.checkStatementsAndLocals(parsed.statements, file: file, program: program, locals: ["x": .string])
        var locals: [String: Value] = ["x": .string("kept", .trusted)]
        do {
            _ = try await interpreter.evaluate(parsed.statements, file: file, locals: &locals, calls: checked.callTargets,
                                               layout: checked.layout, bindings: BindingTable())
            XCTFail("a local the checker did not resolve was found by name")
        } catch {
            XCTAssertTrue(error.message.hasPrefix("internal error: the checker did not resolve the local"), error.message)
        }
        let ran = try await interpreter.evaluate(parsed.statements, file: file, locals: &locals, calls: checked.callTargets,
                                                 layout: checked.layout, bindings: checked.bindings)
        XCTAssertEqual(ran?.text, "kept")
        XCTAssertEqual(locals["b"]?.text, "kept")
    }

    func testEveryNameReadAndBindingOfACheckedBodyHasASlot() throws {
        let source = models + """
            pipeline main(q: string, items: [string]) -> string {
              out = ""
              for item in items { out = out + item }
              r = cascade echo(q: q) {
                m accept it != ""
                big
              }
              validate r as string
              guard out with pii(redact)
              parallel {
                a = echo(q: out)
                b = parallel echo(q: i) for i in items
              }
              return "{out}{r}{a}{b}"
            }
            """
        let program = try checkedProgram("use std.guards.{pii}\n" + source)
        var reads = 0, sites = 0
        func visit(_ e: Expr) {
            if case .name = e.kind { reads += 1; XCTAssertNotNil(program.bindings.reads[ObjectIdentifier(e)], program.main.file.slice(e.span)) }
            if case .call(_, let args, _) = e.kind {
                for arg in args {
                    if let label = arg.label { sites += 1; XCTAssertNotNil(program.bindings.sites[BindingSite(program.main.file, label.span)]) }
                    visit(arg.value)
                }
                return
            }
            if case .parallelMap(_, let variable, _, _) = e.kind {
                sites += 1
                XCTAssertNotNil(program.bindings.sites[BindingSite(program.main.file, variable.span)])
            }
            e.kind.children.forEach(visit)
        }
        func visit(_ s: Stmt) {
            switch s.kind {
            case .assign(let name, let value), .forIn(let name, let value, _):
                sites += 1
                XCTAssertNotNil(program.bindings.sites[BindingSite(program.main.file, name.span)], name.text)
                visit(value)
                if case .forIn(_, _, let body) = s.kind { body.statements.forEach(visit) }
            case .validate(let name, _, _, _):
                sites += 1
                XCTAssertNotNil(program.bindings.sites[BindingSite(program.main.file, name.span)], name.text)
            case .guardStage(let subject, _): visit(subject)
            case .returnValue(let value): value.map(visit)
            case .parallel(_, let body): body.statements.forEach(visit)
            default: break
            }
        }
        program.pipelines["main"]?.decl.body.statements.forEach(visit)
        XCTAssertGreaterThan(reads, 10)
        XCTAssertGreaterThan(sites, 8)
    }
}

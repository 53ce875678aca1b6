import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

final class CheckerTests: XCTestCase {
    // MARK: Prompt parameters

    func testInferredParametersInOrderOfFirstAppearance() throws {
        let file = SourceFile(path: "p.sluice", text: """
        prompt p {
          system "Be {tone | trusted}; {len(items)} items, {upper(name)}."
          example { user "{sample}" assistant "ok" }
          user "{question | fenced} from {name} {items | join(sep)} {text}"
        }
        prompt q(a: string, b: trusted string) { user "{b} {a}" }
        """)
        let module = Parser.parse(file).module
        var prompts: [PromptDecl] = []
        for decl in module.decls { if case .prompt(let p) = decl { prompts.append(p) } }
        XCTAssertEqual(parameterNames(of: prompts[0]), ["tone", "items", "name", "sample", "question", "sep", "text"])
        XCTAssertEqual(parameterNames(of: prompts[1]), ["a", "b"])
    }

    // MARK: Program tables

    func testImportedDeclarationsBringTheirDependencies() {
        let (program, diagnostics) = checkSource("""
        use std.prompts.{qa}
        index kb { source "docs/" }
        pipeline run(q: string) {
          docs = retrieve q from kb
          reply = qa(docs: docs, question: q)
          validate reply
          return reply.answer
        }
        """)
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertEqual(program.prompts["qa"]?.file.path, "std/prompts.sluice")
        XCTAssertNotNil(program.models["gpt_4o_mini"], "the model qa names comes along")
        XCTAssertNotNil(program.types["Grounded"])
        XCTAssertEqual(program.resolvedTypes["Grounded"].map { jsonSchema(for: $0)["required"] },
                       .array([.string("answer"), .string("sources"), .string("confidence")]))
        XCTAssertNotNil(program.pipelines["run"])
        XCTAssertNotNil(program.indexes["kb"])
    }

    func testDependenciesAreNotVisibleByName() {
        let (_, diagnostics) = checkSource("""
        use std.prompts.{qa}
        pipeline run(q: string) {
          return qa(docs: [], question: q) using gpt_4o_mini
        }
        """)
        XCTAssertEqual(summary(diagnostics), [
            "3:42: unknown model `gpt_4o_mini` [declare it with `model gpt_4o_mini { ... }`, or import it: `use std.models.{gpt_4o_mini}`]",
        ])
    }

    func testDependencyShadowedByALocalDeclarationIsAnError() {
        let (_, diagnostics) = checkSource("""
        use std.prompts.{qa}
        model gpt_4o_mini { provider "scripted" }
        """)
        XCTAssertEqual(diagnostics.map(\.message), [
            "imported prompt `qa` uses model `gpt_4o_mini` from `std.models`, but `gpt_4o_mini` here is a different declaration",
        ])
    }

    func testUseWithoutNamesImportsEverything() {
        let (program, diagnostics) = checkSource("use std.models\nuse std.guards\n")
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertEqual(program.models.keys.sorted(), ["claude_sonnet", "gpt_4o_mini"])
        XCTAssertEqual(program.guards.keys.sorted(), ["injection", "leak", "pii"])
    }

    func testLocalDeclarationShadowsAWildcardImport() {
        let (program, diagnostics) = checkSource("""
        use std.models
        model gpt_4o_mini { provider "scripted" }
        prompt p(x: string) { model gpt_4o_mini  user "{x}" }
        """)
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertEqual(program.models["gpt_4o_mini"]?.file.path, "main.sluice")
        XCTAssertEqual(program.models["claude_sonnet"]?.file.path, "std/models.sluice")
    }

    func testExplicitImportClashesWithALocalDeclaration() {
        let (_, diagnostics) = checkSource("""
        use std.models.{gpt_4o_mini}
        model gpt_4o_mini { provider "scripted" }
        """)
        XCTAssertEqual(summary(diagnostics), [
            "2:7: `gpt_4o_mini` is already imported from `std.models` [rename this declaration, or drop `gpt_4o_mini` from the `use`]",
        ])
        XCTAssertEqual(diagnostics.first?.notes.first?.message, "imported here")
    }

    func testFileWideBudget() {
        let (program, diagnostics) = checkSource("budget request $0.10, tokens 8k\n")
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertEqual(program.budget?.decl.limits.map(\.name.text), ["request", "tokens"])
    }

    // MARK: Imports

    func testDiamondImportIsCheckedOnce() {
        var loader = InlineStd.loader
        loader.files = [
            "a.sluice": "use \"./c.sluice\".{shared}\nprompt a(x: string) { user \"{x}\" }",
            "b.sluice": "use \"./c.sluice\".{shared}\nprompt b(x: string) { user \"{x}\" }",
            "c.sluice": "prompt shared(x: string) { user \"{x}\" }\nprompt oops { system \"{x}\" }",
        ]
        let (program, diagnostics) = checkSource("""
        use "./a.sluice".{a}
        use "./b.sluice".{b}
        use "./c.sluice".{shared}
        """, loader: loader)
        XCTAssertEqual(summary(diagnostics).count, 1, "the error in c.sluice is reported once: \(summary(diagnostics))")
        XCTAssertEqual(diagnostics.first?.file?.path, "c.sluice")
        XCTAssertEqual(program.prompts.keys.sorted(), ["a", "b", "shared"])
    }

    func testImportDepthIsCapped() {
        var loader = InlineStd.loader
        for i in 0..<40 { loader.files["f\(i).sluice"] = "use \"./f\(i + 1).sluice\"\nprompt p\(i)(x: string) { user \"{x}\" }" }
        loader.files["f40.sluice"] = "prompt last(x: string) { user \"{x}\" }"
        let (_, diagnostics) = checkSource("use \"./f0.sluice\"", loader: loader)
        XCTAssertEqual(diagnostics.map(\.message), ["imports nest deeper than \(Checker.maxImportDepth) levels"])
    }

    func testSelfImportIsACycle() {
        var loader = InlineStd.loader
        loader.files["main.sluice"] = "use \"./main.sluice\""
        let (_, diagnostics) = checkSource("use \"./main.sluice\"", loader: loader)
        XCTAssertEqual(diagnostics.map(\.message), ["import cycle: `main.sluice` → `main.sluice`"])
    }

    func testDiagnosticsInsideImportedFilesPointIntoThem() {
        var loader = InlineStd.loader
        loader.modules["std.extra"] = "prompt bad(q: string) {\n  user \"{q | nope}\"\n}"
        let (_, diagnostics) = checkSource("use std.extra.{bad}", loader: loader)
        XCTAssertEqual(diagnostics.map { $0.file?.path ?? "" }, ["std/extra.sluice"])
        XCTAssertEqual(summary(diagnostics), ["2:14: unknown filter `nope`"])
    }

    func testBudgetOfAnImportedFileDoesNotApply() {
        var loader = InlineStd.loader
        loader.files["lib.sluice"] = "budget request $1\nprompt p(x: string) { user \"{x}\" }"
        let (program, diagnostics) = checkSource("use \"./lib.sluice\".{p}", loader: loader)
        XCTAssertEqual(summary(diagnostics), [])
        XCTAssertNil(program.budget)
    }

    // MARK: REPL

    func testReplStatementsAgainstProgramAndLocals() {
        let (program, diagnostics) = checkSource("""
        use std.models.{gpt_4o_mini}
        type Reply { answer: string  confidence: number }
        prompt ask(question: string) { model gpt_4o_mini  user "{question}"  returns Reply }
        """)
        XCTAssertEqual(summary(diagnostics), [])
        let file = SourceFile(path: "<repl>", text: """
        reply = ask(question: q)
        x = reply.confidnce
        y = ask(qestion: q)
        z = unknown_thing
        """)
        let parsed = Parser.parseReplInput(file)
        XCTAssertEqual(parsed.diagnostics.count, 0)
        let result = Checker.checkStatementsAndLocals(parsed.statements, file: file, program: program, locals: ["q": .string])
        XCTAssertEqual(summary(result.diagnostics), [
            "2:11: type `Reply` has no field `confidnce` [did you mean `confidence`?]",
            "3:9: prompt `ask` has no parameter `qestion` [did you mean `question`?]",
            "4:5: unknown name `unknown_thing`",
        ])
        XCTAssertEqual(result.locals["reply"]?.description, "reply(Reply)")
        XCTAssertEqual(Checker.checkStatements(parsed.statements, file: file, program: program, locals: ["q": .string]).count, 3)
    }

    func testReplDeclarationsExtendAndRedefine() {
        let (program, _) = checkSource("""
        use std.models.{gpt_4o_mini}
        prompt ask(question: string) { model gpt_4o_mini  user "{question}" }
        """)
        let file = SourceFile(path: "<repl>", text: """
        prompt ask(question: string, tone: trusted string) { model gpt_4o_mini  system "{tone}"  user "{question}" }
        pipeline go(q: string) { return ask(question: q) }
        """)
        let parsed = Parser.parseReplInput(file)
        let (extended, diagnostics) = Checker.extend(program, with: parsed.decls, file: file, loader: InlineStd.loader)
        XCTAssertEqual(summary(diagnostics), ["2:33: missing argument `tone` for prompt `ask`"])
        XCTAssertEqual(extended.prompts["ask"]?.decl.params?.count, 2)
        XCTAssertNotNil(extended.pipelines["go"])
        XCTAssertNotNil(extended.models["gpt_4o_mini"])
    }

    // MARK: Builtins

    func testBuiltinTablesAreConsistent() {
        XCTAssertTrue(Builtins.fencingFilters.isSubset(of: Builtins.functions.keys))
        XCTAssertTrue(Builtins.systemSafeFilters.isSubset(of: Builtins.functions.keys))
        XCTAssertEqual(Set(Builtins.metrics.keys), ["exact", "contains", "regex", "json_valid", "length", "similarity",
                                                 "bleu", "chrf", "rouge1", "rouge2", "rougeL", "rougeLsum",
                                                 "schema_valid", "latency", "cost", "syntax_valid", "code_runs", "passes_tests"])
        XCTAssertEqual(Builtins.functions.count, 21)
    }

    func testUnknownModuleSuggestsAKnownOne() {
        let (_, diagnostics) = checkSource("use std.modles.{gpt_4o_mini}\nprompt p(x: string) { model gpt_4o_mini user \"{x}\" }")
        XCTAssertEqual(summary(diagnostics), ["1:5: no module `std.modles` [did you mean `std.models`?]"],
                       "names from a module that failed to load are not reported again")
    }
}

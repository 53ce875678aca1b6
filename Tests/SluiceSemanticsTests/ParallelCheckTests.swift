import Foundation
import SluiceSemantics
import SluiceSyntax
import XCTest

/// Branches of `parallel` run at the same time: the checker refuses what would make their
/// order matter.
final class ParallelCheckTests: XCTestCase {
    let prelude = """
        model m { provider "scripted" }
        prompt p(q: string) { model m  user "{q}" }

        """

    func errors(_ body: String) -> [String] {
        let file = SourceFile(path: "parallel.sluice", text: prelude + body)
        let (module, parseDiagnostics) = Parser.parse(file)
        let diagnostics = parseDiagnostics + Checker.check(module, loader: NoModulesHere()).diagnostics
        return diagnostics.filter { $0.severity == .error }.map { d in
            let (line, column) = file.location(of: d.span.start)
            return "\(line - 2):\(column): \(d.message)"
        }
    }

    func testIndependentBranchesCheck() {
        XCTAssertEqual(errors("""
            pipeline main(q: string, items: [string]) -> string {
              parallel limit 2 on_failure finish {
                a = p(q: q)
                b = p(q: q + "!")
              }
              all = parallel (p(q: i) catch "n/a") for i in items limit 4
              return "{a} {b} {all | join}"
            }
            """), [])
    }

    func testABranchCannotReadWhatAnotherBinds() {
        XCTAssertEqual(errors("""
            pipeline main(q: string) -> string {
              parallel {
                a = p(q: q)
                b = p(q: "{a}")
              }
              return "{b}"
            }
            """), ["4:16: this branch reads `a`, which another branch of the `parallel` binds: branches run at the same time"])
    }

    func testTwoBranchesCannotBindOneName() {
        XCTAssertEqual(errors("""
            pipeline main(q: string) -> string {
              parallel {
                a = p(q: q)
                a = p(q: q)
              }
              return "{a}"
            }
            """), ["4:5: `a` is bound by two branches of this `parallel`"])
    }

    func testOrderDependentStatementsAndSettings() {
        XCTAssertEqual(errors("""
            pipeline main(q: string) -> string {
              parallel limit 0 on_failure cancle {
                return q
              }
              return q
            }
            """), [
                "2:18: `limit` must be a whole number, at least 1",
                "2:31: unknown failure policy `cancle`",
                "3:5: `return` cannot be a branch of `parallel`: branches run at the same time, in no order",
            ])
    }

    func testLongChainsOfTypeDeclarationsAreCappedNotACrash() {
        // In order, each declaration refers to one already resolved: fine however long.
        var forward = "type T0 = string\n"
        for i in 1...50_000 { forward += "type T\(i) = T\(i - 1)\n" }
        XCTAssertEqual(errors(forward), [])
        // Backwards, resolving the first means resolving every other one first: capped.
        var backward = ""
        for i in (1...50_000).reversed() { backward += "type T\(i) = T\(i - 1)\n" }
        backward += "type T0 = string\n"
        let found = errors(backward)
        XCTAssertFalse(found.isEmpty)
        XCTAssertTrue(found.allSatisfy { $0.contains("is reached through more than 128 type declarations") }, "\(found.prefix(3))")
    }

    func testAMapTakesTheTypeAndTrustOfItsBody() {
        let found = errors("""
            prompt s(x: trusted string) {
              model m
              system "Summarize: {x}"
              user "go"
            }
            pipeline main(items: [string]) -> string {
              loud = parallel i | upper for i in items
              fixed = parallel "same" for i in items
              ok = s(x: fixed[0])
              return s(x: loud[0])
            }
            """)
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found.first?.hasPrefix("10:") == true, "only the untrusted item reaching a trusted parameter: \(found)")
    }
}

private struct NoModulesHere: ModuleLoader {
    func loadModule(_ path: [String]) -> SourceFile? { nil }
    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        throw CocoaError(.fileNoSuchFile)
    }
}

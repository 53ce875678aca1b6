import Foundation
import XCTest

/// Generated inputs that used to kill the process (stack overflow on long chains, a trap on
/// numbers that do not fit an index) end with exit code 1 and a diagnostic, for `check` and `run`.
final class DeepInputCLITests: SluiceCLITestCase {
    static let chains: [(kind: String, expression: String)] = [
        ("negate", String(repeating: "-", count: 20_000) + "1"),
        ("not", String(repeating: "not ", count: 20_000) + "true"),
        ("add", Array(repeating: "1", count: 30_000).joined(separator: "+")),
        ("and", Array(repeating: "true", count: 30_000).joined(separator: " and ")),
        ("coalesce", Array(repeating: "null", count: 30_000).joined(separator: " ?? ")),
        ("filter", "x" + String(repeating: " | upper", count: 100_000)),
        ("member", "x" + String(repeating: ".a", count: 100_000)),
        ("index", "x" + String(repeating: "[0]", count: 100_000)),
    ]

    func testLongChainsAreOneDiagnosticForCheckAndRun() throws {
        let replies = try write("replies.jsonl", "{\"content\": \"hi\"}\n")
        for (kind, expression) in Self.chains {
            let path = try write("\(kind).sluice", "pipeline p(x: any) {\n  return \(expression)\n}\n")
            for args in [["check", path], ["run", path, "--replies", replies, "--db", db, "--input", "x=1"]] {
                let result = try sluice(args, timeLimit: 60)
                XCTAssertEqual(result.code, 1, "\(kind) \(args[0]): \(result.stderr.prefix(2000))")
                let output = result.stdout + result.stderr
                XCTAssertTrue(output.contains("error: expression deeper than 256 levels"), "\(kind) \(args[0]): \(output.prefix(2000))")
                XCTAssertTrue(output.contains("\(kind).sluice:2:"), "\(kind) \(args[0]): no location")
                XCTAssertTrue(output.contains("^"), "\(kind) \(args[0]): no caret")
                // One diagnostic, and the snippet is a window, not the whole generated line.
                XCTAssertEqual(output.components(separatedBy: "error:").count - 1, 1, "\(kind) \(args[0])")
                XCTAssertLessThan(output.utf8.count, 2000, "\(kind) \(args[0])")
            }
        }
    }

    func testRetrieveChainsInTopAreANestingError() throws {
        let path = try write("retrieve.sluice", "pipeline p(q: string) {\n  return "
                             + String(repeating: "retrieve q from kb top ", count: 50_000) + "1\n}\n")
        let result = try sluice(["check", path], timeLimit: 60)
        XCTAssertEqual(result.code, 1, result.stderr.prefix(2000).description)
        XCTAssertTrue((result.stdout + result.stderr).contains("error: nesting deeper than 128 levels"))
    }

    func testANumberLiteralPastTwoToTheFiftyThirdIsASyntaxError() throws {
        let path = try write("big.sluice", "pipeline p() {\n  xs = [1]\n  return xs[99999999999999999999M]\n}\n")
        let result = try sluice(["check", path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue((result.stdout + result.stderr).contains("""
              |
            3 |   return xs[99999999999999999999M]
              |             ^^^^^^^^^^^^^^^^^^^^^
            """), result.stdout + result.stderr)
    }

    func testNumbersThatFitNoIndexAreRuntimeErrors() throws {
        let replies = try write("replies.jsonl", "")
        let path = try write("index.sluice", "pipeline p(n: number) {\n  xs = [1, 2]\n  return xs[n] + \"abc\"[n]\n}\n")
        for input in ["1e300", "-1e300", "-9223372036854775808", "9007199254740993", "1.5"] {
            let result = try sluice(["run", path, "--replies", replies, "--db", db, "--input", "n=\(input)"], timeLimit: 60)
            XCTAssertEqual(result.code, 1, "n=\(input): \(result.stderr.prefix(2000))")
            XCTAssertTrue(result.stderr.contains("is out of range for a list of 2"), "n=\(input): \(result.stderr.prefix(2000))")
        }
        // Not numbers at all: refused as inputs.
        for input in ["nan", "inf", "-inf"] {
            let result = try sluice(["run", path, "--replies", replies, "--db", db, "--input", "n=\(input)"], timeLimit: 60)
            XCTAssertEqual(result.code, 1, "n=\(input): \(result.stderr.prefix(2000))")
            XCTAssertTrue(result.stderr.contains("error: input `n` must be a number"), "n=\(input): \(result.stderr.prefix(2000))")
        }
    }
}

import Foundation
import XCTest

/// `sluice test --from-traces FILTER`: past runs' inputs as cases, their outputs as the
/// references of a pipeline that declares `expected`.
final class TraceCasesCLITests: SluiceCLITestCase {
    static let script = """
        model m { provider "scripted" }
        prompt answer(q: string) {
          model m
          user "{q}"
        }
        pipeline main(q: string, expected: string? = null) {
          a = answer(q: q)
          score a with exact(expected) when expected != null
          return a
        }
        pipeline other(q: string) {
          return q
        }
        """

    func testPastRunsBecomeCasesWithTheirOutputsAsReferences() throws {
        let script = try write("answer.sluice", Self.script)
        for (question, reply) in [("one", "uno"), ("two", "dos")] {
            let replies = try write("reply-\(question).jsonl", #"{"content": "\#(reply)"}"# + "\n")
            let ran = try sluice(["run", script, "--pipeline", "main", "--input", "q=\(question)", "--replies", replies, "--db", db])
            XCTAssertEqual(ran.code, 0, ran.stderr)
        }
        let failedReplies = try write("fail.jsonl", #"{"error": {"kind": "http", "status": 500, "message": "down"}}"# + "\n")
        XCTAssertEqual(try sluice(["run", script, "--pipeline", "main", "--input", "q=three", "--replies", failedReplies, "--db", db]).code, 1)
        XCTAssertEqual(try sluice(["run", script, "--pipeline", "other", "--input", "q=four", "--db", db]).code, 0)

        // Newest first: "two" (answered "dos"), then "one" ("uno"); the failed run and the other pipeline are left out.
        let replies = try write("now.jsonl", #"{"content": "dos"}"# + "\n" + #"{"content": "changed"}"# + "\n")
        let result = try sluice(["test", script, "--pipeline", "main", "--from-traces", "status=ok,limit=10", "--replies", replies,
                                 "--db", db, "--json", "--concurrency", "1"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(results.map { $0["output"] as? String }, ["dos", "changed"])
        XCTAssertEqual(results.map { ($0["scores"] as? [String: Double])?["exact"] }, [1, 0], "the past outputs are the references")
        XCTAssertEqual(results.compactMap { $0["source_run"] as? String }.count, 2)

        let limited = try sluice(["test", script, "--pipeline", "main", "--from-traces", "limit=1", "--replies", replies, "--db", db, "--json"])
        XCTAssertEqual(limited.code, 0, limited.stderr)
        XCTAssertEqual(((try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [String: Any])?["cases"] as? Int), 1)
    }

    func testBadFiltersAndEmptySelectionsAreUsageErrors() throws {
        let script = try write("answer.sluice", Self.script)
        let unknown = try sluice(["test", script, "--pipeline", "main", "--from-traces", "pipline=main", "--db", db])
        XCTAssertEqual(unknown.code, 2)
        XCTAssertTrue(unknown.stderr.contains("unknown key `pipline` (did you mean `pipeline`?)"), unknown.stderr)
        let both = try sluice(["test", script, "--cases", "x.jsonl", "--from-traces", "", "--db", db])
        XCTAssertEqual(both.code, 2)
        XCTAssertTrue(both.stderr.contains("give one"), both.stderr)
        let neither = try sluice(["test", script, "--db", db])
        XCTAssertEqual(neither.code, 2)
        XCTAssertTrue(neither.stderr.contains("--from-traces FILTER"), neither.stderr)
        let noStore = try sluice(["test", script, "--pipeline", "main", "--from-traces", "", "--db", db])
        XCTAssertEqual(noStore.code, 2)
        XCTAssertTrue(noStore.stderr.contains("no store at"), noStore.stderr)
        XCTAssertEqual(try sluice(["run", script, "--pipeline", "other", "--input", "q=x", "--db", db]).code, 0)
        let none = try sluice(["test", script, "--pipeline", "main", "--from-traces", "", "--db", db])
        XCTAssertEqual(none.code, 2)
        XCTAssertTrue(none.stderr.contains("no run in"), none.stderr)
    }
}

import Foundation
import XCTest

/// `sluice test --compare-model MODEL`: the cases run twice, the second time with every model
/// call of the script sent to MODEL (a judge keeps its own), and the two are shown side by side.
final class CompareModelCLITests: SluiceCLITestCase {
    static let script = """
        use std.models.{gpt_4o}
        model small { provider "scripted" }
        model grader { provider "scripted" }
        type Grade { reasoning: string  score: number }
        prompt label(text: string) {
          model small
          user "{text}"
        }
        prompt grade(answer: string) {
          model grader
          user "Grade: {answer}"
          returns Grade
        }
        metric graded() judge grade(answer: it) using grader
        pipeline main(text: string, expected: string) {
          answer = label(text: text)
          score answer with exact(expected), graded()
          return answer
        }
        """

    func testTheBaselineSendsEveryCallButTheJudgesToTheOtherModel() throws {
        let script = try write("label.sluice", Self.script)
        let cases = try write("cases.jsonl", #"{"text": "love it", "expected": "praise"}"# + "\n" + #"{"text": "crashes", "expected": "bug"}"# + "\n")
        let grade = #"{"model": "grader", "content": "{\"reasoning\": \"fine\", \"score\": 0.5}"}"#
        let replies = try write("replies.jsonl", [
            #"{"model": "small", "content": "bug"}"#, #"{"model": "small", "content": "bug"}"#,
            #"{"model": "gpt_4o", "content": "praise"}"#, #"{"model": "gpt_4o", "content": "bug"}"#,
            grade, grade, grade, grade,
        ].joined(separator: "\n") + "\n")
        let result = try sluice(["test", script, "--cases", cases, "--replies", replies, "--db", db, "--json", "--concurrency", "1",
                                 "--compare-model", "gpt_4o"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        let baseline = try XCTUnwrap(object["baseline"] as? [String: Any])
        XCTAssertEqual(baseline["model_override"] as? String, "gpt_4o")
        XCTAssertEqual((baseline["results"] as? [[String: Any]])?.map { $0["output"] as? String }, ["praise", "bug"])
        XCTAssertEqual((object["results"] as? [[String: Any]])?.map { $0["output"] as? String }, ["bug", "bug"])
        let differences = try XCTUnwrap(object["differences"] as? [[String: Any]])
        let exact = try XCTUnwrap(differences.first { $0["score"] as? String == "exact" })
        XCTAssertEqual(exact["mean"] as? Double, 0.5)
        XCTAssertEqual(exact["baseline_mean"] as? Double, 1)
        XCTAssertEqual(exact["change"] as? Double, -0.5)
        let graded = try XCTUnwrap(differences.first { $0["score"] as? String == "graded" })
        XCTAssertEqual(graded["baseline_mean"] as? Double, 0.5, "the judge graded the baseline with its own model")

        let table = try sluice(["test", script, "--cases", cases, "--replies", replies, "--db", db, "--concurrency", "1",
                                "--compare-model", "gpt_4o"])
        XCTAssertEqual(table.code, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("compared with \(script) with every call on gpt_4o"), table.stdout)
    }

    func testAnUnknownModelOrTwoBaselinesAreUsageErrors() throws {
        let script = try write("label.sluice", Self.script)
        let cases = try write("cases.jsonl", #"{"text": "a", "expected": "bug"}"# + "\n")
        let unknown = try sluice(["test", script, "--cases", cases, "--db", db, "--compare-model", "gpt_40"])
        XCTAssertEqual(unknown.code, 2)
        XCTAssertTrue(unknown.stderr.contains("--compare-model: unknown model `gpt_40` (did you mean `gpt_4o`?)"), unknown.stderr)
        let both = try sluice(["test", script, "--cases", cases, "--db", db, "--compare-model", "gpt_4o", "--compare", script])
        XCTAssertEqual(both.code, 2)
        XCTAssertTrue(both.stderr.contains("give one"), both.stderr)
    }
}

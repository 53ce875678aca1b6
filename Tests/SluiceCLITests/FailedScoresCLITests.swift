import Foundation
import XCTest

/// A score whose metric could not be computed (here a judge whose reply is not a grade) is shown
/// by `sluice run` as it is by `sluice test`: in `--json`, in the summary line, and on standard error.
final class FailedScoresCLITests: SluiceCLITestCase {
    private func judgedScript() throws -> (script: String, replies: String) {
        let script = try write("judged.sluice", """
            use std.judges.{relevance}

            model judge_model { max_output 500 }

            metric relevant(question: string) judge relevance(question: question, answer: it) using judge_model

            pipeline main(answer: string) {
              score answer with contains("Export"), relevant("How do I export my data?")
              return answer
            }
            """)
        return (script, try write("garbage.jsonl", #"{"content": "I would rate this answer highly."}"# + "\n"))
    }

    private let judgeError = "the judge of metric `relevant` gave a grade that does not match Grade: the reply is not valid JSON"

    func testRunJSONNamesEachFailedScoreWithItsErrorAfterTheScores() throws {
        let (script, replies) = try judgedScript()
        let result = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "answer=Open Settings and choose Export.", "--json"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(object["scores"] as? [String: Double], ["contains": 1])
        XCTAssertEqual(object["failed_scores"] as? [String: String], ["relevant": judgeError])
        // The key sits right after `scores`, whatever the run.
        let keys = result.stdout.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keys, ["run_id", "status", "output", "scores", "failed_scores", "flags", "cost", "tokens", "trace_saved"], result.stdout)
        let runId = try XCTUnwrap(object["run_id"] as? String)
        XCTAssertEqual(result.stderr.components(separatedBy: "score relevant failed: \(judgeError) (sluice traces show \(runId))").count, 2,
                       "printed once: " + result.stderr)
    }

    func testRunJSONHasNoFailedScoresWhenEveryScoreWasComputed() throws {
        let script = try write("plain.sluice", """
            pipeline main(answer: string) {
              score answer with contains("Export")
              return answer
            }
            """)
        let result = try sluice(["run", script, "--db", db, "--input", "answer=Export", "--json"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(object["scores"] as? [String: Double], ["contains": 1])
        XCTAssertNil(object["failed_scores"], result.stdout)
        XCTAssertFalse(result.stderr.contains("failed"), result.stderr)
    }

    func testTheRunSummaryShowsAFailedScoreBesideTheOthers() throws {
        let (script, replies) = try judgedScript()
        let result = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "answer=Open Settings and choose Export."])
        XCTAssertEqual(result.code, 0, result.stderr)
        XCTAssertEqual(result.stdout, "Open Settings and choose Export.\n")
        let summary = try XCTUnwrap(result.stderr.split(separator: "\n").first { $0.hasPrefix("run ") }, result.stderr)
        XCTAssertTrue(summary.hasSuffix(" · scores: contains=1 relevant failed"), String(summary))
        XCTAssertEqual(result.stderr.components(separatedBy: "score relevant failed: \(judgeError)").count, 2, result.stderr)
    }
}

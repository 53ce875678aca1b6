import Foundation
import XCTest

/// `sluice test --user` (per-user budgets and traces, as `sluice run --user`), and the script's
/// alerts checked after a batch of cases as after a run.
final class TestCommandUserAndAlertsTests: SluiceCLITestCase {
    /// `count` cases of pipeline `p(q)`, and replies that spend $0.0002 a call (worst case about $0.00021).
    private func batch(_ declarations: String, count: Int) throws -> (script: String, cases: String, replies: String) {
        let script = try write("budgeted.sluice", """
            model m { provider "openai" id "x" input $1 / 1M output $1 / 1M }
            prompt ask(q: string) {
              model m
              max_tokens 200
              user "{q}"
            }
            \(declarations)
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
        let cases = try write("cases.jsonl", (0..<count).map { #"{"q": "question \#($0)"}"# }.joined(separator: "\n") + "\n")
        let replies = try write("replies.jsonl", Array(repeating: #"{"content": "the answer", "usage": {"input": 50, "output": 150}}"#,
                                                       count: count).joined(separator: "\n") + "\n")
        return (script, cases, replies)
    }

    private func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    func testEveryCaseRunsForTheUserAndABudgetAlertFiresOnceForTheBatch() throws {
        let files = try batch("budget user_day $0.0007\nalert burn when budget user_day > 50%", count: 3)
        let result = try sluice(["test", files.script, "--cases", files.cases, "--replies", files.replies, "--db", db, "--user", "cust-7"])
        XCTAssertEqual(result.code, 0, result.stdout + result.stderr)
        // Three runs of $0.0002 are 85.7% of the user's day: the alert fires once, after the batch.
        XCTAssertEqual(result.stderr.components(separatedBy: "alert burn: budget user_day > 50% (observed 85.7% of $0.0007, user_day cust-7 ").count, 2,
                       result.stderr)
        let listed = try sluice(["traces", "list", "--db", db, "--user", "cust-7", "--json"])
        XCTAssertEqual(listed.code, 0, listed.stderr)
        XCTAssertEqual((try json(listed.stdout) as? [Any])?.count, 3, listed.stdout)
        let fired = try sluice(["traces", "alerts", "--db", db, "--json"])
        XCTAssertEqual((try json(fired.stdout) as? [Any])?.count, 1, fired.stdout)
        // The user's day is now over its budget for a fourth case, as it would be for a fourth `sluice run`.
        let more = try batch("budget user_day $0.0007", count: 1)
        let refused = try sluice(["test", more.script, "--cases", more.cases, "--replies", more.replies, "--db", db, "--user", "cust-7"])
        XCTAssertEqual(refused.code, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("would pass the user_day budget of $0.0007 for user `cust-7`"), refused.stderr)
    }

    func testSluiceUserIsTheDefaultUser() throws {
        let files = try batch("budget user_day $1", count: 2)
        let result = try sluice(["test", files.script, "--cases", files.cases, "--replies", files.replies, "--db", db],
                                environment: ["SLUICE_USER": "cust-9"])
        XCTAssertEqual(result.code, 0, result.stdout + result.stderr)
        let listed = try sluice(["traces", "list", "--db", db, "--user", "cust-9", "--json"])
        XCTAssertEqual((try json(listed.stdout) as? [Any])?.count, 2, listed.stdout)
    }

    func testAUserDayBudgetWithoutAUserFailsEveryCaseBeforeAnyCallNamingTheFlag() throws {
        let files = try batch("budget user_day $2", count: 2)
        let result = try sluice(["test", files.script, "--cases", files.cases, "--replies", files.replies, "--db", db, "--json"])
        XCTAssertEqual(result.code, 1, result.stderr)
        let report = try XCTUnwrap(try json(result.stdout) as? [String: Any], result.stdout)
        XCTAssertEqual(report["failed"] as? Int, 2)
        XCTAssertEqual(report["tokens"] as? Int, 0, "no model was called")
        for line in [1, 2] {
            XCTAssertTrue(result.stderr.contains("cases.jsonl:\(line): case failed: the `user_day` budget counts one user's spending, and this run "
                                                 + "names no user; name the user with --user ID (or SLUICE_USER)"), result.stderr)
        }
    }

    func testABadUserIsAUsageErrorNamingWhereItCameFrom() throws {
        let files = try batch("", count: 1)
        let flag = try sluice(["test", files.script, "--cases", files.cases, "--replies", files.replies, "--db", db, "--user", ""])
        XCTAssertEqual(flag.code, 2, flag.stderr)
        XCTAssertTrue(flag.stderr.contains("--user needs a user id, got an empty one"), flag.stderr)
        let setting = try sluice(["test", files.script, "--cases", files.cases, "--replies", files.replies, "--db", db],
                                 environment: ["SLUICE_USER": "cust-7 "])
        XCTAssertEqual(setting.code, 2, setting.stderr)
        XCTAssertTrue(setting.stderr.contains("SLUICE_USER 'cust-7 ' begins or ends with a space"), setting.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing ran")
    }

    func testAWindowAlertIsCheckedOverTheWholeBatch() throws {
        let ok = #"{"content": "fine"}"#, down = #"{"error": {"kind": "http", "status": 500, "message": "down"}}"#
        let files = try batch("alert failing when error_rate >= 50% over 10m", count: 3)
        // One case in three failed: the batch's error rate is under the bound, though its first run alone was over it.
        let mostlyFine = try write("mostly-fine.jsonl", [down, ok, ok].joined(separator: "\n") + "\n")
        let quiet = try sluice(["test", files.script, "--cases", files.cases, "--replies", mostlyFine, "--db", db, "--concurrency", "1"])
        XCTAssertEqual(quiet.code, 1, "a failed case fails the test")
        XCTAssertFalse(quiet.stderr.contains("alert failing"), quiet.stderr)
        let otherStore = scratch.appendingPathComponent("other.db").path
        let mostlyDown = try write("mostly-down.jsonl", [down, ok, down].joined(separator: "\n") + "\n")
        let loud = try sluice(["test", files.script, "--cases", files.cases, "--replies", mostlyDown, "--db", otherStore, "--concurrency", "1",
                               "--json"])
        XCTAssertEqual(loud.code, 1, loud.stderr)
        let lastRun = try XCTUnwrap((try json(loud.stdout) as? [String: Any])?["results"] as? [[String: Any]]).last?["run_id"] as? String
        XCTAssertEqual(loud.stderr.components(separatedBy: "alert failing: error_rate >= 50% over 10m (observed 66.7%) · pipeline p · run "
                                              + (lastRun ?? "?")).count, 2, loud.stderr)
    }

    func testAWebhookAlertFiresOnceForABatchOfCostlyCases() throws {
        let receiver = try LocalHTTPReceiver()
        addTeardownBlock { receiver.stop() }
        let files = try batch("""
            alert costly when request_cost > $0.0001 over 1h
            notify "\(receiver.url)/hooks/sluice"
            """, count: 3)
        let result = try sluice(["test", files.script, "--cases", files.cases, "--replies", files.replies, "--db", db, "--json"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let report = try XCTUnwrap(try json(result.stdout) as? [String: Any], result.stdout)
        let runIds = try XCTUnwrap(report["results"] as? [[String: Any]]).compactMap { $0["run_id"] as? String }
        XCTAssertEqual(receiver.requests.count, 1, "three costly cases within the hour: one notification")
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: try XCTUnwrap(receiver.requests.first).body) as? [String: Any])
        XCTAssertEqual(body["alert"] as? String, "costly")
        XCTAssertEqual(body["observed"] as? Double, 0.0002)
        XCTAssertEqual(body["run_id"] as? String, runIds.first, "the first case's run is checked first")
        let fired = try XCTUnwrap(try json(try sluice(["traces", "alerts", "--db", db, "--json"]).stdout) as? [[String: Any]])
        XCTAssertEqual(fired.count, 1)
        XCTAssertEqual(fired.first?["alert"] as? String, "costly")
    }
}

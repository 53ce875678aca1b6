import Foundation
import XCTest

/// Alerts, the deadline and the shared breaker through `sluice run`, one process per run, as in
/// production: what the webhook receives, what standard error says, and that the run's own
/// result and exit status never change.
final class AlertsCLITests: SluiceCLITestCase {
    /// A pipeline answered by `--replies`, with `alerts` declared.
    private func script(_ alerts: String) throws -> (script: String, replies: String) {
        let script = try write("alerting.sluice", """
            model m { provider "openai" id "x" input $1 / 1M output $1 / 1M }
            prompt ask(q: string) {
              model m
              user "{q}"
            }
            \(alerts)
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
        let replies = try write("replies.jsonl", #"{"content": "the answer", "usage": {"input": 100, "output": 20}}"# + "\n")
        return (script, replies)
    }

    func testABudgetAlertFiresOnceWhenTheUsersDayPassesItsShareOfTheBudget() throws {
        // Each run spends $0.0002 (its worst case about $0.00021) of a user_day budget of $0.0007.
        let script = try write("burning.sluice", """
            model m { provider "openai" id "x" input $1 / 1M output $1 / 1M }
            prompt ask(q: string) {
              model m
              max_tokens 200
              user "{q}"
            }
            budget user_day $0.0007
            alert burn when budget user_day > 50%
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
        let replies = try write("burning.jsonl", #"{"content": "the answer", "usage": {"input": 50, "output": 150}}"# + "\n")
        var stderrs: [String] = []
        for _ in 0..<3 {
            let result = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "cust-7"])
            XCTAssertEqual(result.code, 0, result.stderr)
            stderrs.append(result.stderr)
        }
        XCTAssertFalse(stderrs[0].contains("burn"), "29% is not past 50%: " + stderrs[0])
        XCTAssertTrue(stderrs[1].contains("burn") && stderrs[1].contains("57.1% of $0.0007"), stderrs[1])
        XCTAssertFalse(stderrs[2].contains("burn"), "once per user and day: " + stderrs[2])
        let other = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "cust-8"])
        XCTAssertEqual(other.code, 0, other.stderr)
        XCTAssertFalse(other.stderr.contains("burn"), "another user's day is its own: " + other.stderr)
    }

    func testAWebhookGetsExactlyOnePostPerWindowAcrossProcesses() throws {
        let receiver = try LocalHTTPReceiver()
        addTeardownBlock { receiver.stop() }
        let (script, replies) = try script("""
            alert costly when request_cost > $0.0001 over 1h
            notify "\(receiver.url)/hooks/sluice"
            """)
        var runIds: [String] = []
        for _ in 0..<3 {
            let result = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=hi", "--json"])
            XCTAssertEqual(result.code, 0, result.stderr)
            runIds.append(try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["run_id"] as? String))
        }
        XCTAssertEqual(receiver.requests.count, 1, "three costly runs within the hour: one notification")
        let post = try XCTUnwrap(receiver.requests.first)
        XCTAssertEqual(post.method, "POST")
        XCTAssertEqual(post.path, "/hooks/sluice")
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: post.body) as? [String: Any])
        XCTAssertEqual(body["alert"] as? String, "costly")
        XCTAssertEqual(body["condition"] as? String, "request_cost > $0.0001 over 1h")
        XCTAssertEqual(body["observed"] as? Double, 0.00012)
        XCTAssertEqual(body["window"] as? String, "1h")
        XCTAssertEqual(body["pipeline"] as? String, "p")
        XCTAssertEqual(body["run_id"] as? String, runIds[0])
        XCTAssertNotNil(body["time"] as? String)

        let listed = try sluice(["traces", "alerts", "--db", db, "--json"])
        XCTAssertEqual(listed.code, 0, listed.stderr)
        let alerts = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(alerts.count, 1)
        XCTAssertEqual(alerts.first?["notified"] as? [String: String], ["webhook \(receiver.url)/…": "delivered"])
        let text = try sluice(["traces", "alerts", "--db", db])
        XCTAssertTrue(text.stdout.contains("costly  p  request_cost > $0.0001 over 1h  observed $0.00012  run \(runIds[0])"), text.stdout)
    }

    func testAnUnreachableWebhookIsOneWarningAndChangesNothingElse() throws {
        let closed = try LocalHTTPReceiver()
        closed.stop()   // the port is now refused
        let (quiet, replies) = try script("")
        let baseline = try sluice(["run", quiet, "--db", db, "--replies", replies, "--input", "q=hi"])
        let (script, _) = try script("""
            alert costly when request_cost > $0.0001
            alert big when request_tokens > 100
            notify "\(closed.url)/hooks/T0KEN"
            notify stderr
            """)
        let started = Date()
        let result = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=hi"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertEqual(result.code, 0)
        XCTAssertEqual(result.code, baseline.code)
        XCTAssertEqual(result.stdout, baseline.stdout)
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("warning:") }
        XCTAssertEqual(warnings.count, 1, result.stderr)
        XCTAssertTrue(warnings.first?.contains("alert `costly`, `big` could not be sent to the webhook \(closed.url)/…") ?? false, result.stderr)
        XCTAssertFalse(result.stderr.contains("T0KEN"), "a webhook's path is its secret: \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("alert costly: request_cost > $0.0001 (observed $0.00012)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("alert big: request_tokens > 100 (observed 120)"), result.stderr)
    }

    func testErrorRateCountsFailedRunsOfEveryProcess() throws {
        let (script, _) = try script("alert failing when error_rate >= 50% over 10m")
        let good = try write("good.jsonl", #"{"content": "fine"}"# + "\n")
        let bad = try write("bad.jsonl", #"{"error": {"kind": "http", "status": 500, "message": "down"}}"# + "\n")
        let ok = try sluice(["run", script, "--db", db, "--replies", good, "--input", "q=hi"])
        XCTAssertEqual(ok.code, 0, ok.stderr)
        XCTAssertFalse(ok.stderr.contains("alert failing"), ok.stderr)
        let failed = try sluice(["run", script, "--db", db, "--replies", bad, "--input", "q=hi"])
        XCTAssertEqual(failed.code, 1, "a failed run keeps its exit status")
        XCTAssertTrue(failed.stderr.contains("alert failing: error_rate >= 50% over 10m (observed 50%)"), failed.stderr)
    }

    func testTheBreakerIsSharedByProcessesUsingOneStore() throws {
        let server = try LocalHTTPReceiver { _ in (500, #"{"error": {"message": "down"}}"#) }
        addTeardownBlock { server.stop() }
        let script = try write("breaker.sluice", """
            model m { provider "openai" id "x" base_url "\(server.url)/v1" retries 0 breaker_failures 2 breaker_cooldown 60 }
            prompt ask(q: string) {
              model m
              user "{q}"
            }
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
        for _ in 0..<2 {
            let result = try sluice(["run", script, "--db", db, "--input", "q=hi"], environment: ["OPENAI_API_KEY": "test"])
            XCTAssertEqual(result.code, 1)
            XCTAssertTrue(result.stderr.contains("HTTP 500"), result.stderr)
        }
        let third = try sluice(["run", script, "--db", db, "--input", "q=hi"], environment: ["OPENAI_API_KEY": "test"])
        XCTAssertEqual(third.code, 1)
        XCTAssertTrue(third.stderr.contains("circuit open for"), third.stderr)
        XCTAssertEqual(server.requests.count, 2, "the third process is refused without calling the endpoint")
    }

    func testAStalledEndpointFailsAtTheModelsDeadline() throws {
        let server = try RunLifecycleCLITests.SilentServer()
        let script = try write("stall.sluice", """
            model m { provider "openai" id "x" base_url "http://127.0.0.1:\(server.port)/v1" timeout 1 retries 4 backoff 0.1 deadline 1.5 }
            prompt ask(q: string) {
              model m
              user "{q}"
            }
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
        let started = Date()
        let result = try sluice(["run", script, "--db", db, "--input", "q=hi"], environment: ["OPENAI_API_KEY": "test"], timeLimit: 30)
        XCTAssertLessThan(Date().timeIntervalSince(started), 6, "timeout 1 s × 5 tries would be over 5 s")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.stderr.contains("within the call's deadline of 1.5s after"), result.stderr)
    }
}

import CSQLite
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// Budgets over windows of runs, kept in the store: many `sluice run` processes at once never
/// spend past one, a killed run's reservation is released, and a provider's overrun ends a run
/// `over_budget` (exit 5).
final class BudgetCLITests: SluiceCLITestCase {
    /// A pipeline with one call of at most 100 output tokens at $1 / 1M, under `budget`; the model
    /// is served at `baseURL` unless `--replies` answers it.
    private func script(budget: String, baseURL: String = "http://127.0.0.1:9/v1") throws -> String {
        try write("budgeted.sluice", """
            model m { provider "openai"  id "x"  base_url "\(baseURL)"  timeout 600  retries 0  input $1 / 1M  output $1 / 1M }
            \(budget)
            prompt ask(q: string) {
              model m
              max_tokens 100
              user "{q}"
            }
            pipeline p(q: string) {
              return ask(q: q)
            }
            """)
    }

    /// Starts `sluice ARGS` in the scratch folder without waiting; standard output and error go to files.
    private func start(_ args: [String], environment: [String: String] = [:]) throws -> (process: Process, stdout: URL, stderr: URL) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = args
        process.currentDirectoryURL = scratch
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["OPENAI_API_KEY"] = "test-key"
        env.removeValue(forKey: "SLUICE_DB")
        env.removeValue(forKey: "SLUICE_USER")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let id = UUID().uuidString
        let stdout = scratch.appendingPathComponent("stdout-\(id)"), stderr = scratch.appendingPathComponent("stderr-\(id)")
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, stdout, stderr)
    }

    /// The first column of every row `sql` selects from the store, as text.
    private func stored(_ sql: String) throws -> [String] {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let handle else { return [] }
        defer { sqlite3_close_v2(handle) }
        sqlite3_busy_timeout(handle, 5_000)
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW { rows.append(sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? "") }
        return rows
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testAHundredConcurrentRunsNeverSpendPastOnePerUserBudget() throws {
        let limit = 0.001
        let budgeted = try script(budget: "budget user_day $0.001")
        let replies = try write("replies.jsonl", "{\"content\": \"fine\", \"usage\": {\"input\": 20, \"output\": 60}}\n")
        // The call's worst case, as the dry run reports it.
        let estimate = try sluice(["dry-run", budgeted, "--db", db, "--input", "q=hello", "--json", "--user", "cust-42"], in: scratch)
        let worst = try XCTUnwrap(try json(estimate.stdout)["dearest_path"] as? [String: Any])["worst_cost"] as? Double ?? 0
        XCTAssertGreaterThan(worst, 0.0001, estimate.stdout)
        // Another user's run first: it creates the store and spends in a window of its own.
        let other = try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hello", "--user", "cust-7"], in: scratch)
        XCTAssertEqual(other.code, 0, other.stderr)

        let runs = try (0..<100).map { _ in
            try start(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hello", "--json"], environment: ["SLUICE_USER": "cust-42"])
        }
        var spent = 0.0, succeeded = 0, refused = 0
        for run in runs {
            run.process.waitUntilExit()
            let stdout = String(decoding: try Data(contentsOf: run.stdout), as: UTF8.self)
            let stderr = String(decoding: try Data(contentsOf: run.stderr), as: UTF8.self)
            let report = try json(stdout)
            switch run.process.terminationStatus {
            case 0:
                succeeded += 1
                spent += report["cost"] as? Double ?? .infinity
            case 1:
                refused += 1
                let message = (report["error"] as? [String: Any])?["message"] as? String ?? ""
                XCTAssertTrue(message.contains("would pass the user_day budget of $0.001 for user `cust-42`"), message)
                XCTAssertEqual(report["cost"] as? Double, 0)
            default:
                XCTFail("exit \(run.process.terminationStatus): \(stderr)")
            }
        }
        XCTAssertLessThanOrEqual(spent, limit + 1e-12)
        XCTAssertEqual(succeeded + refused, 100)
        // Each reservation holds at most the worst case, so every run that fits at the worst case got through.
        XCTAssertGreaterThanOrEqual(succeeded, Int(limit / worst))
        XCTAssertGreaterThan(refused, 0)
        let window = try stored("SELECT spent_dollars FROM budget_windows WHERE kind = 'user_day' AND subject = 'cust-42'")
        XCTAssertEqual(Double(try XCTUnwrap(window.first)) ?? .infinity, spent, accuracy: 1e-12)
        XCTAssertEqual(try stored("SELECT count(*) FROM budget_reservations WHERE status = 'reserved'"), ["0"])
        XCTAssertEqual(try stored("SELECT count(*) FROM runs WHERE user_id = 'cust-42' AND status = 'ok'"), ["\(succeeded)"])
    }

    func testAKilledRunsReservationIsHeldWhileItLivesAndReleasedOnceItIsGone() throws {
        // One call's worst case (about $0.00011) fits the day's $0.00015; two do not.
        let server = try RunLifecycleCLITests.SilentServer()
        let budgeted = try script(budget: "budget user_day $0.00015", baseURL: "http://127.0.0.1:\(server.port)/v1")
        let replies = try write("replies.jsonl", "{\"content\": \"fine\", \"usage\": {\"input\": 1, \"output\": 1}}\n")
        let stalled = try start(["run", budgeted, "--db", db, "--input", "q=hello", "--user", "u1"])
        let deadline = Date().addingTimeInterval(30)
        while try stored("SELECT count(*) FROM budget_reservations WHERE status = 'reserved'") != ["1"] {
            guard Date() < deadline, stalled.process.isRunning else { throw XCTSkip("the stalled run never reserved its call") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let whileAlive = try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "u1"], in: scratch)
        XCTAssertEqual(whileAlive.code, 1, whileAlive.stderr)
        XCTAssertTrue(whileAlive.stderr.contains("for user `u1`") && whileAlive.stderr.contains("$0 spent, $0.00011"), whileAlive.stderr)

        kill(stalled.process.processIdentifier, SIGKILL)
        stalled.process.waitUntilExit()
        // A dry run reads the window without what the killed run held.
        let dry = try sluice(["dry-run", budgeted, "--db", db, "--input", "q=hi", "--user", "u1", "--json"], in: scratch)
        let window = try XCTUnwrap(((try json(dry.stdout)["budget"] as? [String: Any])?["windows"] as? [[String: Any]])?.first)
        XCTAssertEqual(window["reserved"] as? Double, 0, dry.stdout)
        XCTAssertEqual(dry.code, 0, dry.stdout)
        let afterKill = try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "u1"], in: scratch)
        XCTAssertEqual(afterKill.code, 0, afterKill.stderr)
        let released = try stored("SELECT released_because FROM budget_reservations WHERE status = 'released'")
        XCTAssertEqual(released.count, 1)
        XCTAssertTrue(released.first?.contains("pid \(stalled.process.processIdentifier)") == true, "\(released)")
    }

    func testAnOverrunEndsTheRunOverBudgetWithExitFive() throws {
        let budgeted = try script(budget: "budget request $0.05, user_day $0.05")
        // The provider reports 450,000 output tokens for a call reserved at 100: $0.45.
        let replies = try write("replies.jsonl", "{\"content\": \"long\", \"usage\": {\"input\": 20, \"output\": 450000}}\n")
        let over = try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "u1", "--json"], in: scratch)
        XCTAssertEqual(over.code, 5, over.stderr)
        let report = try json(over.stdout)
        XCTAssertEqual(report["status"] as? String, "over_budget")
        XCTAssertEqual(report["cost"] as? Double ?? 0, 0.45002, accuracy: 1e-9)
        let message = (report["error"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("the real spend passed the request budget of $0.05 ($0.45 spent)"), message)
        XCTAssertEqual(try stored("SELECT status FROM runs"), ["over_budget"])
        XCTAssertEqual(try stored("SELECT spent_dollars > reserved_dollars FROM budget_reservations"), ["1"])
        // The next call in the window sees the real spend.
        let next = try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "u1"], in: scratch)
        XCTAssertEqual(next.code, 1, next.stderr)
        XCTAssertTrue(next.stderr.contains("UTC: $0.45 spent, $0 reserved)"), next.stderr)
    }

    func testAUserDayBudgetWithoutAUserIsRefusedBeforeAnyCall() throws {
        let budgeted = try script(budget: "budget user_day $2")
        let replies = try write("replies.jsonl", "{\"content\": \"fine\"}\n")
        let run = try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hi"], in: scratch)
        XCTAssertEqual(run.code, 1)
        XCTAssertTrue(run.stderr.contains("error: the `user_day` budget counts one user's spending, and this run names no user"), run.stderr)
        XCTAssertTrue(run.stderr.contains("budgeted.sluice:2:8"), run.stderr)
        XCTAssertTrue(run.stderr.contains("= help: name the user with --user ID (or SLUICE_USER)"), run.stderr)
    }

    func testADryRunReportsWhatEachWindowHoldsAndReservesNothing() throws {
        let budgeted = try script(budget: "budget user_day $0.0003, day $5, session 1k")
        let replies = try write("replies.jsonl", "{\"content\": \"fine\", \"usage\": {\"input\": 20, \"output\": 200}}\n")
        XCTAssertEqual(try sluice(["run", budgeted, "--db", db, "--replies", replies, "--input", "q=hi", "--user", "u1", "--new-session"],
                                  in: scratch).code, 0)
        let reservationsBefore = try stored("SELECT count(*) FROM budget_reservations")
        // $0.00022 spent: the worst case (about $0.00011) would pass the $0.0003.
        let dry = try sluice(["dry-run", budgeted, "--db", db, "--input", "q=hi", "--user", "u1"], in: scratch)
        XCTAssertEqual(dry.code, 3, dry.stdout + dry.stderr)
        XCTAssertTrue(dry.stdout.contains("over budget: the worst case of $0.000111 would pass the user_day budget of $0.0003 for user `u1` ("),
                      dry.stdout)
        XCTAssertTrue(dry.stdout.contains("note: the session budget is not checked: no --session given"), dry.stdout)
        let fresh = try sluice(["dry-run", budgeted, "--db", db, "--input", "q=hi", "--user", "u2", "--json"], in: scratch)
        XCTAssertEqual(fresh.code, 0, fresh.stdout + fresh.stderr)
        let windows = try XCTUnwrap((try json(fresh.stdout)["budget"] as? [String: Any])?["windows"] as? [[String: Any]])
        XCTAssertEqual(windows.map { $0["window"] as? String }, ["user_day", "day", "session"])
        XCTAssertEqual(windows[0]["subject"] as? String, "u2")
        XCTAssertEqual(windows[0]["spent"] as? Double, 0)
        XCTAssertEqual(windows[0]["within"] as? Bool, true)
        XCTAssertEqual(windows[1]["spent"] as? Double ?? 0, 0.00022, accuracy: 1e-12)
        XCTAssertEqual(windows[2]["checked"] as? Bool, false)
        XCTAssertEqual(try stored("SELECT count(*) FROM budget_reservations"), reservationsBefore)
    }

    /// The REPL's calls are spending like any run's: they count in the store's `day` window, which a
    /// later run's `day` budget then sees.
    func testReplCallsCountInTheDaysWindow() throws {
        let replies = try write("repl-replies.jsonl", #"{"content": "fine", "usage": {"input": 400000, "output": 100000}}"# + "\n")
        let session = """
            model priced { provider "openai"  id "x"  input $1 / 1M  output $1 / 1M  tokenizer "estimate" }
            prompt ask(q: string) {
              model priced
              user "{q}"
            }
            ask(q: "hello")
            """
        let result = try sluice(["repl", "--db", db, "--replies", replies], stdin: session)
        XCTAssertEqual(result.code, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("fine"), result.stdout)
        let spent = try stored("SELECT spent_dollars FROM budget_windows WHERE kind = 'day' AND subject = ''").compactMap(Double.init)
        XCTAssertEqual(spent.count, 1, "one day window")
        XCTAssertEqual(spent.first ?? 0, 0.5, accuracy: 1e-9, "400k input and 100k output tokens at $1 / 1M")
    }

}

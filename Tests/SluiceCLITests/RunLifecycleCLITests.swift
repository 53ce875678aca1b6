import CSQLite
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// How `sluice run` ends when it is stopped, killed, or cannot save its trace, and what
/// `traces list|show` then report; and how big values and read-only stores are handled.
final class RunLifecycleCLITests: SluiceCLITestCase {
    /// A TCP listener on 127.0.0.1 that never accepts: a request to it waits for ever, as a model
    /// that never answers would.
    final class SilentServer {
        let socket: Int32
        let port: UInt16

        init() throws {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.socket = socket
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(socket, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
            }
            self.port = UInt16(bigEndian: address.sin_port)
        }

        deinit { close(socket) }
    }

    /// A pipeline whose one model call goes to `server` and waits there.
    private func stallingScript(_ server: SilentServer) throws -> String {
        try write("stall.sluice", Self.stallingSource(port: server.port))
    }

    /// The source of a pipeline `p(q)` whose one model call goes to a server on `port`.
    static func stallingSource(port: UInt16) -> String {
        """
        model m { provider "openai" id "x" base_url "http://127.0.0.1:\(port)/v1" timeout 600 retries 0 }
        prompt ask(q: string) {
          model m
          user "{q}"
        }
        pipeline p(q: string) {
          return ask(q: q)
        }
        """
    }

    /// Starts `sluice ARGS` without waiting for it; its output goes to files.
    private func start(_ args: [String]) throws -> (process: Process, stdout: URL) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = args
        process.currentDirectoryURL = scratch
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["OPENAI_API_KEY"] = "test-key"
        env.removeValue(forKey: "SLUICE_DB")
        process.environment = env
        let stdout = scratch.appendingPathComponent("stdout-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, stdout)
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    private func listedRuns() throws -> [[String: Any]] {
        let listed = try sluice(["traces", "list", "--db", db, "--json"])
        XCTAssertEqual(listed.code, 0, listed.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout)
    }

    private func shownRun(_ id: String) throws -> [String: Any] {
        let shown = try sluice(["traces", "show", id, "--db", db, "--json"])
        XCTAssertEqual(shown.code, 0, shown.stderr)
        return try json(shown.stdout)
    }

    /// Waits until the only run in the store has a model call in flight, and returns the run's id.
    private func waitForCallInFlight(_ process: Process) throws -> String {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            XCTAssertTrue(process.isRunning, "sluice ended before its call was in flight")
            if FileManager.default.fileExists(atPath: db), let run = try listedRuns().first, let id = run["id"] as? String {
                let calls = try shownRun(id)["model_calls"] as? [[String: Any]] ?? []
                if calls.first?["status"] as? String == "in_flight" {
                    XCTAssertEqual(run["status"] as? String, "running")
                    return id
                }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw XCTSkip("no model call in flight after 30 s")
    }

    func testASignalClosesTheRunAsCancelledWithTheCallInFlightAndExitsAsShellsReportIt() throws {
        let server = try SilentServer()
        let script = try stallingScript(server)
        for (signal, name, status) in [(SIGINT, "SIGINT", Int32(130)), (SIGTERM, "SIGTERM", 143), (SIGHUP, "SIGHUP", 129)] {
            try? FileManager.default.removeItem(atPath: db)
            let (process, stdout) = try start(["run", script, "--db", db, "--input", "q=hello", "--json"])
            let id = try waitForCallInFlight(process)
            Thread.sleep(forTimeInterval: 0.3)
            let signalled = Date()
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            // The transport's wait is woken by the cancellation (milliseconds; the bound leaves room for a loaded machine).
            XCTAssertLessThan(Date().timeIntervalSince(signalled), 2, name)
            XCTAssertEqual(process.terminationReason, .exit, name)
            XCTAssertEqual(process.terminationStatus, status, name)
            let report = try json(String(decoding: try Data(contentsOf: stdout), as: UTF8.self))
            XCTAssertEqual(report["status"] as? String, "cancelled", name)
            XCTAssertEqual(report["trace_saved"] as? Bool, true, name)
            XCTAssertEqual(report["run_id"] as? String, id, name)

            let run = try shownRun(id)
            XCTAssertEqual(run["status"] as? String, "cancelled", name)
            XCTAssertNotNil(run["ended_at"] as? Double, name)
            let calls = try XCTUnwrap(run["model_calls"] as? [[String: Any]], name)
            XCTAssertEqual(calls.count, 1, name)
            XCTAssertEqual(calls.first?["status"] as? String, "cancelled", name)
            XCTAssertGreaterThanOrEqual(calls.first?["latency_ms"] as? Double ?? 0, 300, "\(name): the latency until the signal")
            XCTAssertEqual(try listedRuns().first?["status"] as? String, "cancelled", name)
            let text = try sluice(["traces", "show", id, "--db", db])
            XCTAssertTrue(text.stdout.contains("p  cancelled"), text.stdout)
            XCTAssertTrue(text.stdout.contains("(cancelled)"), text.stdout)
        }
    }

    func testARunKilledWithSIGKILLIsInterruptedInEveryListing() throws {
        let server = try SilentServer()
        let (process, _) = try start(["run", try stallingScript(server), "--db", db, "--input", "q=hello"])
        let id = try waitForCallInFlight(process)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        XCTAssertEqual(try listedRuns().first?["status"] as? String, "interrupted")
        let list = try sluice(["traces", "list", "--db", db])
        XCTAssertTrue(list.stdout.contains("\(id)  ") && list.stdout.contains("interrupted"), list.stdout)
        let run = try shownRun(id)
        XCTAssertEqual(run["status"] as? String, "interrupted")
        XCTAssertEqual((run["model_calls"] as? [[String: Any]])?.first?["status"] as? String, "interrupted")
        XCTAssertTrue((run["error"] as? String)?.contains("pid \(process.processIdentifier)") == true, "\(run["error"] ?? "")")
        let text = try sluice(["traces", "show", id, "--db", db])
        XCTAssertTrue(text.stdout.contains("p  interrupted"), text.stdout)
        XCTAssertFalse(text.stdout.contains("running"), text.stdout)

        // Readers open the store read-only and only report it; the next writer records it.
        XCTAssertEqual(try storedStatus(id), "running")
        let (script, replies) = try replyScript()
        XCTAssertEqual(try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x"]).code, 0)
        XCTAssertEqual(try storedStatus(id), "interrupted")
    }

    private func storedStatus(_ id: String) throws -> String? {
        try storedValue("SELECT status FROM runs WHERE id = '\(id)'")
    }

    /// The first column of the first row `sql` selects from the store.
    private func storedValue(_ sql: String) throws -> String? {
        try withDatabase { handle in
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { return nil }
            defer { sqlite3_finalize(statement) }
            guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return nil }
            return String(cString: text)
        }
    }

    private func withDatabase<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        var handle: OpaquePointer?
        guard sqlite3_open(db, &handle) == SQLITE_OK, let handle else { throw POSIXError(.ENOENT) }
        defer { sqlite3_close(handle) }
        return try body(handle)
    }

    func testTheRunsUserAndSessionAreOnItsTrace() throws {
        let run = try sluice(["run", "pipelines/chat.sluice", "--new-session", "--user", "cust-42", "--replies", "pipelines/replies/chat.jsonl",
                              "--db", db, "--input", "message=hi", "--json"])
        XCTAssertEqual(run.code, 0, run.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let session = try XCTUnwrap(json["session"] as? String)
        XCTAssertEqual(try storedValue("SELECT user_id || '|' || session_id FROM runs"), "cust-42|\(session)")

        let empty = try sluice(["run", "pipelines/chat.sluice", "--user", "", "--db", db, "--input", "message=hi"])
        XCTAssertEqual(empty.code, 2)
        XCTAssertTrue(empty.stderr.contains("--user needs a user id"), empty.stderr)
        let control = try sluice(["run", "pipelines/chat.sluice", "--db", db, "--input", "message=hi"], environment: ["SLUICE_USER": "a\tb"])
        XCTAssertEqual(control.code, 2)
        XCTAssertTrue(control.stderr.contains("SLUICE_USER contains a control character"), control.stderr)
    }

    func testARunWhoseTraceCannotBeSavedExitsFourAndStillPrintsItsResult() throws {
        let (script, replies) = try replyScript()
        XCTAssertEqual(try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x"]).code, 0)
        // From now on the store refuses every span, as a full disk would.
        try withDatabase { handle in
            XCTAssertEqual(sqlite3_exec(handle, """
                CREATE TRIGGER refuse_spans BEFORE INSERT ON spans BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;
                """, nil, nil, nil), SQLITE_OK)
        }
        let asJSON = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x", "--json"])
        XCTAssertEqual(asJSON.code, 4, asJSON.stderr)
        let report = try json(asJSON.stdout)
        XCTAssertEqual(report["trace_saved"] as? Bool, false)
        XCTAssertEqual(report["status"] as? String, "ok")
        XCTAssertEqual(report["output"] as? String, "the answer")
        XCTAssertTrue(asJSON.stderr.contains("warning: the trace could not be fully saved:") && asJSON.stderr.contains("database or disk is full"),
                      asJSON.stderr)

        let human = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x"])
        XCTAssertEqual(human.code, 4, human.stderr)
        XCTAssertEqual(human.stdout, "the answer\n")

        // A failed run keeps its own exit status, and says the trace was not saved either.
        let empty = try write("none.jsonl", "")
        let failed = try sluice(["run", script, "--db", db, "--replies", empty, "--input", "q=x", "--json"])
        XCTAssertEqual(failed.code, 1, failed.stderr)
        XCTAssertEqual(try json(failed.stdout)["trace_saved"] as? Bool, false)

        try withDatabase { handle in XCTAssertEqual(sqlite3_exec(handle, "DROP TRIGGER refuse_spans", nil, nil, nil), SQLITE_OK) }
        let saved = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x", "--json"])
        XCTAssertEqual(saved.code, 0, saved.stderr)
        XCTAssertEqual(try json(saved.stdout)["trace_saved"] as? Bool, true)
    }

    func testAHugeInputIsStoredBoundedWithItsLengthAndHash() throws {
        let (script, replies) = try replyScript()
        let huge = String(repeating: "0123456789", count: 500_000)      // 5 MB
        let inputs = try write("inputs.json", "{\"q\": \"\(huge)\"}")
        for (args, environment, limit) in [(["--trace-field-limit", "8192"], [:], 8192),
                                           ([], ["SLUICE_TRACE_FIELD_LIMIT": "20000"], 20000)] {
            try? FileManager.default.removeItem(atPath: db)
            let result = try sluice(["run", script, "--db", db, "--replies", replies, "--input-file", inputs, "--json"] + args,
                                    environment: environment)
            XCTAssertEqual(result.code, 0, result.stderr)
            let id = try XCTUnwrap(try json(result.stdout)["run_id"] as? String)
            let run = try shownRun(id)
            let stored = try XCTUnwrap((run["inputs"] as? [String: Any])?["q"] as? String)
            XCTAssertTrue(stored.hasPrefix("0123456789"))
            XCTAssertTrue(stored.contains("…[cut: 5000000 bytes in all, sha256 "), String(stored.suffix(200)))
            XCTAssertLessThanOrEqual(stored.utf8.count, limit)
            let message = try XCTUnwrap(((run["model_calls"] as? [[String: Any]])?.first?["messages"] as? [[String: Any]])?.first?["content"] as? String)
            XCTAssertTrue(message.contains("bytes in all, sha256 "), String(message.suffix(200)))
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: db)[.size] as? Int)
                + ((try? FileManager.default.attributesOfItem(atPath: db + "-wal")[.size] as? Int) ?? 0)
            XCTAssertLessThan(size, 1_000_000, "a 5 MB input must not be stored whole")
        }
        let bad = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x"], environment: ["SLUICE_TRACE_FIELD_LIMIT": "lots"])
        XCTAssertEqual(bad.code, 2)
        XCTAssertTrue(bad.stderr.contains("SLUICE_TRACE_FIELD_LIMIT must be a whole number of bytes, at least 256, got 'lots'"), bad.stderr)
        let small = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x", "--trace-field-limit", "10"])
        XCTAssertEqual(small.code, 2)
        XCTAssertTrue(small.stderr.contains("--trace-field-limit must be at least 256 bytes, got 10"), small.stderr)
    }

    func testTracesListAndShowReadAStoreInAReadOnlyFolder() throws {
        let (script, replies) = try replyScript()
        let folder = scratch.appendingPathComponent("readonly")
        let store = folder.appendingPathComponent("sluice.db").path
        let ran = try sluice(["run", script, "--db", store, "--replies", replies, "--input", "q=x", "--json"])
        XCTAssertEqual(ran.code, 0, ran.stderr)
        let id = try XCTUnwrap(try json(ran.stdout)["run_id"] as? String)
        let before = try Data(contentsOf: URL(fileURLWithPath: store))
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: store)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path) }
        // Root ignores permissions: read as an unprivileged user then, so the folder really is read-only.
        let asUser: [String] = getuid() == 0 ? ["--reuid=65534", "--regid=65534", "--clear-groups", Self.binary.path] : [Self.binary.path]
        let runner = getuid() == 0 ? "/usr/bin/setpriv" : Self.binary.path
        guard FileManager.default.isExecutableFile(atPath: runner) else { throw XCTSkip("running as root without setpriv") }
        func readOnly(_ args: [String]) throws -> (code: Int32, stdout: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: runner)
            process.arguments = Array((getuid() == 0 ? asUser : []) + args)
            process.currentDirectoryURL = URL(fileURLWithPath: "/")
            process.environment = ["NO_COLOR": "1", "PATH": "/usr/bin:/bin"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let list = try readOnly(["traces", "list", "--db", store])
        XCTAssertEqual(list.code, 0, list.stdout)
        XCTAssertTrue(list.stdout.contains(id), list.stdout)
        let show = try readOnly(["traces", "show", id, "--db", store])
        XCTAssertEqual(show.code, 0, show.stdout)
        XCTAssertTrue(show.stdout.contains("reply: the answer"), show.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: store)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["sluice.db"])
    }
}

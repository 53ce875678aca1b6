import CSQLite
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// What `sluice run` does with a store it cannot write or must not touch: a read-only file or
/// folder still runs the pipeline and prints its result, then says the trace was not saved (exit 4);
/// a file that is not a store is refused before anything runs (exit 2) and left as it was.
final class StoreFailureCLITests: SluiceCLITestCase {
    /// Runs sluice as a user who owns nothing here (as root, permissions would not apply).
    private func unprivileged(_ args: [String]) throws -> Result {
        guard getuid() == 0 else { return try sluice(args) }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("running as root without setpriv") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", Self.binary.path] + args
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.environment = ["NO_COLOR": "1", "PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(code: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A store with one run, then its file and folder given these permissions.
    private func readOnlyStore(folderMode: Int, fileMode: Int) throws -> (store: String, script: String, replies: String) {
        let (script, replies) = try replyScript()
        let folder = scratch.appendingPathComponent("store")
        let store = folder.appendingPathComponent("sluice.db").path
        XCTAssertEqual(try sluice(["run", script, "--db", store, "--replies", replies, "--input", "q=x"]).code, 0)
        // The scratch folder must be reachable by the unprivileged user.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path)
        try FileManager.default.setAttributes([.posixPermissions: fileMode], ofItemAtPath: store)
        try FileManager.default.setAttributes([.posixPermissions: folderMode], ofItemAtPath: folder.path)
        addTeardownBlock { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path) }
        return (store, script, replies)
    }

    private func assertRunsButSaysTheTraceWasNotSaved(_ store: String, _ script: String, _ replies: String, because reason: String,
                                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: store))
        let asJSON = try unprivileged(["run", script, "--db", store, "--replies", replies, "--input", "q=x", "--json"])
        XCTAssertEqual(asJSON.code, 4, asJSON.stderr, file: file, line: line)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(asJSON.stdout.utf8)) as? [String: Any], asJSON.stdout)
        XCTAssertEqual(report["output"] as? String, "the answer", file: file, line: line)
        XCTAssertEqual(report["trace_saved"] as? Bool, false, file: file, line: line)
        XCTAssertTrue(asJSON.stderr.contains("warning: the trace could not be fully saved: the store \(store) \(reason): traces are not saved"),
                      asJSON.stderr, file: file, line: line)
        let human = try unprivileged(["run", script, "--db", store, "--replies", replies, "--input", "q=x"])
        XCTAssertEqual(human.code, 4, human.stderr, file: file, line: line)
        XCTAssertEqual(human.stdout, "the answer\n", file: file, line: line)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: store)), before, "the store is not written", file: file, line: line)
        let listed = try unprivileged(["traces", "list", "--db", store])
        XCTAssertEqual(listed.code, 0, listed.stderr, file: file, line: line)
        XCTAssertEqual(listed.stdout.components(separatedBy: "  ok  ").count - 1, 1, "only the first run: \(listed.stdout)", file: file, line: line)
    }

    func testARunOnAReadOnlyStoreFilePrintsItsResultAndSaysTheTraceWasNotSaved() throws {
        let (store, script, replies) = try readOnlyStore(folderMode: 0o777, fileMode: 0o444)
        try assertRunsButSaysTheTraceWasNotSaved(store, script, replies, because: "is read-only (this user cannot write the file)")
    }

    func testARunOnAStoreInAReadOnlyFolderPrintsItsResultAndSaysTheTraceWasNotSaved() throws {
        let (store, script, replies) = try readOnlyStore(folderMode: 0o555, fileMode: 0o666)
        try assertRunsButSaysTheTraceWasNotSaved(store, script, replies,
                                                 because: "is in a read-only folder (SQLite must create its -wal and -shm files beside it)")
    }

    func testARunOnAStoreLockedLongerThanTheBusyTimeoutPrintsItsResultAndSaysWhy() throws {
        let (script, replies) = try replyScript()
        let first = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x", "--json"])
        XCTAssertEqual(first.code, 0, first.stderr)
        // Another process's long write transaction: this process holds the write lock meanwhile.
        var handle: OpaquePointer?
        XCTAssertEqual(sqlite3_open(db, &handle), SQLITE_OK)
        defer { sqlite3_close(handle) }
        XCTAssertEqual(sqlite3_exec(handle, "BEGIN IMMEDIATE", nil, nil, nil), SQLITE_OK)
        let locked = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x", "--json"])
        XCTAssertEqual(sqlite3_exec(handle, "ROLLBACK", nil, nil, nil), SQLITE_OK)
        XCTAssertEqual(locked.code, 4, locked.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(locked.stdout.utf8)) as? [String: Any], locked.stdout)
        XCTAssertEqual(report["output"] as? String, "the answer")
        XCTAssertEqual(report["trace_saved"] as? Bool, false)
        XCTAssertTrue(locked.stderr.contains("warning: the trace could not be fully saved: the database \(db) is locked: "
                                             + "another process held its write lock for more than 5 s"), locked.stderr)
        // The run before is intact, and the next one is saved.
        let firstId = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])?["run_id"] as? String)
        let shown = try sluice(["traces", "show", firstId, "--db", db])
        XCTAssertEqual(shown.code, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("reply: the answer"), shown.stdout)
        XCTAssertEqual(try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x"]).code, 0)
    }

    func testAFileThatIsNotAStoreIsRefusedBeforeTheRunAndLeftAsItIs() throws {
        let (script, replies) = try replyScript()
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        try garbage.write(to: URL(fileURLWithPath: db))
        let run = try sluice(["run", script, "--db", db, "--replies", replies, "--input", "q=x"])
        XCTAssertEqual(run.code, 2, run.stderr)
        XCTAssertEqual(run.stdout, "")
        XCTAssertTrue(run.stderr.contains("cannot open the store \(db): \(db) is damaged or is not a SQLite database; it was left as it is"),
                      run.stderr)
        let list = try sluice(["traces", "list", "--db", db])
        XCTAssertEqual(list.code, 2, list.stderr)
        XCTAssertTrue(list.stderr.contains("\(db) is damaged or is not a SQLite database"), list.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), garbage)

        let other = scratch.appendingPathComponent("app.db").path
        var handle: OpaquePointer?
        XCTAssertEqual(sqlite3_open(other, &handle), SQLITE_OK)
        XCTAssertEqual(sqlite3_exec(handle, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)", nil, nil, nil), SQLITE_OK)
        sqlite3_close(handle)
        let before = try Data(contentsOf: URL(fileURLWithPath: other))
        let refused = try sluice(["run", script, "--db", other, "--replies", replies, "--input", "q=x"])
        XCTAssertEqual(refused.code, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("cannot open the store \(other): \(other) is another program's SQLite database "
                                              + "(it has the tables invoices and no schema_version): sluice will not write to it"), refused.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: other)), before)
    }
}

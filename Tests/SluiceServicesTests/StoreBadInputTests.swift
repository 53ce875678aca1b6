import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// Files the store cannot use, and failures while it writes: each is a clear error naming the file
/// and the cause, and none damages a trace already written.
final class StoreBadInputTests: XCTestCase {
    private func recordRun(_ traces: any TraceSink, _ id: String, input: String = "x") throws {
        try traces.runStarted(TraceRun(id: id, pipeline: "p", file: "p.sluice", startedAt: 0, inputs: .object([("q", .string(input))])))
        try traces.spanStarted(TraceSpan(id: "\(id)-s", runId: id, parentId: nil, kind: "prompt", name: "ask", startedAt: 0))
        try traces.spanEnded(TraceSpanEnd(id: "\(id)-s", endedAt: 1, status: "ok", detail: .object([])))
        try? traces.runEnded(TraceRunEnd(id: id, status: .ok, endedAt: 1, output: .string("out"), error: nil, cost: 0, tokens: 1))
    }

    private func assertIntact(_ store: SQLiteStore, _ id: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let detail = try XCTUnwrap(try store.run(id: id), file: file, line: line)
        XCTAssertEqual(detail.summary.status, "ok", file: file, line: line)
        XCTAssertEqual(detail.output, .string("out"), file: file, line: line)
        XCTAssertEqual(detail.spans.map(\.status), ["ok"], file: file, line: line)
    }

    func testAWriteLockHeldLongerThanTheBusyTimeoutLosesOnlyTheBatchesThatWaitedForIt() throws {
        let path = try temporaryFolder(self) + "/s.db"
        let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 100)
        let traces = TraceWriter(store: store)
        try recordRun(traces, "before")
        traces.flush()

        // Another process's write transaction: a second connection to the file holding the write lock.
        let other = try SQLiteDatabase(path: path)
        try other.withConnection { try $0.exec("BEGIN IMMEDIATE") }
        try recordRun(traces, "during")
        traces.flush()
        try other.withConnection { try $0.exec("ROLLBACK") }

        let failure = "\(try XCTUnwrap(traces.failure(ofRun: "during")))"
        XCTAssertTrue(failure.hasPrefix("the database \(path) is locked: another process held its write lock for more than 0.1 s (SQLite: "),
                      failure)
        try recordRun(traces, "after")
        traces.close()
        XCTAssertNil(traces.failure(ofRun: "after"))
        try assertIntact(store, "before")
        try assertIntact(store, "after")
        XCTAssertNil(try store.run(id: "during"))
    }

    func testAFullDiskLosesTheBatchAndKeepsWhatWasWritten() throws {
        let store = try SQLiteStore(path: try temporaryFolder(self) + "/s.db")
        let traces = TraceWriter(store: store)
        try recordRun(traces, "before")
        traces.flush()
        // The file may not grow past its size now, as on a full disk.
        let pages = try store.database.withConnection { db in try db.query("PRAGMA page_count") { $0.int(0) } }.first ?? 0
        try store.database.withConnection { db in try db.exec("PRAGMA max_page_count = \(pages)") }
        try recordRun(traces, "big", input: String(repeating: "0123456789", count: 20_000))
        traces.flush()
        let failure = "\(try XCTUnwrap(traces.failure(ofRun: "big")))"
        XCTAssertTrue(failure.hasPrefix("the disk holding the database \(store.path) is full (SQLite: "), failure)
        try assertIntact(store, "before")

        try store.database.withConnection { db in try db.exec("PRAGMA max_page_count = 1073741823") }
        try recordRun(traces, "after")
        traces.close()
        try assertIntact(store, "after")
    }

    func testAFileThatIsNotADatabaseIsRefusedAndLeftAsItIs() throws {
        let path = try temporaryFolder(self) + "/notes.db"
        let bytes = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try bytes.write(to: URL(fileURLWithPath: path))
        for readOnly in [false, true] {
            XCTAssertThrowsError(try SQLiteStore(path: path, readOnly: readOnly)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(path) is damaged or is not a SQLite database; it was left as it is (SQLite: "), "\(error)")
            }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), bytes)
    }

    func testAStoreWhosePagesAreDamagedSaysSoAndIsNotWrittenOver() throws {
        let path = try temporaryFolder(self) + "/s.db"
        do {
            let store = try SQLiteStore(path: path)
            for index in 0..<20 { try recordRun(store, "run-\(index)", input: String(repeating: "x", count: 2000)) }
        }
        // Every page but the first (the header and the schema's root) overwritten with garbage.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let pageSize = 4096
        XCTAssertGreaterThan(bytes.count, 4 * pageSize)
        for offset in pageSize..<bytes.count { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 131) }
        try bytes.write(to: URL(fileURLWithPath: path))

        let outcome = Result { try SQLiteStore(path: path).listRuns(limit: 10) }
        guard case .failure(let error) = outcome else { return XCTFail("a damaged store was read: \(outcome)") }
        XCTAssertTrue("\(error)".contains("\(path) is damaged or is not a SQLite database; it was left as it is (SQLite: "), "\(error)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), bytes)
    }

    func testAnotherProgramsDatabaseIsRefusedUntouched() throws {
        let path = try temporaryFolder(self) + "/app.db"
        try SQLiteDatabase(path: path).withConnection { db in
            try db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE orders (id INTEGER); INSERT INTO customers (name) VALUES ('Ada')")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SQLiteStore(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path) is another program's SQLite database (it has the tables customers, orders and no schema_version): "
                           + "sluice will not write to it; give sluice a file of its own with --db or SLUICE_DB")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertNil(try StoreSchema.version(of: SQLiteDatabase(path: path, readOnly: true)))
    }

    func testANewStoreAppearsOnlyWithItsSchema() throws {
        let folder = try temporaryFolder(self)
        let path = folder + "/new/sluice.db"
        _ = try SQLiteStore(path: path)
        XCTAssertEqual(try StoreSchema.version(of: SQLiteDatabase(path: path, readOnly: true)), StoreSchema.currentVersion)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder + "/new").filter { $0.contains(".new-") }, [],
                       "the file it was made under is gone")
    }
}

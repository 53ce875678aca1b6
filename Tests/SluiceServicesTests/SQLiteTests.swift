@testable import SluiceServices
import XCTest

final class SQLiteTests: XCTestCase {
    func testTransactionsCommitOrRollBack() throws {
        let database = try SQLiteDatabase(path: try temporaryFolder(self) + "/a/b/t.db")
        try database.withConnection { try $0.exec("CREATE TABLE t (x INTEGER NOT NULL, y TEXT)") }
        try database.transaction { db in
            try db.run("INSERT INTO t VALUES (?, ?)", [.integer(1), .text("one")])
            try db.run("INSERT INTO t VALUES (?, ?)", [.int(2), .null])
        }
        struct Stop: Error {}
        XCTAssertThrowsError(try database.transaction { db in
            try db.run("INSERT INTO t VALUES (3, 'three')")
            throw Stop()
        })
        let rows = try database.withConnection { db in
            try db.query("SELECT x, y FROM t ORDER BY x") { ($0.int(0), $0.optionalText(1)) }
        }
        XCTAssertEqual(rows.map(\.0), [1, 2])
        XCTAssertEqual(rows.map(\.1), ["one", nil])
        let mode = try database.withConnection { db in try db.query("PRAGMA journal_mode") { $0.text(0) } }
        XCTAssertEqual(mode, ["wal"])
    }

    func testErrorsCarrySQLitesMessage() throws {
        let database = try SQLiteDatabase(path: try temporaryFolder(self) + "/t.db")
        XCTAssertThrowsError(try database.withConnection { try $0.exec("SELEKT 1") }) {
            XCTAssertTrue("\($0)".contains("near \"SELEKT\": syntax error"), "\($0)")
        }
        XCTAssertThrowsError(try database.withConnection { try $0.run("INSERT INTO missing VALUES (?)", [.real(1.5)]) }) {
            XCTAssertTrue("\($0)".contains("no such table: missing"), "\($0)")
        }
        XCTAssertThrowsError(try database.withConnection { db in
            try db.exec("CREATE TABLE t (x NOT NULL)")
            try db.run("INSERT INTO t VALUES (?)", [.null])
        }) {
            XCTAssertTrue("\($0)".contains("NOT NULL constraint failed: t.x"), "\($0)")
            XCTAssertEqual(($0 as? SQLiteError)?.code, 19)
        }
    }
}

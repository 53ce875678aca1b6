import CSQLite
import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// Retrieval reads on connections of its own, so a run's search neither waits for the writer (trace
/// batches, ledger transactions) nor sees a transaction before it commits.
final class StoreReadersTests: XCTestCase {
    func testSearchGoesOnWhileAnotherConnectionHoldsTheWriteLock() throws {
        let folder = try temporaryFolder(self)
        try write("To reset your password, open Settings and choose Reset password.", to: folder + "/docs/passwords.md")
        let store = try SQLiteStore(path: folder + "/sluice.db")
        try store.prepare(IndexSpec(name: "kb", source: folder + "/docs", chunkTokens: 64, overlapTokens: 8))

        // Another process's writer: it holds the write lock, with an uncommitted chunk.
        let other = try SQLiteDatabase(path: folder + "/sluice.db", busyTimeoutMilliseconds: 50)
        try other.withConnection { db in
            try db.exec("BEGIN IMMEDIATE")
            try db.run("INSERT INTO chunks (document_id, ordinal, text) VALUES ((SELECT min(id) FROM documents), 99, 'password uncommitted')")
        }
        let started = Date()
        let hits = try store.search(index: "kb", query: "password", limit: 5)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the search did not wait for the write lock (busy timeout 5 s)")
        XCTAssertEqual(hits.map(\.text), ["To reset your password, open Settings and choose Reset password."], "nothing uncommitted is read")

        try other.withConnection { try $0.exec("COMMIT") }
        XCTAssertEqual(try store.search(index: "kb", query: "uncommitted", limit: 5).map(\.text), ["password uncommitted"],
                       "a reader sees what was committed since it was last used")
    }

    func testManyConcurrentSearchesShareABoundedSetOfReaders() throws {
        let folder = try temporaryFolder(self)
        for i in 0..<20 { try write("Article \(i): reset a password in settings, step \(i).", to: folder + "/docs/a\(i).md") }
        let store = try SQLiteStore(path: folder + "/sluice.db")
        try store.prepare(IndexSpec(name: "kb", source: folder + "/docs", chunkTokens: 64, overlapTokens: 0))
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            do {
                let hits = try store.search(index: "kb", query: "step \(i % 20)", limit: 3)
                if hits.first?.text.contains("step \(i % 20).") != true { failures.withLock { $0.append("query \(i): \(hits.map(\.text))") } }
            } catch {
                failures.withLock { $0.append("query \(i): \(error)") }
            }
        }
        XCTAssertEqual(failures.current, [])
    }
}

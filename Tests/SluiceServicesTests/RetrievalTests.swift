import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class RetrievalTests: XCTestCase {
    private var folder = ""
    private var store: SQLiteStore!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
        store = try SQLiteStore(path: folder + "/db/sluice.db")
    }

    private func corpus() throws -> String {
        let docs = folder + "/corpus"
        try write("# Passwords\n\nTo reset your password, open Settings and choose Reset password.", to: docs + "/b/passwords.md")
        try write("Billing happens monthly. Invoices are emailed.", to: docs + "/a/billing.txt")
        try write("<html><style>p{}</style><body><p>Shipping takes 3 days &amp; is free.</p><script>password()</script></body></html>",
                  to: docs + "/shipping.html")
        try write("password password password", to: docs + "/notes.pdf")
        try write("password password password", to: docs + "/.hidden/secret.md")
        return docs
    }

    func testPrepareIndexesAFolderOnceAndSearchRanks() throws {
        let docs = try corpus()
        try store.prepare(IndexSpec(name: "kb", source: docs, chunkTokens: 64, overlapTokens: 8))
        XCTAssertEqual(try store.listIndexes(), [IndexSummary(name: "kb", files: 3, chunks: 3, source: docs, chunkTokens: 64, overlapTokens: 8)])

        let hits = try store.search(index: "kb", query: "how do I reset my password?", limit: 5)
        XCTAssertEqual(hits.first?.source, docs + "/b/passwords.md")
        XCTAssertTrue(hits.first?.text.contains("Reset password") ?? false)
        XCTAssertEqual(hits.count, 1, "only the passwords file mentions these words (scripts are not indexed)")
        XCTAssertGreaterThan(hits[0].score, 0)

        XCTAssertEqual(try store.search(index: "kb", query: "shipping", limit: 5).first?.text, "Shipping takes 3 days & is free.")

        // Not empty any more: preparing again does not index twice.
        try store.prepare(IndexSpec(name: "kb", source: docs, chunkTokens: 64, overlapTokens: 8))
        XCTAssertEqual(try store.listIndexes().first?.chunks, 3)
    }

    func testScoresAreOrderedBestFirst() throws {
        try write("apple banana cherry", to: folder + "/x/one.txt")
        try write("apple apple apple banana", to: folder + "/x/two.txt")
        try write("unrelated words only", to: folder + "/x/three.txt")
        try store.addDocuments(index: "fruit", paths: [folder + "/x"], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        let hits = try store.search(index: "fruit", query: "apple", limit: 10)
        XCTAssertEqual(hits.map { ($0.source as NSString).lastPathComponent }, ["two.txt", "one.txt"])
        XCTAssertGreaterThan(hits[0].score, hits[1].score)
        XCTAssertEqual(try store.search(index: "fruit", query: "apple", limit: 1).count, 1)
        XCTAssertEqual(try store.search(index: "fruit", query: "apple", limit: 0).count, 0)
    }

    func testNastyQueriesNeverBreakFTS() throws {
        try write("Ünïcödé café naïve AND NEAR text with \"quotes\" and stars*", to: folder + "/n.md")
        try store.addDocuments(index: "n", paths: [folder + "/n.md"], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        let queries = ["\"", "\"\"\"", "*", "a*", "AND", "OR", "NOT", "NEAR(", "NEAR(a b", "text AND", "^text", "text:foo",
                       "{text}: x", "(", ")", "-", "+", "café", "CAFE", "naïve", "日本語 テキスト", "🙂", "e\u{301}", "\u{301}",
                       "", "   ", "\0", "'; DROP TABLE chunks; --", String(repeating: "word ", count: 500)]
        for query in queries {
            XCTAssertNoThrow(try store.search(index: "n", query: query, limit: 3), "query \(query.debugDescription)")
        }
        XCTAssertEqual(try store.search(index: "n", query: "", limit: 3), [])
        XCTAssertEqual(try store.search(index: "n", query: " *\"( ", limit: 3), [])
        XCTAssertEqual(try store.search(index: "n", query: "AND", limit: 3).count, 1, "operators are searched as words")
        XCTAssertEqual(try store.search(index: "n", query: "NEAR(", limit: 3).count, 1)
        XCTAssertEqual(try store.search(index: "n", query: "cafe", limit: 3).count, 1, "diacritics are folded")
        XCTAssertEqual(try store.search(index: "n", query: "unicode", limit: 3).count, 1)
        XCTAssertEqual(try store.search(index: "n", query: "stars*", limit: 3).count, 1)
    }

    func testMatchExpression() {
        XCTAssertEqual(FTSQuery.matchExpression(for: "Reset my \"password\" NEAR(x"), "\"Reset\" OR \"password\" OR \"NEAR\" OR \"x\"",
                       "\"my\" is a stop word")
        XCTAssertEqual(FTSQuery.matchExpression(for: "b b B c"), "\"b\" OR \"c\"")
        XCTAssertNil(FTSQuery.matchExpression(for: " *()\"^ "))
        XCTAssertNil(FTSQuery.matchExpression(for: "\u{301}"))
    }

    func testReAddingASourceReplacesItsChunks() throws {
        let file = folder + "/doc.txt"
        try write("first version about llamas", to: file)
        XCTAssertEqual(try store.addDocuments(index: "kb", paths: [file], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter()).chunks, 1)
        try write("second version about alpacas", to: file)
        let added = try store.addDocuments(index: "kb", paths: [file], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        XCTAssertEqual(added.files, 1)
        XCTAssertEqual(try store.listIndexes(), [IndexSummary(name: "kb", files: 1, chunks: 1, source: nil, chunkTokens: 50, overlapTokens: 0)])
        XCTAssertEqual(try store.search(index: "kb", query: "llamas", limit: 5), [])
        XCTAssertEqual(try store.search(index: "kb", query: "alpacas", limit: 5).count, 1)
    }

    func testIndexesAreSeparateAndRemovable() throws {
        try write("llamas live in the andes", to: folder + "/l.txt")
        try store.addDocuments(index: "one", paths: [folder + "/l.txt"], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        try store.addDocuments(index: "two", paths: [folder + "/l.txt"], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        XCTAssertEqual(try store.listIndexes().map(\.name), ["one", "two"])
        try store.removeIndex(name: "one")
        XCTAssertEqual(try store.listIndexes().map(\.name), ["two"])
        XCTAssertEqual(try store.search(index: "two", query: "llamas", limit: 5).count, 1)
        XCTAssertThrowsError(try store.search(index: "one", query: "llamas", limit: 5)) {
            XCTAssertTrue("\($0)".contains("no index named 'one'"), "\($0)")
        }
        XCTAssertThrowsError(try store.removeIndex(name: "one"))
    }

    func testClearErrors() throws {
        XCTAssertThrowsError(try store.prepare(IndexSpec(name: "kb", source: folder + "/missing"))) {
            XCTAssertTrue("\($0)".contains("\(self.folder)/missing: no such file or folder"), "\($0)")
        }
        XCTAssertThrowsError(try store.prepare(IndexSpec(name: "empty", source: nil))) {
            XCTAssertTrue("\($0)".contains("index 'empty' is empty and has no source"), "\($0)")
        }
        try write("%PDF", to: folder + "/only/file.pdf")
        XCTAssertThrowsError(try store.prepare(IndexSpec(name: "kb", source: folder + "/only"))) {
            XCTAssertTrue("\($0)".contains("has no .htm, .html, .markdown, .md, .rst, .txt files"), "\($0)")
        }
        XCTAssertThrowsError(try store.addDocuments(index: "kb", paths: [folder + "/only/file.pdf"], chunkTokens: 10, overlapTokens: 0,
                                                    counter: EstimatingTokenCounter()))
        try write("text", to: folder + "/t.txt")
        XCTAssertThrowsError(try store.prepare(IndexSpec(name: "kb", source: folder + "/t.txt", chunkTokens: 10, overlapTokens: 10))) {
            XCTAssertTrue("\($0)".contains("overlap"), "\($0)")
        }
    }

    func testBulkInsertIsFast() throws {
        let lines = (0..<20_000).map { "Line \($0) talks about topic \($0 % 97) and nothing else." }
        try write(lines.joined(separator: "\n\n"), to: folder + "/big.txt")
        let start = Date()
        let added = try store.addDocuments(index: "big", paths: [folder + "/big.txt"], chunkTokens: 16, overlapTokens: 0,
                                           counter: EstimatingTokenCounter())
        XCTAssertGreaterThan(added.chunks, 10_000)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "chunking and inserting \(added.chunks) chunks")
        XCTAssertEqual(try store.search(index: "big", query: "topic 42", limit: 3).count, 3)
    }

    // MARK: Keeping an index in step with its source

    private func chunks(_ index: String) throws -> Int { try store.listIndexes().first { $0.name == index }?.chunks ?? 0 }

    func testAddedChangedAndRemovedFilesAreIndexedOnTheNextProcess() throws {
        try write("Llamas live in the Andes.", to: folder + "/kb/llamas.md")
        let spec = IndexSpec(name: "kb", source: folder + "/kb", chunkTokens: 50, overlapTokens: 5)
        try store.prepare(spec)
        XCTAssertEqual(try store.search(index: "kb", query: "llamas", limit: 5).count, 1)

        try write("Alpacas too.", to: folder + "/kb/alpacas.md")
        try write("Llamas moved to the Alps.", to: folder + "/kb/llamas.md")
        // Checked once per process: the same store object does not hash the source again.
        try store.prepare(spec)
        XCTAssertEqual(try store.search(index: "kb", query: "alpacas", limit: 5).count, 0)
        // A new process (a new store object on the same file) sees the changes.
        let later = try SQLiteStore(path: folder + "/db/sluice.db")
        let changes = try later.synchronize(index: "kb", source: folder + "/kb", chunkTokens: 50, overlapTokens: 5, counter: EstimatingTokenCounter())
        XCTAssertEqual(changes, IndexChanges(added: 1, changed: 1, removed: 0, unchanged: 0, chunks: 2))
        XCTAssertEqual(try later.search(index: "kb", query: "alpacas", limit: 5).count, 1)
        XCTAssertEqual(try later.search(index: "kb", query: "Andes", limit: 5).count, 0, "the old text of a changed file is gone")

        try FileManager.default.removeItem(atPath: folder + "/kb/alpacas.md")
        let third = try SQLiteStore(path: folder + "/db/sluice.db")
        try third.prepare(spec)
        XCTAssertEqual(try third.search(index: "kb", query: "alpacas", limit: 5).count, 0)
        XCTAssertEqual(try third.listIndexes().first?.files, 1)
        // Nothing changed: nothing is written.
        let unchanged = try third.synchronize(index: "kb", source: folder + "/kb", chunkTokens: 50, overlapTokens: 5, counter: EstimatingTokenCounter())
        XCTAssertEqual(unchanged, IndexChanges(unchanged: 1))
    }

    func testChangingChunkOrOverlapRebuildsTheIndex() throws {
        try write((1...300).map { "word\($0)" }.joined(separator: " "), to: folder + "/kb/words.txt")
        try store.prepare(IndexSpec(name: "kb", source: folder + "/kb", chunkTokens: 100, overlapTokens: 0))
        let coarse = try chunks("kb")
        let finer = try SQLiteStore(path: folder + "/db/sluice.db")
        try finer.prepare(IndexSpec(name: "kb", source: folder + "/kb", chunkTokens: 25, overlapTokens: 5))
        XCTAssertGreaterThan(try finer.listIndexes().first?.chunks ?? 0, coarse * 3)
        XCTAssertEqual(try finer.listIndexes().first?.chunkTokens, 25)
        XCTAssertEqual(try finer.listIndexes().first?.overlapTokens, 5)
    }

    func testTwoSourcesNeverShareOneIndexSilently() throws {
        try write("one", to: folder + "/a/one.md")
        try write("two", to: folder + "/b/two.md")
        try store.prepare(IndexSpec(name: "kb", source: folder + "/a"))
        XCTAssertThrowsError(try store.prepare(IndexSpec(name: "kb", source: folder + "/b"))) {
            let message = "\($0)"
            XCTAssertTrue(message.contains("was built from \(self.folder)/a, but this script's index reads \(self.folder)/b"), message)
            XCTAssertTrue(message.contains("`store \"NAME\"`"), message)
            XCTAssertTrue(message.contains("sluice index remove kb"), message)
        }
        XCTAssertThrowsError(try store.addDocuments(index: "kb", paths: [folder + "/b"], chunkTokens: 256, overlapTokens: 32,
                                                    counter: EstimatingTokenCounter())) {
            XCTAssertTrue("\($0)".contains("built from a script's source"), "\($0)")
        }
    }

    func testAnIndexBuiltByHandIsUsedAsItIs() throws {
        try write("by hand", to: folder + "/hand/h.md")
        try write("from source", to: folder + "/src/s.md")
        try store.addDocuments(index: "kb", paths: [folder + "/hand"], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        try store.prepare(IndexSpec(name: "kb", source: folder + "/src"))
        XCTAssertEqual(try store.search(index: "kb", query: "hand", limit: 5).count, 1)
        XCTAssertEqual(try store.search(index: "kb", query: "source", limit: 5).count, 0)
        XCTAssertThrowsError(try store.addDocuments(index: "kb", paths: [folder + "/src"], chunkTokens: 60, overlapTokens: 0,
                                                    counter: EstimatingTokenCounter())) {
            XCTAssertTrue("\($0)".contains("sluice index rebuild kb --chunk 60 --overlap 0"), "\($0)")
        }
    }

    func testRebuildChunksAgainFromTheSourceOrTheFilesHeld() throws {
        try write((1...200).map { "term\($0)" }.joined(separator: " "), to: folder + "/src/s.txt")
        try store.prepare(IndexSpec(name: "kb", source: folder + "/src", chunkTokens: 100, overlapTokens: 0))
        let rebuilt = try store.rebuildIndex(name: "kb", chunkTokens: 20, overlapTokens: 2, counter: EstimatingTokenCounter())
        XCTAssertEqual(rebuilt.files, 1)
        XCTAssertEqual(try store.listIndexes().first?.chunkTokens, 20)
        XCTAssertEqual(try chunks("kb"), rebuilt.chunks)

        try write("held file", to: folder + "/hand/h.md")
        try write("gone soon", to: folder + "/hand/g.md")
        try store.addDocuments(index: "manual", paths: [folder + "/hand"], chunkTokens: 50, overlapTokens: 0, counter: EstimatingTokenCounter())
        try FileManager.default.removeItem(atPath: folder + "/hand/g.md")
        let manual = try store.rebuildIndex(name: "manual", counter: EstimatingTokenCounter())
        XCTAssertEqual(manual, IndexChanges(changed: 1, removed: 1, chunks: 1))
        XCTAssertThrowsError(try store.rebuildIndex(name: "nope", counter: EstimatingTokenCounter()))
    }

    /// A store written before version 3 (no hashes, no recorded settings) is migrated, and its
    /// source-built index is brought in step on first use.
    func testAStoreFromBeforeVersionThreeIsMigratedAndItsIndexRebuilt() throws {
        let path = folder + "/old/sluice.db"
        do {
            let old = try SQLiteDatabase(path: path)
            try old.withConnection { db in
                try db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2)")
                for migration in StoreSchema.migrations.prefix(2) { try db.exec(migration) }
                try db.exec("INSERT INTO retrieval_indexes (name) VALUES ('kb')")
                try db.exec("INSERT INTO documents (index_name, source) VALUES ('kb', '\(folder)/src/s.md')")
                try db.exec("INSERT INTO chunks (document_id, ordinal, text) VALUES (1, 0, 'stale text from the old chunker')")
            }
        }
        try write("fresh text", to: folder + "/src/s.md")
        let migrated = try SQLiteStore(path: path)
        XCTAssertEqual(try migrated.database.withConnection { db in try db.query("SELECT version FROM schema_version") { $0.int(0) } },
                       [StoreSchema.currentVersion])
        try migrated.prepare(IndexSpec(name: "kb", source: folder + "/src"))
        XCTAssertEqual(try migrated.search(index: "kb", query: "stale", limit: 5).count, 0)
        XCTAssertEqual(try migrated.search(index: "kb", query: "fresh", limit: 5).count, 1)
        XCTAssertEqual(try migrated.listIndexes().first?.source, folder + "/src")
    }
}

import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// How a search picks its chunks: stop words, FTS5's own top k over an FTS table every index
/// shares, ties, and query text that must never reach FTS5 as syntax.
final class RetrievalQueryTests: XCTestCase {
    private var folder = ""
    private var store: SQLiteStore!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
        store = try SQLiteStore(path: folder + "/db/sluice.db")
    }

    private func add(_ index: String, _ files: [String: String], chunkTokens: Int = 50) throws {
        for (name, text) in files { try write(text, to: folder + "/\(index)/" + name) }
        try store.addDocuments(index: index, paths: files.keys.sorted().map { folder + "/\(index)/" + $0 }, chunkTokens: chunkTokens,
                               overlapTokens: 0, counter: EstimatingTokenCounter())
    }

    private func names(_ hits: [RetrievedChunk]) -> [String] { hits.map { ($0.source as NSString).lastPathComponent } }

    /// What search returned before FTS5 took the top k itself: every match of the index joined,
    /// scored and sorted, the same match expression.
    private func fullSort(_ index: String, _ query: String, _ limit: Int) throws -> [RetrievedChunk] {
        guard let match = FTSQuery.matchExpression(for: query) else { return [] }
        return try store.database.withConnection { db in
            try db.query("""
                SELECT c.text, d.source, bm25(chunks_fts) AS rank
                FROM chunks_fts
                JOIN chunks c ON c.id = chunks_fts.rowid
                JOIN documents d ON d.id = c.document_id
                WHERE chunks_fts MATCH ? AND d.index_name = ?
                ORDER BY rank, d.source, c.ordinal
                LIMIT ?
                """, [.text(match), .text(index), .int(limit)]) { row in
                RetrievedChunk(text: row.text(0), source: row.text(1), score: -row.double(2))
            }
        }
    }

    // MARK: Stop words

    func testMatchExpressionLeavesOutStopWords() {
        XCTAssertEqual(FTSQuery.matchExpression(for: "What is the refund policy for THE shop?"), "\"refund\" OR \"policy\" OR \"shop\"")
        XCTAssertEqual(FTSQuery.matchExpression(for: "don't stop"), "\"stop\"", "the pieces of a contraction are stop words")
        // Only stop words: all of them are searched (once each, case-insensitively), rather than nothing.
        XCTAssertEqual(FTSQuery.matchExpression(for: "To be or NOT to be"), "\"To\" OR \"be\" OR \"or\" OR \"NOT\"")
        XCTAssertEqual(FTSQuery.englishStopWords.count, 153)
        XCTAssertTrue(FTSQuery.englishStopWords.allSatisfy { $0 == $0.lowercased() && !$0.contains("'") })
    }

    func testTheTermCapCountsOnlyWordsThatAreSearched() throws {
        let query = String(repeating: "the of and ", count: 100) + (1...70).map { "w\($0)" }.joined(separator: " ")
        let terms = try XCTUnwrap(FTSQuery.matchExpression(for: query)).components(separatedBy: " OR ")
        XCTAssertEqual(terms.count, FTSQuery.maxTerms)
        XCTAssertEqual(terms.first, "\"w1\"")
        XCTAssertEqual(terms.last, "\"w\(FTSQuery.maxTerms)\"")
    }

    func testStopWordsDoNotMatchButAQueryOfOnlyStopWordsStillDoes() throws {
        try add("kb", ["river.md": "A short history of the river Thames.",
                       "filler.md": "It is what it is, and that is all there is to it.",
                       "hamlet.md": "To be, or not to be, that is the question."])
        XCTAssertEqual(names(try store.search(index: "kb", query: "what is the history of the river?", limit: 5)), ["river.md"],
                       "the other files share only stop words with the query")
        XCTAssertEqual(names(try store.search(index: "kb", query: "to be or not to be", limit: 5)).first, "hamlet.md")
        XCTAssertEqual(names(try store.search(index: "kb", query: "It is", limit: 5)).first, "filler.md")
        XCTAssertEqual(try store.search(index: "kb", query: "the unicorn", limit: 5), [], "a content word that matches nothing finds nothing")
    }

    // MARK: FTS5's own top k

    /// The FTS table holds every index's chunks: another index whose chunks all rank better must
    /// not crowd this one's out of the window FTS5 returns.
    func testAnotherIndexRankingBetterDoesNotCrowdThisOneOut() throws {
        var crowd: [String: String] = [:]
        for n in 0..<300 { crowd["c\(n).md"] = "llama llama llama" }
        try add("crowd", crowd)
        try add("small", (0..<7).reduce(into: [:]) { files, n in files["s\(n).md"] = "a llama among \(n) alpacas and other words" + String(repeating: " padding", count: n) })
        let hits = try store.search(index: "small", query: "llama", limit: 5)
        XCTAssertEqual(names(hits), ["s0.md", "s1.md", "s2.md", "s3.md", "s4.md"])
        XCTAssertEqual(hits, try fullSort("small", "llama", 5))
        XCTAssertEqual(try store.search(index: "small", query: "llama", limit: 50).count, 7, "every match when fewer than k exist")
        XCTAssertEqual(try store.search(index: "crowd", query: "llama", limit: 3).count, 3)
    }

    /// Many chunks tied on rank: the k returned are the first by source and position, as a full
    /// sort would give, even when the ties run past FTS5's window.
    func testTiesAreBrokenBySourceThenPosition() throws {
        // Added in reverse order, so chunk ids run against source order.
        for n in (0..<40).reversed() { try add("ties", ["f\(String(format: "%02d", n)).txt": "kiwi. kiwi. kiwi."], chunkTokens: 2) }
        let hits = try store.search(index: "ties", query: "kiwi", limit: 6)
        XCTAssertEqual(names(hits), ["f00.txt", "f00.txt", "f00.txt", "f01.txt", "f01.txt", "f01.txt"])
        XCTAssertEqual(Set(hits.map(\.score)).count, 1, "all tied")
        XCTAssertEqual(hits, try fullSort("ties", "kiwi", 6))
    }

    /// Random stores of several indexes, with duplicated files (ties), files re-added (chunk ids
    /// out of source order) and many matches: search returns exactly what the full sort does.
    func testSearchEqualsTheFullSortOnRandomStores() throws {
        var random = SplitMix64(seed: 20_261_202)
        let vocabulary = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "the", "of", "and"]
        func sentence() -> String {
            (0..<Int.random(in: 1...6, using: &random)).map { _ in vocabulary.randomElement(using: &random)! }.joined(separator: " ")
        }
        for round in 0..<3 {
            let root = folder + "/round\(round)"
            let local = try SQLiteStore(path: root + "/sluice.db")
            for index in ["a", "b", "c"] {
                let files = Int.random(in: 1...(index == "a" ? 80 : 15), using: &random)
                var paths: [String] = []
                for n in 0..<files {
                    let path = root + "/\(index)/doc\(n).txt"
                    let text = n > 0 && Bool.random(using: &random)
                        ? try String(contentsOfFile: root + "/\(index)/doc\(n - 1).txt", encoding: .utf8)
                        : (0..<Int.random(in: 1...4, using: &random)).map { _ in sentence() + "." }.joined(separator: " ")
                    try write(text, to: path)
                    paths.append(path)
                }
                try local.addDocuments(index: index, paths: paths, chunkTokens: 6, overlapTokens: 0, counter: EstimatingTokenCounter())
                let again = paths.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }
                if !again.isEmpty {
                    try local.addDocuments(index: index, paths: again, chunkTokens: 6, overlapTokens: 0, counter: EstimatingTokenCounter())
                }
            }
            store = local
            for _ in 0..<60 {
                let index = ["a", "b", "c"].randomElement(using: &random)!
                let query = (0..<Int.random(in: 1...3, using: &random)).map { _ in vocabulary.randomElement(using: &random)! }.joined(separator: " ")
                let limit = Int.random(in: 1...12, using: &random)
                XCTAssertEqual(try store.search(index: index, query: query, limit: limit), try fullSort(index, query, limit),
                               "round \(round): index \(index), query \(query.debugDescription), top \(limit)")
            }
        }
    }

    // MARK: Query text is never FTS5 syntax

    /// Arbitrary strings built from FTS5's operators, quotes, column filters, stop words, marks and
    /// emoji never raise an FTS5 error: each search returns (or finds nothing) without throwing.
    func testArbitraryQueryTextNeverRaisesAnFTSError() throws {
        try add("n", ["n.md": "Ünïcödé café naïve AND NEAR text: with \"quotes\" and stars* OR NOT {column} the end"])
        let pieces = ["\"", "'", "*", "^", "(", ")", "{", "}", ":", "-", "+", ",", ".", "AND", "OR", "NOT", "NEAR", "NEAR(", "and", "near",
                      "text", "text:", "{text}:", "rowid", "rank", "chunks_fts", "the", "of", "café", "e\u{301}", "\u{301}", "日本語",
                      "🙂", "\u{200B}", "\0", "\n", "\t", " ", " ", "x", "1", "½", "ǅ", "\u{E000}", "\\", ";", "--", "/*", "%", "_"]
        var random = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            var query = (0..<Int.random(in: 0...12, using: &random)).map { _ in pieces.randomElement(using: &random)! }
                .joined(separator: Bool.random(using: &random) ? " " : "")
            // Now and then raw random scalars too, from anywhere in Unicode.
            if Int.random(in: 0..<4, using: &random) == 0 {
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    if let scalar = Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &random)) { query.unicodeScalars.append(scalar) }
                }
            }
            XCTAssertNoThrow(try store.search(index: "n", query: query, limit: 3), "query \(query.debugDescription)")
        }
    }
}

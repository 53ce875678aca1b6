// The retrieval benchmark: Sluice's search (what `retrieve Q from INDEX top 5` runs) against the
// bare FTS5 top-k query on the same index, in the same run.
//
//   RetrievalBench [--sizes 1000,10000,50000,500000] [--queries N] [--rounds R] [--before-queries B] [--work DIR]
//
// For each size it builds (or reuses, from DIR) a store whose index holds that many chunks of
// generated text: deterministic paragraphs of words drawn from a Zipf-like vocabulary (exponent 1
// over 50,000 words, English stop words at the top ranks), written to files and indexed with
// SQLiteStore.addDocuments and the exact o200k_base token counter, as `sluice index add` does.
// Then N questions (two to four mid-frequency words among stop words, so each matches thousands of
// chunks) are asked R times each, each side going first, second and third in turn:
//   rank     `SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT 5`
//            on a connection of its own, the statement prepared once, the match expression Sluice
//            would build (the question's words less its stop words, quoted, joined with OR)
//   bm25     the same, ordered by `bm25(chunks_fts)` itself: the form Sluice's query uses inside
//   sluice   SQLiteStore.search(index:query:limit: 5): the index check, building the match
//            expression, FTS5's top k joined to chunks and documents, the texts read
//   before   the way search ran before (every match joined, scored and sorted), on the first B
//            questions once each: it is linear in the matches, so slow at the larger sizes
// Each cell is the median over the questions of each question's median over the rounds. Fails if
// Sluice's scores differ from either bare query's ranks for any question.
import CSQLiteBench
import Dispatch
import Foundation
import SluiceRuntime
import SluiceServices

struct Options {
    var sizes = [1_000, 10_000, 50_000, 500_000]
    var queries = 200
    var rounds = 5
    var beforeQueries = 20
    var work = FileManager.default.currentDirectoryPath + "/.build-bench/indexes"

    init(_ arguments: [String]) {
        var rest = arguments[...]
        func value(_ flag: String) -> String {
            guard let next = rest.popFirst() else { fail("\(flag) needs a value") }
            return next
        }
        func number(_ flag: String, _ text: String) -> Int {
            guard let n = Int(text.replacingOccurrences(of: "_", with: "")), n >= 1 else { fail("\(flag) needs whole numbers of at least 1, not \(text)") }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--sizes": sizes = value(flag).split(separator: ",").map { number(flag, String($0)) }
            case "--queries": queries = number(flag, value(flag))
            case "--rounds": rounds = number(flag, value(flag))
            case "--before-queries": beforeQueries = number(flag, value(flag))
            case "--work": work = value(flag)
            default: fail("unknown argument \(flag): expected --sizes, --queries, --rounds, --before-queries or --work")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench: error: \(message)\n".utf8))
    exit(1)
}

func note(_ message: String) { FileHandle.standardError.write(Data("bench: \(message)\n".utf8)) }

// MARK: The generated corpus

struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Word ranks drawn with probability proportional to 1 / (rank + 1).
struct Zipf {
    private var cumulative: [Double] = []
    init(count: Int) {
        var total = 0.0
        cumulative.reserveCapacity(count)
        for rank in 0..<count { total += 1 / Double(rank + 1); cumulative.append(total) }
        cumulative = cumulative.map { $0 / total }
    }
    func rank(using random: inout SplitMix64) -> Int {
        let u = Double.random(in: 0..<1, using: &random)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < u { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// The most frequent ranks: English stop words, all of them on Sluice's list.
let stopWords = ["the", "of", "and", "to", "a", "in", "is", "it", "that", "for", "on", "with", "as", "was", "at", "by", "be",
                 "this", "are", "from", "or", "have", "an", "they", "which", "you", "we", "not", "but", "can", "all", "their",
                 "there", "when", "what", "how", "do", "if", "will", "more"]
let vocabularySize = 50_000
let consonants = Array("bcdfghjklmnprstvz"), vowels = Array("aeiou")

/// The word at `rank`: a stop word, or a made-up word of two or more syllables ending in "q"
/// (no English stop word has a q, so none is made by chance).
func word(_ rank: Int) -> String {
    if rank < stopWords.count { return stopWords[rank] }
    var n = rank - stopWords.count
    var letters: [Character] = []
    repeat {
        letters.append(consonants[n % consonants.count]); n /= consonants.count
        letters.append(vowels[n % vowels.count]); n /= vowels.count
    } while n > 0 || letters.count < 4
    return String(letters) + "q"
}

let words = (0..<vocabularySize).map(word)

/// A paragraph of 45 to 55 words in sentences of 6 to 14, short enough that each is one chunk.
func paragraph(_ zipf: Zipf, _ random: inout SplitMix64) -> String {
    var text = ""
    var left = Int.random(in: 45...55, using: &random)
    while left > 0 {
        let sentence = min(left, Int.random(in: 6...14, using: &random))
        for n in 0..<sentence { text += (n == 0 && !text.isEmpty ? " " : n == 0 ? "" : " ") + words[zipf.rank(using: &random)] }
        text += "."
        left -= sentence
    }
    return text
}

let indexName = "bench-v1"
let chunkTokens = 160
let paragraphsPerFile = 1_000

/// The store for `size` chunks, built unless a complete one is in `work` already.
func builtStore(size: Int, work: String, zipf: Zipf) throws -> (store: SQLiteStore, path: String, summary: IndexSummary, buildSeconds: Double?) {
    let path = work + "/retrieval-\(size).db"
    if let existing = try? SQLiteStore(path: path), let summary = try existing.listIndexes().first(where: { $0.name == indexName }),
       summary.chunks > 0 {
        return (existing, path, summary, nil)
    }
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    let store = try SQLiteStore(path: path)
    let corpus = work + "/corpus-\(size)"
    try? FileManager.default.removeItem(atPath: corpus)
    try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
    var random = SplitMix64(seed: UInt64(size))
    let start = DispatchTime.now().uptimeNanoseconds
    var written = 0
    var file = 0
    while written < size {
        // A batch of files, indexed in one call as `sluice index add` would.
        var batch: [String] = []
        while written < size, batch.count < 20 {
            let count = min(paragraphsPerFile, size - written)
            let text = (0..<count).map { _ in paragraph(zipf, &random) }.joined(separator: "\n\n")
            let filePath = corpus + "/doc\(String(format: "%05d", file)).txt"
            try text.write(toFile: filePath, atomically: false, encoding: .utf8)
            batch.append(filePath)
            written += count
            file += 1
        }
        try store.addDocuments(index: indexName, paths: batch, chunkTokens: chunkTokens, overlapTokens: 0, counter: ModelTokenCounter())
        for path in batch { try FileManager.default.removeItem(atPath: path) }
        note("  \(written) of \(size) paragraphs indexed")
    }
    try? FileManager.default.removeItem(atPath: corpus)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    guard let summary = try store.listIndexes().first(where: { $0.name == indexName }) else { fail("the index \(indexName) was not built") }
    return (store, path, summary, seconds)
}

// MARK: The questions

struct Question {
    var text: String
    /// The match expression Sluice builds for `text`: its words less the stop words, quoted.
    var match: String
}

func questions(_ count: Int) -> [Question] {
    var random = SplitMix64(seed: 42)
    return (0..<count).map { _ in
        var content: [String] = []
        while content.count < Int.random(in: 2...4, using: &random) {
            let candidate = words[Int.random(in: stopWords.count..<(stopWords.count + 600), using: &random)]
            if !content.contains(candidate) { content.append(candidate) }
        }
        let text = content.map { "\(stopWords.randomElement(using: &random)!) \($0)" }.joined(separator: " ") + "?"
        return Question(text: text, match: content.map { "\"\($0)\"" }.joined(separator: " OR "))
    }
}

// MARK: SQLite directly, for the baseline

final class Statement {
    let handle: OpaquePointer
    init(_ db: OpaquePointer, _ sql: String) {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            fail("cannot prepare \(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        handle = statement
    }
    deinit { sqlite3_finalize(handle) }

    func bind(_ values: [Any]) {
        sqlite3_reset(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case let text as String: sqlite3_bind_text(handle, index, text, -1, bench_sqlite_transient())
            case let number as Int: sqlite3_bind_int64(handle, index, sqlite3_int64(number))
            default: fail("cannot bind \(value)")
            }
        }
    }

    /// Steps through every row; `row` reads the current one.
    func rows(_ row: (OpaquePointer) -> Void) {
        while true {
            let status = sqlite3_step(handle)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { fail("query failed: \(String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))))") }
            row(handle)
        }
        sqlite3_reset(handle)
    }
}

func openDirect(_ path: String) -> OpaquePointer {
    var db: OpaquePointer?
    guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else { fail("cannot open \(path)") }
    return db
}

// MARK: Measuring

func microseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// One decimal below 100, whole numbers with thousands separators above.
func format(_ value: Double) -> String {
    guard value >= 100 else { return String(format: "%.1f", value) }
    var digits = String(Int(value.rounded()))
    var cut = digits.count - 3
    while cut > 0 { digits.insert(",", at: digits.index(digits.startIndex, offsetBy: cut)); cut -= 3 }
    return digits
}

struct Row {
    var chunks: Int
    var files: Int
    var matches: Double
    var bareRank: Double
    var bareBM25: Double
    var sluice: Double
    var before: Double
    var buildSeconds: Double?
}

let limit = 5

/// Builds (or reuses) the index of `size` chunks and times both sides on it.
func measure(size: Int, _ options: Options, _ zipf: Zipf, _ asked: [Question]) throws -> Row {
    note("index of \(size) chunks: building or reusing \(options.work)/retrieval-\(size).db")
    let (store, path, summary, buildSeconds) = try builtStore(size: size, work: options.work, zipf: zipf)
    let db = openDirect(path)
    defer { sqlite3_close_v2(db) }
    // The two forms of the bare top-k query: FTS5's rank column (the issue's baseline), and
    // ordering by bm25() itself, the form Sluice's query uses inside.
    let bareRank = Statement(db, "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?")
    let bareBM25 = Statement(db, "SELECT rowid, bm25(chunks_fts) AS r FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY r LIMIT ?")
    let counting = Statement(db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?")
    let before = Statement(db, """
        SELECT c.text, d.source, bm25(chunks_fts) AS rank
        FROM chunks_fts
        JOIN chunks c ON c.id = chunks_fts.rowid
        JOIN documents d ON d.id = c.document_id
        WHERE chunks_fts MATCH ? AND d.index_name = ?
        ORDER BY rank, d.source, c.ordinal
        LIMIT ?
        """)
    func bare(_ statement: Statement, _ question: Question) -> [Double] {
        var ranks: [Double] = []
        statement.bind([question.match, limit])
        statement.rows { _ = sqlite3_column_int64($0, 0); ranks.append(sqlite3_column_double($0, 1)) }
        return ranks
    }

    var matches: [Double] = []
    for question in asked {
        counting.bind([question.match])
        counting.rows { matches.append(Double(sqlite3_column_int64($0, 0))) }
        // Warm up every side and check they agree: the same ranks, best first.
        let scores = try store.search(index: indexName, query: question.text, limit: limit).map(\.score)
        for statement in [bareRank, bareBM25] {
            let ranks = bare(statement, question)
            guard scores == ranks.map({ -$0 }) else {
                fail("for \(question.text.debugDescription) Sluice scored \(scores) but the bare query ranked \(ranks.map { -$0 })")
            }
        }
    }

    var rankTimes = Array(repeating: [Double](), count: asked.count)
    var bm25Times = rankTimes
    var sluiceTimes = rankTimes
    for round in 0..<options.rounds {
        for (n, question) in asked.enumerated() {
            let sides: [() throws -> Void] = [
                { rankTimes[n].append(microseconds { _ = bare(bareRank, question) }) },
                { bm25Times[n].append(microseconds { _ = bare(bareBM25, question) }) },
                { sluiceTimes[n].append(try microseconds { _ = try store.search(index: indexName, query: question.text, limit: limit) }) },
            ]
            // Each side goes first, second and third in turn.
            for side in 0..<sides.count { try sides[(side + n + round) % sides.count]() }
        }
    }
    var beforeTimes: [Double] = []
    for question in asked.prefix(options.beforeQueries) {
        beforeTimes.append(microseconds {
            before.bind([question.match, indexName, limit])
            before.rows { _ = (sqlite3_column_text($0, 0), sqlite3_column_text($0, 1), sqlite3_column_double($0, 2)) }
        })
    }
    let row = Row(chunks: summary.chunks, files: summary.files, matches: median(matches), bareRank: median(rankTimes.map(median)),
                  bareBM25: median(bm25Times.map(median)), sluice: median(sluiceTimes.map(median)), before: median(beforeTimes),
                  buildSeconds: buildSeconds)
    note(String(format: "  %d chunks: bare (rank) %.1f µs, bare (bm25) %.1f µs, sluice %.1f µs (%.2f×, %.2f×), before %.1f µs", row.chunks,
                row.bareRank, row.bareBM25, row.sluice, row.sluice / row.bareRank, row.sluice / row.bareBM25, row.before))
    return row
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
try FileManager.default.createDirectory(atPath: options.work, withIntermediateDirectories: true)
let zipf = Zipf(count: vocabularySize)
let asked = questions(options.queries)
let rows = try options.sizes.map { try measure(size: $0, options, zipf, asked) }

print("""
    retrieval top \(limit): \(options.queries) questions, \(options.rounds) rounds each (the way before: the first \(min(options.beforeQueries, options.queries)) questions once)

    | chunks | files | matches per question | bare FTS5, ORDER BY rank µs | bare FTS5, ORDER BY bm25() µs | Sluice search µs | Sluice / rank | Sluice / bm25() | before (full sort) µs | before / rank | built in |
    |---|---|---|---|---|---|---|---|---|---|---|
    """)
for row in rows {
    let built = row.buildSeconds.map { String(format: "%.0f s", $0) } ?? "(reused)"
    print("| \(format(Double(row.chunks))) | \(row.files) | \(format(row.matches)) | \(format(row.bareRank)) | \(format(row.bareBM25)) | "
          + "\(format(row.sluice)) | " + String(format: "%.2f× | %.2f×", row.sluice / row.bareRank, row.sluice / row.bareBM25)
          + " | \(format(row.before)) | " + String(format: "%.1f×", row.before / row.bareRank) + " | \(built) |")
}

import Foundation
import SluiceRuntime
import SluiceTokenizers

/// One line of `sluice index list`.
public struct IndexSummary: Sendable, Hashable {
    public var name: String
    public var files: Int
    public var chunks: Int
    /// The file or folder a script's `source` built it from; nil for an index built with `sluice index add`.
    public var source: String?
    public var chunkTokens: Int?
    public var overlapTokens: Int?
}

/// What `addDocuments` and `synchronize` changed.
public struct IndexChanges: Sendable, Hashable {
    public var added = 0
    public var changed = 0
    public var removed = 0
    public var unchanged = 0
    public var chunks = 0
    /// Files indexed (added or changed) by this call.
    public var files: Int { added + changed }
}

/// How an index was built, as the store records it.
struct IndexRecord {
    enum Origin: String { case source, files }
    /// nil for an index made before the store recorded it (schema version 2 and older).
    var origin: Origin?
    var source: String?
    var chunkTokens: Int?
    var overlapTokens: Int?
}

extension SQLiteStore {
    /// Called before every search. An index with a `source` is kept in step with it: files added,
    /// changed (by content hash) or removed since the last build are indexed or dropped, and a
    /// change of `chunk` or `overlap` rebuilds it; this is checked once per process. An index built
    /// with `sluice index add` is used as it is. An index whose recorded source is another folder
    /// than `spec.source` is an error naming both: two scripts never share one index silently.
    public func prepare(_ spec: IndexSpec) throws {
        if synchronizedIndexes.current.contains(spec) { return }
        let record = try database.withConnection { db in try Self.record(spec.name, in: db) }
        guard let source = spec.source else {
            guard record != nil, try hasChunks(spec.name) else {
                throw StoreError("index '\(spec.name)' is empty and has no source: build it with `sluice index add \(spec.name) PATH...` or give it a source")
            }
            synchronizedIndexes.withLock { _ = $0.insert(spec) }
            return
        }
        if let record, record.origin == .source, record.source != source {
            throw StoreError("index '\(spec.name)' in \(database.path) was built from \(record.source ?? "?"), "
                             + "but this script's index reads \(source): give one of them its own `store \"NAME\"` (or use another --db), "
                             + "or remove the old one with `sluice index remove \(spec.name)`")
        }
        // An index built by hand with `sluice index add` is the user's to manage; one made before
        // the store recorded its origin is adopted and brought in step with the source.
        let builtByHand = try record?.origin == .files && hasChunks(spec.name)
        if !builtByHand {
            try synchronize(index: spec.name, source: source, chunkTokens: spec.chunkTokens, overlapTokens: spec.overlapTokens,
                            counter: tokenCounter)
        }
        synchronizedIndexes.withLock { _ = $0.insert(spec) }
    }

    private func hasChunks(_ index: String) throws -> Bool {
        try database.withConnection { db in
            try !db.query("""
                SELECT 1 FROM documents d
                WHERE d.index_name = ? AND EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id) LIMIT 1
                """, [.text(index)]) { _ in true }.isEmpty
        }
    }

    /// Brings `index` in step with the files under `source`: new and changed files (by SHA-256 of
    /// their bytes) are chunked and indexed, files gone from the source are dropped, and when the
    /// chunk settings differ from the ones the index was built with, every file is chunked again.
    /// Records `source` as the index's source. All in one transaction.
    @discardableResult
    public func synchronize(index: String, source: String, chunkTokens: Int, overlapTokens: Int, counter: any TokenCounter,
                            encoding: String = "o200k_base") throws -> IndexChanges {
        let chunker = try makeChunker(index, chunkTokens, overlapTokens, counter, encoding)
        let files = try DocumentFiles.expand([source])
        let stored = try database.withConnection { db in try Self.storedHashes(index, in: db) }
        let record = try database.withConnection { db in try Self.record(index, in: db) }
        let rechunk = record?.chunkTokens != chunkTokens || record?.overlapTokens != overlapTokens
        var changes = IndexChanges()
        var toIndex: [(source: String, hash: String, chunks: [String])] = []
        for file in files {
            let bytes = try DocumentFiles.bytes(ofFile: file)
            let hash = SHA256.hex(SHA256.digest(bytes))
            if !rechunk, stored[file] == .some(hash) { changes.unchanged += 1; continue }
            if stored[file] != nil { changes.changed += 1 } else { changes.added += 1 }
            toIndex.append((file, hash, chunker.chunks(of: DocumentFiles.text(of: bytes, path: file))))
        }
        let gone = Set(stored.keys).subtracting(files)
        changes.removed = gone.count
        let unchangedRecord = record?.origin == .source && record?.source == source && !rechunk
        if toIndex.isEmpty, gone.isEmpty, unchangedRecord { return changes }
        try database.transaction { db in
            try Self.saveRecord(index, IndexRecord(origin: .source, source: source, chunkTokens: chunkTokens, overlapTokens: overlapTokens),
                                in: db)
            for file in gone.sorted() { try Self.removeDocument(index, file, in: db) }
            changes.chunks = try Self.write(index, toIndex, in: db)
        }
        return changes
    }

    /// Chunks and indexes the files at `paths` (folders recursively) into `index`, creating it if
    /// needed (an index built by hand: `prepare` uses it as it is). A file indexed before is
    /// replaced. The chunk settings must be the index's own, if it has some: changing them is a
    /// `rebuild`. All of it is written in one transaction.
    @discardableResult
    public func addDocuments(index: String, paths: [String], chunkTokens: Int, overlapTokens: Int,
                             counter: any TokenCounter, encoding: String = "o200k_base") throws -> (files: Int, chunks: Int) {
        let record = try database.withConnection { db in try Self.record(index, in: db) }
        if let record, let chunk = record.chunkTokens, let overlap = record.overlapTokens, (chunk, overlap) != (chunkTokens, overlapTokens) {
            throw StoreError("index '\(index)' is chunked at \(chunk) tokens with \(overlap) overlap, not \(chunkTokens) and \(overlapTokens): "
                             + "add with those settings, or rechunk it first with `sluice index rebuild \(index) --chunk \(chunkTokens) --overlap \(overlapTokens)`")
        }
        if let record, record.origin == .source {
            throw StoreError("index '\(index)' is built from a script's source (\(record.source ?? "?")) and follows it: "
                             + "add the files there, or give these another index name")
        }
        let chunker = try makeChunker(index, chunkTokens, overlapTokens, counter, encoding)
        let documents = try DocumentFiles.expand(paths).map { file in
            let bytes = try DocumentFiles.bytes(ofFile: file)
            return (source: file, hash: SHA256.hex(SHA256.digest(bytes)), chunks: chunker.chunks(of: DocumentFiles.text(of: bytes, path: file)))
        }
        return try database.transaction { db in
            try Self.saveRecord(index, IndexRecord(origin: .files, source: nil, chunkTokens: chunkTokens, overlapTokens: overlapTokens), in: db)
            return (documents.count, try Self.write(index, documents, in: db))
        }
    }

    /// Chunks every file of an index again: a source-built index from its source as it is now
    /// (picking up added and removed files), one built by hand from the files it holds. New chunk
    /// settings, when given, replace the recorded ones.
    @discardableResult
    public func rebuildIndex(name: String, chunkTokens: Int? = nil, overlapTokens: Int? = nil, counter: any TokenCounter,
                             encoding: String = "o200k_base") throws -> IndexChanges {
        guard let record = try database.withConnection({ db in try Self.record(name, in: db) }) else {
            throw StoreError("there is no index named '\(name)' in \(database.path)")
        }
        let chunk = chunkTokens ?? record.chunkTokens ?? IndexSpec(name: name, source: nil).chunkTokens
        let overlap = overlapTokens ?? record.overlapTokens ?? min(IndexSpec(name: name, source: nil).overlapTokens, chunk - 1)
        if record.origin == .source, let source = record.source {
            // Forget the recorded settings so every file is chunked again.
            try database.withConnection { db in
                try db.run("UPDATE retrieval_indexes SET chunk_tokens = NULL, overlap_tokens = NULL WHERE name = ?", [.text(name)])
            }
            synchronizedIndexes.withLock { $0 = $0.filter { $0.name != name } }
            return try synchronize(index: name, source: source, chunkTokens: chunk, overlapTokens: overlap, counter: counter, encoding: encoding)
        }
        let files = try database.withConnection { db in try Self.storedHashes(name, in: db).keys.sorted() }
        let missing = files.filter { !FileManager.default.fileExists(atPath: $0) }
        let chunker = try makeChunker(name, chunk, overlap, counter, encoding)
        let documents = try files.filter { !missing.contains($0) }.map { file in
            let bytes = try DocumentFiles.bytes(ofFile: file)
            return (source: file, hash: SHA256.hex(SHA256.digest(bytes)), chunks: chunker.chunks(of: DocumentFiles.text(of: bytes, path: file)))
        }
        var changes = IndexChanges(changed: documents.count, removed: missing.count)
        try database.transaction { db in
            try Self.saveRecord(name, IndexRecord(origin: .files, source: nil, chunkTokens: chunk, overlapTokens: overlap), in: db)
            for file in missing { try Self.removeDocument(name, file, in: db) }
            changes.chunks = try Self.write(name, documents, in: db)
        }
        return changes
    }

    /// The `limit` best chunks of `index` for `query` by BM25, best first; ties are broken by
    /// source path, then position in the file.
    public func search(index: String, query: String, limit: Int) throws -> [RetrievedChunk] {
        // On a reader of its own: a run's retrieval does not wait for other runs' trace batches.
        try database.withReader { db in
            guard try Self.indexExists(index, in: db) else {
                throw StoreError("there is no index named '\(index)' in \(database.path): build it with `sluice index add \(index) PATH...`")
            }
            guard limit > 0, let match = FTSQuery.matchExpression(for: query) else { return [] }
            return try Self.bestChunks(index, match, limit, in: db)
        }
    }

    /// The full-text query ranks the matches and keeps the best `window` itself, and only those
    /// are joined to their chunks and documents. It orders by `bm25(chunks_fts)` rather than FTS5's
    /// `rank` column (the same value): then SQLite keeps just the best `window` rows as it goes,
    /// where `ORDER BY rank` has FTS5 sort every match first (Benchmarks/retrieval measures both).
    ///
    /// The FTS table holds every index's chunks, so the window can hold other indexes' too. The
    /// answer is complete once the window holds `limit` chunks of this index and the last of them
    /// ranks strictly better than the window's worst (so every chunk tied with it is inside), or
    /// once it holds every match. When it holds `limit` but the last of them ties with the window's
    /// worst, one more query takes every match ranking as well (`tiedThrough`). When other indexes'
    /// chunks left fewer than `limit` of this one's, the full-text query keeps only this index's
    /// matches from then on (a lookup per match, what the whole join cost before) and the window
    /// grows four times a round, so a small index beside a large one takes two queries, not a round
    /// per factor of four.
    private static func bestChunks(_ index: String, _ match: String, _ limit: Int, in db: SQLiteConnection) throws -> [RetrievedChunk] {
        var window = limit < Int.max / 8 ? limit * 2 + 8 : Int.max
        var onlyThisIndex = false
        while true {
            var matches = 0
            var worstRank = -Double.infinity
            var hits: [Hit] = []
            let filter = onlyThisIndex ? """
                 AND EXISTS (SELECT 1 FROM chunks c CROSS JOIN documents d ON d.id = c.document_id
                             WHERE c.id = chunks_fts.rowid AND d.index_name = ?1)
                """ : ""
            try db.forEachRow("""
                SELECT hit.bm25_rank, d.index_name = ?1, c.text, d.source, c.ordinal
                FROM (SELECT rowid, bm25(chunks_fts) AS bm25_rank FROM chunks_fts
                      WHERE chunks_fts MATCH ?2\(filter) ORDER BY bm25_rank LIMIT ?3) AS hit
                CROSS JOIN chunks c ON c.id = hit.rowid
                CROSS JOIN documents d ON d.id = c.document_id
                """, [.text(index), .text(match), .int(window)]) { row in
                let rank = row.double(0)
                matches += 1
                worstRank = max(worstRank, rank)
                guard row.int(1) == 1 else { return }
                hits.append((rank, row.int(4), RetrievedChunk(text: row.text(2), source: row.text(3), score: -rank)))
            }
            hits.sort(by: Self.inSearchOrder)
            let complete = matches < window || (hits.count >= limit && hits[limit - 1].rank < worstRank)
            if complete { return hits.prefix(limit).map(\.chunk) }
            if hits.count >= limit {
                // The window ends inside a run of chunks tied with the k-th: which of them come first
                // is decided by source and position, so every chunk that ranks as well is needed, and
                // one query over the matches takes just those (growing the window would rank them all
                // again a round at a time; many chunks of one template tie).
                return try tiedThrough(hits[limit - 1].rank, index, match, limit, in: db)
            }
            onlyThisIndex = true
            window = window < Int.max / 4 ? window * 4 : Int.max
        }
    }

    /// A matching chunk with what orders it: BM25 rank (lower is better), then source, then position.
    private typealias Hit = (rank: Double, ordinal: Int, chunk: RetrievedChunk)

    private static func inSearchOrder(_ a: Hit, _ b: Hit) -> Bool {
        (a.rank, a.chunk.source, a.ordinal) < (b.rank, b.chunk.source, b.ordinal)
    }

    /// The best `limit` chunks of `index` among those ranking `rank` or better, in search order.
    private static func tiedThrough(_ rank: Double, _ index: String, _ match: String, _ limit: Int,
                                    in db: SQLiteConnection) throws -> [RetrievedChunk] {
        var hits: [Hit] = []
        try db.forEachRow("""
            SELECT hit.bm25_rank, c.text, d.source, c.ordinal
            FROM (SELECT rowid, bm25(chunks_fts) AS bm25_rank FROM chunks_fts WHERE chunks_fts MATCH ?2) AS hit
            CROSS JOIN chunks c ON c.id = hit.rowid
            CROSS JOIN documents d ON d.id = c.document_id
            WHERE hit.bm25_rank <= ?3 AND d.index_name = ?1
            """, [.text(index), .text(match), .real(rank)]) { row in
            hits.append((row.double(0), row.int(3), RetrievedChunk(text: row.text(1), source: row.text(2), score: -row.double(0))))
        }
        hits.sort(by: Self.inSearchOrder)
        return hits.prefix(limit).map(\.chunk)
    }

    public func listIndexes() throws -> [IndexSummary] {
        try database.withConnection { db in
            try db.query("""
                SELECT i.name,
                       (SELECT COUNT(*) FROM documents d WHERE d.index_name = i.name),
                       (SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.index_name = i.name),
                       i.source, i.chunk_tokens, i.overlap_tokens
                FROM retrieval_indexes i ORDER BY i.name
                """) { row in
                IndexSummary(name: row.text(0), files: row.int(1), chunks: row.int(2), source: row.optionalText(3),
                             chunkTokens: row.optionalInt(4), overlapTokens: row.optionalInt(5))
            }
        }
    }

    /// Deletes an index with all its documents and chunks.
    public func removeIndex(name: String) throws {
        try database.transaction { db in
            guard try Self.indexExists(name, in: db) else { throw StoreError("there is no index named '\(name)' in \(database.path)") }
            try db.run("DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE index_name = ?)", [.text(name)])
            try db.run("DELETE FROM documents WHERE index_name = ?", [.text(name)])
            try db.run("DELETE FROM retrieval_indexes WHERE name = ?", [.text(name)])
        }
        synchronizedIndexes.withLock { $0 = $0.filter { $0.name != name } }
    }

    // MARK: Storage

    private func makeChunker(_ index: String, _ chunkTokens: Int, _ overlapTokens: Int, _ counter: any TokenCounter,
                             _ encoding: String) throws -> Chunker {
        do {
            return try Chunker(maxTokens: chunkTokens, overlapTokens: overlapTokens, counter: counter, encoding: encoding)
        } catch {
            throw StoreError("cannot build index '\(index)': \(error)")
        }
    }

    private static func indexExists(_ name: String, in db: SQLiteConnection) throws -> Bool {
        var exists = false
        try db.forEachRow("SELECT 1 FROM retrieval_indexes WHERE name = ?", [.text(name)]) { _ in exists = true }
        return exists
    }

    static func record(_ name: String, in db: SQLiteConnection) throws -> IndexRecord? {
        try db.query("SELECT built_from, source, chunk_tokens, overlap_tokens FROM retrieval_indexes WHERE name = ?", [.text(name)]) { row in
            IndexRecord(origin: row.optionalText(0).flatMap(IndexRecord.Origin.init(rawValue:)), source: row.optionalText(1),
                        chunkTokens: row.optionalInt(2), overlapTokens: row.optionalInt(3))
        }.first
    }

    private static func saveRecord(_ name: String, _ record: IndexRecord, in db: SQLiteConnection) throws {
        try db.run("INSERT OR IGNORE INTO retrieval_indexes (name) VALUES (?)", [.text(name)])
        try db.run("UPDATE retrieval_indexes SET built_from = ?, source = ?, chunk_tokens = ?, overlap_tokens = ? WHERE name = ?",
                   [.optionalText(record.origin?.rawValue), .optionalText(record.source), record.chunkTokens.map(SQLiteValue.int) ?? .null,
                    record.overlapTokens.map(SQLiteValue.int) ?? .null, .text(name)])
    }

    /// Each indexed file's content hash ("" for one indexed before hashes were kept), by absolute path.
    private static func storedHashes(_ index: String, in db: SQLiteConnection) throws -> [String: String] {
        var hashes: [String: String] = [:]
        for (source, hash) in try db.query("SELECT source, content_hash FROM documents WHERE index_name = ?", [.text(index)], row: {
            ($0.text(0), $0.optionalText(1) ?? "")
        }) { hashes[source] = hash }
        return hashes
    }

    private static func removeDocument(_ index: String, _ source: String, in db: SQLiteConnection) throws {
        try db.run("DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE index_name = ? AND source = ?)",
                   [.text(index), .text(source)])
        try db.run("DELETE FROM documents WHERE index_name = ? AND source = ?", [.text(index), .text(source)])
    }

    /// Replaces each document's chunks; returns how many chunks were written.
    private static func write(_ index: String, _ documents: [(source: String, hash: String, chunks: [String])],
                              in db: SQLiteConnection) throws -> Int {
        let addDocument = try db.prepare("INSERT INTO documents (index_name, source, content_hash) VALUES (?, ?, ?)")
        let addChunk = try db.prepare("INSERT INTO chunks (document_id, ordinal, text) VALUES (?, ?, ?)")
        var total = 0
        for document in documents {
            try removeDocument(index, document.source, in: db)
            try addDocument.bind([.text(index), .text(document.source), .text(document.hash)])
            while try addDocument.step() {}
            let documentId = db.lastInsertRowID
            for (ordinal, text) in document.chunks.enumerated() {
                try addChunk.bind([.integer(documentId), .int(ordinal), .text(text)])
                while try addChunk.step() {}
            }
            total += document.chunks.count
        }
        return total
    }
}

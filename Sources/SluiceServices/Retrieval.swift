import Foundation
import SluiceRuntime

/// One line of `sluice index list`.
public struct IndexSummary: Sendable, Hashable {
    public var name: String
    public var files: Int
    public var chunks: Int
}

extension SQLiteStore {
    /// Called before every search: a cheap read unless the index is empty, when it builds it from `spec.source`.
    public func prepare(_ spec: IndexSpec) throws {
        let hasChunks = try database.withConnection { db in
            try !db.query("""
                SELECT 1 FROM documents d
                WHERE d.index_name = ? AND EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id) LIMIT 1
                """, [.text(spec.name)]) { _ in true }.isEmpty
        }
        guard !hasChunks else { return }
        guard let source = spec.source else {
            throw StoreError("index '\(spec.name)' is empty and has no source: build it with `sluice index add \(spec.name) PATH...` or give it a source")
        }
        try addDocuments(index: spec.name, paths: [source], chunkTokens: spec.chunkTokens, overlapTokens: spec.overlapTokens,
                         counter: tokenCounter)
    }

    public func search(index: String, query: String, limit: Int) throws -> [RetrievedChunk] {
        try database.withConnection { db in
            guard try Self.indexExists(index, in: db) else {
                throw StoreError("there is no index named '\(index)' in \(database.path): build it with `sluice index add \(index) PATH...`")
            }
            guard limit > 0, let match = FTSQuery.matchExpression(for: query) else { return [] }
            return try db.query("""
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

    /// Chunks and indexes the files at `paths` (folders recursively) into `index`, creating it if needed.
    /// A file indexed before is replaced. All of it is written in one transaction.
    @discardableResult
    public func addDocuments(index: String, paths: [String], chunkTokens: Int, overlapTokens: Int,
                             counter: any TokenCounter, encoding: String = "o200k_base") throws -> (files: Int, chunks: Int) {
        let chunker: Chunker
        do {
            chunker = try Chunker(maxTokens: chunkTokens, overlapTokens: overlapTokens, counter: counter, encoding: encoding)
        } catch {
            throw StoreError("cannot build index '\(index)': \(error)")
        }
        let files = try DocumentFiles.expand(paths)
        let documents = try files.map { file in (source: file, chunks: chunker.chunks(of: try DocumentFiles.text(ofFile: file))) }
        return try database.transaction { db in
            try db.run("INSERT OR IGNORE INTO retrieval_indexes (name) VALUES (?)", [.text(index)])
            let removeChunks = try db.prepare("""
                DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE index_name = ? AND source = ?)
                """)
            let removeDocument = try db.prepare("DELETE FROM documents WHERE index_name = ? AND source = ?")
            let addDocument = try db.prepare("INSERT INTO documents (index_name, source) VALUES (?, ?)")
            let addChunk = try db.prepare("INSERT INTO chunks (document_id, ordinal, text) VALUES (?, ?, ?)")
            var total = 0
            for document in documents {
                for statement in [removeChunks, removeDocument, addDocument] {
                    try statement.bind([.text(index), .text(document.source)])
                    while try statement.step() {}
                }
                let documentId = db.lastInsertRowID
                for (ordinal, text) in document.chunks.enumerated() {
                    try addChunk.bind([.integer(documentId), .int(ordinal), .text(text)])
                    while try addChunk.step() {}
                }
                total += document.chunks.count
            }
            return (documents.count, total)
        }
    }

    public func listIndexes() throws -> [IndexSummary] {
        try database.withConnection { db in
            try db.query("""
                SELECT i.name,
                       (SELECT COUNT(*) FROM documents d WHERE d.index_name = i.name),
                       (SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.index_name = i.name)
                FROM retrieval_indexes i ORDER BY i.name
                """) { row in IndexSummary(name: row.text(0), files: row.int(1), chunks: row.int(2)) }
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
    }

    private static func indexExists(_ name: String, in db: SQLiteConnection) throws -> Bool {
        try !db.query("SELECT 1 FROM retrieval_indexes WHERE name = ?", [.text(name)]) { _ in true }.isEmpty
    }
}

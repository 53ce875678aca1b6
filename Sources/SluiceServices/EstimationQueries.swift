import SluiceRuntime

extension SQLiteStore: EstimationHistory {
    public func averageOutputTokens(prompt: String, model: String) throws -> Double? {
        try database.withConnection { db in
            try db.query("""
                SELECT AVG(c.output_tokens), COUNT(*) FROM model_calls c JOIN spans s ON s.id = c.span_id
                WHERE s.name = ? AND c.model = ? AND c.error IS NULL AND c.output_tokens > 0
                """, [.text(prompt), .text(model)]) { row -> Double? in row.int(1) > 0 ? row.double(0) : nil }
        }.first ?? nil
    }

    /// Chunk sizes are estimated from their length in characters (four per token), which is
    /// enough to size the retrieved context of a dry run when the query is not known.
    public func statistics(index: String) throws -> IndexStatistics? {
        try database.withConnection { db in
            try db.query("""
                SELECT COUNT(c.id), AVG(LENGTH(c.text)), MAX(LENGTH(c.text)) FROM retrieval_indexes i
                LEFT JOIN documents d ON d.index_name = i.name LEFT JOIN chunks c ON c.document_id = d.id
                WHERE i.name = ? GROUP BY i.name
                """, [.text(index)]) { row in
                IndexStatistics(chunks: row.int(0), averageTokens: row.double(1) / 4, maxTokens: (row.int(2) + 3) / 4)
            }
        }.first
    }
}

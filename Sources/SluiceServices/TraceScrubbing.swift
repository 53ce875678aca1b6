import Foundation
import SluiceRuntime

extension SQLiteStore {
    /// Replaces secrets in everything a run has stored so far: plain text columns with SQL's
    /// `replace`, JSON columns by decoding them, so a secret written with JSON escapes is found too.
    /// Written as one record of a trace batch (`TraceRecord.scrub`), after the records it cleans.
    static func scrub(runId: String, replacements: [TraceReplacement], in db: SQLiteConnection) throws {
        guard !replacements.isEmpty else { return }
        func scrubbed(_ text: String) -> String {
            replacements.reduce(text) { $0.replacingOccurrences(of: $1.secret, with: $1.replacement) }
        }
        func scrubbedJSON(_ text: String) -> String {
            guard let json = try? JSONValue.parse(text) else { return scrubbed(text) }
            return json.mappingStrings(scrubbed).serialized()
        }
        for (table, key, column) in [("runs", "id", "inputs"), ("runs", "id", "output"), ("spans", "run_id", "detail"),
                                     ("model_calls", "run_id", "messages")] {
            let rows = try db.query("SELECT rowid, \(column) FROM \(table) WHERE \(key) = ? AND \(column) IS NOT NULL",
                                    [.text(runId)]) { ($0.int(0), $0.text(1)) }
            for (rowid, text) in rows {
                let clean = scrubbedJSON(text)
                if clean != text { try db.run("UPDATE \(table) SET \(column) = ? WHERE rowid = ?", [.text(clean), .int(rowid)]) }
            }
        }
        for (table, key, column) in [("runs", "id", "error"), ("model_calls", "run_id", "reply"), ("model_calls", "run_id", "error")] {
            for replacement in replacements {
                try db.run("UPDATE \(table) SET \(column) = replace(\(column), ?, ?) WHERE \(key) = ? AND \(column) IS NOT NULL",
                           [.text(replacement.secret), .text(replacement.replacement), .text(runId)])
            }
        }
    }
}

import SluiceRuntime

/// What providers remember across processes, kept in the store.

/// The lines of a replies file a conversation has already been answered with, so that each run
/// of a session (`sluice run --session ID --replies FILE`, one process each) takes the next
/// unused lines instead of starting again from the top. A file is known by the SHA-256 of its
/// content: editing it starts afresh.
public protocol ReplyLedger: Sendable {
    func usedLines(replies: String) throws -> Set<Int>
    func markUsed(replies: String, line: Int) throws
}

/// Request features an endpoint refused (`response_format`, `tools`, ...), so that a later
/// process asks without them at once instead of paying the refused call again.
public protocol FeatureMemory: Sendable {
    func refusedFeatures(endpoint: String) throws -> Set<String>
    func noteRefused(feature: String, endpoint: String, at time: Double) throws
}

/// A session's ledger in the store.
public struct SessionReplyLedger: ReplyLedger {
    let store: SQLiteStore
    public let session: String

    public func usedLines(replies: String) throws -> Set<Int> {
        try store.database.withConnection { db in
            Set(try db.query("SELECT line FROM session_replies WHERE session_id = ? AND replies = ?", [.text(session), .text(replies)]) {
                $0.int(0)
            })
        }
    }

    public func markUsed(replies: String, line: Int) throws {
        try store.database.withConnection { db in
            try db.run("INSERT OR IGNORE INTO session_replies (session_id, replies, line) VALUES (?, ?, ?)",
                       [.text(session), .text(replies), .int(line)])
        }
    }
}

extension SQLiteStore: FeatureMemory {
    /// The ledger of replies-file lines used by the runs of `session`.
    public func replyLedger(session: String) -> SessionReplyLedger { SessionReplyLedger(store: self, session: session) }

    public func refusedFeatures(endpoint: String) throws -> Set<String> {
        try database.withConnection { db in
            Set(try db.query("SELECT feature FROM endpoint_features WHERE endpoint = ?", [.text(endpoint)]) { $0.text(0) })
        }
    }

    public func noteRefused(feature: String, endpoint: String, at time: Double) throws {
        try database.withConnection { db in
            try db.run("INSERT OR REPLACE INTO endpoint_features (endpoint, feature, noted_at) VALUES (?, ?, ?)",
                       [.text(endpoint), .text(feature), .real(time)])
        }
    }
}

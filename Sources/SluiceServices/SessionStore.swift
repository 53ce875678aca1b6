import SluiceRuntime

/// A conversation's summary and turns, for `sluice sessions`.
public struct SessionSummary: Sendable, Hashable {
    public var id: String
    public var createdAt: Double
    public var updatedAt: Double
    public var turns: Int
    public var summarizedThrough: Int
}

extension SQLiteStore: SessionStore {
    public func createSession(_ id: String, at time: Double) throws {
        try database.withConnection { db in
            guard try db.query("SELECT 1 FROM sessions WHERE id = ?", [.text(id)], row: { _ in true }).isEmpty else {
                throw StoreError("session '\(id)' already exists")
            }
            try db.run("INSERT INTO sessions (id, created_at, updated_at) VALUES (?, ?, ?)", [.text(id), .real(time), .real(time)])
        }
    }

    public func loadSession(_ id: String) throws -> SessionState? {
        try database.withConnection { db -> SessionState? in
            let heads = try db.query("SELECT summary, summary_through FROM sessions WHERE id = ?", [.text(id)]) { row in
                (summary: row.isNull(0) ? nil : row.text(0), through: row.int(1))
            }
            guard let head = heads.first else { return nil }
            let turns = try db.query("SELECT seq, role, content FROM session_turns WHERE session_id = ? AND seq > ? ORDER BY seq",
                                     [.text(id), .int(head.through)]) { row in
                SessionTurn(seq: row.int(0), role: row.text(1), content: row.text(2))
            }
            return SessionState(id: id, summary: head.summary, summaryThrough: head.through, turns: turns)
        }
    }

    public func appendTurns(_ id: String, _ turns: [(role: String, content: String)], at time: Double) throws -> [SessionTurn] {
        try database.transaction { db in
            let last = try db.query("SELECT COALESCE(MAX(seq), 0) FROM session_turns WHERE session_id = ?", [.text(id)]) { $0.int(0) }
            var seq = last.first ?? 0
            var stored: [SessionTurn] = []
            for turn in turns {
                seq += 1
                try db.run("INSERT INTO session_turns (session_id, seq, role, content, created_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(id), .int(seq), .text(turn.role), .text(turn.content), .real(time)])
                stored.append(SessionTurn(seq: seq, role: turn.role, content: turn.content))
            }
            try db.run("UPDATE sessions SET updated_at = ? WHERE id = ?", [.real(time), .text(id)])
            return stored
        }
    }

    public func saveSummary(_ id: String, summary: String, through: Int, at time: Double) throws {
        try database.withConnection { db in
            try db.run("UPDATE sessions SET summary = ?, summary_through = ?, updated_at = ? WHERE id = ?",
                       [.text(summary), .int(through), .real(time), .text(id)])
        }
    }

    /// Sessions, most recently used first.
    public func listSessions(limit: Int) throws -> [SessionSummary] {
        try database.withConnection { db in
            try db.query("""
                SELECT s.id, s.created_at, s.updated_at, (SELECT COUNT(*) FROM session_turns t WHERE t.session_id = s.id), s.summary_through
                FROM sessions s ORDER BY s.updated_at DESC LIMIT ?
                """, [.int(limit)]) { row in
                SessionSummary(id: row.text(0), createdAt: row.double(1), updatedAt: row.double(2), turns: row.int(3),
                               summarizedThrough: row.int(4))
            }
        }
    }

    /// Every turn of a session (summarized ones too), with its summary.
    public func sessionTranscript(_ id: String) throws -> (summary: String?, through: Int, turns: [SessionTurn])? {
        guard let state = try loadSession(id) else { return nil }
        let all = try database.withConnection { db in
            try db.query("SELECT seq, role, content FROM session_turns WHERE session_id = ? ORDER BY seq", [.text(id)]) { row in
                SessionTurn(seq: row.int(0), role: row.text(1), content: row.text(2))
            }
        }
        return (state.summary, state.summaryThrough, all)
    }
}

import Foundation
import SluiceRuntime

/// One row of the viewer's run list.
public struct ViewerRun: Sendable, Hashable {
    public var id: String
    public var pipeline: String
    public var status: String
    public var startedAt: Double
    public var endedAt: Double?
    public var cost: Double
    public var tokens: Int
    public var user: String?

    /// Seconds from start to end; nil while the run has not ended.
    public var duration: Double? { endedAt.map { $0 - startedAt } }
}

/// One page of the runs a filter matches, and how many it matches in all.
public struct MatchingRuns: Sendable, Hashable {
    public var runs: [ViewerRun]
    public var total: Int
}

/// What the runs that started on one day (UTC) cost.
public struct DailyCost: Sendable, Hashable {
    /// `yyyy-MM-dd`, in UTC.
    public var day: String
    public var cost: Double
    public var runs: Int

    public init(day: String, cost: Double, runs: Int) {
        self.day = day
        self.cost = cost
        self.runs = runs
    }
}

/// The values the viewer's filters offer, each sorted.
public struct ViewerFacets: Sendable, Hashable {
    public var pipelines: [String]
    public var users: [String]
    public var statuses: [String]
}

extension SQLiteStore {
    /// The runs matching `filter`, newest first: `limit` of them after skipping `offset`.
    public func viewerRuns(matching filter: TraceFilter, offset: Int, limit: Int) throws -> MatchingRuns {
        try database.withConnection { db in
            let abandoned = try Self.abandonedRuns(in: db)
            let condition = filter.runConditions(abandoned: abandoned)
            let total = try db.query("SELECT count(*) FROM runs WHERE \(condition.sql)", condition.parameters) { $0.int(0) }.first ?? 0
            let runs = try db.query("""
                SELECT id, pipeline, status, started_at, ended_at, cost, tokens, user_id FROM runs
                WHERE \(condition.sql) ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?
                """, condition.parameters + [.int(max(0, limit)), .int(max(0, offset))]) { row in
                ViewerRun(id: row.text(0), pipeline: row.text(1),
                          status: row.text(2) == "running" && abandoned[row.text(0)] != nil ? "interrupted" : row.text(2),
                          startedAt: row.double(3), endedAt: row.optionalDouble(4), cost: row.double(5), tokens: row.int(6),
                          user: row.optionalText(7))
            }
            return MatchingRuns(runs: runs, total: total)
        }
    }

    /// Whom the run with exactly this id is for and the session it continued; nil when there is no such run.
    public func viewerRunOwner(id: String) throws -> (user: String?, session: String?)? {
        try database.withConnection { db in
            try db.query("SELECT user_id, session_id FROM runs WHERE id = ?", [.text(id)]) { row in
                (user: row.optionalText(0), session: row.optionalText(1))
            }.first
        }
    }

    /// The cost of the runs matching `filter`, per day they started on (UTC), oldest first; days without runs are left out.
    public func dailyCosts(matching filter: TraceFilter) throws -> [DailyCost] {
        try database.withConnection { db in
            let condition = filter.runConditions(abandoned: try Self.abandonedRuns(in: db))
            return try db.query("""
                SELECT date(started_at, 'unixepoch') AS day, sum(cost), count(*) FROM runs WHERE \(condition.sql)
                GROUP BY day ORDER BY day
                """, condition.parameters) { row in
                DailyCost(day: row.text(0), cost: row.double(1), runs: row.int(2))
            }
        }
    }

    /// How long each run matching `filter` that has ended took, in seconds, shortest first.
    public func runDurations(matching filter: TraceFilter) throws -> [Double] {
        try database.withConnection { db in
            let condition = filter.runConditions(abandoned: try Self.abandonedRuns(in: db))
            return try db.query("""
                SELECT ended_at - started_at AS duration FROM runs WHERE ended_at IS NOT NULL AND \(condition.sql) ORDER BY duration
                """, condition.parameters) { $0.double(0) }
        }
    }

    /// Every pipeline, user and status the store's runs have.
    public func viewerFacets() throws -> ViewerFacets {
        try database.withConnection { db in
            let abandoned = try Self.abandonedRuns(in: db)
            var statuses = Set(try db.query("SELECT DISTINCT status FROM runs") { $0.text(0) })
            if !abandoned.isEmpty { statuses.insert("interrupted") }
            // A status seen only on abandoned runs is not offered: no run shows it.
            let stillRunning = try db.query("SELECT count(*) FROM runs WHERE status = 'running'") { $0.int(0) }.first ?? 0
            if stillRunning == abandoned.count { statuses.remove("running") }
            return ViewerFacets(
                pipelines: try db.query("SELECT DISTINCT pipeline FROM runs ORDER BY pipeline") { $0.text(0) },
                users: try db.query("SELECT DISTINCT user_id FROM runs WHERE user_id IS NOT NULL ORDER BY user_id") { $0.text(0) },
                statuses: statuses.sorted())
        }
    }
}

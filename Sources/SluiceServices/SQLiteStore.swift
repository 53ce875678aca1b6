import Foundation
import SluiceRuntime

/// The embedded store: traces and retrieval indexes in one SQLite file (by default `.sluice/sluice.db`).
/// Every trace call is written at once, so a run that crashes midway keeps what it recorded.
public final class SQLiteStore: TraceSink, RetrievalStore, Sendable {
    /// Where the CLI keeps its database, relative to the working directory.
    public static let defaultPath = ".sluice/sluice.db"

    let database: SQLiteDatabase
    /// Counts tokens when `prepare` chunks an index's source.
    let tokenCounter: any TokenCounter
    /// The index specs `prepare` has already brought up to date with their source in this process:
    /// a source is hashed once per process, not before every search.
    let synchronizedIndexes = Locked<Set<IndexSpec>>([])

    /// How long a stored text field of a trace may be.
    public let fieldLimit: TraceFieldLimit

    public var path: String { database.path }
    public var isReadOnly: Bool { database.isReadOnly }

    /// Opens the store at `path` (creating the file and its folders), migrating its schema to the
    /// current version, and closes as `interrupted` every run whose process is gone. With
    /// `readOnly` the file must exist, is never written, and must already have the current schema.
    public init(path: String, tokenCounter: any TokenCounter = EstimatingTokenCounter(),
                fieldLimit: TraceFieldLimit = TraceFieldLimit(), readOnly: Bool = false) throws {
        if readOnly, path != ":memory:", !FileManager.default.fileExists(atPath: path) {
            throw StoreError("there is no store at \(path)")
        }
        database = try SQLiteDatabase(path: path, readOnly: readOnly)
        self.tokenCounter = tokenCounter
        self.fieldLimit = fieldLimit
        if readOnly {
            try StoreSchema.checkReadable(database)
        } else {
            try StoreSchema.migrate(database)
            // Best effort: a store whose file is write-protected still opens, and readers report these runs the same way.
            try? closeAbandonedRuns()
        }
    }

    // MARK: TraceSink

    public func runStarted(_ run: TraceRun) throws {
        let owner = RunOwner.current
        try database.withConnection { db in
            try db.run("""
                INSERT INTO runs (id, pipeline, file, started_at, status, inputs, owner_host, owner_boot, owner_pid, owner_start,
                                  user_id, session_id)
                VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)
                """, [.text(run.id), .text(run.pipeline), .text(run.file), .real(run.startedAt),
                      .text(fieldLimit.bound(Redaction.redact(run.inputs))),
                      .text(owner.host), .text(owner.boot), .int(owner.pid), .int(owner.start),
                      .optionalText(run.user), .optionalText(run.session)])
        }
    }

    public func spanStarted(_ span: TraceSpan) throws {
        try database.withConnection { db in
            try db.run("""
                INSERT INTO spans (id, run_id, parent_id, kind, name, started_at) VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(span.id), .text(span.runId), .optionalText(span.parentId), .text(span.kind), .text(span.name),
                      .real(span.startedAt)])
        }
    }

    public func spanEnded(_ end: TraceSpanEnd) throws {
        try database.withConnection { db in
            try db.run("UPDATE spans SET ended_at = ?, status = ?, detail = ? WHERE id = ?",
                       [.real(end.endedAt), .text(end.status), .text(fieldLimit.bound(Redaction.redact(end.detail))), .text(end.id)])
            if db.changes == 0 { throw StoreError("cannot end span \(end.id): it was never started") }
        }
    }

    /// Every text of the row goes through `Redaction` (as do a run's inputs, output and error and
    /// a span's detail): a key pasted into a message or quoted in an error is never stored.
    public func modelCallStarted(_ call: TraceModelCall) throws {
        try database.withConnection { db in try insertModelCall(call, db) }
    }

    /// Completes the row `modelCallStarted` wrote for `call.id` (moving it after the failed tries
    /// recorded since, so rows stay in the order the tries were made), or adds a row when `call.id` is nil.
    public func modelCalled(_ call: TraceModelCall) throws {
        try database.withConnection { db in
            guard let id = call.id else { return try insertModelCall(call, db) }
            let columns = modelCallColumns(call)
            try db.run("""
                UPDATE model_calls SET seq = (SELECT max(seq) + 1 FROM model_calls), model = ?, provider = ?, messages = ?, reply = ?,
                       input_tokens = ?, output_tokens = ?, cached_tokens = ?, cost = ?, latency_ms = ?, error = ?, attempt = ?,
                       prompt_version = ?, prompt_meta = ?, warnings = ?, status = ?
                WHERE call_id = ? AND run_id = ?
                """, Array(columns.dropFirst(2)) + [.text(call.status.rawValue), .text(id), .text(call.runId)])
            if db.changes == 0 { throw StoreError("cannot complete model call \(id): it was never started") }
        }
    }

    private func insertModelCall(_ call: TraceModelCall, _ db: SQLiteConnection) throws {
        try db.run("""
            INSERT INTO model_calls (run_id, span_id, model, provider, messages, reply, input_tokens, output_tokens,
                                     cached_tokens, cost, latency_ms, error, attempt, prompt_version, prompt_meta, warnings, status, call_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, modelCallColumns(call) + [.text(call.status.rawValue), .optionalText(call.id)])
    }

    /// run_id, span_id, then the columns a completion may change, in the order of `INSERT INTO model_calls`.
    private func modelCallColumns(_ call: TraceModelCall) -> [SQLiteValue] {
        let messages = fieldLimit.bound(Redaction.redact(JSONValue.array(call.messages.map(\.json))))
        let warnings = call.warnings.isEmpty ? nil : fieldLimit.bound(Redaction.redact(JSONValue.array(call.warnings.map(JSONValue.string))))
        return [.text(call.runId), .text(call.spanId), .text(call.model), .text(call.provider), .text(messages),
                .optionalText(call.reply.map { fieldLimit.bound(Redaction.redact($0)) }), .int(call.inputTokens), .int(call.outputTokens),
                .int(call.cachedTokens), .real(call.cost), .real(call.latencyMs),
                .optionalText(call.error.map { fieldLimit.bound(Redaction.redact($0)) }),
                .int(call.attempt), call.promptVersion.map(SQLiteValue.int) ?? .null,
                .optionalText(call.promptMeta.map { fieldLimit.bound($0) }), .optionalText(warnings)]
    }

    public func guardChecked(_ verdict: TraceGuardVerdict) throws {
        try database.withConnection { db in
            try db.run("""
                INSERT INTO guard_verdicts (run_id, span_id, guard_name, pattern, verdict, matches) VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(verdict.runId), .text(verdict.spanId), .text(verdict.guardName), .optionalText(verdict.pattern),
                      .text(verdict.verdict), .int(verdict.matches)])
        }
    }

    public func scored(_ score: TraceScore) throws {
        try database.withConnection { db in
            try db.run("INSERT INTO scores (run_id, span_id, name, value) VALUES (?, ?, ?, ?)",
                       [.text(score.runId), .optionalText(score.spanId), .text(score.name), .real(score.value)])
        }
    }

    public func runEnded(_ end: TraceRunEnd) throws {
        try database.withConnection { db in
            try db.run("""
                UPDATE runs SET ended_at = ?, status = ?, output = ?, error = ?, cost = ?, tokens = ? WHERE id = ?
                """, [.real(end.endedAt), .text(end.status.rawValue), .optionalText(end.output.map { fieldLimit.bound(Redaction.redact($0)) }),
                      .optionalText(end.error.map { fieldLimit.bound(Redaction.redact($0)) }), .real(end.cost), .int(end.tokens), .text(end.id)])
            if db.changes == 0 { throw StoreError("cannot end run \(end.id): it was never started") }
            // A call the runtime could not complete (its own write failed) is not left in flight after its run.
            try db.run("UPDATE model_calls SET status = ? WHERE run_id = ? AND status = 'in_flight'",
                       [.text(end.status == .cancelled ? TraceModelCall.Status.cancelled.rawValue : TraceModelCall.Status.error.rawValue),
                        .text(end.id)])
        }
    }
}

/// A request the store cannot satisfy: an unknown or ambiguous id, a missing source, a schema too new.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

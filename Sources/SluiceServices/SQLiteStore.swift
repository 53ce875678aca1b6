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

    public var path: String { database.path }

    /// Opens the store at `path` (creating the file and its folders), migrating its schema to the current version.
    public init(path: String, tokenCounter: any TokenCounter = EstimatingTokenCounter()) throws {
        database = try SQLiteDatabase(path: path)
        self.tokenCounter = tokenCounter
        try StoreSchema.migrate(database)
    }

    // MARK: TraceSink

    public func runStarted(_ run: TraceRun) throws {
        try database.withConnection { db in
            try db.run("""
                INSERT INTO runs (id, pipeline, file, started_at, status, inputs) VALUES (?, ?, ?, ?, 'running', ?)
                """, [.text(run.id), .text(run.pipeline), .text(run.file), .real(run.startedAt), .text(Redaction.redact(run.inputs).serialized())])
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
                       [.real(end.endedAt), .text(end.status), .text(Redaction.redact(end.detail).serialized()), .text(end.id)])
            if db.changes == 0 { throw StoreError("cannot end span \(end.id): it was never started") }
        }
    }

    /// Every text of the row goes through `Redaction` (as do a run's inputs, output and error and
    /// a span's detail): a key pasted into a message or quoted in an error is never stored.
    public func modelCalled(_ call: TraceModelCall) throws {
        let messages = Redaction.redact(JSONValue.array(call.messages.map(\.json))).serialized()
        let warnings = call.warnings.isEmpty ? nil : Redaction.redact(JSONValue.array(call.warnings.map(JSONValue.string))).serialized()
        try database.withConnection { db in
            try db.run("""
                INSERT INTO model_calls (run_id, span_id, model, provider, messages, reply, input_tokens, output_tokens,
                                         cached_tokens, cost, latency_ms, error, attempt, prompt_version, prompt_meta, warnings)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(call.runId), .text(call.spanId), .text(call.model), .text(call.provider), .text(messages),
                      .optionalText(call.reply.map(Redaction.redact)), .int(call.inputTokens), .int(call.outputTokens),
                      .int(call.cachedTokens), .real(call.cost), .real(call.latencyMs), .optionalText(call.error.map(Redaction.redact)),
                      .int(call.attempt), call.promptVersion.map(SQLiteValue.int) ?? .null,
                      .optionalText(call.promptMeta.map { $0.serialized() }), .optionalText(warnings)])
        }
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
                """, [.real(end.endedAt), .text(end.status.rawValue), .optionalText(end.output.map { Redaction.redact($0).serialized() }),
                      .optionalText(end.error.map(Redaction.redact)), .real(end.cost), .int(end.tokens), .text(end.id)])
            if db.changes == 0 { throw StoreError("cannot end run \(end.id): it was never started") }
        }
    }
}

/// A request the store cannot satisfy: an unknown or ambiguous id, a missing source, a schema too new.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

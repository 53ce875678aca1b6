import CSQLite
import Foundation
import SluiceRuntime

/// The embedded store: traces, sessions and retrieval indexes in one SQLite file (by default
/// `.sluice/sluice.db`). Trace records arrive in batches (`write`, from a `TraceWriter`), each batch
/// one transaction; called directly as a `TraceSink`, every record is its own transaction.
public final class SQLiteStore: RetrievalStore, Sendable {
    /// Where the CLI keeps its database, relative to the working directory.
    public static let defaultPath = ".sluice/sluice.db"

    /// One connection for everything, trace batches included. A second connection for batches
    /// would let reads go on during a commit, but every other write (sessions, what providers
    /// remember) would then meet the batch's lock in SQLite's busy handler, which sleeps a
    /// millisecond or more; on one connection it waits on a mutex for the batch to end.
    let database: SQLiteDatabase
    /// The spend ledger's reservations and settlements waiting for, or in, a shared transaction.
    let spendBatches = GroupCommit<SpendOperation, SpendOutcome>()
    /// Counts tokens when `prepare` chunks an index's source.
    let tokenCounter: any TokenCounter
    /// The index specs `prepare` has already brought up to date with their source in this process:
    /// a source is hashed once per process, not before every search.
    let synchronizedIndexes = Locked<Set<IndexSpec>>([])
    /// Why traces cannot be written, for a store opened for writing whose file or folder is
    /// read-only: it is opened to read (the pipeline still runs, with its indexes and sessions),
    /// and every trace batch is refused with this reason.
    let writeRefusal: String?

    /// How long a stored text field of a trace may be.
    public let fieldLimit: TraceFieldLimit

    public var path: String { database.path }
    public var isReadOnly: Bool { database.isReadOnly }

    /// Opens the store at `path` (creating the file and its folders), migrating its schema to the
    /// current version, and closes as `interrupted` every run whose process is gone. With
    /// `readOnly` the file must exist, is never written, and must already have the current schema.
    /// A write waits up to `busyTimeoutMilliseconds` for another process's write lock. Refuses,
    /// without writing to it, a file that is not a SQLite database or is damaged, another
    /// program's database, and one from a newer sluice.
    public init(path: String, tokenCounter: any TokenCounter = EstimatingTokenCounter(),
                fieldLimit: TraceFieldLimit = TraceFieldLimit(), readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        if readOnly, path != ":memory:", !FileManager.default.fileExists(atPath: path) {
            throw StoreError("there is no store at \(path)")
        }
        let refusal = readOnly ? nil : Self.unwritableReason(path)
        let opensToRead = readOnly || refusal != nil
        do {
            if !readOnly, path != ":memory:", !FileManager.default.fileExists(atPath: path) {
                try Self.create(path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            }
            database = try SQLiteDatabase(path: path, readOnly: opensToRead, busyTimeoutMilliseconds: busyTimeoutMilliseconds,
                                          inspect: opensToRead ? { _ in } : { try Self.refuseForeign($0, path: path) })
            if opensToRead {
                try StoreSchema.checkReadable(database)
            } else {
                try StoreSchema.migrate(database)
            }
        } catch let error as SQLiteError {
            throw StoreError(error.explained(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds))
        }
        self.tokenCounter = tokenCounter
        self.fieldLimit = fieldLimit
        self.writeRefusal = refusal
        if !opensToRead {
            // Best effort: readers report these runs the same way.
            try? closeAbandonedRuns()
        }
    }

    /// Makes a new store under a temporary name and links it into place (failing if the name is
    /// taken), so a store that exists always has its schema: a reader never opens one half made,
    /// and two processes creating the same store at once both end up using the one that won.
    private static func create(_ path: String, busyTimeoutMilliseconds: Int32) throws {
        let temporary = "\(path).new-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(temporary + suffix) } }
        do {
            // Closed at the end of this block, which writes the log into the file and removes it.
            let database = try SQLiteDatabase(path: temporary, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            try StoreSchema.migrate(database)
        }
        guard link(temporary, path) == 0 || errno == EEXIST else {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create the store \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Why this process cannot write the store at `path`, or nil when it can (or the file does not
    /// exist yet: creating it reports its own error).
    private static func unwritableReason(_ path: String) -> String? {
        guard path != ":memory:", FileManager.default.fileExists(atPath: path) else { return nil }
        if access(path, W_OK) != 0 {
            return "the store \(path) is read-only (this user cannot write the file): traces are not saved"
        }
        let folder = (path as NSString).deletingLastPathComponent
        if access(folder.isEmpty ? "." : folder, W_OK) != 0 {
            return "the store \(path) is in a read-only folder (SQLite must create its -wal and -shm files beside it): traces are not saved"
        }
        return nil
    }

    /// A database with tables but no `schema_version` is another program's: sluice does not add its
    /// tables to it (nor switch it to WAL, so this runs before anything is written).
    private static func refuseForeign(_ db: SQLiteConnection, path: String) throws {
        let tables = try db.query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name") {
            $0.text(0)
        }
        guard !tables.isEmpty, !tables.contains("schema_version") else { return }
        let shown = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", ..." : "")
        throw StoreError("\(path) is another program's SQLite database (it has the tables \(shown) and no schema_version): "
                         + "sluice will not write to it; give sluice a file of its own with --db or SLUICE_DB")
    }

    // MARK: Trace batches

    public func write(_ batch: [TraceRecord]) -> TraceBatchResult {
        if let writeRefusal { return .lost(StoreError(writeRefusal)) }
        guard !batch.isEmpty else { return .written() }
        do {
            return try database.withConnection { db in
                try db.run("BEGIN IMMEDIATE")
                var refused: [Int: any Error] = [:]
                for (index, record) in batch.enumerated() {
                    do { try apply(record, db) } catch {
                        // After a full disk or an I/O error SQLite has rolled the whole batch back itself.
                        guard db.isInTransaction else { throw error }
                        refused[index] = explained(error)
                    }
                }
                do { try db.run("COMMIT") } catch {
                    if db.isInTransaction { try? db.exec("ROLLBACK") }
                    throw error
                }
                return .written(refusing: refused)
            }
        } catch {
            return .lost(explained(error))
        }
    }

    private func explained(_ error: any Error) -> any Error {
        guard let error = error as? SQLiteError else { return error }
        return StoreError(error.explained(path: database.path, busyTimeoutMilliseconds: database.busyTimeoutMilliseconds))
    }

    private func apply(_ record: TraceRecord, _ db: SQLiteConnection) throws {
        switch record {
        case .runStarted(let run): try insertRun(run, db)
        case .spanStarted(let span):
            try db.run("""
                INSERT INTO spans (id, run_id, parent_id, kind, name, started_at) VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(span.id), .text(span.runId), .optionalText(span.parentId), .text(span.kind), .text(span.name),
                      .real(span.startedAt)])
        case .spanEnded(let end):
            try db.run("UPDATE spans SET ended_at = ?, status = ?, detail = ? WHERE id = ?",
                       [.real(end.endedAt), .text(end.status), .text(fieldLimit.bound(Redaction.redact(end.detail))), .text(end.id)])
            if db.changes == 0 { throw StoreError("cannot end span \(end.id): it was never started") }
        case .modelCallStarted(let call): try insertModelCall(call, db)
        case .modelCalled(let call): try completeModelCall(call, db)
        case .guardChecked(let verdict):
            try db.run("""
                INSERT INTO guard_verdicts (run_id, span_id, guard_name, pattern, verdict, matches) VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(verdict.runId), .text(verdict.spanId), .text(verdict.guardName), .optionalText(verdict.pattern),
                      .text(verdict.verdict), .int(verdict.matches)])
        case .scored(let score):
            try db.run("INSERT INTO scores (run_id, span_id, name, value) VALUES (?, ?, ?, ?)",
                       [.text(score.runId), .optionalText(score.spanId), .text(score.name), .real(score.value)])
        case .runEnded(let end): try atomically(db) { try endRun(end, db) }
        case .scrub(let runId, let replacements): try atomically(db) { try Self.scrub(runId: runId, replacements: replacements, in: db) }
        }
    }

    /// Runs a record of several statements as a whole inside the batch: refused, it leaves nothing behind.
    private func atomically(_ db: SQLiteConnection, _ body: () throws -> Void) throws {
        try db.run("SAVEPOINT record")
        do {
            try body()
            try db.run("RELEASE record")
        } catch {
            if db.isInTransaction { try? db.exec("ROLLBACK TO record; RELEASE record") }
            throw error
        }
    }

    private func insertRun(_ run: TraceRun, _ db: SQLiteConnection) throws {
        let owner = RunOwner.current
        try db.run("""
            INSERT INTO runs (id, pipeline, file, started_at, status, inputs, owner_host, owner_boot, owner_pid, owner_start,
                              user_id, session_id)
            VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)
            """, [.text(run.id), .text(run.pipeline), .text(run.file), .real(run.startedAt),
                  .text(fieldLimit.bound(Redaction.redact(run.inputs))),
                  .text(owner.host), .text(owner.boot), .int(owner.pid), .int(owner.start),
                  .optionalText(run.user), .optionalText(run.session)])
    }

    /// Completes the row `modelCallStarted` wrote for `call.id` (moving it after the failed tries
    /// recorded since, so rows stay in the order the tries were made), or adds a row when `call.id` is nil.
    /// Every text of the row goes through `Redaction` (as do a run's inputs, output and error and
    /// a span's detail): a key pasted into a message or quoted in an error is never stored.
    private func completeModelCall(_ call: TraceModelCall, _ db: SQLiteConnection) throws {
        guard let id = call.id else { return try insertModelCall(call, db) }
        // The messages were stored when the call started and a call's messages do not change (a
        // secret learnt since is scrubbed from that row by its own record), so they are not written twice.
        let columns = modelCallColumns(call, messages: false)
        try db.run("""
            UPDATE model_calls SET seq = (SELECT max(seq) + 1 FROM model_calls), model = ?, provider = ?, reply = ?,
                   input_tokens = ?, output_tokens = ?, cached_tokens = ?, cost = ?, latency_ms = ?, error = ?, attempt = ?,
                   prompt_version = ?, prompt_meta = ?, warnings = ?, request_model = ?, max_tokens = ?, temperature = ?,
                   response_model = ?, finish_reason = ?, cache_write_tokens = ?, reasoning_tokens = ?, status = ?
            WHERE call_id = ? AND run_id = ?
            """, Array(columns.dropFirst(2)) + [.text(call.status.rawValue), .text(id), .text(call.runId)])
        if db.changes == 0 { throw StoreError("cannot complete model call \(id): it was never started") }
    }

    private func endRun(_ end: TraceRunEnd, _ db: SQLiteConnection) throws {
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

    private func insertModelCall(_ call: TraceModelCall, _ db: SQLiteConnection) throws {
        try db.run("""
            INSERT INTO model_calls (run_id, span_id, model, provider, messages, reply, input_tokens, output_tokens,
                                     cached_tokens, cost, latency_ms, error, attempt, prompt_version, prompt_meta, warnings,
                                     request_model, max_tokens, temperature, response_model, finish_reason, cache_write_tokens,
                                     reasoning_tokens, status, call_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, modelCallColumns(call) + [.text(call.status.rawValue), .optionalText(call.id)])
    }

    /// run_id, span_id, then the columns a completion may change, in the order of `INSERT INTO model_calls`
    /// (without `messages` unless asked).
    private func modelCallColumns(_ call: TraceModelCall, messages: Bool = true) -> [SQLiteValue] {
        let warnings = call.warnings.isEmpty ? nil : fieldLimit.bound(Redaction.redact(JSONValue.array(call.warnings.map(JSONValue.string))))
        let messages: [SQLiteValue] = messages ? [.text(fieldLimit.bound(Redaction.redact(JSONValue.array(call.messages.map(\.json)))))] : []
        return [.text(call.runId), .text(call.spanId), .text(call.model), .text(call.provider)] + messages + [
                .optionalText(call.reply.map { fieldLimit.bound(Redaction.redact($0)) }), .int(call.inputTokens), .int(call.outputTokens),
                .int(call.cachedTokens), .real(call.cost), .real(call.latencyMs),
                .optionalText(call.error.map { fieldLimit.bound(Redaction.redact($0)) }),
                .int(call.attempt), call.promptVersion.map(SQLiteValue.int) ?? .null,
                .optionalText(call.promptMeta.map { fieldLimit.bound($0) }), .optionalText(warnings),
                .optionalText(call.requestModel), call.maxTokens.map(SQLiteValue.int) ?? .null, call.temperature.map(SQLiteValue.real) ?? .null,
                .optionalText(call.responseModel.map { fieldLimit.bound($0) }), .optionalText(call.finishReason.map { fieldLimit.bound($0) }),
                call.cacheWriteTokens.map(SQLiteValue.int) ?? .null, call.reasoningTokens.map(SQLiteValue.int) ?? .null]
    }
}

/// A request the store cannot satisfy: an unknown or ambiguous id, a missing source, a schema too new.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

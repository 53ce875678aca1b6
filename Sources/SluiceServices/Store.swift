import Foundation
import SluiceRuntime

/// Everything a sluice command needs from a store: traces (written through a `TraceWriter`, read
/// back for `traces list|show`), conversations, retrieval indexes, estimation history and what
/// providers remember. `SQLiteStore` (one embedded file) is the default; another engine (e.g.
/// PostgreSQL) implements the same protocols and passes the same suite (`StoreContractTests`).
public protocol Store: TraceBatchStore, TraceReader, IndexStore, SessionArchive, EstimationHistory, FeatureMemory {
    /// Where the store is, as the user named it (a file path, a connection URL): shown in messages.
    var path: String { get }
    /// The `--replies` lines a session's earlier runs used, so a later run of it takes the next ones.
    func replies(ofSession session: String) -> any ReplyLedger
}

/// A store that records traces in batches: many runs' records in one transaction.
public protocol TraceBatchStore: TraceSink {
    /// Writes `batch` in order, in one transaction. A record the store refuses (ending a span that
    /// was never started, a constraint) is reported in `refused` and the rest is still written;
    /// when the transaction itself fails (a full disk, a lock held too long, a read-only file)
    /// nothing of the batch is written and `lost` says why. Never throws: every outcome is a result.
    func write(_ batch: [TraceRecord]) -> TraceBatchResult
}

/// One call of `TraceSink`, as a value a writer can queue.
public enum TraceRecord: Sendable {
    case runStarted(TraceRun)
    case spanStarted(TraceSpan)
    case spanEnded(TraceSpanEnd)
    case modelCallStarted(TraceModelCall)
    case modelCalled(TraceModelCall)
    case guardChecked(TraceGuardVerdict)
    case scored(TraceScore)
    case runEnded(TraceRunEnd)
    case scrub(runId: String, replacements: [TraceReplacement])
}

/// A secret found after it was recorded, and what replaces it.
public struct TraceReplacement: Sendable, Hashable {
    public var secret: String
    public var replacement: String
    public init(secret: String, replacement: String) { self.secret = secret; self.replacement = replacement }
}

/// What became of a batch.
public struct TraceBatchResult: Sendable {
    /// Set when nothing of the batch was written.
    public var lost: (any Error)?
    /// The records refused while the rest was written, by their position in the batch.
    public var refused: [Int: any Error]

    public static func written(refusing refused: [Int: any Error] = [:]) -> TraceBatchResult { TraceBatchResult(lost: nil, refused: refused) }
    public static func lost(_ error: any Error) -> TraceBatchResult { TraceBatchResult(lost: error, refused: [:]) }

    /// The first error for the record at `index`, if it was not written.
    public func error(at index: Int) -> (any Error)? { lost ?? refused[index] }
}

extension TraceBatchStore {
    /// Writes one record at once, throwing what the store said about it: the `TraceSink` calls of
    /// a store used without a writer (tests, tools) go through the same code as a batch.
    func writeNow(_ record: TraceRecord) throws {
        if let error = write([record]).error(at: 0) { throw error }
    }

    public func runStarted(_ run: TraceRun) throws { try writeNow(.runStarted(run)) }
    public func spanStarted(_ span: TraceSpan) throws { try writeNow(.spanStarted(span)) }
    public func spanEnded(_ end: TraceSpanEnd) throws { try writeNow(.spanEnded(end)) }
    public func modelCallStarted(_ call: TraceModelCall) throws { try writeNow(.modelCallStarted(call)) }
    public func modelCalled(_ call: TraceModelCall) throws { try writeNow(.modelCalled(call)) }
    public func guardChecked(_ verdict: TraceGuardVerdict) throws { try writeNow(.guardChecked(verdict)) }
    public func scored(_ score: TraceScore) throws { try writeNow(.scored(score)) }
    public func runEnded(_ end: TraceRunEnd) throws { try writeNow(.runEnded(end)) }
    public func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {
        guard !replacements.isEmpty else { return }
        try writeNow(.scrub(runId: runId, replacements: replacements.map { TraceReplacement(secret: $0.secret, replacement: $0.replacement) }))
    }
}

/// Reading traces back, for `sluice traces`.
public protocol TraceReader: Sendable {
    /// The most recent runs the filter matches (all of them when `limit` is nil), newest first; a
    /// run whose process is gone reads as `interrupted`.
    func listRuns(limit: Int?, filter: TraceFilter) throws -> [RunSummary]
    /// The run with this id, or with an id starting with it when exactly one does; nil when none
    /// matches. An ambiguous prefix is an error that lists the candidates.
    func run(id: String) throws -> RunDetail?
}

extension TraceReader {
    /// The most recent runs, newest first.
    public func listRuns(limit: Int?) throws -> [RunSummary] { try listRuns(limit: limit, filter: TraceFilter()) }
}

/// Retrieval indexes as `sluice index` manages them (searching them is `RetrievalStore`).
public protocol IndexStore: RetrievalStore {
    func listIndexes() throws -> [IndexSummary]
    func removeIndex(name: String) throws
    @discardableResult
    func addDocuments(index: String, paths: [String], chunkTokens: Int, overlapTokens: Int,
                      counter: any TokenCounter, encoding: String) throws -> (files: Int, chunks: Int)
    @discardableResult
    func rebuildIndex(name: String, chunkTokens: Int?, overlapTokens: Int?, counter: any TokenCounter,
                      encoding: String) throws -> IndexChanges
}

extension IndexStore {
    /// Chunks counted in the encoding most models use, as `sluice index` does.
    @discardableResult
    public func addDocuments(index: String, paths: [String], chunkTokens: Int, overlapTokens: Int,
                             counter: any TokenCounter) throws -> (files: Int, chunks: Int) {
        try addDocuments(index: index, paths: paths, chunkTokens: chunkTokens, overlapTokens: overlapTokens, counter: counter,
                         encoding: "o200k_base")
    }

    @discardableResult
    public func rebuildIndex(name: String, chunkTokens: Int?, overlapTokens: Int?, counter: any TokenCounter) throws -> IndexChanges {
        try rebuildIndex(name: name, chunkTokens: chunkTokens, overlapTokens: overlapTokens, counter: counter, encoding: "o200k_base")
    }
}

/// Conversations as `sluice sessions` lists them (a run reads and extends them as `SessionStore`).
public protocol SessionArchive: SessionStore {
    /// Sessions, most recently used first.
    func listSessions(limit: Int) throws -> [SessionSummary]
    /// Every turn of a session (summarized ones too), with its summary; nil when there is none.
    func sessionTranscript(_ id: String) throws -> (summary: String?, through: Int, turns: [SessionTurn])?
}

extension SQLiteStore: Store {
    public func replies(ofSession session: String) -> any ReplyLedger { replyLedger(session: session) }
}

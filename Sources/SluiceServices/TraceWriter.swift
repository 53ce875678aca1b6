import Foundation
import SluiceRuntime

/// Writes traces off the runs' path by group commit: a run's `TraceSink` calls only queue the
/// record, and one background thread writes whatever has accumulated, from every run, as one
/// transaction of the store, then at once the next (no timer: a record waits in memory only while
/// the transaction before it commits). Records are written in the order they were queued, so a
/// run's records keep their order, and none is dropped: when the queue holds `capacity` records
/// the runs wait for the thread to take them.
///
/// A record the store did not write (a batch lost to a full disk or a lock held too long, a record
/// refused) is charged to its run: `runEnded` throws the first such error already known, so the run's
/// `RunResult.traceError` reports it, and `failure(ofRun:)` after `flush()` gives the final word.
/// Call `close()` (or at least `flush()`) before the process exits: what is still queued is only in memory.
public final class TraceWriter: TraceSink, @unchecked Sendable {
    public static let defaultCapacity = 4096
    /// Failed runs remembered for `failure(ofRun:)`; older ones are forgotten first.
    static let rememberedFailures = 10_000

    private let store: any TraceBatchStore
    private let capacity: Int
    /// Guards every variable below; waited on by runs (for room), `flush` (for progress) and the thread (for records).
    private let condition = NSCondition()
    private var queue: [(record: TraceRecord, runId: String)] = []
    /// Records ever queued, and records the store has written or failed: `flush` waits for the second to reach the first.
    private var queued = 0
    private var settled = 0
    private var closing = false
    /// The run of every span started and not yet ended, as `TraceSpanEnd` does not name its run.
    private var openSpans: [String: String] = [:]
    private var failures: [String: any Error] = [:]
    private var failedRuns: [String] = []

    /// The thread that writes; joined by `close`.
    private var thread = pthread_t()

    public init(store: any TraceBatchStore, capacity: Int = TraceWriter.defaultCapacity) {
        self.store = store
        self.capacity = max(1, capacity)
        // A POSIX thread, so `close` can join it: once it returns the thread holds no reference to the
        // writer (or its store), and the store closes its file as soon as its last user lets it go.
        let status = pthread_create(&thread, nil, { argument in
            let writer = Unmanaged<TraceWriter>.fromOpaque(argument!).takeRetainedValue()
            writer.drain()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(status == 0, "cannot start the trace writer's thread: \(String(cString: strerror(status)))")
    }

    // MARK: TraceSink

    public func runStarted(_ run: TraceRun) throws { try enqueue(.runStarted(run), runId: run.id) }

    public func spanStarted(_ span: TraceSpan) throws {
        try enqueue(.spanStarted(span), runId: span.runId) { openSpans[span.id] = span.runId }
    }

    /// Ending a span this writer never saw start is an error at once, as it is for the store.
    public func spanEnded(_ end: TraceSpanEnd) throws {
        let runId = condition.withLock { openSpans.removeValue(forKey: end.id) }
        guard let runId else { throw StoreError("cannot end span \(end.id): it was never started") }
        try enqueue(.spanEnded(end), runId: runId)
    }

    public func modelCallStarted(_ call: TraceModelCall) throws { try enqueue(.modelCallStarted(call), runId: call.runId) }
    public func modelCalled(_ call: TraceModelCall) throws { try enqueue(.modelCalled(call), runId: call.runId) }
    public func guardChecked(_ verdict: TraceGuardVerdict) throws { try enqueue(.guardChecked(verdict), runId: verdict.runId) }
    public func scored(_ score: TraceScore) throws { try enqueue(.scored(score), runId: score.runId) }

    /// Queues the run's end, then throws the first failure of the run's records already known.
    public func runEnded(_ end: TraceRunEnd) throws {
        try enqueue(.runEnded(end), runId: end.id)
        if let failure = condition.withLock({ failures[end.id] }) { throw failure }
    }

    public func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {
        guard !replacements.isEmpty else { return }
        try enqueue(.scrub(runId: runId, replacements: replacements.map { TraceReplacement(secret: $0.secret, replacement: $0.replacement) }),
                    runId: runId)
    }

    // MARK: Flushing

    /// Waits until every record queued before the call is written (or has failed).
    public func flush() {
        condition.withLock {
            let target = queued
            while settled < target { condition.wait() }
        }
    }

    /// Writes what is queued, then stops the thread; later records are refused with an error.
    public func close() {
        let joins = condition.withLock {
            defer { closing = true; condition.broadcast() }
            return !closing
        }
        if joins { pthread_join(thread, nil) } else { flush() }
    }

    /// The first error that kept a record of `runId` from the store, among records settled so far.
    public func failure(ofRun runId: String) -> (any Error)? { condition.withLock { failures[runId] } }

    // MARK: The queue

    /// `whileLocked` runs once the record is sure to be queued, under the lock.
    private func enqueue(_ record: TraceRecord, runId: String, whileLocked: () -> Void = {}) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity, !closing { condition.wait() }
        guard !closing else { throw StoreError("the trace writer was closed before this record of run \(runId) was queued") }
        queue.append((record, runId))
        queued += 1
        whileLocked()
        // Wakes the thread if it waits for records (others woken check their own condition and wait again).
        condition.broadcast()
    }

    private func drain() {
        condition.lock()
        while true {
            while queue.isEmpty, !closing { condition.wait() }
            if queue.isEmpty { break }
            let batch = queue
            queue = []
            condition.broadcast()
            condition.unlock()
            let result = store.write(batch.map(\.record))
            condition.lock()
            for (index, entry) in batch.enumerated() {
                if let error = result.error(at: index) { charge(error, to: entry.runId) }
            }
            settled += batch.count
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Records the first failure of a run (under the lock).
    private func charge(_ error: any Error, to runId: String) {
        guard failures[runId] == nil else { return }
        failures[runId] = error
        failedRuns.append(runId)
        if failedRuns.count > Self.rememberedFailures {
            let forgotten = failedRuns.count - Self.rememberedFailures
            for run in failedRuns.prefix(forgotten) { failures[run] = nil }
            failedRuns.removeFirst(forgotten)
        }
    }
}

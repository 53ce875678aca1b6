import Foundation
import SluiceRuntime
import SluiceServices
import XCTest

/// How the writer batches: whatever accumulated while a batch was being written goes in the next
/// one, a full queue makes runs wait instead of dropping records, and a lost batch is charged to
/// the runs it held and to no other.
final class TraceWriterTests: XCTestCase {
    /// A store that keeps the batches it is given, can hold the first one until `open()`, and loses
    /// the batches whose number (from 0) is in `losing`.
    final class GatedStore: TraceBatchStore, @unchecked Sendable {
        struct DiskFull: Error, CustomStringConvertible { var description: String { "the disk is full" } }

        private let lock = NSLock()
        private var written: [[TraceRecord]] = []
        private let gate = DispatchSemaphore(value: 0)
        private let entered = DispatchSemaphore(value: 0)
        private let holdsFirst: Bool
        private let losing: Set<Int>

        init(holdsFirst: Bool, losing: Set<Int> = []) { self.holdsFirst = holdsFirst; self.losing = losing }

        func write(_ batch: [TraceRecord]) -> TraceBatchResult {
            let number = lock.withLock { written.append(batch); return written.count - 1 }
            if number == 0, holdsFirst {
                entered.signal()
                gate.wait()
            }
            return losing.contains(number) ? .lost(DiskFull()) : .written()
        }

        /// Waits until the first batch is being written (and held).
        func waitForFirstBatch() { entered.wait() }
        func open() { gate.signal() }
        /// The run id of every record of every batch so far.
        var batches: [[String]] { lock.withLock { written.map { $0.map(Self.runId) } } }

        static func runId(_ record: TraceRecord) -> String {
            if case .runStarted(let run) = record { return run.id }
            if case .scored(let score) = record { return "\(score.runId)/\(score.name)" }
            return "?"
        }
    }

    private func start(_ id: String) -> TraceRun { TraceRun(id: id, pipeline: "p", file: "p.sluice", startedAt: 0, inputs: .null) }

    func testWhatAccumulatesDuringACommitIsTheNextBatch() throws {
        let store = GatedStore(holdsFirst: true)
        let traces = TraceWriter(store: store)
        try traces.runStarted(start("r0"))
        store.waitForFirstBatch()
        for index in 1...99 { try traces.runStarted(start("r\(index)")) }
        store.open()
        traces.close()
        XCTAssertEqual(store.batches, [["r0"], (1...99).map { "r\($0)" }])
    }

    func testAFullQueueMakesTheRunWaitAndLosesNothing() throws {
        let store = GatedStore(holdsFirst: true)
        let traces = TraceWriter(store: store, capacity: 4)
        try traces.runStarted(start("r"))
        store.waitForFirstBatch()
        for index in 1...4 { try traces.scored(TraceScore(runId: "r", spanId: nil, name: "s\(index)", value: 1)) }
        let queuedFifth = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? traces.scored(TraceScore(runId: "r", spanId: nil, name: "s5", value: 1))
            queuedFifth.signal()
        }
        XCTAssertEqual(queuedFifth.wait(timeout: .now() + 0.3), .timedOut, "a record beyond the queue's capacity waits for room")
        store.open()
        XCTAssertEqual(queuedFifth.wait(timeout: .now() + 10), .success)
        traces.close()
        XCTAssertEqual(Array(store.batches.joined()), ["r", "r/s1", "r/s2", "r/s3", "r/s4", "r/s5"])
    }

    func testALostBatchIsChargedToTheRunsItHeldAndReportedAtTheirEnd() throws {
        let store = GatedStore(holdsFirst: true, losing: [1])
        let traces = TraceWriter(store: store)
        try traces.runStarted(start("kept"))
        store.waitForFirstBatch()
        try traces.runStarted(start("lost-a"))
        try traces.scored(TraceScore(runId: "lost-b", spanId: nil, name: "s", value: 1))
        store.open()
        traces.flush()
        XCTAssertEqual(store.batches, [["kept"], ["lost-a", "lost-b/s"]])
        XCTAssertNil(traces.failure(ofRun: "kept"))
        XCTAssertEqual(traces.failure(ofRun: "lost-a").map { "\($0)" }, "the disk is full")
        XCTAssertEqual(traces.failure(ofRun: "lost-b").map { "\($0)" }, "the disk is full")
        // The run's end still goes to the store, and the runtime learns the run's trace is incomplete.
        XCTAssertThrowsError(try traces.runEnded(TraceRunEnd(id: "lost-a", status: .ok, endedAt: 1, output: nil, error: nil, cost: 0, tokens: 0))) {
            XCTAssertEqual("\($0)", "the disk is full")
        }
        XCTAssertNoThrow(try traces.runEnded(TraceRunEnd(id: "kept", status: .ok, endedAt: 1, output: nil, error: nil, cost: 0, tokens: 0)))
        traces.close()
        XCTAssertEqual(store.batches.joined().count, 5)
    }
}

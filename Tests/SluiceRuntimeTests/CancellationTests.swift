import Foundation
@testable import SluiceRuntime
import XCTest

/// Cancelling a run's task (what the CLI does on SIGINT, SIGTERM, SIGHUP) ends the run as
/// `cancelled`, records the call in flight as cancelled, and is never taken for a provider
/// failure that a cascade or `catch` could recover from.
final class CancellationTests: XCTestCase {
    /// Answers nothing until cancelled; `wrapsCancellation` reports it as a transport error, as a
    /// provider that does not know about cancellation would.
    final class WaitingProvider: ModelProvider, @unchecked Sendable {
        let wrapsCancellation: Bool
        private let lock = NSLock()
        private var models: [String] = []
        init(wrapsCancellation: Bool) { self.wrapsCancellation = wrapsCancellation }
        var called: [String] { lock.withLock { models } }

        func complete(_ request: ChatRequest) async throws -> ChatResponse {
            lock.withLock { models.append(request.model.name) }
            do { try await Task.sleep(nanoseconds: 60_000_000_000) } catch {
                if wrapsCancellation { throw ProviderError(.transport, "request aborted: \(error)") }
                throw error
            }
            return ChatResponse(text: "late", model: request.model.name, inputTokens: 1, outputTokens: 1)
        }
    }

    final class LifecycleTrace: TraceSink, @unchecked Sendable {
        private let lock = NSLock()
        private(set) var started: [TraceModelCall] = []
        private(set) var completed: [TraceModelCall] = []
        private(set) var spanStatuses: [String] = []
        private(set) var end: TraceRunEnd?
        var startedCount: Int { lock.withLock { started.count } }

        func runStarted(_ run: TraceRun) throws {}
        func spanStarted(_ span: TraceSpan) throws {}
        func spanEnded(_ end: TraceSpanEnd) throws { lock.withLock { spanStatuses.append(end.status) } }
        func modelCallStarted(_ call: TraceModelCall) throws { lock.withLock { started.append(call) } }
        func modelCalled(_ call: TraceModelCall) throws { lock.withLock { completed.append(call) } }
        func guardChecked(_ verdict: TraceGuardVerdict) throws {}
        func scored(_ score: TraceScore) throws {}
        func runEnded(_ end: TraceRunEnd) throws { lock.withLock { self.end = end } }
        func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {}
    }

    func testCancellingTheRunEndsItCancelledWithTheCallInFlightRecorded() async throws {
        for wraps in [false, true] {
            let program = try checkedProgram("""
                model first { provider "scripted" }
                model second { provider "scripted" }
                prompt ask(q: string) { model first  user "{q}" }
                pipeline main(q: string) {
                  return cascade ask(q: q) {
                    first accept it != ""
                    second
                  }
                }
                """)
            let provider = WaitingProvider(wrapsCancellation: wraps)
            let trace = LifecycleTrace()
            let interpreter = Interpreter(program: program, effects: testEffects(provider: provider, trace: trace))
            let task = Task { () async -> Result<RunResult, RunFailure> in
                do throws(RunFailure) { return .success(try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")])) } catch {
                    return .failure(error)
                }
            }
            while trace.startedCount == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
            XCTAssertNil(trace.end, "the run is still going while its call is in flight")
            XCTAssertEqual(trace.started.map(\.status), [.inFlight])
            task.cancel()
            guard case .failure(let failure) = await task.value else { return XCTFail("a cancelled run cannot succeed") }
            XCTAssertEqual(failure.error.kind, .cancelled, "wraps \(wraps)")
            XCTAssertEqual(failure.error.message, "the run was cancelled")
            XCTAssertEqual(trace.end?.status, .cancelled)
            XCTAssertEqual(provider.called, ["first"], "cancellation is not a failure the cascade tries the next model for")
            XCTAssertEqual(trace.completed.map(\.status), [.cancelled])
            XCTAssertEqual(trace.completed.first?.id, trace.started.first?.id)
            XCTAssertNotNil(trace.started.first?.id)
            XCTAssertEqual(trace.spanStatuses, ["cancelled", "cancelled"], "the cascade's span and the pipeline's")
        }
    }
}

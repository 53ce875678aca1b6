import Foundation

/// Writes a run's trace through the injected sink. The open span is task-local, so concurrent
/// branches of one run (`parallel`) each nest their spans under the right parent. Everything
/// written first passes through the run's redactions, so text a guard redacted or an input
/// declared `sensitive` never reaches the store. A failing sink never fails the run: its first
/// error is kept and reported once the run ends.
final class Tracer: @unchecked Sendable {
    /// The span that new spans and records belong to, in the current task.
    @TaskLocal static var currentSpan: String?

    let sink: TraceSink
    let clock: Clock
    let random: RandomSource
    let runId: String
    let redactions: Redactions
    private let lock = NSLock()
    private var firstError: Error?
    private var callsStarted = 0

    init(sink: TraceSink, clock: Clock, random: RandomSource, redactions: Redactions) {
        self.sink = sink
        self.clock = clock
        self.random = random
        self.redactions = redactions
        self.runId = Tracer.makeId(random)
    }

    static func makeId(_ random: RandomSource) -> String {
        let hex = String(random.next(), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    var currentSpan: String? { Tracer.currentSpan }

    /// A model call's id, unique in the store: the run's id and the call's number in the run
    /// (not drawn from `random`, so seeded runs keep their span ids).
    func nextCallId() -> String { lock.withLock { callsStarted += 1; return "\(runId).\(callsStarted)" } }
    var sinkError: Error? { lock.withLock { firstError } }

    private func record(_ write: () throws -> Void) {
        do { try write() } catch { lock.withLock { if firstError == nil { firstError = error } } }
    }

    func startRun(pipeline: String, file: String, inputs: JSONValue, user: String?, session: String?) {
        let inputs = redactions.scrub(inputs)
        record {
            try sink.runStarted(TraceRun(id: runId, pipeline: pipeline, file: file, startedAt: clock.now(), inputs: inputs,
                                         user: user, session: session))
        }
    }

    func endRun(status: TraceRunEnd.Status, output: JSONValue?, error: String?, cost: Double, tokens: Int) {
        let output = output.map(redactions.scrub), error = error.map(redactions.scrub)
        record {
            try sink.runEnded(TraceRunEnd(id: runId, status: status, endedAt: clock.now(), output: output, error: error,
                                          cost: cost, tokens: tokens))
        }
    }

    /// Runs `body` inside a span; `detail` is filled in by the body and stored when the span ends.
    func span<T>(_ kind: String, _ name: String, _ body: (inout JSONDetail) async throws -> T) async throws -> T {
        let id = Tracer.makeId(random)
        let parent = Tracer.currentSpan
        record { try sink.spanStarted(TraceSpan(id: id, runId: runId, parentId: parent, kind: kind, name: name, startedAt: clock.now())) }
        var detail = JSONDetail()
        do {
            let result = try await Tracer.$currentSpan.withValue(id) { try await body(&detail) }
            let json = redactions.scrub(detail.json)
            record { try sink.spanEnded(TraceSpanEnd(id: id, endedAt: clock.now(), status: "ok", detail: json)) }
            return result
        } catch {
            if case let runtime as RuntimeError = error { detail["error"] = .string(runtime.message) }
            let json = redactions.scrub(detail.json)
            // A span that ends because the run's task was cancelled did not fail: it was stopped.
            let status = Task.isCancelled ? "cancelled" : "error"
            record { try sink.spanEnded(TraceSpanEnd(id: id, endedAt: clock.now(), status: status, detail: json)) }
            throw error
        }
    }

    func modelCallStarted(_ call: TraceModelCall) { record { try sink.modelCallStarted(scrubbed(call)) } }
    func modelCalled(_ call: TraceModelCall) { record { try sink.modelCalled(scrubbed(call)) } }

    private func scrubbed(_ call: TraceModelCall) -> TraceModelCall {
        var call = call
        call.messages = call.messages.map { ChatMessage(role: $0.role, content: redactions.scrub($0.content)) }
        call.reply = call.reply.map(redactions.scrub)
        call.error = call.error.map(redactions.scrub)
        return call
    }
    func guardChecked(_ verdict: TraceGuardVerdict) { record { try sink.guardChecked(verdict) } }
    func scored(_ score: TraceScore) { record { try sink.scored(score) } }

    /// Replaces text that became secret after it was written (a reply a `leak` guard blocked,
    /// an input redacted by a later guard) in everything this run has recorded so far.
    func scrubRecorded(_ replacements: [Redactions.Replacement]) {
        guard !replacements.isEmpty else { return }
        record { try sink.scrub(runId: runId, replacements: replacements.map { ($0.secret, $0.replacement) }) }
    }
}

/// Ordered key/value facts about a span.
struct JSONDetail {
    private(set) var members: [(key: String, value: JSONValue)] = []
    subscript(key: String) -> JSONValue? {
        get { members.last(where: { $0.key == key })?.value }
        set {
            members.removeAll { $0.key == key }
            if let newValue { members.append((key, newValue)) }
        }
    }
    var json: JSONValue { .object(members) }
}

/// A sink that keeps nothing, for the REPL's throwaway evaluations and for tests.
public struct DiscardingTraceSink: TraceSink {
    public init() {}
    public func runStarted(_ run: TraceRun) throws {}
    public func spanStarted(_ span: TraceSpan) throws {}
    public func spanEnded(_ end: TraceSpanEnd) throws {}
    public func modelCallStarted(_ call: TraceModelCall) throws {}
    public func modelCalled(_ call: TraceModelCall) throws {}
    public func guardChecked(_ verdict: TraceGuardVerdict) throws {}
    public func scored(_ score: TraceScore) throws {}
    public func runEnded(_ end: TraceRunEnd) throws {}
    public func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {}
}

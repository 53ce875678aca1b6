/// Writes a run's trace through the injected sink, keeping the stack of open spans so every
/// span knows its parent. A failing sink never fails the run: its first error is kept and
/// reported once the run ends.
final class Tracer {
    let sink: TraceSink
    let clock: Clock
    let random: RandomSource
    let runId: String
    private var openSpans: [String] = []
    private(set) var sinkError: Error?

    init(sink: TraceSink, clock: Clock, random: RandomSource) {
        self.sink = sink
        self.clock = clock
        self.random = random
        self.runId = Tracer.makeId(random)
    }

    static func makeId(_ random: RandomSource) -> String {
        let hex = String(random.next(), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    var currentSpan: String? { openSpans.last }

    private func record(_ write: () throws -> Void) {
        do { try write() } catch { if sinkError == nil { sinkError = error } }
    }

    func startRun(pipeline: String, file: String, inputs: JSONValue) {
        record { try sink.runStarted(TraceRun(id: runId, pipeline: pipeline, file: file, startedAt: clock.now(), inputs: inputs)) }
    }

    func endRun(status: TraceRunEnd.Status, output: JSONValue?, error: String?, cost: Double, tokens: Int) {
        record {
            try sink.runEnded(TraceRunEnd(id: runId, status: status, endedAt: clock.now(), output: output, error: error,
                                          cost: cost, tokens: tokens))
        }
    }

    /// Runs `body` inside a span; `detail` is filled in by the body and stored when the span ends.
    func span<T>(_ kind: String, _ name: String, _ body: (inout JSONDetail) async throws -> T) async throws -> T {
        let id = Tracer.makeId(random)
        record { try sink.spanStarted(TraceSpan(id: id, runId: runId, parentId: openSpans.last, kind: kind, name: name, startedAt: clock.now())) }
        openSpans.append(id)
        var detail = JSONDetail()
        do {
            let result = try await body(&detail)
            openSpans.removeLast()
            record { try sink.spanEnded(TraceSpanEnd(id: id, endedAt: clock.now(), status: "ok", detail: detail.json)) }
            return result
        } catch {
            openSpans.removeLast()
            if case let runtime as RuntimeError = error { detail["error"] = .string(runtime.message) }
            record { try sink.spanEnded(TraceSpanEnd(id: id, endedAt: clock.now(), status: "error", detail: detail.json)) }
            throw error
        }
    }

    func modelCalled(_ call: TraceModelCall) { record { try sink.modelCalled(call) } }
    func guardChecked(_ verdict: TraceGuardVerdict) { record { try sink.guardChecked(verdict) } }
    func scored(_ score: TraceScore) { record { try sink.scored(score) } }
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
    public func modelCalled(_ call: TraceModelCall) throws {}
    public func guardChecked(_ verdict: TraceGuardVerdict) throws {}
    public func scored(_ score: TraceScore) throws {}
    public func runEnded(_ end: TraceRunEnd) throws {}
}

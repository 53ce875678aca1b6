import Foundation
import SluiceRuntime
import SluiceTokenizers

/// How a stored run becomes OpenTelemetry spans: one trace per run, its id derived from the run's id
/// (so exporting a run twice gives the same trace); a root span for the run; every recorded span
/// under it, as the store nests them; each model call as a client span under the span it was made
/// in, with the OpenTelemetry GenAI semantic conventions (`gen_ai.*`); guard verdicts and scores
/// as events on their spans.
struct OTLPTraceMapping {
    /// Message content (`gen_ai.input.messages`, `gen_ai.output.messages`), the run's inputs and
    /// output and the spans' details go out only when this is set, and then as stored: redacted.
    var captureContent: Bool

    static func traceId(ofRun runId: String) -> [UInt8] { Array(SHA256.digest(Array("sluice run \(runId)".utf8)).prefix(16)) }

    /// A span id unique within the trace: stored span ids need not be 8 bytes of hex, so every id is hashed.
    static func spanId(_ runId: String, _ what: String) -> [UInt8] { Array(SHA256.digest(Array("sluice \(runId) \(what)".utf8)).prefix(8)) }

    func spans(of run: RunDetail) -> [OTLPSpan] {
        let summary = run.summary
        let traceId = Self.traceId(ofRun: summary.id)
        let rootId = Self.spanId(summary.id, "run")
        let recordedIds = Set(run.spans.map(\.id))
        // A run without an end (interrupted) ends at the last moment its trace knows of.
        let lastKnown = ([summary.startedAt] + run.spans.flatMap { [$0.startedAt, $0.endedAt ?? $0.startedAt] }).max() ?? summary.startedAt
        let runEnd = summary.endedAt ?? lastKnown
        var spanEnds: [String: Double] = [:]
        for span in run.spans { spanEnds[span.id] = span.endedAt ?? runEnd }

        var rootAttributes: [OTLPAttribute] = [
            OTLPAttribute("sluice.run.id", .string(summary.id)), OTLPAttribute("sluice.pipeline", .string(summary.pipeline)),
            OTLPAttribute("sluice.file", .string(summary.file)), OTLPAttribute("sluice.run.status", .string(summary.status)),
            OTLPAttribute("sluice.cost_usd", .double(NumberDisplay.significant(summary.cost, digits: 10))), OTLPAttribute("sluice.tokens", .int(Int64(summary.tokens))),
        ]
        if let user = summary.user { rootAttributes.append(OTLPAttribute("user.id", .string(user))) }
        if let session = summary.session { rootAttributes.append(OTLPAttribute("session.id", .string(session))) }
        if captureContent {
            rootAttributes.append(OTLPAttribute("sluice.run.inputs", .string(run.inputs.serialized())))
            if let output = run.output { rootAttributes.append(OTLPAttribute("sluice.run.output", .string(output.serialized()))) }
        }
        let runFailed = !["ok", "running"].contains(summary.status)
        var spans = [OTLPSpan(
            traceId: traceId, spanId: rootId, parentSpanId: [], name: "run \(summary.pipeline)", kind: .internal,
            startTimeUnixNano: Self.nanos(summary.startedAt), endTimeUnixNano: Self.nanos(runEnd), attributes: rootAttributes,
            events: run.scores.filter { score in score.spanId.map { !recordedIds.contains($0) } ?? true }.map { scoreEvent($0, at: runEnd) },
            statusCode: runFailed ? .error : .unset,
            statusMessage: runFailed ? run.error ?? summary.status : "")]

        for span in run.spans {
            let parent = span.parentId.flatMap { recordedIds.contains($0) && $0 != span.id ? Self.spanId(summary.id, "span \($0)") : nil } ?? rootId
            let end = spanEnds[span.id] ?? runEnd
            var attributes: [OTLPAttribute] = [
                OTLPAttribute("sluice.span.kind", .string(span.kind)), OTLPAttribute("sluice.span.name", .string(span.name)),
                OTLPAttribute("sluice.span.id", .string(span.id)),
            ]
            if captureContent, let detail = span.detail, detail != .object([]), detail != .null {
                attributes.append(OTLPAttribute("sluice.span.detail", .string(detail.serialized())))
            }
            let events = run.guardVerdicts.filter { $0.spanId == span.id }.map { verdict in
                OTLPSpan.Event(timeUnixNano: Self.nanos(end), name: "sluice.guard", attributes: [
                    OTLPAttribute("sluice.guard.name", .string(verdict.guardName)), OTLPAttribute("sluice.guard.verdict", .string(verdict.verdict)),
                    OTLPAttribute("sluice.guard.matches", .int(Int64(verdict.matches))),
                ] + (verdict.pattern.map { [OTLPAttribute("sluice.guard.pattern", .string($0))] } ?? []))
            } + run.scores.filter { $0.spanId == span.id }.map { scoreEvent($0, at: end) }
            // An open span of a run that is over did not finish: it was interrupted.
            let status = span.status ?? (summary.status == "running" ? nil : summary.status)
            let failed = status.map { $0 != "ok" } ?? false
            spans.append(OTLPSpan(
                traceId: traceId, spanId: Self.spanId(summary.id, "span \(span.id)"), parentSpanId: parent, name: "\(span.kind) \(span.name)",
                kind: .internal, startTimeUnixNano: Self.nanos(span.startedAt), endTimeUnixNano: Self.nanos(end), attributes: attributes,
                events: events, statusCode: failed ? .error : .unset,
                statusMessage: failed ? span.detail?["error"]?.stringValue ?? status ?? "" : ""))
        }

        // The store keeps a call's latency, not its start: the calls of one span ran one after another
        // (a cascade's steps, a call's retries, `validate`'s re-asks), so each is placed after the ones
        // before it, from the span's start.
        var nextStart: [String: Double] = [:]
        for (index, call) in run.modelCalls.enumerated() {
            let recordedSpan = run.spans.first { $0.id == call.spanId }
            let start = nextStart[call.spanId] ?? recordedSpan?.startedAt ?? summary.startedAt
            let end = start + max(0, call.latencyMs) / 1000
            nextStart[call.spanId] = end
            let parent = recordedSpan != nil ? Self.spanId(summary.id, "span \(call.spanId)") : rootId
            spans.append(modelCallSpan(call, prompt: run.callPrompts[index], traceId: traceId, spanId: Self.spanId(summary.id, "call \(index)"),
                                       parent: parent, start: start, end: end))
        }
        return spans
    }

    private func modelCallSpan(_ call: TraceModelCall, prompt: String?, traceId: [UInt8], spanId: [UInt8], parent: [UInt8],
                               start: Double, end: Double) -> OTLPSpan {
        var attributes: [OTLPAttribute] = [
            OTLPAttribute("gen_ai.operation.name", .string("chat")),
            OTLPAttribute("gen_ai.provider.name", .string(call.provider)),
            OTLPAttribute("sluice.model.name", .string(call.model)),
            OTLPAttribute("gen_ai.usage.input_tokens", .int(Int64(call.inputTokens))),
            OTLPAttribute("gen_ai.usage.output_tokens", .int(Int64(call.outputTokens))),
            OTLPAttribute("gen_ai.usage.cache_read.input_tokens", .int(Int64(call.cachedTokens))),
            OTLPAttribute("sluice.cost_usd", .double(NumberDisplay.significant(call.cost, digits: 10))),
            OTLPAttribute("sluice.call.attempt", .int(Int64(call.attempt))),
            OTLPAttribute("sluice.call.status", .string(call.status.rawValue)),
        ]
        // Each only when the store knows it: rows written before it kept them, and tries that got no answer, have none.
        if let id = call.requestModel { attributes.append(OTLPAttribute("gen_ai.request.model", .string(id))) }
        if let maxTokens = call.maxTokens { attributes.append(OTLPAttribute("gen_ai.request.max_tokens", .int(Int64(maxTokens)))) }
        if let temperature = call.temperature { attributes.append(OTLPAttribute("gen_ai.request.temperature", .double(temperature))) }
        if let answered = call.responseModel { attributes.append(OTLPAttribute("gen_ai.response.model", .string(answered))) }
        if let reason = call.finishReason { attributes.append(OTLPAttribute("gen_ai.response.finish_reasons", .array([.string(reason)]))) }
        if let written = call.cacheWriteTokens {
            attributes.append(OTLPAttribute("gen_ai.usage.cache_creation.input_tokens", .int(Int64(written))))
        }
        if let reasoning = call.reasoningTokens { attributes.append(OTLPAttribute("gen_ai.usage.reasoning.output_tokens", .int(Int64(reasoning)))) }
        if let prompt { attributes.append(OTLPAttribute("sluice.prompt.name", .string(prompt))) }
        if let version = call.promptVersion { attributes.append(OTLPAttribute("sluice.prompt.version", .int(Int64(version)))) }
        let failed = call.status == .error || call.status == .interrupted
        if failed { attributes.append(OTLPAttribute("error.type", .string(Self.errorType(call.error)))) }
        if captureContent {
            let input = JSONValue.array(call.messages.map { message in
                .object([("role", .string(message.role)), ("parts", .array([.object([("type", .string("text")), ("content", .string(message.content))])]))])
            })
            attributes.append(OTLPAttribute("gen_ai.input.messages", .string(input.serialized())))
            if let reply = call.reply {
                let output = JSONValue.array([.object([("role", .string("assistant")),
                                                       ("parts", .array([.object([("type", .string("text")), ("content", .string(reply))])]))])])
                attributes.append(OTLPAttribute("gen_ai.output.messages", .string(output.serialized())))
            }
        }
        return OTLPSpan(traceId: traceId, spanId: spanId, parentSpanId: parent, name: "chat \(call.model)", kind: .client,
                        startTimeUnixNano: Self.nanos(start), endTimeUnixNano: Self.nanos(end), attributes: attributes, events: [],
                        statusCode: failed ? .error : .unset, statusMessage: failed ? call.error ?? call.status.rawValue : "")
    }

    private func scoreEvent(_ score: TraceScore, at time: Double) -> OTLPSpan.Event {
        OTLPSpan.Event(timeUnixNano: Self.nanos(time), name: "sluice.score",
                       attributes: [OTLPAttribute("sluice.score.name", .string(score.name)), OTLPAttribute("sluice.score.value", .double(score.value))])
    }

    /// `error.type` is low-cardinality: the HTTP status when the error names one (`HTTP 500 from ...`), else `_OTHER`.
    static func errorType(_ error: String?) -> String {
        guard let error, let range = error.range(of: #"HTTP [1-5][0-9][0-9]\b"#, options: .regularExpression) else { return "_OTHER" }
        return String(error[range].dropFirst(5))
    }

    static func nanos(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return UInt64(min(seconds * 1e9, 1.8e19).rounded())
    }
}

import Foundation
import SluiceRuntime

extension SQLiteStore {
    /// A readable tree of a run for `sluice traces show`: spans with their start (from the run's start),
    /// duration and status, and under each the model calls (tokens, cost, latency, error), guard
    /// verdicts and scores recorded in it.
    public func renderTrace(_ detail: RunDetail) -> String {
        TraceRenderer(detail: detail).render()
    }
}

/// Formats a `RunDetail` as plain text (no colour: the CLI adds it if it wants).
struct TraceRenderer {
    let detail: RunDetail
    private let children: [String?: [SpanRecord]]

    init(detail: RunDetail) {
        self.detail = detail
        // `spans` is already in tree order, so grouping by parent keeps each family in start order.
        var children: [String?: [SpanRecord]] = [:]
        for span in detail.spans {
            children[span.depth == 0 ? nil : span.parentId, default: []].append(span)
        }
        self.children = children
    }

    func render() -> String {
        let run = detail.summary
        var lines = [
            "run \(run.id)  \(run.pipeline)  \(run.status)  \(run.status == "running" ? Self.duration(run.duration) : run.duration.map(Self.duration) ?? "unfinished")  \(Self.dollars(run.cost))  \(run.tokens) tokens",
            "file \(run.file)  started \(Self.timestamp(run.startedAt))",
            "inputs \(Self.preview(detail.inputs.serialized(), limit: 200))",
        ]
        let roots = children[nil] ?? []
        for (index, span) in roots.enumerated() {
            renderSpan(span, prefix: "", isLast: index == roots.count - 1, into: &lines)
        }
        if let error = detail.error { lines.append("error \(error)") }
        if let output = detail.output { lines.append("output \(Self.preview(output.serialized(), limit: 400))") }
        let runScores = detail.scores.filter { score in score.spanId.map { id in !detail.spans.contains { $0.id == id } } ?? true }
        for score in runScores { lines.append("score \(score.name) \(Self.number(score.value))") }
        return lines.joined(separator: "\n") + "\n"
    }

    private func renderSpan(_ span: SpanRecord, prefix: String, isLast: Bool, into lines: inout [String]) {
        // An open span of a run that is over (interrupted) has no end to show, rather than "running".
        let running = detail.summary.status == "running"
        let status = span.status ?? (running ? "unfinished" : detail.summary.status)
        let duration = span.duration.map(Self.duration) ?? (running ? Self.duration(nil) : "unfinished")
        let offset = "+" + Self.duration(span.startedAt - detail.summary.startedAt)
        lines.append(prefix + (isLast ? "└─ " : "├─ ") + "\(span.kind) \(span.name)  \(offset)  \(duration)  \(status)")
        let inner = prefix + (isLast ? "   " : "│  ")
        let kids = children[span.id] ?? []
        let facts = inner + (kids.isEmpty ? "   " : "│  ")
        if let detail = span.detail, detail != .object([]), detail != .null {
            lines.append(facts + Self.preview(detail.serialized(), limit: 160))
        }
        for (index, call) in detail.modelCalls.enumerated() where call.spanId == span.id {
            var line = "model \(call.model) (\(call.provider)) attempt \(call.attempt): \(call.inputTokens) in / \(call.outputTokens) out"
            if call.cachedTokens > 0 { line += " (\(call.cachedTokens) cached)" }
            line += ", \(Self.dollars(call.cost)), \(Self.duration(call.latencyMs / 1000))"
            // A reply that stopped for any reason but the normal one (`length`: cut at max_tokens) says so.
            if let reason = call.finishReason, reason != "stop" { line += ", finished: \(Self.preview(reason, limit: 40))" }
            switch call.status {
            case .inFlight: line += " so far (in flight)"
            case .cancelled, .interrupted: line += " (\(call.status.rawValue))"
            case .ok, .error: break
            }
            lines.append(facts + line)
            if call.promptVersion != nil || call.promptMeta != nil {
                let named = detail.callPrompts[index].map { "prompt \($0)" } ?? "prompt"
                let version = named + (call.promptVersion.map { " v\($0)" } ?? "")
                let meta = call.promptMeta.map { "  meta " + Self.preview($0.serialized(), limit: 160) } ?? ""
                lines.append(facts + "  " + version + meta)
            }
            for warning in call.warnings { lines.append(facts + "  warning: " + Self.preview(warning, limit: 300)) }
            if let error = call.error { lines.append(facts + "  error: " + Self.preview(error, limit: 300)) }
            if let reply = call.reply { lines.append(facts + "  reply: " + Self.preview(reply, limit: 120)) }
        }
        for verdict in detail.guardVerdicts where verdict.spanId == span.id {
            let pattern = verdict.pattern.map { " [\($0)]" } ?? ""
            let plural = verdict.matches == 1 ? "match" : "matches"
            lines.append(facts + "guard \(verdict.guardName)\(pattern): \(verdict.verdict) (\(verdict.matches) \(plural))")
        }
        for score in detail.scores where score.spanId == span.id {
            lines.append(facts + "score \(score.name) \(Self.number(score.value))")
        }
        for (index, child) in kids.enumerated() {
            renderSpan(child, prefix: inner, isLast: index == kids.count - 1, into: &lines)
        }
    }

    static func duration(_ seconds: Double?) -> String { seconds.map(TraceDisplay.duration) ?? "running" }

    static func dollars(_ amount: Double) -> String { NumberDisplay.money(amount) }

    static func number(_ value: Double) -> String { NumberDisplay.score(value) }

    static func timestamp(_ seconds: Double) -> String { TraceDisplay.timestamp(seconds) }

    /// One line, at most `limit` characters.
    static func preview(_ text: String, limit: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit)) + "…"
    }
}

/// How every traces command prints times and durations.
public enum TraceDisplay {
    /// `2026-12-01 09:30:00Z`.
    public static func timestamp(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    /// `640ms` under a second, `1.24s` from one up.
    public static func duration(_ seconds: Double) -> String {
        // A clock step between two timestamps must not print as a negative time.
        let seconds = max(0, seconds)
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        return String(format: "%.2fs", seconds)
    }
}

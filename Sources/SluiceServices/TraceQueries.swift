import Foundation
import SluiceRuntime

/// One line of `sluice traces list`.
public struct RunSummary: Sendable, Hashable {
    public var id: String
    public var pipeline: String
    public var file: String
    /// "running" until the run ends, then "ok", "error", "blocked" or "cancelled"; "interrupted" when
    /// its process ended without closing it (killed, crashed).
    public var status: String
    public var startedAt: Double
    public var endedAt: Double?
    public var cost: Double
    public var tokens: Int

    /// Seconds from start to end; nil while the run has not ended.
    public var duration: Double? { endedAt.map { $0 - startedAt } }
}

public struct SpanRecord: Sendable, Hashable {
    public var id: String
    public var parentId: String?
    /// 0 for a top-level span, 1 for its children, and so on.
    public var depth: Int
    public var kind: String
    public var name: String
    public var startedAt: Double
    public var endedAt: Double?
    /// "ok" or "error"; nil while the span is open.
    public var status: String?
    public var detail: JSONValue?

    public var duration: Double? { endedAt.map { $0 - startedAt } }
}

/// Everything recorded about one run, for `sluice traces show`.
public struct RunDetail: Sendable, Hashable {
    public var summary: RunSummary
    public var inputs: JSONValue
    public var output: JSONValue?
    public var error: String?
    /// Depth-first: every span is followed by its children, in the order they started.
    public var spans: [SpanRecord]
    public var modelCalls: [TraceModelCall]
    public var guardVerdicts: [TraceGuardVerdict]
    public var scores: [TraceScore]
}

extension SQLiteStore {
    /// The most recent runs, newest first.
    public func listRuns(limit: Int) throws -> [RunSummary] {
        try database.withConnection { db in
            let abandoned = try Self.abandonedRuns(in: db)
            return try db.query("SELECT \(Self.summaryColumns) FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
                                [.int(max(0, limit))], row: Self.summary).map { Self.reportingAbandoned($0, abandoned) }
        }
    }

    /// Closes as `interrupted` every run still `running` whose process is gone, and its calls in flight.
    func closeAbandonedRuns() throws {
        guard try database.withConnection({ db in try !Self.abandonedRuns(in: db).isEmpty }) else { return }
        try database.transaction { db in
            for (id, error) in try Self.abandonedRuns(in: db) {
                try db.run("UPDATE runs SET status = 'interrupted', error = ? WHERE id = ? AND status = 'running'", [.text(error), .text(id)])
                try db.run("UPDATE model_calls SET status = 'interrupted' WHERE run_id = ? AND status = 'in_flight'", [.text(id)])
            }
        }
    }

    /// The runs marked `running` whose owning process is known to be gone, each with the error that says so.
    /// A run written before schema version 4 records no owner and is left as it is.
    static func abandonedRuns(in db: SQLiteConnection) throws -> [String: String] {
        let running = try db.query("SELECT id, owner_host, owner_boot, owner_pid, owner_start FROM runs WHERE status = 'running'") { row in
            (row.text(0), row.optionalText(1).map { RunOwner(host: $0, boot: row.optionalText(2) ?? "", pid: row.int(3), start: row.int(4)) })
        }
        var abandoned: [String: String] = [:]
        for (id, owner) in running {
            guard let owner, owner.isGone else { continue }
            abandoned[id] = "interrupted: the process that ran it (pid \(owner.pid) on \(owner.host)) ended before the run did"
        }
        return abandoned
    }

    private static func reportingAbandoned(_ summary: RunSummary, _ abandoned: [String: String]) -> RunSummary {
        guard summary.status == "running", abandoned[summary.id] != nil else { return summary }
        var summary = summary
        summary.status = "interrupted"
        return summary
    }

    /// The run with this id, or with an id starting with it when exactly one does; nil when none matches.
    /// An ambiguous prefix is an error that lists the candidates.
    public func run(id: String) throws -> RunDetail? {
        guard !id.isEmpty else { return nil }
        return try database.withConnection { db -> RunDetail? in
            let exact = try db.query("SELECT id FROM runs WHERE id = ?", [.text(id)]) { $0.text(0) }
            let candidates = exact.isEmpty
                ? try db.query("SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 6", [.text(id)]) { $0.text(0) }
                : exact
            guard let runId = candidates.first else { return nil }
            if candidates.count > 1 {
                let shown = candidates.prefix(5).joined(separator: ", ")
                throw StoreError("run id prefix '\(id)' matches several runs (\(shown)\(candidates.count > 5 ? ", ..." : "")): give more characters")
            }
            return try Self.detail(of: runId, in: db)
        }
    }

    private static let summaryColumns = "id, pipeline, file, status, started_at, ended_at, cost, tokens"

    private static func summary(_ row: SQLiteStatement) -> RunSummary {
        RunSummary(id: row.text(0), pipeline: row.text(1), file: row.text(2), status: row.text(3), startedAt: row.double(4),
                   endedAt: row.optionalDouble(5), cost: row.double(6), tokens: row.int(7))
    }

    private static func detail(of runId: String, in db: SQLiteConnection) throws -> RunDetail? {
        let runs = try db.query("SELECT \(summaryColumns), inputs, output, error FROM runs WHERE id = ?", [.text(runId)]) { row in
            (summary(row), storedJSON(row.text(8)), row.optionalText(9).map(storedJSON), row.optionalText(10))
        }
        guard let (storedSummary, inputs, output, storedError) = runs.first else { return nil }
        var runSummary = storedSummary, error = storedError
        let abandoned = runSummary.status == "running" ? try abandonedRuns(in: db)[runId] : nil
        if let abandoned {
            runSummary.status = "interrupted"
            error = abandoned
        }
        let spans = try db.query("""
            SELECT id, parent_id, kind, name, started_at, ended_at, status, detail FROM spans WHERE run_id = ? ORDER BY seq
            """, [.text(runId)]) { row in
            SpanRecord(id: row.text(0), parentId: row.optionalText(1), depth: 0, kind: row.text(2), name: row.text(3),
                       startedAt: row.double(4), endedAt: row.optionalDouble(5), status: row.optionalText(6),
                       detail: row.optionalText(7).map(storedJSON))
        }
        let calls = try db.query("""
            SELECT span_id, model, provider, messages, reply, input_tokens, output_tokens, cached_tokens, cost, latency_ms,
                   error, attempt, prompt_version, prompt_meta, warnings, status, call_id
            FROM model_calls WHERE run_id = ? ORDER BY seq
            """, [.text(runId)]) { row in
            var status = row.optionalText(15).flatMap(TraceModelCall.Status.init(rawValue:))
            if status == .inFlight, abandoned != nil { status = .interrupted }
            return TraceModelCall(runId: runId, spanId: row.text(0), model: row.text(1), provider: row.text(2),
                           messages: storedMessages(row.text(3)), reply: row.optionalText(4), inputTokens: row.int(5),
                           outputTokens: row.int(6), cachedTokens: row.int(7), cost: row.double(8), latencyMs: row.double(9),
                           error: row.optionalText(10), attempt: row.int(11), promptVersion: row.optionalInt(12),
                           promptMeta: row.optionalText(13).map(storedJSON),
                           warnings: row.optionalText(14).map { (storedJSON($0).arrayValue ?? []).compactMap(\.stringValue) } ?? [],
                           id: row.optionalText(16), status: status)
        }
        let verdicts = try db.query("""
            SELECT span_id, guard_name, pattern, verdict, matches FROM guard_verdicts WHERE run_id = ? ORDER BY seq
            """, [.text(runId)]) { row in
            TraceGuardVerdict(runId: runId, spanId: row.text(0), guardName: row.text(1), pattern: row.optionalText(2),
                              verdict: row.text(3), matches: row.int(4))
        }
        let scores = try db.query("SELECT span_id, name, value FROM scores WHERE run_id = ? ORDER BY seq", [.text(runId)]) { row in
            TraceScore(runId: runId, spanId: row.optionalText(0), name: row.text(1), value: row.double(2))
        }
        return RunDetail(summary: runSummary, inputs: inputs, output: output, error: error, spans: treeOrder(spans),
                         modelCalls: calls, guardVerdicts: verdicts, scores: scores)
    }

    /// Orders spans depth-first (children in start order) and sets their depth. A span whose parent
    /// is not in the run is treated as top-level, so nothing recorded is hidden.
    static func treeOrder(_ spans: [SpanRecord]) -> [SpanRecord] {
        let ids = Set(spans.map(\.id))
        var children: [String: [SpanRecord]] = [:]
        var roots: [SpanRecord] = []
        for span in spans {
            if let parent = span.parentId, ids.contains(parent), parent != span.id {
                children[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
        var ordered: [SpanRecord] = []
        var visited: Set<String> = []
        func visit(_ span: SpanRecord, depth: Int) {
            guard visited.insert(span.id).inserted else { return }
            var placed = span
            placed.depth = depth
            ordered.append(placed)
            for child in children[span.id] ?? [] { visit(child, depth: depth + 1) }
        }
        for root in roots { visit(root, depth: 0) }
        // Spans caught in a parent cycle are unreachable from any root: list them last rather than lose them.
        for span in spans where !visited.contains(span.id) { visit(span, depth: 0) }
        return ordered
    }

    /// Stored JSON is written by this store; text that no longer parses is shown as a string rather than lost.
    private static func storedJSON(_ text: String) -> JSONValue {
        (try? JSONValue.parse(text)) ?? .string(text)
    }

    private static func storedMessages(_ text: String) -> [ChatMessage] {
        (storedJSON(text).arrayValue ?? []).map {
            ChatMessage(role: $0["role"]?.stringValue ?? "", content: $0["content"]?.stringValue ?? "")
        }
    }
}

// MARK: - JSON for --json

extension RunSummary {
    public var json: JSONValue {
        .object([
            ("id", .string(id)), ("pipeline", .string(pipeline)), ("file", .string(file)), ("status", .string(status)),
            ("started_at", .number(startedAt)), ("ended_at", endedAt.map(JSONValue.number) ?? .null),
            ("duration", duration.map(JSONValue.number) ?? .null), ("cost", NumberDisplay.moneyJSON(cost)), ("tokens", .number(Double(tokens))),
        ])
    }
}

extension RunDetail {
    public var json: JSONValue {
        guard case .object(var members) = summary.json else { return summary.json }
        members += [
            ("inputs", inputs), ("output", output ?? .null), ("error", error.map(JSONValue.string) ?? .null),
            ("spans", .array(spans.map(\.json))), ("model_calls", .array(modelCalls.map(\.json))),
            ("guard_verdicts", .array(guardVerdicts.map(\.json))), ("scores", .array(scores.map(\.json))),
        ]
        return .object(members)
    }
}

extension SpanRecord {
    public var json: JSONValue {
        .object([
            ("id", .string(id)), ("parent_id", parentId.map(JSONValue.string) ?? .null), ("depth", .number(Double(depth))),
            ("kind", .string(kind)), ("name", .string(name)), ("started_at", .number(startedAt)),
            ("ended_at", endedAt.map(JSONValue.number) ?? .null), ("duration", duration.map(JSONValue.number) ?? .null),
            ("status", status.map(JSONValue.string) ?? .null), ("detail", detail ?? .null),
        ])
    }
}

extension TraceModelCall {
    public var json: JSONValue {
        .object([
            ("span_id", .string(spanId)), ("model", .string(model)), ("provider", .string(provider)),
            ("messages", .array(messages.map(\.json))), ("reply", reply.map(JSONValue.string) ?? .null),
            ("input_tokens", .number(Double(inputTokens))), ("output_tokens", .number(Double(outputTokens))),
            ("cached_tokens", .number(Double(cachedTokens))), ("cost", NumberDisplay.moneyJSON(cost)),
            ("latency_ms", NumberDisplay.millisecondsJSON(latencyMs)),
            ("status", .string(status.rawValue)), ("error", error.map(JSONValue.string) ?? .null), ("attempt", .number(Double(attempt))),
            ("prompt_version", promptVersion.map { .number(Double($0)) } ?? .null), ("prompt_meta", promptMeta ?? .null),
            ("warnings", .array(warnings.map(JSONValue.string))),
        ])
    }
}

extension TraceGuardVerdict {
    public var json: JSONValue {
        .object([
            ("span_id", .string(spanId)), ("guard", .string(guardName)), ("pattern", pattern.map(JSONValue.string) ?? .null),
            ("verdict", .string(verdict)), ("matches", .number(Double(matches))),
        ])
    }
}

extension TraceScore {
    public var json: JSONValue {
        .object([("span_id", spanId.map(JSONValue.string) ?? .null), ("name", .string(name)), ("value", NumberDisplay.scoreJSON(value))])
    }
}

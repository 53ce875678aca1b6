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
    /// Who the run was for (`--user`), and the conversation it belongs to; nil when none.
    public var user: String? = nil
    public var session: String? = nil

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
    /// The prompt each of `modelCalls` was rendered from, in the same order; nil where the trace does not say.
    public var callPrompts: [String?]
    public var guardVerdicts: [TraceGuardVerdict]
    public var scores: [TraceScore]
}

extension SQLiteStore {
    /// The most recent runs that `filter` matches, newest first; at most `limit` of them (all when nil).
    public func listRuns(limit: Int?, filter: TraceFilter = TraceFilter()) throws -> [RunSummary] {
        try database.withConnection { db in
            let abandoned = try Self.abandonedRuns(in: db)
            let (conditions, parameters) = filter.runConditions(abandoned: abandoned)
            let sql = "SELECT \(Self.summaryColumns) FROM runs WHERE \(conditions) ORDER BY started_at DESC, rowid DESC"
                + (limit == nil ? "" : " LIMIT ?")
            return try db.query(sql, parameters + (limit.map { [.int(max(0, $0))] } ?? []), row: Self.summary)
                .map { Self.reportingAbandoned($0, abandoned) }
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

    static func reportingAbandoned(_ summary: RunSummary, _ abandoned: [String: String]) -> RunSummary {
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

    static let summaryColumns = """
        runs.id, runs.pipeline, runs.file, runs.status, runs.started_at, runs.ended_at, runs.cost, runs.tokens, runs.user_id, runs.session_id
        """

    static func summary(_ row: SQLiteStatement) -> RunSummary {
        RunSummary(id: row.text(0), pipeline: row.text(1), file: row.text(2), status: row.text(3), startedAt: row.double(4),
                   endedAt: row.optionalDouble(5), cost: row.double(6), tokens: row.int(7), user: row.optionalText(8),
                   session: row.optionalText(9))
    }

    private static func detail(of runId: String, in db: SQLiteConnection) throws -> RunDetail? {
        let runs = try db.query("SELECT \(summaryColumns), inputs, output, error FROM runs WHERE id = ?", [.text(runId)]) { row in
            (summary(row), storedJSON(row.text(10)), row.optionalText(11).map(storedJSON), row.optionalText(12))
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
            SELECT mc.span_id, mc.model, mc.provider, mc.messages, mc.reply, mc.input_tokens, mc.output_tokens, mc.cached_tokens,
                   mc.cost, mc.latency_ms, mc.error, mc.attempt, mc.prompt_version, mc.prompt_meta, mc.warnings, mc.status, mc.call_id,
                   \(TraceFilter.promptNameSQL), mc.request_model, mc.max_tokens, mc.temperature, mc.response_model, mc.finish_reason,
                   mc.cache_write_tokens, mc.reasoning_tokens
            FROM model_calls mc LEFT JOIN spans s ON s.id = mc.span_id WHERE mc.run_id = ? ORDER BY mc.seq
            """, [.text(runId)]) { row in
            var status = row.optionalText(15).flatMap(TraceModelCall.Status.init(rawValue:))
            if status == .inFlight, abandoned != nil { status = .interrupted }
            var call = TraceModelCall(runId: runId, spanId: row.text(0), model: row.text(1), provider: row.text(2),
                           messages: storedMessages(row.text(3)), reply: row.optionalText(4), inputTokens: row.int(5),
                           outputTokens: row.int(6), cachedTokens: row.int(7), cost: row.double(8), latencyMs: row.double(9),
                           error: row.optionalText(10), attempt: row.int(11), promptVersion: row.optionalInt(12),
                           promptMeta: row.optionalText(13).map(storedJSON),
                           warnings: row.optionalText(14).map { (storedJSON($0).arrayValue ?? []).compactMap(\.stringValue) } ?? [],
                           id: row.optionalText(16), status: status)
            call.requestModel = row.optionalText(18)
            call.maxTokens = row.optionalInt(19)
            call.temperature = row.optionalDouble(20)
            call.responseModel = row.optionalText(21)
            call.finishReason = row.optionalText(22)
            call.cacheWriteTokens = row.optionalInt(23)
            call.reasoningTokens = row.optionalInt(24)
            return (call, row.optionalText(17))
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
                         modelCalls: calls.map(\.0), callPrompts: calls.map(\.1), guardVerdicts: verdicts, scores: scores)
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
            ("user", user.map(JSONValue.string) ?? .null), ("session", session.map(JSONValue.string) ?? .null),
        ])
    }
}

extension RunDetail {
    public var json: JSONValue {
        guard case .object(var members) = summary.json else { return summary.json }
        members += [
            ("inputs", inputs), ("output", output ?? .null), ("error", error.map(JSONValue.string) ?? .null),
            ("spans", .array(spans.map(\.json))), ("model_calls", .array(modelCalls.indices.map(callJSON))),
            ("guard_verdicts", .array(guardVerdicts.map(\.json))), ("scores", .array(scores.map(\.json))),
            ("tree", tree),
        ]
        return .object(members)
    }

    /// A model call's JSON, with the prompt it was rendered from.
    private func callJSON(_ index: Int) -> JSONValue {
        guard case .object(var members) = modelCalls[index].json else { return modelCalls[index].json }
        members.insert(("prompt", callPrompts[index].map(JSONValue.string) ?? .null), at: 3)
        return .object(members)
    }

    /// The span tree `sluice traces show` draws: each span with its start from the run's start and its
    /// duration (milliseconds), its model calls, guard verdicts and scores, and its children.
    var tree: JSONValue {
        var children: [String: [SpanRecord]] = [:]
        var roots: [SpanRecord] = []
        // `spans` is in tree order: a span at depth 0 is a root, any other one follows its parent.
        for span in spans {
            if span.depth == 0 { roots.append(span) } else if let parent = span.parentId { children[parent, default: []].append(span) }
        }
        func node(_ span: SpanRecord) -> JSONValue {
            let offset: JSONValue = NumberDisplay.millisecondsJSON(max(0, span.startedAt - summary.startedAt) * 1000)
            let duration: JSONValue = span.duration.map { NumberDisplay.millisecondsJSON(max(0, $0) * 1000) } ?? .null
            let calls: [JSONValue] = modelCalls.indices.filter { modelCalls[$0].spanId == span.id }.map(callJSON)
            let verdicts: [JSONValue] = guardVerdicts.filter { $0.spanId == span.id }.map(\.json)
            let spanScores: [JSONValue] = scores.filter { $0.spanId == span.id }.map(\.json)
            let kids: [JSONValue] = (children[span.id] ?? []).map(node)
            let members: [(key: String, value: JSONValue)] = [
                ("id", .string(span.id)), ("kind", .string(span.kind)), ("name", .string(span.name)),
                ("offset_ms", offset), ("duration_ms", duration),
                ("status", span.status.map(JSONValue.string) ?? .null), ("detail", span.detail ?? .null),
                ("model_calls", .array(calls)), ("guard_verdicts", .array(verdicts)), ("scores", .array(spanScores)),
                ("children", .array(kids)),
            ]
            return .object(members)
        }
        return .array(roots.map(node))
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
        func count(_ tokens: Int?) -> JSONValue { tokens.map { .number(Double($0)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let asked: [(key: String, value: JSONValue)] = [
            ("request_model", text(requestModel)), ("max_tokens", count(maxTokens)), ("temperature", temperature.map(JSONValue.number) ?? .null),
        ]
        let answered: [(key: String, value: JSONValue)] = [
            ("response_model", text(responseModel)), ("finish_reason", text(finishReason)),
            ("cache_write_tokens", count(cacheWriteTokens)), ("reasoning_tokens", count(reasoningTokens)),
        ]
        let recorded: [(key: String, value: JSONValue)] = [
            ("span_id", .string(spanId)), ("model", .string(model)), ("provider", .string(provider)),
            ("messages", .array(messages.map(\.json))), ("reply", reply.map(JSONValue.string) ?? .null),
            ("input_tokens", .number(Double(inputTokens))), ("output_tokens", .number(Double(outputTokens))),
            ("cached_tokens", .number(Double(cachedTokens))), ("cost", NumberDisplay.moneyJSON(cost)),
            ("latency_ms", NumberDisplay.millisecondsJSON(latencyMs)),
            ("status", .string(status.rawValue)), ("error", error.map(JSONValue.string) ?? .null), ("attempt", .number(Double(attempt))),
            ("prompt_version", promptVersion.map { .number(Double($0)) } ?? .null), ("prompt_meta", promptMeta ?? .null),
            ("warnings", .array(warnings.map(JSONValue.string))),
        ]
        return .object(recorded + asked + answered)
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

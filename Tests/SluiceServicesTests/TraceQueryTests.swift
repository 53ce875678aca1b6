import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// `traces list` filters, the span tree, `traces stats` and its percentiles, and the OTLP encoding.
final class TraceQueryTests: XCTestCase {
    private func makeStore() throws -> SQLiteStore { try SQLiteStore(path: try temporaryFolder(self) + "/sluice.db") }

    /// One run: pipeline span → prompt span (or validate span) with one model call per latency given.
    private func record(_ store: SQLiteStore, _ id: String, pipeline: String = "support", user: String? = nil, session: String? = nil,
                        at start: Double, duration: Double? = 1, status: TraceRunEnd.Status = .ok, prompt: String = "answer",
                        version: Int? = 2, spanKind: String = "prompt", spanDetail: JSONValue = .object([]),
                        calls: [(latencyMs: Double, error: String?)] = [(100, nil)], model: String = "gpt_4o_mini", cost: Double = 0.01) throws {
        try store.runStarted(TraceRun(id: id, pipeline: pipeline, file: "\(pipeline).sluice", startedAt: start, inputs: .object([]),
                                      user: user, session: session))
        try store.spanStarted(TraceSpan(id: "\(id)-p", runId: id, parentId: nil, kind: "pipeline", name: pipeline, startedAt: start))
        try store.spanStarted(TraceSpan(id: "\(id)-c", runId: id, parentId: "\(id)-p", kind: spanKind, name: spanKind == "validate" ? "reply" : prompt,
                                        startedAt: start + 0.25))
        for (n, call) in calls.enumerated() {
            try store.modelCalled(TraceModelCall(runId: id, spanId: "\(id)-c", model: model, provider: "openai",
                                                 messages: [ChatMessage(role: "user", content: "secret question")], reply: call.error == nil ? "an answer" : nil,
                                                 inputTokens: call.error == nil ? 10 : 0, outputTokens: call.error == nil ? 5 : 0, cachedTokens: 0,
                                                 cost: call.error == nil ? cost : 0, latencyMs: call.latencyMs, error: call.error, attempt: n + 1,
                                                 promptVersion: version))
        }
        guard let duration else { return }
        try store.spanEnded(TraceSpanEnd(id: "\(id)-c", endedAt: start + 0.75, status: "ok", detail: spanDetail))
        try store.guardChecked(TraceGuardVerdict(runId: id, spanId: "\(id)-p", guardName: "pii", pattern: "email", verdict: "redacted", matches: 1))
        try store.scored(TraceScore(runId: id, spanId: "\(id)-p", name: "exact", value: 1))
        try store.spanEnded(TraceSpanEnd(id: "\(id)-p", endedAt: start + duration, status: status == .ok ? "ok" : "error",
                                         detail: status == .ok ? .object([]) : .object([("error", .string("it broke"))])))
        try store.runEnded(TraceRunEnd(id: id, status: status, endedAt: start + duration, output: .string("done"),
                                       error: status == .ok ? nil : "it broke", cost: cost * Double(calls.count), tokens: 15 * calls.count))
    }

    // MARK: filters

    func testFiltersSelectRunsByEveryField() throws {
        let store = try makeStore()
        try record(store, "a", user: "alice", session: "s1", at: 1_000)
        try record(store, "b", pipeline: "triage", user: "bob", at: 2_000, status: .error)
        try record(store, "c", user: "alice", at: 3_000, prompt: "answer", version: 3)
        try record(store, "d", at: 4_000, spanKind: "validate", spanDetail: .object([("prompt", .string("summary"))]))
        try record(store, "e", at: 5_000, duration: nil)
        func ids(_ filter: TraceFilter, limit: Int? = nil) throws -> [String] { try store.listRuns(limit: limit, filter: filter).map(\.id) }
        XCTAssertEqual(try ids(TraceFilter()), ["e", "d", "c", "b", "a"])
        XCTAssertEqual(try ids(TraceFilter(pipeline: "triage")), ["b"])
        XCTAssertEqual(try ids(TraceFilter(user: "alice")), ["c", "a"])
        XCTAssertEqual(try ids(TraceFilter(session: "s1")), ["a"])
        XCTAssertEqual(try ids(TraceFilter(status: "error")), ["b"])
        XCTAssertEqual(try ids(TraceFilter(status: "running")), ["e"])
        XCTAssertEqual(try ids(TraceFilter(since: 2_000, until: 4_000)), ["c", "b"], "since is inclusive, until exclusive")
        XCTAssertEqual(try ids(TraceFilter(promptVersion: .init(name: "answer", version: 2))), ["e", "b", "a"])
        XCTAssertEqual(try ids(TraceFilter(promptVersion: .init(name: "answer", version: 3))), ["c"])
        XCTAssertEqual(try ids(TraceFilter(promptVersion: .init(name: "summary", version: 2))), ["d"], "a validate span names the prompt it re-asks")
        XCTAssertEqual(try ids(TraceFilter(user: "alice", since: 2_000)), ["c"])
        XCTAssertEqual(try ids(TraceFilter(), limit: 2), ["e", "d"])
        // The next writer closes a run whose process died as `interrupted`.
        try store.database.withConnection { try $0.run("UPDATE runs SET status = 'interrupted' WHERE id = 'e'") }
        XCTAssertEqual(try ids(TraceFilter(status: "interrupted")), ["e"])
        XCTAssertEqual(try ids(TraceFilter(status: "running")), [])
        let first = try XCTUnwrap(try store.listRuns(limit: 1, filter: TraceFilter(session: "s1")).first)
        XCTAssertEqual(first.user, "alice")
        XCTAssertEqual(first.json["session"], .string("s1"))
    }

    func testParsesTimesStatusesAndPromptVersions() throws {
        let now = 1_764_583_200.0  // 2025-12-01 10:00:00Z
        XCTAssertEqual(try TraceFilter.parseTime("30m", now: now), now - 1_800)
        XCTAssertEqual(try TraceFilter.parseTime("24h", now: now), now - 86_400)
        XCTAssertEqual(try TraceFilter.parseTime("7d", now: now), now - 604_800)
        XCTAssertEqual(try TraceFilter.parseTime("2w", now: now), now - 1_209_600)
        XCTAssertEqual(try TraceFilter.parseTime("45s", now: now), now - 45)
        XCTAssertEqual(try TraceFilter.parseTime("2025-12-01", now: now), 1_764_547_200)
        XCTAssertEqual(try TraceFilter.parseTime("2025-12-01T10:00", now: now), now)
        XCTAssertEqual(try TraceFilter.parseTime("2025-12-01T10:00:00Z", now: now), now)
        XCTAssertEqual(try TraceFilter.parseTime("2025-12-01 12:00:00+02:00", now: now), now)
        XCTAssertEqual(try TraceFilter.parseTime("2025-12-01T10:00:00.500Z", now: now), now + 0.5)
        for bad in ["yesterday", "30", "m", "-5m", "2025-13-01", "2025-12-01T25:00", "5y"] {
            XCTAssertThrowsError(try TraceFilter.parseTime(bad, now: now), bad) { XCTAssertTrue("\($0)".contains("'\(bad)' is not a time"), "\($0)") }
        }
        XCTAssertEqual(try TraceFilter.parsePromptVersion("answer@2"), .init(name: "answer", version: 2))
        XCTAssertEqual(try TraceFilter.parsePromptVersion("answer@v12"), .init(name: "answer", version: 12))
        for bad in ["answer", "@2", "answer@", "answer@two", "a@1@2", "answer@-1"] {
            XCTAssertThrowsError(try TraceFilter.parsePromptVersion(bad), bad)
        }
        XCTAssertEqual(try TraceFilter.parseStatus("interrupted"), "interrupted")
        XCTAssertThrowsError(try TraceFilter.parseStatus("failed")) { XCTAssertTrue("\($0)".contains("use one of running, ok, error"), "\($0)") }
    }

    // MARK: tree

    func testShowDrawsTheTreeWithOffsetsAndJSONHasTheSameShape() throws {
        let store = try makeStore()
        try record(store, "a", at: 1_000, calls: [(40, "HTTP 503 from http://x: busy"), (120, nil)])
        let detail = try XCTUnwrap(try store.run(id: "a"))
        let text = store.renderTrace(detail)
        XCTAssertTrue(text.contains("└─ pipeline support  +0ms  1.00s  ok"), text)
        XCTAssertTrue(text.contains("   ├─ prompt answer  +250ms  500ms  ok") || text.contains("   └─ prompt answer  +250ms  500ms  ok"), text)
        XCTAssertTrue(text.contains("model gpt_4o_mini (openai) attempt 2: 10 in / 5 out, $0.01, 120ms"), text)
        XCTAssertTrue(text.contains("prompt answer v2"), text)
        XCTAssertTrue(text.contains("guard pii [email]: redacted (1 match)"), text)
        let tree = try XCTUnwrap(detail.json["tree"]?.arrayValue)
        XCTAssertEqual(tree.count, 1)
        let root = tree[0]
        XCTAssertEqual(root["kind"], .string("pipeline"))
        XCTAssertEqual(root["offset_ms"], .number(0))
        XCTAssertEqual(root["duration_ms"], .number(1000))
        XCTAssertEqual(root["guard_verdicts"]?.arrayValue?.first?["verdict"], .string("redacted"))
        XCTAssertEqual(root["scores"]?.arrayValue?.first?["name"], .string("exact"))
        let child = try XCTUnwrap(root["children"]?.arrayValue?.first)
        XCTAssertEqual(child["name"], .string("answer"))
        XCTAssertEqual(child["offset_ms"], .number(250))
        XCTAssertEqual(child["duration_ms"], .number(500))
        XCTAssertEqual(child["children"], .array([]))
        let calls = try XCTUnwrap(child["model_calls"]?.arrayValue)
        XCTAssertEqual(calls.map { $0["attempt"] }, [.number(1), .number(2)])
        XCTAssertEqual(calls.map { $0["prompt"] }, [.string("answer"), .string("answer")])
        XCTAssertEqual(calls[1]["cost"], .number(0.01))
        XCTAssertEqual(calls[1]["output_tokens"], .number(5))
    }

    // MARK: stats

    func testPercentilesInterpolateLinearlyLikeNumpy() {
        // Hand-computed: h = (n - 1) * p, between the values at floor(h) and floor(h) + 1.
        XCTAssertEqual(Percentile.linear([1, 2, 3, 4], 0.5), 2.5)                     // h = 1.5
        XCTAssertEqual(try XCTUnwrap(Percentile.linear(Array(1...10).map(Double.init), 0.95)), 9.55, accuracy: 1e-12)  // h = 8.55
        XCTAssertEqual(try XCTUnwrap(Percentile.linear(Array(1...10).map(Double.init), 0.99)), 9.91, accuracy: 1e-12)  // h = 8.91
        XCTAssertEqual(Percentile.linear([15, 20, 35, 40, 50], 0.5), 35)              // h = 2
        XCTAssertEqual(try XCTUnwrap(Percentile.linear([15, 20, 35, 40, 50], 0.95)), 48, accuracy: 1e-12)  // h = 3.8: 40 + 0.8 * 10
        XCTAssertEqual(Percentile.linear([7], 0.99), 7)
        XCTAssertEqual(Percentile.linear([3, 3, 3], 0.95), 3)
        XCTAssertNil(Percentile.linear([], 0.5))
    }

    func testStatsPerPipelineUserModelAndPrompt() throws {
        let store = try makeStore()
        try record(store, "a", user: "alice", at: 1_000, duration: 1)
        try record(store, "b", user: "alice", at: 2_000, duration: 2, status: .error)
        try record(store, "c", pipeline: "triage", user: "bob", at: 3_000, duration: 4, version: 3, model: "claude", cost: 0.5)
        try record(store, "d", at: 4_000, duration: 3, status: .blocked, calls: [(50, "HTTP 500 from x: boom"), (200, nil), (300, nil)])
        try record(store, "e", at: 5_000, duration: nil)

        let byPipeline = try store.traceStats(filter: TraceFilter(), by: .pipeline)
        XCTAssertEqual(byPipeline.rows.map(\.key), ["support", "triage"])
        let support = byPipeline.rows[0]
        XCTAssertEqual(support.count, 4)
        XCTAssertEqual(support.errors, 1, "a blocked run is not an error, a running one has no outcome yet")
        XCTAssertEqual(support.errorRate, 0.25)
        XCTAssertEqual(support.cost, 0.01 + 0.01 + 0.03, accuracy: 1e-12, "a run still running has no cost recorded yet")
        // Durations 1, 2, 3 (the running run has none): p50 = 2, p95 = 2 + 0.9 * 1, p99 = 2 + 0.98 * 1.
        let latency = try XCTUnwrap(support.latency)
        XCTAssertEqual(latency.p50, 2, accuracy: 1e-9)
        XCTAssertEqual(latency.p95, 2.9, accuracy: 1e-9)
        XCTAssertEqual(latency.p99, 2.98, accuracy: 1e-9)
        XCTAssertEqual(byPipeline.total.count, 5)

        let byUser = try store.traceStats(filter: TraceFilter(), by: .user)
        XCTAssertEqual(byUser.rows.map(\.key), ["-", "alice", "bob"])
        XCTAssertEqual(byUser.rows[1].errors, 1)

        let byModel = try store.traceStats(filter: TraceFilter(), by: .model)
        XCTAssertEqual(byModel.rows.map(\.key), ["gpt_4o_mini", "claude"])
        let mini = byModel.rows[0]
        XCTAssertEqual(mini.count, 6, "every try is a call")
        XCTAssertEqual(mini.errors, 1)
        XCTAssertEqual(mini.tokens, 5 * 15)
        // Call latencies 50, 100, 100, 100, 200, 300 ms: p50 = 100, p95 = 200 + 0.75 * 100.
        XCTAssertEqual(try XCTUnwrap(mini.latency).p50, 0.1, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(mini.latency).p95, 0.275, accuracy: 1e-9)

        let byPrompt = try store.traceStats(filter: TraceFilter(since: 1_500), by: .prompt)
        XCTAssertEqual(byPrompt.rows.map(\.key), ["answer@2", "answer@3"])
        XCTAssertEqual(byPrompt.rows.map(\.count), [5, 1])
        let json = byPrompt.json
        XCTAssertEqual(json["by"], .string("prompt"))
        XCTAssertEqual(json["groups"]?.arrayValue?.first?["latency_ms"]?["p50"], .number(100))
        XCTAssertEqual(json["total"]?["count"], .number(6))
    }

    func testStatsPerDayAreInDateOrder() throws {
        let store = try makeStore()
        let december1 = 1_764_547_200.0  // 2025-12-01T00:00:00Z
        try record(store, "late", at: december1 + 86_400 + 60, cost: 0.5)
        try record(store, "a", at: december1 + 10, cost: 0.25)
        try record(store, "b", at: december1 + 86_399, status: .error, cost: 0.25)
        let byDay = try store.traceStats(filter: TraceFilter(), by: .day)
        XCTAssertEqual(byDay.rows.map(\.key), ["2025-12-01", "2025-12-02"], "by date, not by count")
        XCTAssertEqual(byDay.rows.map(\.count), [2, 1])
        XCTAssertEqual(byDay.rows[0].cost, 0.5, accuracy: 1e-12)
        XCTAssertEqual(byDay.rows[0].errors, 1)
    }

    // MARK: OTLP

    func testProtobufWriterMatchesTheWireFormat() {
        var writer = ProtobufWriter()
        writer.int(1, 300)                      // tag 0x08, varint 300 = AC 02
        writer.string(2, "hi")                  // tag 0x12, length 2
        writer.int(3, -1)                       // ten-byte two's complement varint
        writer.fixed64(7, 1)                    // tag 0x39, little-endian
        writer.double(4, 1.0, always: true)     // tag 0x21, 1.0 = 0x3FF0000000000000
        writer.int(5, 0)                        // default: left out
        writer.message(6) { $0.bool(1, true) }  // tag 0x32, length 2, 08 01
        XCTAssertEqual(writer.bytes, [0x08, 0xAC, 0x02, 0x12, 0x02, 0x68, 0x69,
                                      0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                                      0x39, 1, 0, 0, 0, 0, 0, 0, 0,
                                      0x21, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,
                                      0x32, 0x02, 0x08, 0x01])
    }

    func testSettingsComeFromTheFlagOrTheStandardVariables() throws {
        XCTAssertNil(try OTLPSettings.resolve(flag: nil, captureContent: false, environment: [:]))
        let flag = try XCTUnwrap(try OTLPSettings.resolve(flag: "http://127.0.0.1:4318", captureContent: false, environment: [:]))
        XCTAssertEqual(flag.endpoint, "http://127.0.0.1:4318/v1/traces")
        XCTAssertEqual(flag.wireProtocol, .protobuf)
        XCTAssertEqual(flag.serviceName, "sluice")
        XCTAssertFalse(flag.captureContent)
        XCTAssertEqual(try OTLPSettings.resolve(flag: "http://h:1/custom/path", captureContent: false, environment: [:])?.endpoint, "http://h:1/custom/path")
        let environment = [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318/",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant = acme, authorization=Bearer%20abc123",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Tenant=other",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_SERVICE_NAME": "support-bot",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=ignored",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "True",
        ]
        let settings = try XCTUnwrap(try OTLPSettings.resolve(flag: nil, captureContent: false, environment: environment))
        XCTAssertEqual(settings.endpoint, "https://collector.example:4318/v1/traces")
        XCTAssertEqual(settings.wireProtocol, .json)
        XCTAssertEqual(settings.headers.map { "\($0.name)=\($0.value)" }, ["authorization=Bearer abc123", "X-Tenant=other"])
        XCTAssertEqual(settings.timeout, 2.5)
        XCTAssertEqual(settings.serviceName, "support-bot")
        XCTAssertEqual(settings.resourceAttributes.map(\.key), ["deployment.environment"])
        XCTAssertTrue(settings.captureContent)
        let traces = try OTLPSettings.resolve(flag: nil, captureContent: false, environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces"])
        XCTAssertEqual(traces?.endpoint, "http://traces:4318/v1/traces", "the signal-specific endpoint is used as it is")

        func refusal(_ flag: String?, _ environment: [String: String]) -> String {
            do { _ = try OTLPSettings.resolve(flag: flag, captureContent: false, environment: environment); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal("localhost:4318", [:]).contains("--otlp is 'localhost:4318': give an http:// or https:// URL"))
        XCTAssertTrue(refusal(nil, ["OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"]).contains("OTEL_EXPORTER_OTLP_ENDPOINT is 'ftp://x'"))
        XCTAssertTrue(refusal("http://h", ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]).contains("gRPC is not supported"))
        let badHeader = refusal("http://h", ["OTEL_EXPORTER_OTLP_HEADERS": "ok=1,sk-secretvalue"])
        XCTAssertTrue(badHeader.contains("OTEL_EXPORTER_OTLP_HEADERS: entry 2 has no '='"), badHeader)
        XCTAssertFalse(badHeader.contains("secretvalue"), "a header is never shown")
        XCTAssertTrue(refusal("http://h", ["OTEL_EXPORTER_OTLP_TIMEOUT": "soon"]).contains("OTEL_EXPORTER_OTLP_TIMEOUT is 'soon'"))
    }

    func testRunsMapToOneTraceEachWithGenAIAttributes() throws {
        let store = try makeStore()
        try record(store, "a", user: "alice", session: "s1", at: 1_000, spanDetail: .object([("model", .string("m"))]),
                   calls: [(40, "HTTP 503 from http://x: busy"), (120, nil)])
        let detail = try XCTUnwrap(try store.run(id: "a"))
        let spans = OTLPTraceMapping(captureContent: false).spans(of: detail)
        XCTAssertEqual(spans.map(\.name), ["run support", "pipeline support", "prompt answer", "chat gpt_4o_mini", "chat gpt_4o_mini"])
        XCTAssertEqual(Set(spans.map(\.traceId)).count, 1)
        XCTAssertEqual(spans[0].traceId, OTLPTraceMapping.traceId(ofRun: "a"), "the trace id is derived from the run id")
        XCTAssertEqual(spans[0].traceId.count, 16)
        XCTAssertEqual(Set(spans.map(\.spanId)).count, spans.count)
        XCTAssertTrue(spans.allSatisfy { $0.spanId.count == 8 })
        XCTAssertEqual(spans[0].parentSpanId, [])
        XCTAssertEqual(spans[1].parentSpanId, spans[0].spanId)
        XCTAssertEqual(spans[2].parentSpanId, spans[1].spanId)
        XCTAssertEqual(spans[3].parentSpanId, spans[2].spanId)
        XCTAssertEqual(spans[1].events.map(\.name), ["sluice.guard", "sluice.score"])
        // The calls of one span ran one after another from its start.
        XCTAssertEqual(spans[3].startTimeUnixNano, 1_000_250_000_000)
        XCTAssertEqual(spans[3].endTimeUnixNano, 1_000_290_000_000)
        XCTAssertEqual(spans[4].startTimeUnixNano, 1_000_290_000_000)
        XCTAssertEqual(spans[4].endTimeUnixNano, 1_000_410_000_000)
        let failed = spans[3], answered = spans[4]
        XCTAssertEqual(failed.kind, .client)
        XCTAssertEqual(failed.statusCode, .error)
        XCTAssertEqual(failed.statusMessage, "HTTP 503 from http://x: busy")
        XCTAssertTrue(failed.attributes.contains(OTLPAttribute("error.type", .string("503"))))
        XCTAssertEqual(answered.statusCode, .unset)
        for expected in [OTLPAttribute("gen_ai.operation.name", .string("chat")), OTLPAttribute("gen_ai.provider.name", .string("openai")),
                         OTLPAttribute("sluice.model.name", .string("gpt_4o_mini")), OTLPAttribute("gen_ai.usage.input_tokens", .int(10)),
                         OTLPAttribute("gen_ai.usage.output_tokens", .int(5)), OTLPAttribute("gen_ai.usage.cache_read.input_tokens", .int(0)),
                         OTLPAttribute("sluice.prompt.name", .string("answer")), OTLPAttribute("sluice.prompt.version", .int(2))] {
            XCTAssertTrue(answered.attributes.contains(expected), "\(expected)")
        }
        XCTAssertFalse(answered.attributes.contains { $0.key == "gen_ai.request.model" }, "these calls do not record the id sent")
        XCTAssertTrue(spans[0].attributes.contains(OTLPAttribute("user.id", .string("alice"))))
        XCTAssertTrue(spans[0].attributes.contains(OTLPAttribute("session.id", .string("s1"))))
        XCTAssertFalse(spans.flatMap(\.attributes).contains { $0.key.hasPrefix("gen_ai.input") || $0.key == "sluice.run.output" },
                       "no content unless asked for")
        let withContent = OTLPTraceMapping(captureContent: true).spans(of: detail)
        let input = try XCTUnwrap(withContent[4].attributes.first { $0.key == "gen_ai.input.messages" })
        XCTAssertEqual(input.value, .string(#"[{"role":"user","parts":[{"type":"text","content":"secret question"}]}]"#))
        XCTAssertTrue(withContent[0].attributes.contains(OTLPAttribute("sluice.run.output", .string(#""done""#))))
        XCTAssertTrue(withContent[2].attributes.contains(OTLPAttribute("sluice.span.detail", .string(#"{"model":"m"}"#))))
        XCTAssertEqual(OTLPTraceMapping(captureContent: false).spans(of: detail), spans, "exporting twice gives the same spans")

        let request = OTLPTraceRequest(resource: [OTLPAttribute("service.name", .string("sluice"))], scopeName: "sluice", spans: spans)
        let json = request.json()
        let first = try XCTUnwrap(json["resourceSpans"]?[0]?["scopeSpans"]?[0]?["spans"]?[0])
        XCTAssertEqual(first["traceId"]?.stringValue?.count, 32, "ids are hex in OTLP/JSON")
        XCTAssertEqual(first["spanId"]?.stringValue?.count, 16)
        XCTAssertEqual(first["kind"], .number(1))
        XCTAssertEqual(first["startTimeUnixNano"], .string("1000000000000"))
        XCTAssertFalse(request.protobuf().isEmpty)

        try record(store, "b", at: 2_000, status: .error)
        let failedRun = OTLPTraceMapping(captureContent: false).spans(of: try XCTUnwrap(try store.run(id: "b")))
        XCTAssertEqual(failedRun[0].statusCode, .error)
        XCTAssertEqual(failedRun[0].statusMessage, "it broke")
        XCTAssertEqual(failedRun[1].statusCode, .error, "the pipeline span failed too")
        XCTAssertEqual(failedRun[1].statusMessage, "it broke")
        XCTAssertNotEqual(failedRun[0].traceId, spans[0].traceId)
    }

    func testTheBodyCarriesTheResourceInTheChosenFormat() throws {
        let store = try makeStore()
        try record(store, "a", at: 1_000)
        let detail = try XCTUnwrap(try store.run(id: "a"))
        let settings = try XCTUnwrap(try OTLPSettings.resolve(flag: "http://127.0.0.1:4318", captureContent: false, environment: [
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_SERVICE_NAME": "bot", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod"]))
        let body = try JSONValue.parse(String(decoding: OTLPExporter(settings: settings).body(for: [detail, detail]), as: UTF8.self))
        let resource = body["resourceSpans"]?[0]?["resource"]?["attributes"]
        XCTAssertEqual(resource, .array([
            .object([("key", .string("service.name")), ("value", .object([("stringValue", .string("bot"))]))]),
            .object([("key", .string("deployment.environment")), ("value", .object([("stringValue", .string("prod"))]))]),
        ]))
        XCTAssertEqual(body["resourceSpans"]?[0]?["scopeSpans"]?[0]?["spans"]?.arrayValue?.count, 2 * 4)
        var protobuf = settings
        protobuf.wireProtocol = .protobuf
        let bytes = [UInt8](OTLPExporter(settings: protobuf).body(for: [detail]))
        XCTAssertEqual(bytes.first, 0x0A, "field 1 (resource_spans), length-delimited")
    }
}

private extension JSONValue {
    subscript(index: Int) -> JSONValue? { arrayValue.flatMap { $0.indices.contains(index) ? $0[index] : nil } }
}

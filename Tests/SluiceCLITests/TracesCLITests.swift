import Foundation
import XCTest

/// `sluice traces list|stats|export` from the command line, and live OTLP export during `sluice run`,
/// checked against a local collector that decodes with the real `opentelemetry-proto` package.
final class TracesCLITests: SluiceCLITestCase {
    private let script = "pipelines/support.sluice"
    private let replies = "pipelines/replies/support.jsonl"

    /// Runs the support pipeline once; returns its run id.
    @discardableResult
    private func runSupport(_ extra: [String] = [], environment: [String: String] = [:]) throws -> (id: String, result: Result) {
        let result = try sluice(["run", script, "--replies", replies, "--input", "question=How do I reset my password?", "--db", db, "--json"] + extra,
                                environment: environment)
        XCTAssertEqual(result.code, 0, result.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        return (try XCTUnwrap(report["run_id"] as? String), result)
    }

    // MARK: list, show, stats

    func testListFiltersAndAlignsItsColumns() throws {
        let alice = try runSupport(["--user", "alice"]).id
        let bob = try runSupport(["--user", "bob"]).id
        let list = try sluice(["traces", "list", "--db", db])
        XCTAssertEqual(list.code, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, list.stdout)
        XCTAssertTrue(lines[0].hasPrefix("id                started               pipeline  user   status  duration  tokens"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix(bob) && lines[1].contains(" bob ") && lines[1].contains(" ok "), lines[1])
        // Every row puts its columns under the header's.
        let statusColumn = try XCTUnwrap(lines[0].range(of: "status")).lowerBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() { XCTAssertEqual(Array(line.utf16)[statusColumn...].prefix(2), Array("ok".utf16)[...], line) }

        let onlyAlice = try sluice(["traces", "list", "--db", db, "--user", "alice", "--since", "1h", "--status", "ok", "--json"])
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(onlyAlice.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.map { $0["id"] as? String }, [alice])
        XCTAssertEqual(runs.first?["user"] as? String, "alice")
        let versioned = try sluice(["traces", "list", "--db", db, "--prompt-version", "support_answer@2", "--json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(versioned.stdout.utf8)) as? [Any])?.count, 2, versioned.stdout)
        let none = try sluice(["traces", "list", "--db", db, "--prompt-version", "support_answer@9"])
        XCTAssertTrue(none.stdout.contains("no runs in \(db) match: prompt support_answer@9"), none.stdout)
        let searched = try sluice(["traces", "list", "--db", db, "--search", "RESET MY password", "--user", "bob", "--json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(searched.stdout.utf8)) as? [[String: Any]])?.map { $0["id"] as? String }, [bob],
                       searched.stdout)
        let unfound = try sluice(["traces", "list", "--db", db, "--search", "refund"])
        XCTAssertTrue(unfound.stdout.contains("no runs in \(db) match: text \"refund\""), unfound.stdout)
    }

    func testBadFilterValuesAreUsageErrorsNamingTheFlag() throws {
        try runSupport()
        let cases: [([String], String)] = [
            (["traces", "list", "--since", "yesterday"], "--since: 'yesterday' is not a time"),
            (["traces", "list", "--until", "2026-02-30"], "--until: '2026-02-30' is not a time"),
            (["traces", "list", "--status", "failed"], "--status: 'failed' is not a run status"),
            (["traces", "stats", "--prompt-version", "answer"], "--prompt-version: 'answer' is not a prompt version"),
            (["traces", "stats", "--by", "colour"], "--by 'colour' is not a grouping: use one of pipeline, model, prompt, user"),
            (["traces", "list", "--since", "1h", "--until", "2h"], "--until must be later than --since"),
            (["traces", "list", "--limit=-1"], "--limit must be 0 or more"),
            (["traces", "export", "--otlp", "localhost:4318"], "--otlp is 'localhost:4318': give an http:// or https:// URL"),
            (["run", script, "--replies", replies, "--input", "question=hi", "--otlp-content"], "--otlp-content needs a collector"),
        ]
        for (args, message) in cases {
            let result = try sluice(args + ["--db", db])
            XCTAssertEqual(result.code, 2, "\(args): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(args): \(result.stderr)")
        }
    }

    func testStatsPerPipelineAndPrompt() throws {
        try runSupport(["--user", "alice"])
        try runSupport(["--user", "alice"])
        let text = try sluice(["traces", "stats", "--db", db])
        XCTAssertEqual(text.code, 0, text.stderr)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("pipeline  runs  errors  error%"), text.stdout)
        XCTAssertTrue(lines[1].hasPrefix("support      2       0      0%"), text.stdout)
        XCTAssertTrue(lines.last?.hasPrefix("total        2") == true, text.stdout)
        let json = try sluice(["traces", "stats", "--db", db, "--by", "prompt", "--json"])
        let stats = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let groups = try XCTUnwrap(stats["groups"] as? [[String: Any]])
        XCTAssertEqual(groups.map { $0["key"] as? String }, ["support_answer@2"])
        XCTAssertEqual(groups.first?["count"] as? Int, 4, "two calls a run: the cascade's cheap model, then the strong one")
        XCTAssertNotNil((groups.first?["latency_ms"] as? [String: Any])?["p99"])
    }

    // MARK: OTLP

    /// A collector on 127.0.0.1 writing each decoded request to a file; skips the test when Python or
    /// opentelemetry-proto is missing (scripts/test installs it).
    private final class Collector {
        let process = Process()
        let output: URL
        let port: Int

        init(folder: URL) throws {
            output = folder.appendingPathComponent("collected-\(UUID().uuidString).jsonl")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", SluiceCLITestCase.fixtures.appendingPathComponent("otlp_collector.py").path, output.path]
            let stdout = Pipe(), stderr = Pipe()
            process.standardOutput = stdout
            process.standardError = stderr
            do { try process.run() } catch { throw XCTSkip("python3 cannot be started (\(error)): the OTLP collector tests need it") }
            let line = String(decoding: stdout.fileHandleForReading.availableLine(), as: UTF8.self)
            guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                process.waitUntilExit()
                let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                if process.terminationStatus == 3 || process.terminationStatus == 127 {
                    throw XCTSkip("the OTLP collector cannot decode: \(message.trimmingCharacters(in: .whitespacesAndNewlines)) "
                                  + "(scripts/test installs it: python3 -m pip install opentelemetry-proto)")
                }
                throw CollectorFailed(message: "the collector did not start: \(message)")
            }
            self.port = port
        }

        struct CollectorFailed: Error { var message: String }

        var url: String { "http://127.0.0.1:\(port)" }

        /// Every request received so far.
        func requests() throws -> [[String: Any]] {
            try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map {
                try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }

        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    /// The spans of one decoded request.
    private func spans(of record: [String: Any]) throws -> (resource: [String: Any], spans: [[String: Any]]) {
        XCTAssertNil(record["error"], "the collector could not decode the request: \(record["error"] ?? "")")
        let request = try XCTUnwrap(record["request"] as? [String: Any])
        let resourceSpans = try XCTUnwrap((request["resourceSpans"] as? [[String: Any]])?.first)
        let resource = try XCTUnwrap(resourceSpans["resource"] as? [String: Any])
        let scope = try XCTUnwrap((resourceSpans["scopeSpans"] as? [[String: Any]])?.first)
        XCTAssertEqual((scope["scope"] as? [String: Any])?["name"] as? String, "sluice")
        return (resource, try XCTUnwrap(scope["spans"] as? [[String: Any]]))
    }

    /// A span's attributes as plain values (ints arrive as decimal strings, as protobuf's JSON form has them;
    /// an array of strings as [String]).
    private func attributes(_ span: [String: Any]) -> [String: Any] {
        func plain(_ value: [String: Any]) -> Any? {
            if let array = value["arrayValue"] as? [String: Any] {
                return ((array["values"] as? [[String: Any]]) ?? []).compactMap { plain($0) as? String }
            }
            return value["stringValue"] ?? value["intValue"].flatMap { ($0 as? String).flatMap(Int.init) } ?? value["doubleValue"] ?? value["boolValue"]
        }
        var result: [String: Any] = [:]
        for attribute in span["attributes"] as? [[String: Any]] ?? [] {
            guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any] else { continue }
            result[key] = plain(value)
        }
        return result
    }

    private func checkRunTrace(_ record: [String: Any], runId: String, content: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let (resource, spans) = try spans(of: record)
        XCTAssertEqual(attributes(resource)["service.name"] as? String, "support-bot", file: file, line: line)
        XCTAssertEqual(Set(spans.compactMap { $0["traceId"] as? String }).count, 1, "one trace per run", file: file, line: line)
        XCTAssertEqual((spans.first?["traceId"] as? String)?.count, 32, file: file, line: line)
        let ids = Set(spans.compactMap { $0["spanId"] as? String })
        XCTAssertEqual(ids.count, spans.count, file: file, line: line)
        let roots = spans.filter { $0["parentSpanId"] == nil }
        XCTAssertEqual(roots.map { $0["name"] as? String }, ["run support"], file: file, line: line)
        for span in spans where span["parentSpanId"] != nil {
            XCTAssertTrue(ids.contains(span["parentSpanId"] as? String ?? ""), "\(span["name"] ?? "") has a parent in the trace", file: file, line: line)
        }
        let root = attributes(roots[0])
        XCTAssertEqual(root["sluice.run.id"] as? String, runId, file: file, line: line)
        XCTAssertEqual(root["sluice.run.status"] as? String, "ok", file: file, line: line)
        XCTAssertEqual(root["user.id"] as? String, "alice", file: file, line: line)
        XCTAssertTrue(spans.contains { $0["name"] as? String == "cascade support_answer" }, file: file, line: line)
        let guardEvents = spans.flatMap { ($0["events"] as? [[String: Any]]) ?? [] }.filter { $0["name"] as? String == "sluice.guard" }
        XCTAssertFalse(guardEvents.isEmpty, "guard verdicts are events", file: file, line: line)

        let calls = spans.filter { ($0["name"] as? String)?.hasPrefix("chat ") == true }
        XCTAssertEqual(calls.map { $0["name"] as? String }, ["chat gpt_4o_mini", "chat claude_sonnet"], file: file, line: line)
        XCTAssertTrue(calls.allSatisfy { $0["kind"] as? String == "SPAN_KIND_CLIENT" }, file: file, line: line)
        let strong = attributes(calls[1])
        XCTAssertEqual(strong["gen_ai.operation.name"] as? String, "chat", file: file, line: line)
        XCTAssertEqual(strong["gen_ai.provider.name"] as? String, "anthropic", file: file, line: line)
        XCTAssertEqual(strong["gen_ai.request.model"] as? String, "claude-sonnet-4-5-20250929", "the provider's id", file: file, line: line)
        XCTAssertEqual(strong["sluice.model.name"] as? String, "claude_sonnet", file: file, line: line)
        XCTAssertEqual(strong["gen_ai.response.model"] as? String, "claude-sonnet-4-5-20250929", file: file, line: line)
        XCTAssertEqual(strong["gen_ai.response.finish_reasons"] as? [String], ["stop"], file: file, line: line)
        XCTAssertEqual(strong["gen_ai.request.max_tokens"] as? Int, 500, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.request.temperature"] as? Double, 0, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.usage.cache_creation.input_tokens"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.usage.reasoning.output_tokens"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.usage.input_tokens"] as? Int, 1080, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.usage.output_tokens"] as? Int, 121, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.usage.cache_read.input_tokens"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(strong["sluice.prompt.name"] as? String, "support_answer", file: file, line: line)
        XCTAssertEqual(strong["sluice.prompt.version"] as? Int, 2, file: file, line: line)
        let start = Int(calls[1]["startTimeUnixNano"] as? String ?? "") ?? 0, end = Int(calls[1]["endTimeUnixNano"] as? String ?? "") ?? 0
        XCTAssertTrue(start > 1_700_000_000_000_000_000 && end >= start, "times are Unix nanoseconds", file: file, line: line)
        XCTAssertEqual(strong["gen_ai.input.messages"] != nil, content, file: file, line: line)
        XCTAssertEqual(strong["gen_ai.output.messages"] != nil, content, file: file, line: line)
        if content {
            let messages = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((strong["gen_ai.input.messages"] as? String ?? "").utf8)) as? [[String: Any]])
            XCTAssertEqual(messages.first?["role"] as? String, "system", file: file, line: line)
        }
    }

    func testLiveExportDuringRunInProtobufAndJSON() throws {
        let collector = try Collector(folder: scratch)
        defer { collector.stop() }
        let environment = ["OTEL_SERVICE_NAME": "support-bot", "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme"]
        let protobuf = try runSupport(["--user", "alice", "--otlp", collector.url], environment: environment)
        var json = environment
        json["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json"
        json["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
        json["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
        let viaEnvironment = try runSupport(["--user", "alice"], environment: json)
        XCTAssertFalse(protobuf.result.stderr.contains("warning"), protobuf.result.stderr)
        let requests = try collector.requests()
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests.map { $0["content_type"] as? String }, ["application/x-protobuf", "application/json"])
        XCTAssertEqual(requests.map { $0["path"] as? String }, ["/v1/traces", "/v1/traces"])
        XCTAssertEqual((requests[0]["headers"] as? [String: Any])?["x-tenant"] as? String, "acme")
        try checkRunTrace(requests[0], runId: protobuf.id, content: false)
        try checkRunTrace(requests[1], runId: viaEnvironment.id, content: true)
    }

    func testExportCommandSendsTheRunsTheFiltersMatchWithStableTraceIds() throws {
        let collector = try Collector(folder: scratch)
        defer { collector.stop() }
        let alice = try runSupport(["--user", "alice"]).id
        try runSupport(["--user", "bob"])
        let environment = ["OTEL_SERVICE_NAME": "support-bot"]
        let exported = try sluice(["traces", "export", "--db", db, "--otlp", collector.url, "--user", "alice"], environment: environment)
        XCTAssertEqual(exported.code, 0, exported.stderr)
        XCTAssertTrue(exported.stderr.contains("exported 1 run (13 spans) to \(collector.url)/v1/traces"), exported.stderr)
        var json = environment
        json["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json"
        XCTAssertEqual(try sluice(["traces", "export", "--db", db, "--otlp", collector.url + "/v1/traces", "--user", "alice"], environment: json).code, 0)
        let requests = try collector.requests()
        XCTAssertEqual(requests.count, 2)
        try checkRunTrace(requests[0], runId: alice, content: false)
        try checkRunTrace(requests[1], runId: alice, content: false)
        let traceIds = try requests.map { try spans(of: $0).spans.compactMap { $0["traceId"] as? String } }
        XCTAssertEqual(traceIds[0], traceIds[1], "the same run is the same trace, in either format")
        let spanIds = try requests.map { try spans(of: $0).spans.compactMap { $0["spanId"] as? String } }
        XCTAssertEqual(spanIds[0], spanIds[1])
    }

    /// Each try of a call keeps what was sent (the provider's model id, max_tokens, temperature) and,
    /// when it was answered, what came back (the model that answered, the finish reason, cache-write
    /// and reasoning tokens), from real OpenAI and Anthropic wire replies; `show` and OTLP carry them.
    func testCallsRecordWhatTheProviderWasAskedAndAnsweredInBothWireFormats() throws {
        let openAIReply = #"""
            {"id": "c1", "object": "chat.completion", "model": "fast-v1-2026-01-01",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "draft text"}, "finish_reason": "length"}],
             "usage": {"prompt_tokens": 20, "completion_tokens": 64, "prompt_tokens_details": {"cached_tokens": 4},
                       "completion_tokens_details": {"reasoning_tokens": 40}}}
            """#
        let anthropicReply = #"""
            {"id": "m1", "type": "message", "role": "assistant", "model": "strong-v1-20260101",
             "content": [{"type": "text", "text": "polished"}], "stop_reason": "end_turn",
             "usage": {"input_tokens": 10, "cache_creation_input_tokens": 7, "cache_read_input_tokens": 3, "output_tokens": 5}}
            """#
        let server = try LocalHTTPReceiver { index in
            switch index {
            case 0: (500, #"{"error": {"message": "overloaded"}}"#)
            case 1: (200, openAIReply)
            default: (200, anthropicReply)
            }
        }
        addTeardownBlock { server.stop() }
        let script = try write("asked.sluice", """
            model fast { provider "openai" id "fast-v1" base_url "\(server.url)/v1" retries 1 backoff 0.01 }
            model strong { provider "anthropic" id "strong-v1" base_url "\(server.url)" }
            prompt draft(q: string) {
              model fast
              temperature 0.7
              max_tokens 64
              user "{q}"
            }
            prompt polish(text: string) {
              model strong
              max_tokens 32
              user "Polish: {text}"
            }
            pipeline p(q: string) {
              first = draft(q: q)
              return polish(text: first)
            }
            """)
        let keys = ["OPENAI_API_KEY": "test", "ANTHROPIC_API_KEY": "test"]
        let run = try sluice(["run", script, "--db", db, "--input", "q=hi", "--json"], environment: keys)
        XCTAssertEqual(run.code, 0, run.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let id = try XCTUnwrap(report["run_id"] as? String)

        let show = try sluice(["traces", "show", id, "--db", db, "--json"])
        XCTAssertEqual(show.code, 0, show.stderr)
        let detail = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let calls = try XCTUnwrap(detail["model_calls"] as? [[String: Any]])
        XCTAssertEqual(calls.count, 3, show.stdout)
        func field(_ call: Int, _ name: String) -> Any? { calls[call][name].flatMap { $0 is NSNull ? nil : $0 } }
        // The failed try: what was sent, nothing of an answer.
        XCTAssertEqual(field(0, "status") as? String, "error")
        XCTAssertEqual(field(0, "request_model") as? String, "fast-v1")
        XCTAssertEqual(field(0, "max_tokens") as? Int, 64)
        XCTAssertEqual(field(0, "temperature") as? Double, 0.7)
        for name in ["response_model", "finish_reason", "cache_write_tokens", "reasoning_tokens"] {
            XCTAssertNil(field(0, name), "a try without an answer has no \(name)")
        }
        // The OpenAI answer.
        XCTAssertEqual(field(1, "model") as? String, "fast")
        XCTAssertEqual(field(1, "request_model") as? String, "fast-v1")
        XCTAssertEqual(field(1, "response_model") as? String, "fast-v1-2026-01-01")
        XCTAssertEqual(field(1, "finish_reason") as? String, "length")
        XCTAssertEqual(field(1, "reasoning_tokens") as? Int, 40)
        XCTAssertEqual(field(1, "cache_write_tokens") as? Int, 0)
        XCTAssertEqual(field(1, "cached_tokens") as? Int, 4)
        // The Anthropic answer: no temperature was asked for, so none was sent.
        XCTAssertEqual(field(2, "request_model") as? String, "strong-v1")
        XCTAssertEqual(field(2, "response_model") as? String, "strong-v1-20260101")
        XCTAssertEqual(field(2, "finish_reason") as? String, "stop")
        XCTAssertEqual(field(2, "max_tokens") as? Int, 32)
        XCTAssertNil(field(2, "temperature"))
        XCTAssertEqual(field(2, "cache_write_tokens") as? Int, 7)
        XCTAssertEqual(field(2, "reasoning_tokens") as? Int, 0)
        let sent = server.requests.map { (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any]) ?? [:] }
        XCTAssertEqual(sent.map { $0["model"] as? String }, ["fast-v1", "fast-v1", "strong-v1"], "the recorded ids are the ones sent")
        XCTAssertEqual(sent.map { $0["max_tokens"] as? Int }, [64, 64, 32])

        let human = try sluice(["traces", "show", id, "--db", db])
        let callLines = human.stdout.split(separator: "\n").filter { $0.contains("model fast") || $0.contains("model strong") }
        XCTAssertEqual(callLines.count, 3, human.stdout)
        XCTAssertTrue(callLines[1].hasSuffix(", finished: length"), "a reply cut at max_tokens says so: \(callLines[1])")
        XCTAssertFalse(callLines[2].contains("finished"), "the normal stop is not shown: \(callLines[2])")

        let collector = try Collector(folder: scratch)
        defer { collector.stop() }
        XCTAssertEqual(try sluice(["traces", "export", "--db", db, "--otlp", collector.url]).code, 0)
        XCTAssertEqual(try sluice(["traces", "export", "--db", db, "--otlp", collector.url], environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"]).code, 0)
        let requests = try collector.requests()
        XCTAssertEqual(requests.map { $0["content_type"] as? String }, ["application/x-protobuf", "application/json"])
        for request in requests {
            let chats = try spans(of: request).spans.filter { ($0["name"] as? String)?.hasPrefix("chat ") == true }.map(attributes)
            XCTAssertEqual(chats.count, 3)
            XCTAssertEqual(chats.map { $0["gen_ai.request.model"] as? String }, ["fast-v1", "fast-v1", "strong-v1"])
            XCTAssertEqual(chats.map { $0["sluice.model.name"] as? String }, ["fast", "fast", "strong"])
            XCTAssertEqual(chats.map { $0["gen_ai.request.max_tokens"] as? Int }, [64, 64, 32])
            XCTAssertEqual(chats.map { $0["gen_ai.request.temperature"] as? Double }, [0.7, 0.7, nil])
            XCTAssertEqual(chats.map { $0["gen_ai.response.model"] as? String }, [nil, "fast-v1-2026-01-01", "strong-v1-20260101"])
            XCTAssertEqual(chats.map { $0["gen_ai.response.finish_reasons"] as? [String] }, [nil, ["length"], ["stop"]])
            XCTAssertEqual(chats.map { $0["gen_ai.usage.cache_creation.input_tokens"] as? Int }, [nil, 0, 7])
            XCTAssertEqual(chats.map { $0["gen_ai.usage.reasoning.output_tokens"] as? Int }, [nil, 40, 0])
        }
    }

    func testAnUnreachableCollectorIsOneWarningAndTheRunStillSucceeds() throws {
        // Port 9 (discard) is closed on 127.0.0.1 here: the connection is refused at once.
        let (id, result) = try runSupport(["--otlp", "http://127.0.0.1:9"])
        XCTAssertEqual(result.code, 0)
        XCTAssertTrue(result.stdout.contains("\"status\": \"ok\""), result.stdout)
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("warning") }
        XCTAssertEqual(warnings.count, 1, result.stderr)
        XCTAssertTrue(warnings.first?.contains("the trace of run \(id) was not exported: could not send traces to http://127.0.0.1:9/v1/traces") == true,
                      result.stderr)
        let export = try sluice(["traces", "export", "--db", db, "--otlp", "http://127.0.0.1:9"])
        XCTAssertEqual(export.code, 1)
        XCTAssertTrue(export.stderr.contains("could not send traces to http://127.0.0.1:9/v1/traces"), export.stderr)
        let badVariable = try runSupport([], environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
        XCTAssertEqual(badVariable.result.code, 0)
        XCTAssertTrue(badVariable.result.stderr.contains("warning: traces are not exported: OTEL_EXPORTER_OTLP_PROTOCOL is 'grpc'"),
                      badVariable.result.stderr)
        let unset = try sluice(["traces", "export", "--db", db])
        XCTAssertEqual(unset.code, 2)
        XCTAssertTrue(unset.stderr.contains("no OTLP endpoint: give --otlp URL"), unset.stderr)
    }
}

private extension FileHandle {
    /// Bytes up to and including the first newline (or the end of the stream).
    func availableLine() -> Data {
        var line = Data()
        while true {
            let byte = readData(ofLength: 1)
            guard let first = byte.first else { return line }
            line.append(first)
            if first == UInt8(ascii: "\n") { return line }
        }
    }
}

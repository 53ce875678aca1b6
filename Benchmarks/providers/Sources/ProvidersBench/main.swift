// The provider-layer benchmark: what Sluice adds on top of an HTTP round trip.
//
//   ProvidersBench BASE_URL [--runs N] [--concurrent-runs M] [--concurrency 1,10,50,100]
//                           [--what bare,provider,untraced,pipeline] [--warmup W]
//
// Against an OpenAI-compatible server that answers at once (../../../shared/bench/nginx-mock.conf),
// it measures, at each concurrency:
//   bare      a bare POST of the same body through Sluice's own HTTP client (libcurl, the process's
//             connection pool, keep-alive): the HTTP floor under every model call
//   provider  OpenAICompatibleProvider.complete alone (wire format, HTTP client, reply parsing)
//   untraced  the pipeline below with a trace sink that drops everything (what tracing costs)
//   pipeline  the six-step support pipeline below, written in Sluice, each run on its own Interpreter,
//             wired as `sluice run` wires it: the CLI's provider stack (RoutingProvider →
//             ReliableProvider → OpenAICompatibleProvider), the exact token counter, the SQLite store
//             behind a TraceWriter (every span, call and score written) and the store's spend ledger
//             (every call reserved and settled, `budget request $0.05, tokens 8k`)
// N runs at concurrency 1 and M runs at every other concurrency, after W warm-up runs. Prints one
// JSON object a line: runs/s over the whole batch and mean/p50/p99 milliseconds per run (from the
// moment a run is handed to the runtime, so at concurrency > 1 waiting for a thread counts). The
// pipeline's last line per concurrency waits until the trace writer has committed every record.
import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceStdlib
import SluiceSyntax

// MARK: - The pipeline (the same six steps as shared/bench/lcel_pipeline.py)

let question = "How do I reset my password?"

let script = #"""
use std.models.{gpt_4o_mini}

# 1. input guard
guard no_override {
  action block
  pattern ignore_previous r"(?i)ignore\s+(all\s+)?previous\s+instructions?"
}

# 2. retrieval over 200 documents (SQLite FTS5, BM25)
index kb {
  source "docs/"
  chunk 200
  overlap 0
}

type Reply {
  answer: string
  confidence: number
}

# 3. template and 4. model call (the JSON Schema of Reply goes out as response_format)
prompt support_answer(docs: [Doc], question: string) {
  model gpt_4o_mini
  temperature 0
  max_tokens 200
  system "Answer from CONTEXT only."
  user """
    CONTEXT:
    {docs | numbered}

    QUESTION:
    {question | fenced}
  """
  returns Reply
}

pipeline support(question: string) -> Reply {
  budget request $0.05, tokens 8k
  guard question with no_override
  docs = retrieve question from kb top 5
  reply = support_answer(docs: docs, question: question)
  validate reply retries 0            # 5. parse and validate against Reply
  score reply with json_valid(), length(1, 2000)   # 6. score
  return reply
}
"""#

struct StdlibLoader: ModuleLoader {
    func loadModule(_ path: [String]) -> SourceFile? {
        StandardLibrary.source(module: path).map { SourceFile(path: "stdlib/" + path.joined(separator: "/") + ".sluice", text: $0) }
    }
    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        struct NoImports: Error {}
        throw NoImports()
    }
    func availableModules() -> [[String]] { StandardLibrary.modules.map { $0.split(separator: "/").map(String.init) } }
}

// MARK: - Measuring

struct Stats {
    var what: String
    var concurrency: Int
    var runs: Int
    var seconds: Double
    var latencies: [Double]   // seconds, one per run
    var errors: Int
    var firstError: String?

    var json: String {
        let sorted = latencies.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))] * 1000 }
        let mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
        var fields = [
            "\"what\":\"\(what)\"", "\"concurrency\":\(concurrency)", "\"runs\":\(runs)",
            "\"seconds\":\(fmt(seconds))", "\"runs_per_s\":\(fmt(Double(runs) / seconds))",
            "\"mean_ms\":\(fmt(mean))", "\"p50_ms\":\(fmt(pct(0.5)))", "\"p99_ms\":\(fmt(pct(0.99)))",
            "\"errors\":\(errors)",
        ]
        if let firstError { fields.append("\"first_error\":\(JSONValue.string(firstError).serialized())") }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

func fmt(_ x: Double) -> String { String(format: "%.4f", x) }

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Runs `body` `n` times with at most `concurrency` in flight, timing each.
func measure(_ what: String, n: Int, concurrency: Int, _ body: @escaping @Sendable () async throws -> Void) async -> Stats {
    let start = now()
    var latencies: [Double] = []
    latencies.reserveCapacity(n)
    var errors = 0
    var firstError: String?
    await withTaskGroup(of: (Double, String?).self) { group in
        var launched = 0
        func launch() {
            launched += 1
            let t0 = now()   // from the moment the run is handed to the runtime, waiting for a thread included
            group.addTask {
                do { try await body(); return (now() - t0, nil) } catch { return (now() - t0, "\(error)") }
            }
        }
        while launched < min(concurrency, n) { launch() }
        while let (latency, error) = await group.next() {
            latencies.append(latency)
            if let error { errors += 1; if firstError == nil { firstError = error } }
            if launched < n { launch() }
        }
    }
    return Stats(what: what, concurrency: concurrency, runs: n, seconds: now() - start, latencies: latencies,
                 errors: errors, firstError: firstError)
}

// MARK: - The three subjects

/// A bare POST of the body the provider would send, through Sluice's connection pool: the floor under everything else.
struct BareHTTP: Sendable {
    let url: URL
    let body: Data

    func post() async throws {
        let (status, body) = try await PooledHTTP.post(url, body: body, headers: [("Content-Type", "application/json"),
                                                                                  ("Authorization", "Bearer sk-bench")])
        guard status == 200, !body.isEmpty else { throw ProviderError(.http, "bare POST: HTTP \(status), \(body.count) bytes") }
    }
}

/// A request the size of the pipeline's: five retrieved documents, the JSON Schema of Reply.
func representativeRequest(model: ModelSpec, docs: [String]) -> ChatRequest {
    let schema = JSONValue.object([
        ("type", .string("object")),
        ("properties", .object([("answer", .object([("type", .string("string"))])), ("confidence", .object([("type", .string("number"))]))])),
        ("required", .array([.string("answer"), .string("confidence")])),
        ("additionalProperties", .bool(false)),
    ])
    let context = docs.prefix(5).enumerated().map { "[\($0.offset + 1)] \($0.element)" }.joined(separator: "\n")
    return ChatRequest(model: model, messages: [
        ChatMessage(role: "system", content: "Answer from CONTEXT only.\n\nReply with one JSON value that matches this JSON Schema, and nothing else:\n" + schema.serialized()),
        ChatMessage(role: "user", content: "CONTEXT:\n\(context)\n\nQUESTION:\n```\n\(question)\n```"),
    ], temperature: 0, maxTokens: 200, responseSchema: (name: "Reply", schema: schema), promptName: "support_answer")
}

func bareBody(for request: ChatRequest) -> Data {
    let body = JSONValue.object([
        ("model", .string(request.model.id)),
        ("messages", .array(request.messages.map(\.json))),
        ("temperature", .number(0)),
        ("max_tokens", .number(Double(request.maxTokens))),
        ("response_format", .object([
            ("type", .string("json_schema")),
            ("json_schema", .object([("name", .string("Reply")), ("schema", request.responseSchema!.schema), ("strict", .bool(true))])),
        ])),
    ])
    return Data(body.serialized().utf8)
}

// MARK: - Main

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ProvidersBench: \(message)\n".utf8))
    exit(1)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let base = arguments.first, base.hasPrefix("http://127.0.0.1:") || base.hasPrefix("http://localhost:") else {
    fail("usage: ProvidersBench http://127.0.0.1:PORT/v1 [--runs N] [--concurrent-runs M] [--concurrency 1,10,100] [--what bare,provider,untraced,pipeline] [--warmup W]")
}
arguments.removeFirst()
var sequentialRuns = 1000, concurrentRuns = 3000, warmup = 20
var levels = [1, 10, 50, 100]
var subjects = ["bare", "provider", "untraced", "pipeline"]
while !arguments.isEmpty {
    let flag = arguments.removeFirst()
    guard let value = arguments.first else { fail("\(flag) needs a value") }
    arguments.removeFirst()
    switch flag {
    case "--runs": sequentialRuns = Int(value) ?? sequentialRuns
    case "--concurrent-runs": concurrentRuns = Int(value) ?? concurrentRuns
    case "--warmup": warmup = Int(value) ?? warmup
    case "--concurrency": levels = value.split(separator: ",").compactMap { Int($0) }
    case "--what": subjects = value.split(separator: ",").map(String.init)
    default: fail("unknown option \(flag)")
    }
}

let environment = ["OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-bench"]

// A scratch folder: the script, its 200 documents, the SQLite store.
let work = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-providers-bench-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: work) }
let docsFolder = work.appendingPathComponent("docs")
try FileManager.default.createDirectory(at: docsFolder, withIntermediateDirectories: true)
var docs: [String] = []
for i in 0..<200 {
    let text = "Article \(i): to reset a password open settings, choose security, step \(i)."
    docs.append(text)
    try text.write(to: docsFolder.appendingPathComponent(String(format: "article-%03d.md", i)), atomically: true, encoding: .utf8)
}
let scriptPath = work.appendingPathComponent("support.sluice").path
try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
let file = SourceFile(path: scriptPath, text: script)
let (module, parseDiagnostics) = Parser.parse(file)
let (program, checkDiagnostics) = Checker.check(module, loader: StdlibLoader())
let errors = (parseDiagnostics + checkDiagnostics).filter { $0.severity == .error }
guard errors.isEmpty else { fail("the benchmark script does not check:\n" + DiagnosticRenderer.render(errors, color: false)) }

let store = try SQLiteStore(path: work.appendingPathComponent("bench.db").path)
let traces = TraceWriter(store: store)
let routing = RoutingProvider.standard(environment: environment)
let effects = RuntimeEffects(provider: routing, retrieval: store, trace: traces, clock: SystemClock(), random: SystemRandom(),
                             tokens: ModelTokenCounter(), sessions: store, spend: store)

/// Drops the trace: the same pipeline without its SQLite trace writes, to show what tracing costs.
struct NoTrace: TraceSink {
    func runStarted(_ run: TraceRun) throws {}
    func spanStarted(_ span: TraceSpan) throws {}
    func spanEnded(_ end: TraceSpanEnd) throws {}
    func modelCallStarted(_ call: TraceModelCall) throws {}
    func modelCalled(_ call: TraceModelCall) throws {}
    func guardChecked(_ verdict: TraceGuardVerdict) throws {}
    func scored(_ score: TraceScore) throws {}
    func runEnded(_ end: TraceRunEnd) throws {}
    func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {}
}
let untracedEffects = RuntimeEffects(provider: routing, retrieval: store, trace: NoTrace(), clock: SystemClock(), random: SystemRandom(),
                                     tokens: ModelTokenCounter(), sessions: store, spend: store)
let inputs: [String: JSONValue] = ["question": .string(question)]

let model = ModelSpec(name: "gpt_4o_mini", provider: "openai", id: "gpt-4o-mini", contextWindow: 128_000, maxOutput: 16_384,
                      inputPrice: 0.15e-6, outputPrice: 0.6e-6, tokenizer: "o200k_base")
let request = representativeRequest(model: model, docs: docs)
let provider = OpenAICompatibleProvider(environment: environment)
let bare = BareHTTP(url: URL(string: base + "/chat/completions")!, body: bareBody(for: request))

@Sendable func runPipeline() async throws { try await runPipeline(effects) }
@Sendable func runUntraced() async throws { try await runPipeline(untracedEffects) }

@Sendable func runPipeline(_ effects: RuntimeEffects) async throws {
    let interpreter = Interpreter(program: program, effects: effects)
    let result: RunResult
    do { result = try await interpreter.run(pipeline: "support", inputs: inputs) } catch { throw ProviderError(.http, "\(error.error.message)") }
    guard result.scores.first(where: { $0.name == "json_valid" })?.value == 1 else { throw ProviderError(.malformedReply, "json_valid is not 1") }
    if let traceError = result.traceError { throw ProviderError(.http, "trace: \(traceError)") }
}

@Sendable func callProvider() async throws {
    let reply = try await provider.complete(request)
    guard reply.text.hasPrefix("{") else { throw ProviderError(.malformedReply, "unexpected reply \(reply.text)") }
}

@Sendable func postBare() async throws { try await bare.post() }

let bodies: [String: @Sendable () async throws -> Void] = ["bare": postBare, "provider": callProvider, "pipeline": runPipeline,
                                                           "untraced": runUntraced]
var failed = false
for subject in subjects {
    guard let body = bodies[subject] else { fail("unknown subject \(subject) (bare, provider, untraced, pipeline)") }
    // Warm up: connections, the index (built from docs/ on the first pipeline run), caches.
    let warm = await measure(subject, n: warmup, concurrency: 1, body)
    if warm.errors > 0 { fail("\(subject) fails: \(warm.firstError ?? "?")") }
    for level in levels {
        let n = level == 1 ? sequentialRuns : concurrentRuns
        FileHandle.standardError.write(Data("ProvidersBench: \(subject), \(n) runs at concurrency \(level)\n".utf8))
        var stats = await measure(subject, n: n, concurrency: level, body)
        if subject == "pipeline" {
            // Timed until the last record is committed: the writer's work is part of the run's cost.
            let started = now()
            traces.flush()
            stats.seconds += now() - started
        }
        FileHandle.standardOutput.write(Data((stats.json + "\n").utf8))
        if stats.errors > 0 { failed = true }
    }
}
exit(failed ? 1 : 0)

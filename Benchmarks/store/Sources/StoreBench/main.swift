// The trace-store benchmark: what tracing into the SQLite store costs, batched or not.
//
//   StoreBench [--runs N] [--concurrent-runs M] [--spans S] [--rounds R]
//
// Three sinks, measured in turn in every round (so their ratios come from the same minutes):
//   untraced  a sink that drops everything (DiscardingTraceSink): the run without tracing
//   writer    the CLI's way: a TraceWriter on the SQLite store (group commit on a thread of its own),
//             timed until the last record is committed
//   path      the same writer, its queue large enough never to make a run wait, timed until the last
//             run returns: what tracing costs on the runs' path (queueing), its writes left out
//   direct    the SQLite store as the sink, one transaction per record (how sluice wrote before)
// and two measures:
//   spans/s   S spans (started and ended, in runs of 100) written as fast as one producer can,
//             until the last is committed
//   pipeline  the six-step support pipeline (guard, BM25 retrieval over 200 documents, prompt,
//             model call answered by the scripted provider, validate, score), N runs one after
//             another and M runs at concurrency 10 and 100
//   queueing  what a run's thread spends handing its records to the writer (real runs' records
//             replayed into a writer whose store keeps nothing): tracing's cost on the runs' path
//   write     the store's own work per run, on the writer's thread: one run's records written 1, 10
//             and 100 runs to a transaction (what bounds traced throughput once every core is busy)
// Prints one Markdown table per measure, each cell the median over R rounds.
import Dispatch
import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceStdlib
import SluiceSyntax

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

# 3. template and 4. model call
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

/// The scripted provider's reply file: one answer, taken by each run's own provider.
let replyLine = #"{"content": "{\"answer\": \"Open settings, choose security, then reset.\", \"confidence\": 0.9}"}"#

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

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("StoreBench: \(message)\n".utf8))
    exit(1)
}

func say(_ message: String) { FileHandle.standardError.write(Data("StoreBench: \(message)\n".utf8)) }

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

// MARK: Options

var arguments = Array(CommandLine.arguments.dropFirst())
var sequentialRuns = 2000, concurrentRuns = 4000, spanCount = 100_000, rounds = 3
while !arguments.isEmpty {
    let flag = arguments.removeFirst()
    guard let value = arguments.first.flatMap({ Int($0) }), value > 0 else { fail("\(flag) needs a positive whole number") }
    arguments.removeFirst()
    switch flag {
    case "--runs": sequentialRuns = value
    case "--concurrent-runs": concurrentRuns = value
    case "--spans": spanCount = value
    case "--rounds": rounds = value
    default: fail("unknown option \(flag) (--runs, --concurrent-runs, --spans, --rounds)")
    }
}

// MARK: Setup: the script, its 200 documents, the store

let work = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-store-bench-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: work) }
let docsFolder = work.appendingPathComponent("docs")
try FileManager.default.createDirectory(at: docsFolder, withIntermediateDirectories: true)
for i in 0..<200 {
    try "Article \(i): to reset a password open settings, choose security, step \(i)."
        .write(to: docsFolder.appendingPathComponent(String(format: "article-%03d.md", i)), atomically: true, encoding: .utf8)
}
let scriptPath = work.appendingPathComponent("support.sluice").path
try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
let (module, parseDiagnostics) = Parser.parse(SourceFile(path: scriptPath, text: script))
let (program, checkDiagnostics) = Checker.check(module, loader: StdlibLoader())
let errors = (parseDiagnostics + checkDiagnostics).filter { $0.severity == .error }
guard errors.isEmpty else { fail("the benchmark script does not check:\n" + DiagnosticRenderer.render(errors, color: false)) }

let store = try SQLiteStore(path: work.appendingPathComponent("bench.db").path)
let inputs: [String: JSONValue] = ["question": .string("How do I reset my password?")]

// MARK: Sinks

enum Sink: String, CaseIterable {
    case untraced, writer, path, direct
}

/// A sink of `kind` for `runs` runs, and what finishes its writes (closing the writer).
func makeSink(_ kind: Sink, runs: Int) -> (sink: any TraceSink, finish: () -> Void) {
    switch kind {
    case .untraced: return (DiscardingTraceSink(), {})
    case .direct: return (store, {})
    case .writer:
        let writer = TraceWriter(store: store)
        return (writer, writer.close)
    case .path:
        // Room for every record of every run (about 21 a run), so no run waits for the writer.
        let writer = TraceWriter(store: store, capacity: runs * 32)
        return (writer, writer.close)
    }
}

// MARK: Spans per second

/// Spans started and ended per second by one producer, until the last is committed.
func spansPerSecond(_ kind: Sink, count: Int) throws -> Double {
    let (sink, finish) = makeSink(kind, runs: count / 100 + 1)
    let perRun = 100
    let start = now()
    var written = 0
    while written < count {
        let run = "spans-\(kind)-\(UUID().uuidString)"
        try sink.runStarted(TraceRun(id: run, pipeline: "p", file: "p.sluice", startedAt: 0, inputs: .null))
        for index in 0..<min(perRun, count - written) {
            let span = "\(run)-\(index)"
            try sink.spanStarted(TraceSpan(id: span, runId: run, parentId: nil, kind: "prompt", name: "step", startedAt: 0))
            try sink.spanEnded(TraceSpanEnd(id: span, endedAt: 1, status: "ok", detail: .object([("index", .number(Double(index)))])))
            written += 1
        }
        try sink.runEnded(TraceRunEnd(id: run, status: .ok, endedAt: 1, output: .null, error: nil, cost: 0, tokens: 0))
    }
    finish()
    return Double(count) / (now() - start)
}

// MARK: Pipeline runs

@Sendable func runPipeline(_ effects: RuntimeEffects) async throws {
    var effects = effects
    effects.provider = try ScriptedProvider(jsonl: replyLine, origin: "bench replies")
    let interpreter = Interpreter(program: program, effects: effects)
    let result: RunResult
    do { result = try await interpreter.run(pipeline: "support", inputs: inputs) } catch { fail("a run failed: \(error.error.message)") }
    guard result.scores.first(where: { $0.name == "json_valid" })?.value == 1 else { fail("json_valid is not 1") }
    if let traceError = result.traceError { fail("the trace was not saved: \(traceError)") }
}

/// Runs per second for `n` runs at most `concurrency` at a time, the sink's writes finished
/// included (for `path`, left out).
func runsPerSecond(_ kind: Sink, n: Int, concurrency: Int) async throws -> Double {
    let (sink, finish) = makeSink(kind, runs: n)
    let effects = RuntimeEffects(provider: DiscardingProvider(), retrieval: store, trace: sink, clock: SystemClock(), random: SystemRandom(),
                                 tokens: EstimatingTokenCounter(), sessions: store)
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { group in
        var launched = 0
        while launched < min(concurrency, n) { launched += 1; group.addTask { try await runPipeline(effects) } }
        while try await group.next() != nil {
            if launched < n { launched += 1; group.addTask { try await runPipeline(effects) } }
        }
    }
    let ranFor = now() - start
    finish()
    return Double(n) / (kind == .path ? ranFor : now() - start)
}

/// Stands in until each run puts its own scripted provider in place.
struct DiscardingProvider: ModelProvider {
    func complete(_ request: ChatRequest) async throws -> ChatResponse { fail("the scripted provider was not set") }
}

// MARK: The writer's work per run

/// Keeps a run's records as the writer would queue them.
final class CapturingSink: TraceSink, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var records: [TraceRecord] = []
    private func add(_ record: TraceRecord) { lock.withLock { records.append(record) } }
    func runStarted(_ run: TraceRun) throws { add(.runStarted(run)) }
    func spanStarted(_ span: TraceSpan) throws { add(.spanStarted(span)) }
    func spanEnded(_ end: TraceSpanEnd) throws { add(.spanEnded(end)) }
    func modelCallStarted(_ call: TraceModelCall) throws { add(.modelCallStarted(call)) }
    func modelCalled(_ call: TraceModelCall) throws { add(.modelCalled(call)) }
    func guardChecked(_ verdict: TraceGuardVerdict) throws { add(.guardChecked(verdict)) }
    func scored(_ score: TraceScore) throws { add(.scored(score)) }
    func runEnded(_ end: TraceRunEnd) throws { add(.runEnded(end)) }
    func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {
        add(.scrub(runId: runId, replacements: replacements.map { TraceReplacement(secret: $0.secret, replacement: $0.replacement) }))
    }
}

/// Microseconds the store spends writing one run's records, `batchRuns` runs to a transaction:
/// the writer thread's work, which bounds traced throughput once every core is busy.
func writeMicrosecondsPerRun(batchRuns: Int, batches: Int) async throws -> (records: Int, microseconds: Double) {
    var runs: [[TraceRecord]] = []
    for _ in 0..<(batchRuns * batches) {
        let capture = CapturingSink()
        let effects = RuntimeEffects(provider: DiscardingProvider(), retrieval: store, trace: capture, clock: SystemClock(),
                                     random: SystemRandom(), tokens: EstimatingTokenCounter(), sessions: store)
        try await runPipeline(effects)
        runs.append(capture.records)
    }
    let start = now()
    for batch in 0..<batches {
        let result = store.write(Array(runs[(batch * batchRuns)..<((batch + 1) * batchRuns)].joined()))
        if let lost = result.lost { fail("a batch was lost: \(lost)") }
    }
    return (runs[0].count, (now() - start) / Double(batchRuns * batches) * 1e6)
}

/// A batch store that keeps nothing: the writer's queue and thread without SQLite.
struct DiscardingBatchStore: TraceBatchStore {
    func write(_ batch: [TraceRecord]) -> TraceBatchResult { .written() }
}

/// Microseconds a run's thread spends handing its records to a writer (the `TraceSink` calls),
/// for the records of real runs replayed into a writer whose store keeps nothing.
func queueMicrosecondsPerRun(runs count: Int) async throws -> Double {
    var runs: [[TraceRecord]] = []
    for _ in 0..<min(count, 200) {
        let capture = CapturingSink()
        let effects = RuntimeEffects(provider: DiscardingProvider(), retrieval: store, trace: capture, clock: SystemClock(),
                                     random: SystemRandom(), tokens: EstimatingTokenCounter(), sessions: store)
        try await runPipeline(effects)
        runs.append(capture.records)
    }
    let writer = TraceWriter(store: DiscardingBatchStore(), capacity: 1 << 20)
    let start = now()
    for index in 0..<count {
        for record in runs[index % runs.count] {
            switch record {
            case .runStarted(let run): try writer.runStarted(run)
            case .spanStarted(let span): try writer.spanStarted(span)
            case .spanEnded(let end): try writer.spanEnded(end)
            case .modelCallStarted(let call): try writer.modelCallStarted(call)
            case .modelCalled(let call): try writer.modelCalled(call)
            case .guardChecked(let verdict): try writer.guardChecked(verdict)
            case .scored(let score): try writer.scored(score)
            case .runEnded(let end): try writer.runEnded(end)
            case .scrub(let runId, let replacements): try writer.scrub(runId: runId, replacements: replacements.map { ($0.secret, $0.replacement) })
            }
        }
    }
    let elapsed = now() - start
    writer.close()
    return elapsed / Double(count) * 1e6
}

// MARK: Rounds

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

// Warm up: the index is built on the first run, caches and the thread pool fill.
for kind in Sink.allCases { _ = try await runsPerSecond(kind, n: 50, concurrency: 1) }

let levels = [1, 10, 100]
var spans: [Sink: [Double]] = [:]
var runs: [String: [Double]] = [:]
var writes: [Int: [Double]] = [:]
var queueing: [Double] = []
var recordsPerRun = 0
for round in 1...rounds {
    say("round \(round)/\(rounds)")
    queueing.append(try await queueMicrosecondsPerRun(runs: 20_000))
    for batchRuns in [1, 10, 100] {
        let (records, microseconds) = try await writeMicrosecondsPerRun(batchRuns: batchRuns, batches: max(1, 500 / batchRuns))
        recordsPerRun = records
        writes[batchRuns, default: []].append(microseconds)
    }
    for kind in [Sink.writer, .direct] {
        // One transaction per span is slow: a tenth of the spans gives the same rate.
        spans[kind, default: []].append(try spansPerSecond(kind, count: kind == .direct ? max(1, spanCount / 10) : spanCount))
    }
    for level in levels {
        for kind in Sink.allCases {
            let rate = try await runsPerSecond(kind, n: level == 1 ? sequentialRuns : concurrentRuns, concurrency: level)
            runs["\(kind.rawValue) \(level)", default: []].append(rate)
        }
    }
}

@MainActor func rate(_ kind: Sink, _ level: Int) -> Double { median(runs["\(kind.rawValue) \(level)"] ?? []) }
func grouped(_ x: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = 0
    return formatter.string(from: NSNumber(value: x.rounded())) ?? "\(x)"
}

let cores = ProcessInfo.processInfo.activeProcessorCount
print("\nTrace store, \(cores) cores; median of \(rounds) rounds, every sink measured in each round.\n")
print("Spans written per second (one producer, until the last is committed)\n")
print("| writer (group commit) | direct (a transaction per record) | writer/direct |")
print("|---|---|---|")
let writerSpans = median(spans[.writer] ?? []), directSpans = median(spans[.direct] ?? [])
print("| \(grouped(writerSpans)) | \(grouped(directSpans)) | \(String(format: "%.1f", writerSpans / directSpans))× |")
print("\nThe runs' path: µs a run's thread spends queueing its \(recordsPerRun) records (goal < 50)\n")
print("| queueing per run |")
print("|---|")
print("| \(String(format: "%.1f", median(queueing))) µs |")
print("\nThe store's work per run of the pipeline (\(recordsPerRun) records), on the writer's thread, in µs\n")
print("| 1 run a transaction | 10 runs | 100 runs |")
print("|---|---|---|")
print("| " + [1, 10, 100].map { String(format: "%.0f", median(writes[$0] ?? [])) }.joined(separator: " | ") + " |")
print("\nThe six-step pipeline with the scripted provider: runs per second (higher is better)\n")
print("| concurrency | untraced | writer | writer, runs' path only | direct | writer/untraced | path/untraced | direct/untraced |")
print("|---|---|---|---|---|---|---|---|")
for level in levels {
    let untraced = rate(.untraced, level)
    print("| \(level) | " + [Sink.untraced, .writer, .path, .direct].map { grouped(rate($0, level)) }.joined(separator: " | ") + " | "
          + [Sink.writer, .path, .direct].map { String(format: "%.2f", rate($0, level) / untraced) }.joined(separator: " | ") + " |")
}
print("\nWhat tracing adds per run, in µs of wall time (wall time / runs, traced minus untraced; goal < 50 µs on the runs' path)\n")
print("| concurrency | writer, until committed | writer, runs' path only | direct |")
print("|---|---|---|---|")
for level in levels {
    let untraced = 1e6 / rate(.untraced, level)
    print("| \(level) | " + [Sink.writer, .path, .direct].map { String(format: "%+.0f", 1e6 / rate($0, level) - untraced) }.joined(separator: " | ") + " |")
}

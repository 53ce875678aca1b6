import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceSyntax

struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a pipeline over labelled cases and check its scores against thresholds.",
        discussion: """
            CASES is a JSONL file: one JSON object of the pipeline's inputs per line (an `expected` input feeds \
            `score ... when expected != null`). Every case is a traced run in the store. The script's `expect mean(exact) >= 0.9` \
            lines bound a score's mean (or `min`) over the cases that recorded it; --threshold exact>=0.9 replaces \
            the bound on the same aggregate of that score. \
            Exit 0 when every case ran and every threshold holds, 1 when a case failed with an error or a \
            threshold failed (a case a guard blocked is reported, not failed), 2 for usage errors. With \
            --compare BASELINE the cases also run through BASELINE and the two are shown side by side; only \
            FILE is checked against bounds and written to --junit. --compare-model MODEL makes the baseline FILE with every \
            model call sent to MODEL (a metric's judge keeps its own). --from-traces FILTER takes the cases from past runs in \
            the store instead of --cases (pipeline=, status= (default ok, or any), file=, limit= (default 100)); their outputs \
            become `expected` when the pipeline declares it and the run had none. Every case is scored, whatever a \
            `score … sample N%` says. \
            The script's alerts are checked after the cases as after `sluice run`: one on a run (request_cost...) on each \
            case's run, one over a window or a budget once, over the whole batch.
            """
    )

    @ArgumentParser.Argument(help: "The script to test.") var file: String
    @Option(name: .long, help: ArgumentHelp("The labelled cases: one JSON object of inputs per line.", valueName: "file"))
    var cases: String?
    @Option(name: .customLong("from-traces"),
            help: ArgumentHelp("Take the cases from past runs in the store: key=value pairs (pipeline, status, file, limit) separated by commas, or \"\" for the defaults.",
                               valueName: "filter"))
    var fromTraces: String?
    @Option(name: .long, help: "The pipeline to run when the file declares several.") var pipeline: String?
    @Option(name: .long, help: "How many cases run at once.") var concurrency = 4
    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("A score's mean must meet this, as NAME>=VALUE (also >, <=, <, and min(NAME)); repeatable.", valueName: "threshold"))
    var threshold: [String] = []
    @Option(name: .long, help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file")) var junit: String?
    @Option(name: .long, help: ArgumentHelp("Write the JSON report here.", valueName: "file")) var report: String?
    @Flag(name: .long, help: "Print the JSON report on standard output instead of the table.") var json = false
    @Option(name: .long, help: ArgumentHelp("Also run the cases with this script (another prompt version or model) and print both side by side.",
                                            valueName: "baseline"))
    var compare: String?
    @Option(name: .customLong("compare-model"),
            help: ArgumentHelp("Also run the cases with every model call of FILE sent to this model (judges keep theirs) and print both side by side.",
                               valueName: "model"))
    var compareModel: String?
    @Option(name: .long, help: ArgumentHelp("Who every case runs for: recorded on its trace, and per-user budgets (`user_day`) are kept by it "
                                            + "(default: $SLUICE_USER).", valueName: "id"))
    var user: String?
    @OptionGroup var store: StoreOptions
    @OptionGroup var providers: ProviderOptions

    func validate() throws {
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1, got \(concurrency)") }
        if let user {
            do { try UserId.validate(user, source: "--user") } catch { throw ValidationError(error.description) }
        }
        if compare != nil, compareModel != nil {
            throw ValidationError("--compare and --compare-model each give the baseline; give one")
        }
        switch (cases, fromTraces) {
        case (nil, nil): throw ValidationError("give the cases: --cases FILE, or --from-traces FILTER to take them from past runs")
        case (_?, _?): throw ValidationError("--cases and --from-traces are two sources of cases; give one")
        case (nil, let filter?):
            do { _ = try TraceCaseFilter.parse(filter) } catch let error as UsageError { throw ValidationError(error.description) }
        default: break
        }
        for text in threshold { _ = try Threshold.parse(text) }
    }

    /// A script under test: its program, the pipeline to run and the bounds to check.
    struct Subject {
        var path: String
        var program: Program
        var pipeline: String
        var thresholds: [Threshold]
        /// `--compare-model`: the model every call of the baseline goes to.
        var modelOverride: ModelSpec? = nil
    }

    /// Loads a script and checks every case's inputs against the pipeline it runs; `commandLine`
    /// is nil for a baseline, which is the reference, not under test: no bounds are checked on it.
    func subject(_ path: String, cases testCases: [TestCase], commandLine: [Threshold]?) throws -> Subject {
        let script = try loadScript(path)
        do {
            let pipelineName = try choosePipeline(script.program, named: pipeline)
            for testCase in testCases {
                do { try checkInputs(testCase.inputs, for: pipelineName, in: script.program, allowMissing: false) } catch let error as UsageError {
                    throw UsageError("\(testCase.location(in: cases)): \(error.description)")
                }
            }
            return Subject(path: path, program: script.program, pipeline: pipelineName,
                           thresholds: commandLine.map { Threshold.combined(Threshold.declared(in: script.program), $0) } ?? [])
        } catch let error as UsageError {
            throw error.exit()
        }
    }

    func run() async throws {
        let testCases: [TestCase]
        do {
            if let cases {
                testCases = try TestCase.load(cases)
            } else {
                let script = try loadScript(file)
                let pipelineName = try choosePipeline(script.program, named: pipeline)
                testCases = try TestCase.fromTraces(try TraceCaseFilter.parse(fromTraces ?? ""), storePath: store.path,
                                                    pipeline: pipelineName, program: script.program)
            }
        } catch let error as UsageError { throw error.exit() }
        let commandLine = try threshold.map(Threshold.parse)
        // Both scripts are loaded and their pipelines checked against every case before any case runs.
        let tested = try subject(file, cases: testCases, commandLine: commandLine)
        var baseline = try compare.map { try subject($0, cases: testCases, commandLine: nil) }
        let sqlite: SQLiteStore
        let provider: ModelProvider
        let runUser: String?
        do {
            runUser = try commandLineUser(user)
            sqlite = try openStore(store.path)
            provider = WarningReportingProvider(try providers.makeProvider(store: sqlite))
        } catch let error as UsageError {
            throw error.exit()
        }
        if let compareModel {
            // The baseline is the tested script itself, every call sent to the other model.
            do {
                var other = Subject(path: file, program: tested.program, pipeline: tested.pipeline, thresholds: [])
                other.modelOverride = try commandLineModel(compareModel, option: "--compare-model", program: tested.program, provider: provider)
                baseline = other
            } catch let error as UsageError { throw error.exit() }
        }
        let traces = TraceWriter(store: sqlite)
        let effects = RuntimeEffects(
            provider: provider, retrieval: sqlite, trace: traces, clock: SystemClock(), random: SystemRandom(),
            tokens: defaultTokenCounter(), sessions: sqlite, embeddings: provider as? EmbeddingProvider, spend: sqlite,
            code: SandboxCodeRunner())

        let concurrency = concurrency
        let subjects = [tested] + (baseline.map { [$0] } ?? [])
        let runTask = Task { () async -> [TestSummary] in
            var summaries: [TestSummary] = []
            for subject in subjects where !Task.isCancelled {
                let progress = TestProgress(total: testCases.count, enabled: Terminal.stderrIsTTY)
                let interpreter = Interpreter(program: subject.program, effects: effects, samplesScores: false, modelOverride: subject.modelOverride)
                let outcomes = await Self.runAll(testCases, pipeline: subject.pipeline, user: runUser, on: interpreter, concurrency: concurrency,
                                                 progress: progress)
                progress.finish()
                var summary = TestSummary(file: subject.path, pipeline: subject.pipeline, outcomes: outcomes, thresholds: subject.thresholds)
                summary.modelOverride = subject.modelOverride?.name
                summaries.append(summary)
            }
            return summaries
        }
        let signals = SignalCancellation(beforeQuitting: traces.flush) { runTask.cancel() }
        let summaries = await runTask.value
        // Every case's trace is in the store before the report points at it, and before any exit.
        traces.close()
        signals.stop()

        guard let summary = summaries.first else { throw ExitCode(SignalCancellation.exitStatus(for: signals.received ?? SIGINT)) }
        let comparison = summaries.count > 1 ? TestComparison(tested: summary, baseline: summaries[1]) : nil
        let jsonReport = comparison?.json() ?? summary.json()
        do {
            if let report { try write(jsonReport.prettyPrinted() + "\n", to: report, what: "JSON report") }
            // CI reads the JUnit file as pass or fail, so it holds the tested file only, as the exit status does.
            if let junit { try write(summary.junitXML(), to: junit, what: "JUnit report") }
        } catch let error as UsageError {
            throw error.exit()
        }
        if json {
            Terminal.out(jsonReport.prettyPrinted())
        } else {
            Terminal.out(comparison?.table() ?? summary.table())
        }
        for summary in summaries {
            for outcome in summary.outcomes {
                if case .ok(let result) = outcome.status {
                    for failed in result.failedScores {
                        Terminal.error(Terminal.red("\(outcome.testCase.location(in: cases)): score \(failed.name) failed:") + " \(failed.error) "
                                       + Terminal.dim("(sluice traces show \(result.runId))"))
                    }
                }
                if case .failed(let failure) = outcome.status {
                    let help = failure.error.diagnostic.help.map { "; \($0)" } ?? ""
                    Terminal.error(Terminal.red("\(outcome.testCase.location(in: cases)): case failed\(comparison == nil ? "" : " with \(summary.file)"):")
                                   + " \(failure.error.message)\(help) " + Terminal.dim("(sluice traces show \(failure.runId))"))
                }
            }
        }
        if let signal = signals.received { throw ExitCode(SignalCancellation.exitStatus(for: signal)) }
        // Once the report is out, the cases' runs are checked as `sluice run` checks one: an alert fires
        // at most once per window, so a batch that passes a threshold fires it once.
        for (subject, ran) in zip(subjects, summaries) {
            await RunAlerts.check(subject.program, after: ran.outcomes.map { RunAlerts.Checked(runId: $0.runId, limits: $0.limits) }, store: sqlite)
        }
        if !summary.passed { throw Exit.scriptError }
    }

    private func write(_ text: String, to path: String, what: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw UsageError("cannot write the \(what) \(path): \(error.localizedDescription)")
        }
    }

    /// Runs every case on the one shared interpreter, at most `concurrency` at a time; the
    /// outcomes come back in the cases' order (only those of the cases started, when cancelled).
    static func runAll(_ cases: [TestCase], pipeline: String, user: String?, on interpreter: Interpreter, concurrency: Int,
                       progress: TestProgress) async -> [CaseOutcome] {
        await withTaskGroup(of: (Int, CaseOutcome).self) { group in
            var outcomes = [CaseOutcome?](repeating: nil, count: cases.count)
            var next = 0
            func startNext() {
                // After a signal, the runs in flight end as cancelled and no new case starts.
                guard next < cases.count, !Task.isCancelled else { return }
                let index = next
                next += 1
                group.addTask { (index, await runCase(cases[index], pipeline: pipeline, user: user, on: interpreter)) }
            }
            for _ in 0..<min(concurrency, cases.count) { startNext() }
            for await (index, outcome) in group {
                outcomes[index] = outcome
                progress.completed(outcome)
                startNext()
            }
            return outcomes.compactMap { $0 }
        }
    }

    static func runCase(_ testCase: TestCase, pipeline: String, user: String?, on interpreter: Interpreter) async -> CaseOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        let status: CaseOutcome.Status
        do throws(RunFailure) {
            status = .ok(try await interpreter.run(pipeline: pipeline, inputs: testCase.inputs, user: user))
        } catch {
            status = error.error.kind == .guardBlocked ? .blocked(error) : .failed(error)
        }
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return CaseOutcome(testCase: testCase, status: status, seconds: seconds)
    }
}

/// One labelled case: the inputs on one line of the cases file.
struct TestCase: Sendable {
    var line: Int
    var inputs: [String: JSONValue]
    /// The past run the case was taken from (`--from-traces`); nil for a line of a cases file.
    var sourceRun: String? = nil

    /// Where the case came from, for messages: `cases.jsonl:3`, or `run ID` for a traced case.
    func location(in casesFile: String?) -> String {
        sourceRun.map { "case \(line) (from run \($0))" } ?? "\(casesFile ?? "cases"):\(line)"
    }

    /// Every non-blank line of a JSONL file, each a JSON object; anything else is a usage error
    /// naming the line.
    static func load(_ path: String) throws -> [TestCase] {
        let text = String(decoding: try readWholeFile(path, what: "cases file"), as: UTF8.self)
        var cases: [TestCase] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let json: JSONValue
            do { json = try JSONValue.parse(bytes: Array(trimmed.utf8)) } catch {
                throw UsageError("\(path):\(index + 1): not valid JSON: \(error)")
            }
            guard case .object(let members) = json else {
                throw UsageError("\(path):\(index + 1): a case must be a JSON object of inputs, like {\"question\": \"...\", \"expected\": \"...\"}")
            }
            var inputs: [String: JSONValue] = [:]
            for member in members { inputs[member.key] = member.value }
            cases.append(TestCase(line: index + 1, inputs: inputs))
        }
        guard !cases.isEmpty else { throw UsageError("\(path) holds no cases (one JSON object per line)") }
        return cases
    }
}

/// How one case ended, and how long it took.
struct CaseOutcome: Sendable {
    enum Status: Sendable {
        case ok(RunResult)
        /// A guard stopped the run: the pipeline did what it was written to do.
        case blocked(RunFailure)
        case failed(RunFailure)
    }

    var testCase: TestCase
    var status: Status
    var seconds: Double

    var runId: String {
        switch status {
        case .ok(let result): result.runId
        case .blocked(let failure), .failed(let failure): failure.runId
        }
    }

    var scores: [(name: String, value: Double)] {
        if case .ok(let result) = status { return result.scores }
        return []
    }

    /// The budget the run ended with, for `budget LIMIT` alerts.
    var limits: BudgetLimits {
        switch status {
        case .ok(let result): result.limits
        case .blocked(let failure), .failed(let failure): failure.limits
        }
    }

    var cost: Double {
        switch status {
        case .ok(let result): result.cost
        case .blocked(let failure), .failed(let failure): failure.cost
        }
    }

    var tokens: Int {
        switch status {
        case .ok(let result): result.tokens
        case .blocked(let failure), .failed(let failure): failure.tokens
        }
    }
}

/// A bound on a score aggregated over the cases: `expect mean(exact) >= 0.9` in the script, or
/// `--threshold exact>=0.9` (a bare name is its mean; `min(exact)>=0.5` also works), which
/// replaces the script's bound on the same aggregate of the same score.
struct Threshold: Sendable {
    var aggregate: ExpectDecl.Aggregate
    var score: String
    var comparison: ExpectDecl.Comparison
    var value: Double
    /// Where it was set: `file:line:col` of the `expect`, or `--threshold`.
    var origin: String

    var key: String { "\(aggregate.rawValue)(\(score))" }
    var description: String { "\(key) \(comparison.rawValue) \(NumberDisplay.score(value))" }

    init(aggregate: ExpectDecl.Aggregate, score: String, comparison: ExpectDecl.Comparison, value: Double, origin: String) {
        self.aggregate = aggregate; self.score = score; self.comparison = comparison; self.value = value; self.origin = origin
    }

    /// The script's `expect` declarations (the checker has verified their aggregates).
    static func declared(in program: Program) -> [Threshold] {
        program.main.decls.compactMap { decl in
            guard case .expect(let expect) = decl, let aggregate = ExpectDecl.Aggregate(rawValue: expect.aggregate.text) else { return nil }
            let (line, column) = program.main.file.location(of: expect.span.start)
            return Threshold(aggregate: aggregate, score: expect.score.text, comparison: expect.comparison, value: expect.bound,
                             origin: "\(program.main.file.path):\(line):\(column)")
        }
    }

    static func parse(_ text: String) throws -> Threshold {
        for comparison in ExpectDecl.Comparison.allCases {
            guard let range = text.range(of: comparison.rawValue) else { continue }
            var name = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            let bound = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
            var aggregate = ExpectDecl.Aggregate.mean
            if let open = name.firstIndex(of: "("), name.hasSuffix(")") {
                let written = String(name[..<open])
                guard let known = ExpectDecl.Aggregate(rawValue: written) else {
                    throw ValidationError("--threshold \"\(text)\": unknown aggregate `\(written)`; use mean(NAME) or min(NAME)")
                }
                aggregate = known
                name = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
            }
            // Score names are names, joined by dots under `score ... as NAME` (`grounded.contains`), `#2` for a repeat.
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "_.#".contains($0) }) else {
                throw ValidationError("--threshold \"\(text)\": the score's name before \(comparison.rawValue) must be a score's name like `exact` or `grounded.contains`")
            }
            guard let value = Double(bound), value.isFinite else {
                throw ValidationError("--threshold \"\(text)\": \"\(bound)\" is not a number")
            }
            return Threshold(aggregate: aggregate, score: name, comparison: comparison, value: value, origin: "--threshold")
        }
        throw ValidationError("--threshold \"\(text)\" needs NAME>=VALUE (or >, <=, <), like exact>=0.9")
    }

    /// The script's thresholds with the command line's replacing those on the same aggregate of
    /// the same score (the last one given wins), in the order first given.
    static func combined(_ declared: [Threshold], _ commandLine: [Threshold]) -> [Threshold] {
        var order: [String] = []
        var byKey: [String: Threshold] = [:]
        for threshold in declared + commandLine {
            if byKey[threshold.key] == nil { order.append(threshold.key) }
            byKey[threshold.key] = threshold
        }
        return order.compactMap { byKey[$0] }
    }
}

/// The `done/total` line on standard error while cases run, only on a terminal.
final class TestProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private let enabled: Bool
    private var done = 0
    private var failed = 0

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func completed(_ outcome: CaseOutcome) {
        guard enabled else { return }
        lock.withLock {
            done += 1
            if case .failed = outcome.status { failed += 1 }
            let width = 30
            let filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(done)/\(total) cases\(failed > 0 ? " · \(failed) failed" : "")\u{1B}[K".utf8))
        }
    }

    /// Clears the progress line.
    func finish() {
        guard enabled else { return }
        lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

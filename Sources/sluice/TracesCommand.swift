import ArgumentParser
import Foundation
import SluiceServices
import SluiceSyntax

struct TracesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces",
        abstract: "What runs did, what they cost.",
        subcommands: [List.self, Show.self, Stats.self, Export.self, TracesAlertsCommand.self, TracesServeCommand.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The most recent runs, newest first.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var filters: TraceFilterOptions
        @Option(name: .long, help: "How many runs to show.") var limit = 20
        @Flag(name: .long, help: "Print as JSON.") var json = false

        func validate() throws {
            guard limit >= 0 else { throw ValidationError("--limit must be 0 or more, got \(limit)") }
        }

        func run() throws {
            let filter = try filters.filter()
            let runs: [RunSummary]
            do { runs = try openStoreForReading(store.path)?.listRuns(limit: limit, filter: filter) ?? [] } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("cannot read traces from \(store.path): \(error)").exit()
            }
            if json {
                Terminal.out(JSONValue.array(runs.map(\.json)).prettyPrinted())
                return
            }
            if runs.isEmpty {
                Terminal.out(filter.isEmpty ? "no runs recorded in \(store.path) yet" : "no runs in \(store.path) match: \(filter.summary)")
                return
            }
            let rows = runs.map { run in
                [run.id, TraceTable.timestamp(run.startedAt), run.pipeline, run.user ?? "-", run.status,
                 run.duration.map(TraceTable.duration) ?? "-", "\(run.tokens)", NumberDisplay.money(run.cost)]
            }
            Terminal.out(TraceTable.render(header: ["id", "started", "pipeline", "user", "status", "duration", "tokens", "cost"],
                                           rows: rows, rightAligned: [5, 6, 7]))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One run as a tree of spans: when each started and how long it took, model calls with tokens and cost, guard verdicts, scores.")
        @ArgumentParser.Argument(help: "The run id (a unique prefix is enough).") var id: String
        @OptionGroup var store: StoreOptions
        @Flag(name: .long, help: "Print as JSON (the tree is under \"tree\").") var json = false

        func run() throws {
            let sqlite: SQLiteStore?
            let detail: RunDetail?
            do {
                sqlite = try openStoreForReading(store.path)
                detail = try sqlite?.run(id: id)
            } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("\(error)").exit()
            }
            guard let sqlite, let detail else { throw UsageError("no run with id \(id) in \(store.path)").exit() }
            Terminal.out(json ? detail.json.prettyPrinted() : sqlite.renderTrace(detail))
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Counts, error rate, cost, tokens and latency percentiles (p50/p95/p99, linear interpolation) per group.",
            discussion: """
                Pipelines and users group runs: an error is a run that ended error, over_budget or interrupted, latency its duration. \
                Models and prompts group model calls, every try counted: an error is a call that failed, latency the call's.
                """)
        @OptionGroup var store: StoreOptions
        @OptionGroup var filters: TraceFilterOptions
        @Option(name: .long, help: ArgumentHelp("Group by pipeline, model, prompt (NAME@VERSION), user or day (UTC, in date order).", valueName: "group"))
        var by: String = TraceStatsGrouping.pipeline.rawValue
        @Flag(name: .long, help: "Print as JSON.") var json = false

        func validate() throws { _ = try grouping() }

        func grouping() throws -> TraceStatsGrouping {
            guard let grouping = TraceStatsGrouping(rawValue: by) else {
                throw ValidationError("--by '\(by)' is not a grouping: use one of \(TraceStatsGrouping.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return grouping
        }

        func run() throws {
            let filter = try filters.filter()
            let grouping = try grouping()
            let stats: TraceStats
            do {
                guard let sqlite = try openStoreForReading(store.path) else {
                    Terminal.out(json ? TraceStats.empty(grouping).json.prettyPrinted()
                                      : "no runs recorded in \(store.path) yet")
                    return
                }
                stats = try sqlite.traceStats(filter: filter, by: grouping)
            } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("cannot read traces from \(store.path): \(error)").exit()
            }
            if json {
                Terminal.out(stats.json.prettyPrinted())
                return
            }
            guard !stats.rows.isEmpty else {
                Terminal.out(filter.isEmpty ? "no runs recorded in \(store.path) yet" : "no runs in \(store.path) match: \(filter.summary)")
                return
            }
            let counted = grouping == .model || grouping == .prompt ? "calls" : "runs"
            let rows = (stats.rows + [stats.total]).map { row in
                [row.key, "\(row.count)", "\(row.errors)", TraceTable.percent(row.errorRate), NumberDisplay.money(row.cost), "\(row.tokens)",
                 row.latency.map { TraceTable.duration($0.p50) } ?? "-", row.latency.map { TraceTable.duration($0.p95) } ?? "-",
                 row.latency.map { TraceTable.duration($0.p99) } ?? "-"]
            }
            Terminal.out(TraceTable.render(header: [grouping.rawValue, counted, "errors", "error%", "cost", "tokens", "p50", "p95", "p99"],
                                           rows: rows, rightAligned: Set(1...8), ruleBeforeLast: true))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send runs to an OpenTelemetry collector over OTLP/HTTP (one trace per run).",
            discussion: """
                The endpoint is --otlp URL, else $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else $OTEL_EXPORTER_OTLP_ENDPOINT (plus /v1/traces). \
                $OTEL_EXPORTER_OTLP_PROTOCOL picks http/protobuf (default) or http/json; $OTEL_EXPORTER_OTLP_HEADERS adds headers \
                (key=value,...); $OTEL_SERVICE_NAME names the service (default sluice). Runs still running are left out.
                """)
        @OptionGroup var store: StoreOptions
        @OptionGroup var filters: TraceFilterOptions
        @OptionGroup var otlp: OTLPOptions
        @Option(name: .long, help: "Export at most this many runs, the most recent (default: every run that matches).") var limit: Int?

        func validate() throws {
            if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more, got \(limit)") }
        }

        func run() async throws {
            let filter = try filters.filter()
            let settings: OTLPSettings
            do {
                guard let configured = try otlp.settings() else {
                    throw UsageError("no OTLP endpoint: give --otlp URL or set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT")
                }
                settings = configured
            } catch let error as UsageError { throw error.exit() }
            let sqlite: SQLiteStore
            let finished: [RunSummary]
            let running: Int
            do {
                guard let opened = try openStoreForReading(store.path) else {
                    Terminal.error("no runs recorded in \(store.path) yet: nothing to export")
                    return
                }
                sqlite = opened
                let matching = try sqlite.listRuns(limit: limit, filter: filter)
                finished = matching.filter { $0.status != "running" }
                running = matching.count - finished.count
            } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("cannot read traces from \(store.path): \(error)").exit()
            }
            let exporter = OTLPExporter(settings: settings)
            var exported = 0, spans = 0
            // One request per batch, read just before it is sent: a large store is never held in memory at once.
            for start in stride(from: 0, to: finished.count, by: OTLPExporter.runsPerRequest) {
                let details: [RunDetail]
                do { details = try finished[start..<min(finished.count, start + OTLPExporter.runsPerRequest)].compactMap { try sqlite.run(id: $0.id) } } catch {
                    throw UsageError("cannot read traces from \(store.path): \(error)").exit()
                }
                do { try await exporter.export(details) } catch {
                    Terminal.error(Terminal.red("error:") + " \(error)" + (exported > 0 ? " (\(exported) runs were exported before it)" : ""))
                    throw Exit.scriptError
                }
                exported += details.count
                spans += details.reduce(0) { $0 + 1 + $1.spans.count + $1.modelCalls.count }
            }
            let skipped = running == 0 ? "" : " (\(running) still running, left out)"
            Terminal.error("exported \(exported) run\(exported == 1 ? "" : "s") (\(spans) spans) to \(settings.endpoint)\(skipped)")
        }
    }
}

/// The filters `traces list`, `stats` and `export` share. A bad value is a usage error naming its flag.
struct TraceFilterOptions: ParsableArguments {
    @Option(name: .long, help: "Only runs of this pipeline.") var pipeline: String?
    @Option(name: .long, help: "Only runs for this user (`sluice run --user`).") var user: String?
    @Option(name: .long, help: "Only runs of this conversation.") var session: String?
    @Option(name: .long, help: ArgumentHelp("Only runs with this status: \(TraceFilter.statuses.joined(separator: ", ")).", valueName: "status"))
    var status: String?
    @Option(name: .long, help: ArgumentHelp("Only runs that started at or after this time: an ISO 8601 date or time (UTC unless it has an offset), "
                                            + "or a time ago such as 30m, 24h, 7d.", valueName: "time"))
    var since: String?
    @Option(name: .long, help: ArgumentHelp("Only runs that started before this time (the same forms as --since).", valueName: "time"))
    var until: String?
    @Option(name: .customLong("prompt-version"), help: ArgumentHelp("Only runs that called this prompt version, e.g. answer@2.", valueName: "name@n"))
    var promptVersion: String?
    @Option(name: .long, help: ArgumentHelp("Only runs whose inputs, output or error contain this text (ASCII letters in any case).", valueName: "text"))
    var search: String?

    func validate() throws { _ = try filter() }

    /// The filter the flags describe; relative times count back from now.
    func filter(now: Double = Date().timeIntervalSince1970) throws -> TraceFilter {
        func checked<T>(_ flag: String, _ parse: () throws(TraceFilter.ValueError) -> T) throws -> T {
            do { return try parse() } catch { throw ValidationError("\(flag): \(error.description)") }
        }
        var filter = TraceFilter(pipeline: pipeline, user: user, session: session, search: search)
        if let status { filter.status = try checked("--status") { () throws(TraceFilter.ValueError) in try TraceFilter.parseStatus(status) } }
        if let since { filter.since = try checked("--since") { () throws(TraceFilter.ValueError) in try TraceFilter.parseTime(since, now: now) } }
        if let until { filter.until = try checked("--until") { () throws(TraceFilter.ValueError) in try TraceFilter.parseTime(until, now: now) } }
        if let since = filter.since, let until = filter.until, until <= since {
            throw ValidationError("--until must be later than --since")
        }
        if let promptVersion {
            filter.promptVersion = try checked("--prompt-version") { () throws(TraceFilter.ValueError) in try TraceFilter.parsePromptVersion(promptVersion) }
        }
        for (flag, value) in [("--pipeline", pipeline), ("--user", user), ("--session", session), ("--search", search)] where value?.isEmpty == true {
            throw ValidationError("\(flag) needs a value")
        }
        return filter
    }
}

/// OTLP export settings: `--otlp URL`, `--otlp-content`, and the standard OTEL_* variables.
struct OTLPOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Send traces over OTLP/HTTP to this collector (http://host:4318 or its full /v1/traces URL; "
                                            + "default: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT).", valueName: "url"))
    var otlp: String?
    @Flag(name: .customLong("otlp-content"),
          help: ArgumentHelp("Include message content, inputs and outputs (as stored: redacted) in exported spans "
                             + "(default: $OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true)."))
    var content = false

    /// Nil when nothing names an endpoint.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> OTLPSettings? {
        let settings: OTLPSettings?
        do { settings = try OTLPSettings.resolve(flag: otlp, captureContent: content, environment: environment) } catch {
            throw UsageError("\(error)")
        }
        if settings == nil && content {
            throw UsageError("--otlp-content needs a collector: give --otlp URL or set OTEL_EXPORTER_OTLP_ENDPOINT")
        }
        return settings
    }
}

/// Aligned plain-text tables for `traces list`, `traces stats` and `sluice test`'s summary.
enum TraceTable {
    static func render(header: [String], rows: [[String]], rightAligned: Set<Int>, ruleBeforeLast: Bool = false) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : (column == cells.count - 1 ? cell : cell + pad)
            }.joined(separator: "  ")
        }
        var lines = [line(header)] + rows.map(line)
        if ruleBeforeLast, rows.count > 1 {
            lines.insert(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)), at: lines.count - 1)
        }
        return lines.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }.joined(separator: "\n")
    }

    static func timestamp(_ seconds: Double) -> String { TraceDisplay.timestamp(seconds) }

    static func duration(_ seconds: Double) -> String { TraceDisplay.duration(seconds) }

    static func percent(_ fraction: Double) -> String { NumberDisplay.score(fraction * 100) + "%" }
}

import SluiceRuntime

extension OTLPOptions {
    /// The export settings for `sluice run`. A bad `--otlp` (or `--otlp-content` with no collector) is a usage error; a bad OTEL_* variable is one
    /// warning and the run goes on unexported, since the environment is shared by every run.
    func liveSettings() throws -> OTLPSettings? {
        do { return try settings() } catch let error as UsageError {
            // Asked for on the command line: a usage error, as for any flag.
            if otlp != nil || content { throw error }
            Terminal.error(Terminal.red("warning:") + " traces are not exported: \(error.description)")
            return nil
        }
    }
}

/// Sends a finished run's trace, read back from the store, to the collector. It never fails the run:
/// any problem (an unreachable collector, a refusal) is one warning on standard error.
func exportFinishedRun(_ runId: String, from store: SQLiteStore, to settings: OTLPSettings) async {
    do {
        guard let detail = try store.run(id: runId) else {
            Terminal.error(Terminal.red("warning:") + " the trace of run \(runId) was not exported: it is not in the store")
            return
        }
        try await OTLPExporter(settings: settings).export([detail])
    } catch {
        Terminal.error(Terminal.red("warning:") + " the trace of run \(runId) was not exported: \(error)")
    }
}

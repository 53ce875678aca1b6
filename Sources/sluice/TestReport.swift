import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceSyntax

/// What `sluice test` found: per-score statistics, the thresholds' verdicts, and the summary
/// table, JSON report and JUnit XML built from them.
struct TestSummary {
    /// One score over every case that recorded it.
    struct ScoreStatistics {
        var name: String
        var values: [Double]
        /// The bound a single value is held to for the pass rate.
        var passBound: Threshold?

        var mean: Double { values.reduce(0, +) / Double(values.count) }
        var minimum: Double { values.min() ?? 0 }
        /// The share of values that meet the score's first threshold's bound, or, without one, that get full marks (1).
        var passRate: Double {
            let passing = values.filter { value in passBound.map { $0.comparison.holds(value, $0.value) } ?? (value >= 1) }
            return Double(passing.count) / Double(values.count)
        }

        func value(of aggregate: ExpectDecl.Aggregate) -> Double {
            switch aggregate {
            case .mean: mean
            case .min: minimum
            }
        }
    }

    /// A threshold and whether the aggregate it bounds holds it; nil `actual` when no case recorded the score.
    struct Verdict {
        var threshold: Threshold
        var actual: Double?
        var message: String?
        var passed: Bool { message == nil }
    }

    var file: String
    var pipeline: String
    /// `--compare-model`: the model every call of these runs went to.
    var modelOverride: String? = nil
    var outcomes: [CaseOutcome]
    var scores: [ScoreStatistics]
    var verdicts: [Verdict]

    /// `thresholds` hold at most one per aggregate of a score (`Threshold.combined`).
    init(file: String, pipeline: String, outcomes: [CaseOutcome], thresholds: [Threshold]) {
        self.file = file
        self.pipeline = pipeline
        self.outcomes = outcomes
        var order: [String] = []
        var values: [String: [Double]] = [:]
        for outcome in outcomes {
            for score in outcome.scores {
                if values[score.name] == nil { order.append(score.name) }
                values[score.name, default: []].append(score.value)
            }
        }
        let scores = order.map { name in ScoreStatistics(name: name, values: values[name, default: []], passBound: thresholds.first { $0.score == name }) }
        self.scores = scores
        verdicts = thresholds.map { threshold in
            guard let statistics = scores.first(where: { $0.name == threshold.score }) else {
                let hint = closestMatch(to: threshold.score, in: order).map { " (did you mean `\($0)`?)" } ?? ""
                let known = order.isEmpty ? "no case recorded any score" : "the scores recorded are: " + order.joined(separator: ", ")
                return Verdict(threshold: threshold, actual: nil, message: "no case recorded the score `\(threshold.score)`\(hint); \(known)")
            }
            let actual = statistics.value(of: threshold.aggregate)
            guard threshold.comparison.holds(actual, threshold.value) else {
                return Verdict(threshold: threshold, actual: actual,
                               message: "\(threshold.key) is \(NumberDisplay.score(actual)), needs \(threshold.comparison.rawValue) "
                                 + "\(NumberDisplay.score(threshold.value)) (set by \(threshold.origin))")
            }
            return Verdict(threshold: threshold, actual: actual, message: nil)
        }
    }

    var okCount: Int { outcomes.filter { if case .ok = $0.status { true } else { false } }.count }
    var failedCount: Int { outcomes.filter { if case .failed = $0.status { true } else { false } }.count }
    var blockedCount: Int { outcomes.filter { if case .blocked = $0.status { true } else { false } }.count }
    var cost: Double { outcomes.reduce(0) { $0 + $1.cost } }
    var tokens: Int { outcomes.reduce(0) { $0 + $1.tokens } }
    var meanSeconds: Double { outcomes.isEmpty ? 0 : outcomes.reduce(0) { $0 + $1.seconds } / Double(outcomes.count) }
    var maxSeconds: Double { outcomes.map(\.seconds).max() ?? 0 }

    /// No case failed with an error and every threshold holds.
    var passed: Bool { failedCount == 0 && verdicts.allSatisfy(\.passed) }

    // MARK: - The table

    func table() -> String {
        var lines = ["\(file) · pipeline \(pipeline) · \(outcomes.count) case\(outcomes.count == 1 ? "" : "s"): "
                     + "\(okCount) ok, \(failedCount) failed, \(blockedCount) blocked"]
        if !scores.isEmpty {
            var rows = [["score", "cases", "mean", "min", "pass", "threshold"]]
            for score in scores {
                let own = verdicts.filter { $0.threshold.score == score.name }
                let thresholdText = own.isEmpty ? "-" : own.map { verdict in
                    (verdict.threshold.aggregate == .mean ? "" : "\(verdict.threshold.aggregate.rawValue) ")
                        + "\(verdict.threshold.comparison.rawValue) \(NumberDisplay.score(verdict.threshold.value)) \(verdict.passed ? "ok" : "FAILED")"
                }.joined(separator: ", ")
                rows.append([score.name, "\(score.values.count)", NumberDisplay.score(score.mean), NumberDisplay.score(score.minimum),
                             percent(score.passRate), thresholdText])
            }
            lines.append(contentsOf: aligned(rows))
        }
        for verdict in verdicts where !verdict.passed {
            lines.append("threshold FAILED: \(verdict.message!)")
        }
        lines.append("cost \(NumberDisplay.money(cost)) · \(tokens) tokens · latency mean \(milliseconds(meanSeconds)), max \(milliseconds(maxSeconds))")
        lines.append(passed ? "PASSED" : "FAILED")
        return lines.joined(separator: "\n")
    }

    /// `rows` (the first is the header) in aligned columns.
    func aligned(_ rows: [[String]]) -> [String] {
        guard let header = rows.first else { return [] }
        return TraceTable.render(header: header, rows: Array(rows.dropFirst()), rightAligned: []).components(separatedBy: "\n")
    }

    func percent(_ share: Double) -> String { String(format: "%.0f%%", share * 100) }
    func milliseconds(_ seconds: Double) -> String { String(format: "%.0f ms", seconds * 1000) }

    // MARK: - JSON

    func json() -> JSONValue {
        .object([
            ("file", .string(file)),
            ("pipeline", .string(pipeline)),
            ("model_override", modelOverride.map { .string($0) } ?? .null),
            ("passed", .bool(passed)),
            ("cases", .number(Double(outcomes.count))),
            ("ok", .number(Double(okCount))),
            ("failed", .number(Double(failedCount))),
            ("blocked", .number(Double(blockedCount))),
            ("scores", .array(scores.map { score in
                .object([
                    ("name", .string(score.name)),
                    ("count", .number(Double(score.values.count))),
                    ("mean", NumberDisplay.scoreJSON(score.mean)),
                    ("min", NumberDisplay.scoreJSON(score.minimum)),
                    ("pass_rate", NumberDisplay.scoreJSON(score.passRate)),
                ])
            })),
            ("thresholds", .array(verdicts.map { verdict in
                .object([
                    ("score", .string(verdict.threshold.score)),
                    ("aggregate", .string(verdict.threshold.aggregate.rawValue)),
                    ("op", .string(verdict.threshold.comparison.rawValue)),
                    ("value", .number(verdict.threshold.value)),
                    ("actual", verdict.actual.map(NumberDisplay.scoreJSON) ?? .null),
                    ("origin", .string(verdict.threshold.origin)),
                    ("passed", .bool(verdict.passed)),
                ] + (verdict.message.map { [("message", JSONValue.string($0))] } ?? []))
            })),
            ("cost", NumberDisplay.moneyJSON(cost)),
            ("tokens", .number(Double(tokens))),
            ("latency_ms", .object([("mean", NumberDisplay.millisecondsJSON(meanSeconds * 1000)),
                                    ("max", NumberDisplay.millisecondsJSON(maxSeconds * 1000))])),
            ("results", .array(outcomes.map(caseJSON))),
        ])
    }

    private func caseJSON(_ outcome: CaseOutcome) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("line", .number(Double(outcome.testCase.line))),
            ("run_id", .string(outcome.runId)),
        ]
        if let source = outcome.testCase.sourceRun { members.append(("source_run", .string(source))) }
        switch outcome.status {
        case .ok(let result):
            members.append(("status", .string("ok")))
            members.append(("output", result.output.json))
            if !result.failedScores.isEmpty {
                members.append(("failed_scores", .object(result.failedScores.map { ($0.name, .string($0.error)) })))
            }
        case .blocked(let failure):
            members.append(("status", .string("blocked")))
            members.append(("error", .string(failure.error.message)))
        case .failed(let failure):
            members.append(("status", .string(failure.error.kind == .cancelled ? "cancelled" : "failed")))
            members.append(("error", .string(failure.error.message)))
        }
        members.append(("scores", .object(outcome.scores.map { ($0.name, NumberDisplay.scoreJSON($0.value)) })))
        members.append(("cost", NumberDisplay.moneyJSON(outcome.cost)))
        members.append(("tokens", .number(Double(outcome.tokens))))
        members.append(("latency_ms", NumberDisplay.millisecondsJSON(outcome.seconds * 1000)))
        return .object(members)
    }

    // MARK: - JUnit XML

    /// One testcase per case (a failure when it errored, skipped when a guard blocked it) and one
    /// per threshold (a failure when the mean misses it), so the XML fails exactly when the exit code does.
    func junitXML() -> String {
        let suiteName = "\(file):\(pipeline)"
        let failures = failedCount + verdicts.filter { !$0.passed }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
        xml += "  <testsuite name=\"\(escaped(suiteName))\" tests=\"\(outcomes.count + verdicts.count)\" failures=\"\(failures)\" "
            + "errors=\"0\" skipped=\"\(blockedCount)\" time=\"\(seconds(outcomes.reduce(0) { $0 + $1.seconds }))\">\n"
        for outcome in outcomes {
            let scoresText = outcome.scores.map { "\($0.name)=\(NumberDisplay.score($0.value))" }.joined(separator: " ")
            xml += "    <testcase classname=\"\(escaped(suiteName))\" name=\"case line \(outcome.testCase.line)\" time=\"\(seconds(outcome.seconds))\">\n"
            switch outcome.status {
            case .ok: break
            case .blocked(let failure):
                xml += "      <skipped message=\"\(escaped("blocked: " + failure.error.message))\"/>\n"
            case .failed(let failure):
                xml += "      <failure type=\"\(escaped(failure.error.kind.rawValue))\" message=\"\(escaped(failure.error.message))\">"
                    + escaped("\(failure.error.message)\nits trace: sluice traces show \(failure.runId)") + "</failure>\n"
            }
            xml += "      <system-out>\(escaped("run \(outcome.runId)" + (scoresText.isEmpty ? "" : " · scores: " + scoresText)))</system-out>\n"
            xml += "    </testcase>\n"
        }
        for verdict in verdicts {
            xml += "    <testcase classname=\"\(escaped(suiteName))\" name=\"\(escaped("threshold " + verdict.threshold.description))\" time=\"0\">\n"
            if let message = verdict.message {
                let below = outcomes.filter { outcome in
                    outcome.scores.contains { $0.name == verdict.threshold.score && !verdict.threshold.comparison.holds($0.value, verdict.threshold.value) }
                }.map { "line \($0.testCase.line) (run \($0.runId))" }
                let detail = message + (below.isEmpty ? "" : "\ncases that miss the bound: " + below.joined(separator: ", "))
                xml += "      <failure type=\"threshold\" message=\"\(escaped(message))\">\(escaped(detail))</failure>\n"
            }
            xml += "    </testcase>\n"
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    private func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    /// Text for an XML attribute or element: the five special characters escaped, and control
    /// characters XML 1.0 cannot hold dropped.
    func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\n": result += "&#10;"
            case "\t", "\r": result.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// `--compare`: the tested file's results beside a baseline's, over the same cases.
struct TestComparison {
    var tested: TestSummary
    var baseline: TestSummary

    /// Every score either side recorded, the tested file's first.
    var scoreNames: [String] {
        var names = tested.scores.map(\.name)
        for score in baseline.scores where !names.contains(score.name) { names.append(score.name) }
        return names
    }

    func table() -> String {
        let other = baseline.modelOverride.map { "\(baseline.file) with every call on \($0)" } ?? baseline.file
        var lines = [tested.table(), "", "compared with \(other) · pipeline \(baseline.pipeline): "
                     + "\(baseline.okCount) ok, \(baseline.failedCount) failed, \(baseline.blockedCount) blocked"]
        var rows = [["score", "mean", "baseline", "change", "pass", "baseline pass"]]
        for name in scoreNames {
            let mine = tested.scores.first { $0.name == name }, theirs = baseline.scores.first { $0.name == name }
            let change = mine.flatMap { m in theirs.map { t in signed(m.mean - t.mean) } } ?? "-"
            rows.append([name, mine.map { NumberDisplay.score($0.mean) } ?? "-", theirs.map { NumberDisplay.score($0.mean) } ?? "-", change,
                         mine.map { tested.percent($0.passRate) } ?? "-", theirs.map { tested.percent($0.passRate) } ?? "-"])
        }
        if rows.count > 1 { lines.append(contentsOf: tested.aligned(rows)) }
        lines.append("baseline cost \(NumberDisplay.money(baseline.cost)) · \(baseline.tokens) tokens · latency mean "
                     + "\(tested.milliseconds(baseline.meanSeconds)), max \(tested.milliseconds(baseline.maxSeconds))")
        return lines.joined(separator: "\n")
    }

    private func signed(_ value: Double) -> String { (value > 0 ? "+" : "") + NumberDisplay.score(value) }

    /// The tested file's report, with the baseline's report and each score's change in mean.
    func json() -> JSONValue {
        guard case .object(var members) = tested.json() else { return tested.json() }
        members.append(("baseline", baseline.json()))
        members.append(("differences", .array(scoreNames.map { name in
            let mine = tested.scores.first { $0.name == name }?.mean, theirs = baseline.scores.first { $0.name == name }?.mean
            return .object([
                ("score", .string(name)),
                ("mean", mine.map(NumberDisplay.scoreJSON) ?? .null),
                ("baseline_mean", theirs.map(NumberDisplay.scoreJSON) ?? .null),
                ("change", mine.flatMap { m in theirs.map { NumberDisplay.scoreJSON(m - $0) } } ?? .null),
            ])
        })))
        return .object(members)
    }
}

import SluiceSyntax

/// What an alert can watch: the one table of them. The checker validates alerts against it and
/// Services evaluates each case in an exhaustive switch (`AlertEvaluator`).
public enum AlertMetric: String, CaseIterable, Sendable {
    /// Of the run just finished.
    case request_cost, request_tokens, latency
    /// Over the pipeline's runs in the window (`over 10m`).
    case error_rate, p50_latency, p95_latency, p99_latency, spend

    /// The unit its threshold is written in.
    public var unit: Quantity.Unit {
        switch self {
        case .request_cost, .spend: .money
        case .request_tokens: .number
        case .latency, .p50_latency, .p95_latency, .p99_latency: .seconds
        case .error_rate: .percent
        }
    }

    /// Measured over a window of runs (which `over` must give), rather than on the run just finished.
    public var isWindowed: Bool {
        switch self {
        case .request_cost, .request_tokens, .latency: false
        case .error_rate, .p50_latency, .p95_latency, .p99_latency, .spend: true
        }
    }

    /// For messages: what it measures.
    public var meaning: String {
        switch self {
        case .request_cost: "the run's cost"
        case .request_tokens: "the run's tokens"
        case .latency: "the run's duration"
        case .error_rate: "the share of the pipeline's runs that failed"
        case .p50_latency, .p95_latency, .p99_latency: "a percentile of the pipeline's run durations"
        case .spend: "what the pipeline's runs cost in all"
        }
    }
}

/// An alert as the checker accepted it, in plain values: what Services evaluates.
public struct AlertRule: Sendable, Equatable {
    public enum Subject: Sendable, Equatable {
        case metric(AlertMetric)
        case budget(BudgetWindow)
    }

    public var name: String
    public var subject: Subject
    public var comparison: ExpectDecl.Comparison
    /// In the metric's unit: dollars, seconds, tokens, or a fraction for a percentage (0.05 for `5%`).
    public var threshold: Double
    /// Seconds: the window a windowed metric is measured over, and for every alert but a budget
    /// one, how often it may fire (at most once per window). Nil for a budget alert: once per
    /// window of its budget.
    public var window: Double?
    /// The condition as declared: `error_rate > 5% over 10m`.
    public var condition: String
    /// `file:line:col` of the declaration.
    public var origin: String

    public init(name: String, subject: Subject, comparison: ExpectDecl.Comparison, threshold: Double, window: Double?, condition: String,
                origin: String) {
        self.name = name; self.subject = subject; self.comparison = comparison; self.threshold = threshold; self.window = window
        self.condition = condition; self.origin = origin
    }

    public func holds(_ observed: Double) -> Bool { comparison.holds(observed, threshold) }
}

/// Where alerts are sent.
public enum AlertTarget: Sendable, Equatable, Hashable {
    case stderr
    case webhook(String)
}

/// The alerts of the file given to `sluice run` and where they go.
public struct AlertPlan: Sendable, Equatable {
    public var rules: [AlertRule]
    /// `notify` declarations in order; standard error when there are none.
    public var targets: [AlertTarget]

    /// A per-run metric's alert fires at most once per this many seconds unless `over` says.
    public static let defaultRunAlertWindow: Double = 3_600

    /// The main file's alerts (imported files' alerts apply when those files are run). The
    /// program has passed the checker, so every alert is well formed; any that is not is left out.
    public static func declared(in program: Program) -> AlertPlan {
        let file = program.main.file
        var rules: [AlertRule] = []
        var targets: [AlertTarget] = []
        for decl in program.main.decls {
            switch decl {
            case .alert(let alert):
                if let rule = rule(alert, file: file) { rules.append(rule) }
            case .notify(let notify):
                switch notify.target {
                case .named(let name) where name.text == "stderr": targets.append(.stderr)
                case .webhook(let url, _): targets.append(.webhook(url))
                case .named: break
                }
            default:
                break
            }
        }
        return AlertPlan(rules: rules, targets: targets.isEmpty ? [.stderr] : targets)
    }

    private static func rule(_ alert: AlertDecl, file: SourceFile) -> AlertRule? {
        let subject: AlertRule.Subject
        let unit: Quantity.Unit
        switch alert.subject {
        case .metric(let name):
            guard let metric = AlertMetric(rawValue: name.text) else { return nil }
            subject = .metric(metric)
            unit = metric.unit
        case .budget(_, let limit):
            guard let window = BudgetWindow(rawValue: limit.text) else { return nil }
            subject = .budget(window)
            unit = .percent
        }
        guard alert.threshold.unit == unit else { return nil }
        let threshold = unit == .percent ? alert.threshold.value / 100 : alert.threshold.value
        var window: Double?
        if case .budget = subject {
            window = nil
        } else {
            window = alert.window?.value ?? defaultRunAlertWindow
        }
        let (line, column) = file.location(of: alert.span.start)
        return AlertRule(name: alert.name.text, subject: subject, comparison: alert.comparison, threshold: threshold, window: window,
                         condition: alert.conditionText, origin: "\(file.path):\(line):\(column)")
    }
}

extension ModuleChecker {
    /// `alert` and `notify`: known metrics and budgets, thresholds in the metric's unit, windows
    /// that are durations where a window belongs, one alert per name and one `notify` per target.
    func checkAlerts(_ module: Module) {
        var names: [String: Span] = [:]
        var targets: [AlertTarget: Span] = [:]
        var firstNotify: Span?
        var anyAlert = false
        for decl in module.decls {
            switch decl {
            case .alert(let alert):
                anyAlert = true
                if let first = names[alert.name.text] {
                    error("a second alert named `\(alert.name.text)`", at: alert.name.span, notes: [note("the first one is here", first)],
                          help: "give each alert its own name: it is how a fired alert is known and deduplicated")
                } else {
                    names[alert.name.text] = alert.name.span
                }
                checkAlert(alert)
            case .notify(let notify):
                firstNotify = firstNotify ?? notify.span
                guard let target = checkNotify(notify) else { continue }
                if let first = targets[target] {
                    error("alerts are already sent to this target", at: notify.span, notes: [note("the first `notify` is here", first)])
                } else {
                    targets[target] = notify.span
                }
            default:
                continue
            }
        }
        if let firstNotify, !anyAlert {
            warning("`notify` without any `alert` in this file sends nothing", at: firstNotify,
                    help: "declare an alert, such as `alert failing when error_rate > 5% over 10m`")
        }
    }

    private func checkAlert(_ alert: AlertDecl) {
        switch alert.subject {
        case .metric(let name):
            guard let metric = AlertMetric(rawValue: name.text) else {
                let known = AlertMetric.allCases.map(\.rawValue)
                error("unknown alert metric `\(name.text)`", at: name.span,
                      help: suggestion(name.text, known + ["budget"]) ?? "the metrics are \(Self.list(known)), or `budget LIMIT`")
                return
            }
            checkThreshold(alert.threshold, unit: metric.unit, of: "`\(metric.rawValue)` (\(metric.meaning))", metric: metric)
            if let window = alert.window {
                checkWindow(window)
            } else if metric.isWindowed {
                error("`\(metric.rawValue)` is measured over a window of runs: say which", at: alert.subject.span,
                      help: "add `over` and a duration, as in `\(alert.conditionText) over 10m`")
            }
        case .budget(_, let limit):
            guard let budget = BudgetWindow(rawValue: limit.text) else {
                let known = BudgetWindow.allCases.map(\.rawValue)
                error("unknown per-window budget `\(limit.text)` in an alert", at: limit.span,
                      help: suggestion(limit.text, known) ?? "an alert watches one of the budgets \(Self.list(known))")
                return
            }
            checkThreshold(alert.threshold, unit: .percent, of: "the share of the `\(budget.rawValue)` budget spent", metric: nil)
            if let window = alert.window {
                error("a budget alert has its budget's window (\(budget.window)): it takes no `over`", at: window.span,
                      help: "it fires once per window of the budget; remove `over \(window.text)`")
            }
        }
    }

    private func checkThreshold(_ threshold: Quantity, unit: Quantity.Unit, of what: String, metric: AlertMetric?) {
        guard threshold.unit == unit else {
            let written: String
            switch threshold.unit {
            case .money: written = "money"
            case .percent: written = "a percentage"
            case .seconds: written = "a duration"
            case .number: written = "a plain number"
            }
            let help: String
            switch unit {
            case .money: help = "write money, as in `$0.50`"
            case .percent: help = "write a percentage, as in `5%`"
            case .seconds: help = "write a duration, as in `2s` or `500ms`"
            case .number: help = "write a number of tokens, as in `8k`"
            }
            error("\(what) is \(Self.unitName(unit)), but `\(threshold.text)` is \(written)", at: threshold.span, help: help)
            return
        }
        if unit == .percent, metric == .error_rate, threshold.value > 100 {
            error("an error rate is at most 100%, so `\(threshold.text)` is never passed", at: threshold.span)
        }
        if unit == .number, threshold.value != threshold.value.rounded() {
            error("a number of tokens is whole, not `\(threshold.text)`", at: threshold.span)
        }
    }

    private func checkWindow(_ window: Quantity) {
        guard window.unit == .seconds else {
            var help = "write a duration, as in `10m`, `1h` or `1d`"
            if window.unit == .number, window.text.hasSuffix("M") { help = "`\(window.text)` is a number (M is a million); minutes are `m`, as in `10m`" }
            error("the window after `over` must be a duration, not `\(window.text)`", at: window.span, help: help)
            return
        }
        if window.value < 1 {
            error("a window of `\(window.text)` is too short: at least `1s`", at: window.span)
        }
    }

    /// The target, or nil when it is not one (reported).
    private func checkNotify(_ notify: NotifyDecl) -> AlertTarget? {
        switch notify.target {
        case .named(let name):
            guard name.text == "stderr" else {
                error("unknown alert target `\(name.text)`", at: name.span,
                      help: suggestion(name.text, ["stderr"]) ?? "alerts go to `stderr` or to a webhook: `notify \"https://…\"`")
                return nil
            }
            return .stderr
        case .webhook(let url, let span):
            if let problem = Self.webhookProblem(url) {
                error("the webhook `\(url)` \(problem)", at: span, help: "write an http or https URL, as in `notify \"https://hooks.example.com/sluice\"`")
                return nil
            }
            return .webhook(url)
        }
    }

    /// Why `url` cannot be posted to, or nil.
    static func webhookProblem(_ url: String) -> String? {
        let lower = url.lowercased()
        guard let scheme = ["https://", "http://"].first(where: { lower.hasPrefix($0) }) else { return "is not an http or https URL" }
        if url.contains(where: { $0.isWhitespace || $0.isNewline }) { return "contains white space" }
        let rest = url.dropFirst(scheme.count)
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if host.isEmpty || host.hasPrefix(":") { return "has no host" }
        return nil
    }

    private static func unitName(_ unit: Quantity.Unit) -> String {
        switch unit {
        case .money: "money"
        case .percent: "a percentage"
        case .seconds: "a duration"
        case .number: "a number"
        }
    }

    private static func list(_ names: [String]) -> String { names.map { "`\($0)`" }.joined(separator: ", ") }
}

// The syntax of alerts: `alert NAME when CONDITION [over WINDOW]` and `notify TARGET`.

/// `alert failing when error_rate > 5% over 10m`, `alert burn when budget user_day > 80%`: a
/// condition on what the store knows after a run, checked after every `sluice run`.
public struct AlertDecl: Sendable {
    public enum Subject: Sendable {
        /// A metric of the runs, by name (`error_rate`); the checker knows the names.
        case metric(Name)
        /// `budget LIMIT`: the share of a per-window budget spent.
        case budget(keyword: Span, limit: Name)

        public var span: Span {
            switch self {
            case .metric(let name): name.span
            case .budget(let keyword, let limit): Span(keyword.start, limit.span.end)
            }
        }
    }

    public var name: Name
    public var subject: Subject
    public var comparison: ExpectDecl.Comparison
    public var threshold: Quantity
    /// `over WINDOW`, as written (the checker wants a duration).
    public var window: Quantity?
    public var span: Span

    public init(name: Name, subject: Subject, comparison: ExpectDecl.Comparison, threshold: Quantity, window: Quantity?, span: Span) {
        self.name = name; self.subject = subject; self.comparison = comparison; self.threshold = threshold; self.window = window
        self.span = span
    }
}

/// A number and the unit it was written in: `$0.50`, `5%`, `2s`, `300`.
public struct Quantity: Sendable, Equatable {
    public enum Unit: String, Sendable {
        case money, percent, seconds, number
    }

    /// Dollars, percent as written (5 for `5%`), seconds (600 for `10m`), or the plain number.
    public var value: Double
    public var unit: Unit
    /// The literal as written, for messages and the stored condition.
    public var text: String
    public var span: Span

    public init(value: Double, unit: Unit, text: String, span: Span) {
        self.value = value; self.unit = unit; self.text = text; self.span = span
    }
}

/// `notify stderr` or `notify "https://hooks.example.com/sluice"`: where alerts go.
public struct NotifyDecl: Sendable {
    public enum Target: Sendable {
        /// A word (the checker accepts `stderr`).
        case named(Name)
        /// A webhook URL, as written in the string.
        case webhook(String, Span)
    }

    public var target: Target
    public var span: Span
    public init(target: Target, span: Span) { self.target = target; self.span = span }
}

extension AlertDecl {
    /// The condition as it reads in the source, normalised: `error_rate > 5% over 10m`.
    public var conditionText: String {
        let subject: String
        switch self.subject {
        case .metric(let name): subject = name.text
        case .budget(_, let limit): subject = "budget \(limit.text)"
        }
        return "\(subject) \(comparison.rawValue) \(threshold.text)" + (window.map { " over \($0.text)" } ?? "")
    }
}

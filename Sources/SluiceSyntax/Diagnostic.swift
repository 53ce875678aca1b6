/// One problem found in a script: a message, where it is, and optional notes and help.
/// Every layer (parser, checker, runtime) reports through this one type.
public struct Diagnostic: Error, Sendable, Hashable {
    public enum Severity: String, Sendable { case error, warning, note }

    public struct Note: Sendable, Hashable {
        public var message: String
        public var file: SourceFile?
        public var span: Span?
        public init(_ message: String, file: SourceFile? = nil, span: Span? = nil) {
            self.message = message; self.file = file; self.span = span
        }
        public static func == (a: Note, b: Note) -> Bool {
            a.message == b.message && a.span == b.span && a.file?.path == b.file?.path
        }
        public func hash(into h: inout Hasher) { h.combine(message); h.combine(span) }
    }

    public var severity: Severity
    public var message: String
    public var file: SourceFile?
    public var span: Span
    public var notes: [Note]
    /// A one-line suggestion such as "did you mean `question`?".
    public var help: String?

    public init(_ severity: Severity = .error, _ message: String, file: SourceFile?, span: Span,
                notes: [Note] = [], help: String? = nil) {
        self.severity = severity; self.message = message; self.file = file; self.span = span
        self.notes = notes; self.help = help
    }

    public static func error(_ message: String, in file: SourceFile?, at span: Span, help: String? = nil) -> Diagnostic {
        Diagnostic(.error, message, file: file, span: span, help: help)
    }

    public static func == (a: Diagnostic, b: Diagnostic) -> Bool {
        a.severity == b.severity && a.message == b.message && a.span == b.span
            && a.file?.path == b.file?.path && a.notes == b.notes && a.help == b.help
    }
    public func hash(into h: inout Hasher) { h.combine(message); h.combine(span) }
}

/// Collects diagnostics so that a whole file's problems are reported in one run.
public struct DiagnosticBag: Sendable {
    public private(set) var items: [Diagnostic] = []
    public init() {}
    public mutating func add(_ d: Diagnostic) { items.append(d) }
    public mutating func error(_ message: String, in file: SourceFile?, at span: Span, help: String? = nil) {
        items.append(.error(message, in: file, at: span, help: help))
    }
    public var hasErrors: Bool { items.contains { $0.severity == .error } }
}

/// "Did you mean" support: the closest candidate within a small edit distance.
public func closestMatch(to name: String, in candidates: some Sequence<String>) -> String? {
    let limit = max(1, name.count / 3)
    var best: (name: String, distance: Int)?
    for c in candidates where c != name {
        let d = editDistance(name, c)
        guard d <= limit else { continue }
        if let current = best, d > current.distance || (d == current.distance && c >= current.name) { continue }
        best = (c, d)
    }
    return best?.name
}

public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count), cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

// Renders diagnostics in the style of rustc and Gleam:
//
//   error: unknown name `questoin`
//     --> pipelines/support.sluice:12:9
//      |
//   12 |   guard questoin with injection
//      |         ^^^^^^^^
//      = help: did you mean `question`?
//
// Notes without a span print as `= note: …` lines after the snippet, then the help; a note
// with a span prints as its own `note: …` block with a snippet. A span over several lines is
// underlined on its first line; an empty span gets a single `^`. Tabs are expanded to tab stops
// of 4 both in the source line and under it. The gutter is as wide as the largest line number.
// A line longer than 120 columns is shown as a window around the underline, cut with `…`.

public enum DiagnosticRenderer {
    public static func render(_ diagnostic: Diagnostic, color: Bool = false) -> String {
        let style = Style(enabled: color)
        let gutterWidth = gutterWidth(for: diagnostic)
        let pad = String(repeating: " ", count: gutterWidth)
        var lines: [String] = []
        lines.append(style.severity(diagnostic.severity, diagnostic.severity.rawValue) + style.bold(": " + diagnostic.message))
        if let file = diagnostic.file {
            lines += snippet(file: file, span: diagnostic.span, gutterWidth: gutterWidth,
                             caretStyle: { style.severity(diagnostic.severity, $0) }, style: style)
        }
        let gutter = diagnostic.file == nil ? " " : pad + " "
        var spannedNotes: [(Diagnostic.Note, SourceFile, Span)] = []
        for note in diagnostic.notes {
            if let span = note.span, let file = note.file ?? diagnostic.file {
                spannedNotes.append((note, file, span))
            } else {
                lines.append(gutter + style.blue("=") + style.bold(" note") + ": " + note.message)
            }
        }
        if let help = diagnostic.help {
            lines.append(gutter + style.blue("=") + style.bold(" help") + ": " + help)
        }
        for (note, file, span) in spannedNotes {
            lines.append(style.bold("note") + ": " + note.message)
            lines += snippet(file: file, span: span, gutterWidth: gutterWidth, caretStyle: style.blue, style: style)
        }
        return lines.joined(separator: "\n")
    }

    /// Several diagnostics, separated by blank lines.
    public static func render(_ diagnostics: [Diagnostic], color: Bool = false) -> String {
        diagnostics.map { render($0, color: color) }.joined(separator: "\n\n")
    }

    private static func gutterWidth(for diagnostic: Diagnostic) -> Int {
        var widest = 0
        if let file = diagnostic.file { widest = file.location(of: diagnostic.span.start).line }
        for note in diagnostic.notes {
            if let span = note.span, let file = note.file ?? diagnostic.file {
                widest = max(widest, file.location(of: span.start).line)
            }
        }
        return String(widest).count
    }

    private static func snippet(file: SourceFile, span: Span, gutterWidth: Int,
                                caretStyle: (String) -> String, style: Style) -> [String] {
        let bytes = file.bytes
        let start = max(0, min(span.start, bytes.count))
        let (line, column) = file.location(of: start)
        var lineStart = start
        while lineStart > 0, bytes[lineStart - 1] != .newline { lineStart -= 1 }
        var lineEnd = start
        while lineEnd < bytes.count, bytes[lineEnd] != .newline { lineEnd += 1 }
        if lineEnd > lineStart, bytes[lineEnd - 1] == .carriageReturn { lineEnd -= 1 }
        let underlineEnd = max(start, min(span.end, lineEnd))

        let prefix = String(decoding: bytes[lineStart..<min(start, lineEnd)], as: UTF8.self)
        let underlined = String(decoding: bytes[min(start, lineEnd)..<underlineEnd], as: UTF8.self)
        let rest = String(decoding: bytes[underlineEnd..<max(underlineEnd, lineEnd)], as: UTF8.self)
        var expander = TabExpander()
        let window = LineWindow(prefix: expander.expand(prefix), underlined: expander.expand(underlined),
                                rest: expander.expand(rest))
        let shownPrefix = window.prefix
        let shownLine = window.prefix + window.underlined + window.rest
        let caretCount = max(1, window.underlined.unicodeScalars.count)

        let pad = String(repeating: " ", count: gutterWidth)
        let number = String(line)
        let paddedNumber = number + String(repeating: " ", count: max(0, gutterWidth - number.count))
        return [
            pad + style.blue("-->") + " \(file.path):\(line):\(column)",
            pad + " " + style.blue("|"),
            style.blue(paddedNumber + " |") + (shownLine.isEmpty ? "" : " " + shownLine),
            pad + " " + style.blue("|") + " " + String(repeating: " ", count: shownPrefix.unicodeScalars.count)
                + caretStyle(String(repeating: "^", count: caretCount)),
        ]
    }
}

/// The part of a source line that is shown: the whole line when it fits in `width` columns;
/// otherwise at most `context` columns before the underlined text and `width` in all, cut ends
/// marked with `…`, so a generated line of thousands of columns still renders readably.
private struct LineWindow {
    static let context = 40
    static let width = 120

    var prefix: String
    var underlined: String
    var rest: String

    init(prefix: String, underlined: String, rest: String) {
        var prefixScalars = Array(prefix.unicodeScalars)
        guard prefixScalars.count + underlined.unicodeScalars.count + rest.unicodeScalars.count > Self.width else {
            (self.prefix, self.underlined, self.rest) = (prefix, underlined, rest)
            return
        }
        if prefixScalars.count > Self.context + 1 {
            prefixScalars = ["…"] + prefixScalars.suffix(Self.context)
        }
        var underlinedScalars = Array(underlined.unicodeScalars)
        let underlineRoom = max(1, Self.width - prefixScalars.count)
        if underlinedScalars.count > underlineRoom { underlinedScalars = Array(underlinedScalars.prefix(underlineRoom)) }
        var restScalars = Array(rest.unicodeScalars)
        let restRoom = max(0, Self.width - prefixScalars.count - underlinedScalars.count)
        if restScalars.count > restRoom + 1 { restScalars = Array(restScalars.prefix(restRoom)) + ["…"] }
        func text(_ scalars: [Unicode.Scalar]) -> String { String(String.UnicodeScalarView(scalars)) }
        self.prefix = text(prefixScalars)
        self.underlined = text(underlinedScalars)
        self.rest = text(restScalars)
    }
}

/// Expands tabs to the next multiple of 4 columns, keeping the column across pieces of a line.
private struct TabExpander {
    var column = 0

    mutating func expand(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\t" {
                let width = 4 - column % 4
                out += String(repeating: " ", count: width)
                column += width
            } else {
                out.unicodeScalars.append(scalar)
                column += 1
            }
        }
        return out
    }
}

/// ANSI styling: red for errors, blue for the gutter and notes, bold for headings.
private struct Style {
    let enabled: Bool

    private func wrap(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    func bold(_ text: String) -> String { wrap(text, "1") }
    func blue(_ text: String) -> String { wrap(text, "1;34") }

    func severity(_ severity: Diagnostic.Severity, _ text: String) -> String {
        switch severity {
        case .error, .warning: wrap(text, "1;31")
        case .note: blue(text)
        }
    }
}

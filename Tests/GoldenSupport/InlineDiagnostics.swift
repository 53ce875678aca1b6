import Foundation
import SluiceSyntax
import XCTest

/// Diagnostics expected inline in a fixture, beside the line they concern, so adding a line to a
/// fixture does not re-bless the whole file:
///
///     answer = support_answer(question: questoin)   # error: unknown name `questoin`
///     x = 1   # warning: `x` is never used   # error: another one on the same line
///     # error@+1: unterminated string
///
/// The text after `error:` / `warning:` / `note:` is a substring of the message; an optional
/// ` = help: TEXT` after it is a substring of the diagnostic's help. `@+N` / `@-N`
/// moves the expectation N lines down or up (for lines that cannot end in a comment, such as the
/// inside of a triple-quoted string). Every reported diagnostic must be expected on its line,
/// and every expectation must be met by one diagnostic. A diagnostic in another file (a library
/// the fixture imports) is matched against the comments of that file.
public struct InlineExpectation: Sendable, CustomStringConvertible {
    public var severity: Diagnostic.Severity
    public var path: String
    /// 1-based line the diagnostic must point at.
    public var line: Int
    public var message: String
    public var help: String?

    public var description: String {
        "\(path):\(line): \(severity.rawValue): \(message)" + (help.map { " = help: \($0)" } ?? "")
    }

    func isMet(by diagnostic: Diagnostic) -> Bool {
        diagnostic.severity == severity && diagnostic.message.contains(message)
            && (help.map { diagnostic.help?.contains($0) ?? false } ?? true)
    }
}

public enum InlineDiagnostics {
    private static let marker = try! NSRegularExpression(pattern: #"#\s*(error|warning|note)(@([+-]\d+))?:\s*"#)

    /// The expectations written in `file`.
    public static func expectations(in file: SourceFile) -> [InlineExpectation] {
        var found: [InlineExpectation] = []
        for (index, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = String(line)
            let markers = marker.matches(in: text, range: NSRange(text.startIndex..., in: text))
            for (number, match) in markers.enumerated() {
                guard let kindRange = Range(match.range(at: 1), in: text), let whole = Range(match.range, in: text) else { continue }
                let end = number + 1 < markers.count ? Range(markers[number + 1].range, in: text)!.lowerBound : text.endIndex
                let offset = Range(match.range(at: 3), in: text).flatMap { Int(text[$0]) } ?? 0
                let expected = text[whole.upperBound..<end].trimmingCharacters(in: .whitespaces)
                let parts = expected.components(separatedBy: " = help: ")
                found.append(InlineExpectation(severity: Diagnostic.Severity(rawValue: String(text[kindRange]))!,
                                               path: file.path, line: index + 1 + offset, message: parts[0],
                                               help: parts.count > 1 ? parts.dropFirst().joined(separator: " = help: ") : nil))
            }
        }
        return found
    }

    /// What does not agree between `diagnostics` and the expectations written in `fixture` (and in
    /// the other files the diagnostics point into); empty when everything was expected.
    public static func mismatches(_ diagnostics: [Diagnostic], fixture: SourceFile) -> [String] {
        var files: [String: SourceFile] = [fixture.path: fixture]
        for diagnostic in diagnostics { if let file = diagnostic.file, files[file.path] == nil { files[file.path] = file } }
        var open = files.keys.sorted().flatMap { expectations(in: files[$0]!) }
        var problems: [String] = []
        for diagnostic in diagnostics {
            let path = diagnostic.file?.path ?? "<no file>"
            let line = diagnostic.file.map { $0.location(of: diagnostic.span.start).line } ?? 0
            if let index = open.firstIndex(where: { $0.path == path && $0.line == line && $0.isMet(by: diagnostic) }) {
                open.remove(at: index)
            } else {
                problems.append("unexpected diagnostic (add `# \(diagnostic.severity.rawValue): \(diagnostic.message)` to \(path):\(line)):\n"
                                + DiagnosticRenderer.render(diagnostic))
            }
        }
        problems += open.map { "expected but not reported: \($0)" }
        return problems
    }

    /// Fails once for `fixture` (naming it) when its diagnostics and its inline expectations differ.
    public static func verify(_ diagnostics: [Diagnostic], fixture: SourceFile, url: URL,
                              file: StaticString = #filePath, line: UInt = #line) {
        let problems = mismatches(diagnostics, fixture: fixture)
        guard !problems.isEmpty else { return }
        XCTFail("\(Golden.relativePath(url)): diagnostics differ from the inline `# error:` expectations:\n\n"
                + problems.joined(separator: "\n\n"), file: file, line: line)
    }
}

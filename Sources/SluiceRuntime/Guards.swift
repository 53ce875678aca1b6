import Foundation
import SluiceSemantics
import SluiceSyntax

public enum GuardAction: String, Sendable { case block, redact, flag }

/// A `guard` declaration with its patterns compiled once per run.
struct CompiledGuard {
    struct Pattern {
        var name: String
        var regex: NSRegularExpression
        var replacement: String
    }
    struct Outcome {
        var matches: [(pattern: String, count: Int)]
        var redacted: Value
        var verdict: String
        /// What the guard does: its action, except that text over `max_length` cannot be
        /// redacted, so a redacting guard blocks it.
        var effectiveAction: GuardAction
        /// Each matched text with what replaces it, for the run's redactions.
        var found: [(text: String, replacement: String)]
    }

    /// The pattern name a verdict reports when the text is longer than `max_length`.
    static let maxLengthPattern = "max_length"

    var name: String
    var action: GuardAction
    var patterns: [Pattern]
    var maxLength: Int?

    init(_ declared: Declared<GuardDecl>, constant: (Expr, SourceFile) throws -> Value) throws {
        let decl = declared.decl
        name = decl.name.text
        if let actionName = decl.action {
            guard let chosen = GuardAction(rawValue: actionName.text) else {
                throw RuntimeError(.script, "a guard's action is block, redact or flag", file: declared.file, span: actionName.span)
            }
            action = chosen
        } else {
            action = .block
        }
        patterns = try decl.patterns.map { pattern in
            let source = try constant(pattern.regex, declared.file).text
            let regex: NSRegularExpression
            do { regex = try NSRegularExpression(pattern: source) } catch {
                throw RuntimeError(.script, "pattern `\(pattern.name.text)` is not a valid regular expression", file: declared.file,
                                   span: pattern.regex.span)
            }
            let replacement = try pattern.replacement.map { try constant($0, declared.file).text } ?? "[REDACTED:\(pattern.name.text)]"
            return Pattern(name: pattern.name.text, regex: regex, replacement: replacement)
        }
        maxLength = nil
        for field in decl.fields where field.name.text == "max_length" {
            guard case .number(let n) = try constant(field.value, declared.file), let whole = exactInt(n), whole >= 0 else {
                throw RuntimeError(.script, "`max_length` needs a whole number", file: declared.file, span: field.span)
            }
            maxLength = whole
        }
    }

    /// Finds every match in every string of the value, and the value with matches redacted.
    func inspect(_ value: Value, action: GuardAction) -> Outcome {
        var counts: [String: Int] = [:]
        var found: [(text: String, replacement: String)] = []
        var tooLong = false
        let redacted = value.mappingStrings { text in
            if let maxLength, text.count > maxLength { tooLong = true }
            var result = text
            for pattern in patterns {
                let range = NSRange(result.startIndex..., in: result)
                let hits = pattern.regex.matches(in: result, range: range)
                guard !hits.isEmpty else { continue }
                counts[pattern.name, default: 0] += hits.count
                for hit in hits {
                    if let r = Range(hit.range, in: result) { found.append((String(result[r]), pattern.replacement)) }
                }
                let template = NSRegularExpression.escapedTemplate(for: pattern.replacement)
                result = pattern.regex.stringByReplacingMatches(in: result, range: range, withTemplate: template)
            }
            return result
        }
        var matches = patterns.compactMap { p in counts[p.name].map { (pattern: p.name, count: $0) } }
        if tooLong { matches.append((pattern: Self.maxLengthPattern, count: 1)) }
        let effective: GuardAction = tooLong && action == .redact ? .block : action
        let verdict: String = switch (matches.isEmpty, effective) {
        case (true, _): "pass"
        case (false, .block): "blocked"
        case (false, .redact): "redacted"
        case (false, .flag): "flagged"
        }
        return Outcome(matches: matches, redacted: redacted, verdict: verdict, effectiveAction: effective, found: found)
    }
}

extension Value {
    /// The value with `transform` applied to every string in it (a reply's text and JSON too).
    func mappingStrings(_ transform: (String) -> String) -> Value {
        switch self {
        case .string(let s, let trust): return .string(transform(s), trust)
        case .list(let items): return .list(items.map { $0.mappingStrings(transform) })
        case .record(let members): return .record(members.map { ($0.key, $0.value.mappingStrings(transform)) })
        case .reply(var reply):
            reply.text = transform(reply.text)
            reply.json = reply.json.map { Value(json: $0, trust: .untrusted).mappingStrings(transform).json }
            return .reply(reply)
        default: return self
        }
    }
}

import Foundation

/// A fragment of HTML (or SVG) markup. Everything from the store is untrusted, so the type is
/// built to make unescaped text impossible: markup comes only from string literals written in
/// this module, and every `String` interpolated into a fragment is escaped; only another `HTML`
/// value is embedded as it is.
///
///     let row: HTML = "<td>\(run.pipeline)</td>"      // the pipeline's name is escaped
struct HTML: ExpressibleByStringInterpolation, Sendable, Hashable {
    private(set) var markup: String

    /// A literal is markup written here, trusted by construction.
    init(stringLiteral literal: StaticString) {
        markup = literal.description
    }

    init(stringInterpolation: Interpolation) {
        markup = stringInterpolation.markup
    }

    private init(markup: String) {
        self.markup = markup
    }

    /// Untrusted text as HTML: `<`, `>`, `&`, `"` and `'` become character references, so the text
    /// can stand between tags and inside any quoted attribute value.
    static func text(_ text: String) -> HTML {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "&": escaped += "&amp;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            // NUL is not allowed in HTML text; the replacement character shows where it was.
            case "\0": escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return HTML(markup: escaped)
    }

    /// The fragments one after another.
    static func joined(_ parts: some Sequence<HTML>, separator: HTML = "") -> HTML {
        HTML(markup: parts.map(\.markup).joined(separator: separator.markup))
    }

    static func + (left: HTML, right: HTML) -> HTML { HTML(markup: left.markup + right.markup) }

    static func += (left: inout HTML, right: HTML) { left.markup += right.markup }

    struct Interpolation: StringInterpolationProtocol {
        fileprivate var markup = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            markup.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        mutating func appendLiteral(_ literal: StaticString) {
            markup += literal.description
        }

        /// Text, escaped.
        mutating func appendInterpolation(_ text: String) {
            markup += HTML.text(text).markup
        }

        /// Markup, as it is.
        mutating func appendInterpolation(_ html: HTML) {
            markup += html.markup
        }

        /// A whole number, as Swift writes it.
        mutating func appendInterpolation(_ number: Int) {
            markup += String(number)
        }

        /// A coordinate or length (SVG, CSS): two decimals at most, never an exponent.
        mutating func appendInterpolation(_ number: Double) {
            guard number.isFinite else { return markup += "0" }
            var text = String(format: "%.2f", number)
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            markup += text == "-0" ? "0" : text
        }
    }
}

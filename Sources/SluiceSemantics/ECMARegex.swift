import Foundation

/// A JSON Schema `pattern`: an ECMA-262 regular expression (with the `u` flag, as JSON Schema
/// means it), unanchored, run by ICU (NSRegularExpression) after a translation that makes the
/// two agree where they differ in meaning:
///
/// - `\d`, `\w`, `\b` are ASCII in ECMA-262 (`[0-9]`, `[A-Za-z0-9_]`), Unicode-wide in ICU
///   (their negations inside a class, `[\D]`, become ICU nested sets such as `[[^0-9]]`);
/// - `\s` in ECMA-262 also matches U+000B and U+FEFF, which ICU's does not;
/// - `.` in ICU also refuses U+0085 (NEL), which ECMA-262 matches;
/// - `$` in ICU also matches before a final line break, in ECMA-262 only at the very end;
/// - `\u{...}` is written `\x{...}` in ICU; `[^]` (anything) and `[]` (nothing) do not exist there;
/// - inside a class, `[` and `&&` are literal in ECMA-262, a nested set and an intersection in ICU.
///
/// Differences left: ICU accepts syntax ECMA-262 rejects (possessive quantifiers `a*+`,
/// atomic groups `(?>...)`, inline flags `(?i)`, `\Q...\E`, `\A`/`\z`, POSIX classes), so a
/// few patterns a JavaScript engine refuses compile here; ICU's look-behind must have a bounded
/// length where ECMA-262's need not, so `(?<=a+)b` is refused here.
struct ECMARegex: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable and documented as thread-safe.
    let source: String
    let regex: NSRegularExpression

    struct InvalidPattern: Error { var message: String }

    init(_ source: String) throws(InvalidPattern) {
        self.source = source
        do {
            regex = try NSRegularExpression(pattern: Self.translate(source))
        } catch {
            throw InvalidPattern(message: regexProblem(source)?.message ?? "ICU cannot compile it")
        }
    }

    func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(location: 0, length: text.utf16.count)) != nil
    }

    private static let digit = "0-9"
    private static let word = "A-Za-z0-9_"
    private static let space = #"\t\n\x{0B}\f\r\p{Z}\x{FEFF}"#
    private static let wordBoundary = "(?:(?<=[A-Za-z0-9_])(?![A-Za-z0-9_])|(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]))"
    private static let notWordBoundary = "(?:(?<=[A-Za-z0-9_])(?=[A-Za-z0-9_])|(?<![A-Za-z0-9_])(?![A-Za-z0-9_]))"

    /// The ICU pattern that means what the ECMA-262 one does.
    static func translate(_ source: String) -> String {
        let chars = Array(source.unicodeScalars)
        var out = ""
        var i = 0
        var inClass = false
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count {
                let e = chars[i + 1]
                i += 2
                switch e {
                case "d": out += inClass ? digit : "[\(digit)]"
                case "D": out += "[^\(digit)]"
                case "w": out += inClass ? word : "[\(word)]"
                case "W": out += "[^\(word)]"
                case "s": out += inClass ? space : "[\(space)]"
                case "S": out += "[^\(space)]"
                case "b": out += inClass ? #"\x{08}"# : wordBoundary
                case "B" where !inClass: out += notWordBoundary
                case "u" where i < chars.count && chars[i] == "{":
                    // \u{1F600} → \x{1F600}
                    out += "\\x"
                default:
                    out.unicodeScalars.append(c)
                    out.unicodeScalars.append(e)
                }
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                // ICU reads `[` inside a class as a nested set and `&&` as an intersection;
                // ECMA-262 reads both literally.
                if c == "[" || c == "&" { out += "\\" }
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            switch c {
            case "[":
                if i + 1 < chars.count, chars[i + 1] == "]" { out += "(?!)"; i += 2; continue }
                if i + 2 < chars.count, chars[i + 1] == "^", chars[i + 2] == "]" { out += #"[\s\S]"#; i += 3; continue }
                inClass = true
                out += "["
                // A `]` or `^]` first in a class is a literal in ICU but ends the class in ECMA-262; the cases above took those.
                if i + 1 < chars.count, chars[i + 1] == "^" { out += "^"; i += 1 }
            case ".": out += #"[^\n\r\x{2028}\x{2029}]"#
            case "$": out += #"\z"#
            default: out.unicodeScalars.append(c)
            }
            i += 1
        }
        return out
    }
}

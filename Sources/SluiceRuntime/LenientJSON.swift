import SluiceSyntax

/// A reply's JSON found leniently, as `validate` reads it: the text as it is; else the inside of
/// its Markdown code fence; else the longest JSON object or array amid prose ("Here is the JSON:
/// {…} Hope this helps!"). `stripped` says what was removed, so the trace can report the repair.
struct LenientJSON {
    var value: JSONValue
    /// What was removed around the value ("code fence", "preamble", "trailing text"); empty when
    /// the text parsed as it is.
    var stripped: [String]

    /// How many `{` or `[` are tried as the start of the value before giving up: a reply of
    /// prose with brackets in it costs a bounded number of linear scans.
    static let maxCandidateStarts = 16

    init?(_ text: String) {
        let body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if let value = try? JSONValue.parse(String(body)) {
            self.init(value: value, stripped: [])
            return
        }
        var search = body
        var stripped: [String] = []
        if let fence = Self.fencedBlock(body) {
            stripped.append("code fence")
            if !Self.isBlank(fence.before) { stripped.append("preamble") }
            if !Self.isBlank(fence.after) { stripped.append("trailing text") }
            if let value = try? JSONValue.parse(String(fence.inside)) {
                self.init(value: value, stripped: stripped)
                return
            }
            search = fence.inside
        }
        guard let found = Self.embeddedValue(search) else { return nil }
        if !Self.isBlank(found.before), !stripped.contains("preamble") { stripped.append("preamble") }
        if !Self.isBlank(found.after), !stripped.contains("trailing text") { stripped.append("trailing text") }
        self.init(value: found.value, stripped: stripped)
    }

    private init(value: JSONValue, stripped: [String]) {
        self.value = value
        self.stripped = stripped
    }

    private static func isBlank(_ text: Substring) -> Bool { text.allSatisfy(\.isWhitespace) }

    /// The first ```` ``` ```` block: the text before its opening line, its lines, and the text after
    /// its closing fence. An unclosed fence runs to the end of the text.
    private static func fencedBlock(_ text: Substring) -> (before: Substring, inside: Substring, after: Substring)? {
        guard let open = text.range(of: "```") else { return nil }
        // The opening line may name a language (```json); the block starts on the next line.
        guard let lineEnd = text[open.upperBound...].firstIndex(of: "\n") else { return nil }
        let contentStart = text.index(after: lineEnd)
        guard let close = text[contentStart...].range(of: "```") else {
            return (text[..<open.lowerBound], text[contentStart...], "")
        }
        return (text[..<open.lowerBound], text[contentStart..<close.lowerBound], text[close.upperBound...])
    }

    /// The longest object or array in `text` that parses, found by matching brackets outside
    /// strings: the reply's JSON rather than a `[1]` citation in the prose before it.
    private static func embeddedValue(_ text: Substring) -> (value: JSONValue, before: Substring, after: Substring)? {
        let bytes = Array(text.utf8)
        var best: (value: JSONValue, start: Int, end: Int)?
        var tried = 0
        var start = 0
        while start < bytes.count, tried < maxCandidateStarts {
            guard bytes[start] == UInt8(ascii: "{") || bytes[start] == UInt8(ascii: "[") else { start += 1; continue }
            tried += 1
            guard let end = matchingClose(bytes, from: start),
                  let value = try? JSONValue.parse(bytes: Array(bytes[start...end])) else { start += 1; continue }
            if end - start > (best.map { $0.end - $0.start } ?? -1) { best = (value, start, end) }
            // A value inside this one is shorter: go on after it.
            start = end + 1
        }
        guard let best else { return nil }
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: best.start), upper = utf8.index(utf8.startIndex, offsetBy: best.end + 1)
        return (best.value, text[..<lower], text[upper...])
    }

    /// The index of the bracket that closes the one at `start` (brackets, quotes and escapes are
    /// ASCII, so UTF-8 bytes can be scanned directly).
    private static func matchingClose(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for i in start..<bytes.count {
            let byte = bytes[i]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return i }
            default: break
            }
        }
        return nil
    }
}

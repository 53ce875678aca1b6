/// The `format` values checked when formats are assertions. Other formats stay annotations.
enum StringFormat: String {
    case dateTime = "date-time"
    case date
    case time
    case email
    case uri
    case uuid

    var standard: String {
        switch self {
        case .dateTime: "RFC 3339 date-time, e.g. 2026-12-01T18:30:00Z"
        case .date: "RFC 3339 full-date, e.g. 2026-12-01"
        case .time: "RFC 3339 full-time, e.g. 18:30:00+01:00"
        case .email: "RFC 5321 mailbox, e.g. name@example.com"
        case .uri: "RFC 3986 absolute URI, e.g. https://example.com/page"
        case .uuid: "RFC 4122 UUID, e.g. 123e4567-e89b-12d3-a456-426614174000"
        }
    }

    func accepts(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        switch self {
        case .dateTime:
            guard let t = scalars.firstIndex(where: { $0 == "T" || $0 == "t" }) else { return false }
            return Self.isFullDate(scalars[..<t]) && Self.isFullTime(scalars[(t + 1)...])
        case .date: return Self.isFullDate(scalars[...])
        case .time: return Self.isFullTime(scalars[...])
        case .email: return Self.isEmail(scalars)
        case .uri: return URISyntax.isAbsoluteURI(scalars)
        case .uuid:
            guard scalars.count == 36 else { return false }
            for (i, c) in scalars.enumerated() {
                if [8, 13, 18, 23].contains(i) { if c != "-" { return false } } else if !c.isHexDigit { return false }
            }
            return true
        }
    }

    /// Exactly `count` ASCII digits, as a number.
    private static func digits(_ s: ArraySlice<Unicode.Scalar>, _ from: Int, _ count: Int) -> Int? {
        let start = s.startIndex + from
        guard start + count <= s.endIndex else { return nil }
        var n = 0
        for c in s[start..<(start + count)] {
            guard c.isASCIIDigit else { return nil }
            n = n * 10 + Int(c.value - 48)
        }
        return n
    }

    private static func at(_ s: ArraySlice<Unicode.Scalar>, _ i: Int, _ c: Unicode.Scalar) -> Bool {
        s.startIndex + i < s.endIndex && s[s.startIndex + i] == c
    }

    static func isFullDate(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        guard s.count == 10, let year = digits(s, 0, 4), at(s, 4, "-"), let month = digits(s, 5, 2), at(s, 7, "-"),
              let day = digits(s, 8, 2), (1...12).contains(month) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    /// `HH:MM:SS(.fraction)?(Z|±HH:MM)`; second 60 (a leap second) only at 23:59 UTC.
    static func isFullTime(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let hour = digits(s, 0, 2), at(s, 2, ":"), let minute = digits(s, 3, 2), at(s, 5, ":"),
              let second = digits(s, 6, 2), hour <= 23, minute <= 59, second <= 60 else { return false }
        var i = 8
        if at(s, i, ".") {
            i += 1
            let start = i
            while s.startIndex + i < s.endIndex, s[s.startIndex + i].isASCIIDigit { i += 1 }
            if i == start { return false }
        }
        var offsetMinutes = 0
        let rest = s.count - i
        if rest == 1, at(s, i, "Z") || at(s, i, "z") {
            offsetMinutes = 0
        } else if rest == 6, at(s, i, "+") || at(s, i, "-"), let oh = digits(s, i + 1, 2), at(s, i + 3, ":"),
                  let om = digits(s, i + 4, 2), oh <= 23, om <= 59 {
            offsetMinutes = (oh * 60 + om) * (at(s, i, "-") ? -1 : 1)
        } else {
            return false
        }
        if second == 60 {
            let utc = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    /// RFC 5321 `Mailbox`: a dot-atom or quoted local part, `@`, a domain name or an address literal.
    static func isEmail(_ s: [Unicode.Scalar]) -> Bool {
        guard let at = s.lastIndex(of: "@"), at > 0, at < s.count - 1 else { return false }
        let local = s[..<at]
        let domain = s[(at + 1)...]
        let localOK: Bool
        if local.first == "\"" {
            guard local.count >= 2, local.last == "\"" else { return false }
            var escaped = false
            var ok = true
            for c in local.dropFirst().dropLast() {
                if escaped { escaped = false; continue }
                if c == "\\" { escaped = true; continue }
                if c == "\"" || c.value < 0x20 || c.value == 0x7F { ok = false; break }
            }
            localOK = ok && !escaped
        } else {
            let atext = Set("!#$%&'*+-/=?^_`{|}~".unicodeScalars)
            localOK = local.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
                !atom.isEmpty && atom.allSatisfy { ($0.isASCII && $0.properties.isAlphabetic) || $0.isASCIIDigit || atext.contains($0) }
            }
        }
        guard localOK else { return false }
        if domain.first == "[" {
            guard domain.last == "]" else { return false }
            let literal = String(String.UnicodeScalarView(domain.dropFirst().dropLast()))
            if literal.lowercased().hasPrefix("ipv6:") { return URISyntax.isIPv6(Array(literal.unicodeScalars.dropFirst(5))[...]) }
            return URISyntax.isIPv4(Array(literal.unicodeScalars)[...])
        }
        return isHostname(domain)
    }

    /// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, each 1 to 63 long.
    static func isHostname(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        guard !s.isEmpty, s.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { ($0.isASCII && $0.properties.isAlphabetic) || $0.isASCIIDigit || $0 == "-" }
        }
    }
}

extension Unicode.Scalar {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    var isHexDigit: Bool { isASCIIDigit || ("a"..."f").contains(self) || ("A"..."F").contains(self) }
}

import Foundation

/// RFC 3986 syntax checks, for `format: uri` and e-mail address literals.
enum URISyntax {
    static let subDelims = Set("!$&'()*+,;=".unicodeScalars)

    static func isUnreserved(_ c: Unicode.Scalar) -> Bool {
        (c.isASCII && c.properties.isAlphabetic) || c.isASCIIDigit || c == "-" || c == "." || c == "_" || c == "~"
    }

    /// Every character is unreserved, a sub-delimiter, one of `extra`, or a `%XX` escape.
    static func isEncoded(_ s: ArraySlice<Unicode.Scalar>, extra: Set<Unicode.Scalar>) -> Bool {
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == "%" {
                guard i + 2 < s.endIndex,
                      s[i + 1].isHexDigit, s[i + 2].isHexDigit else { return false }
                i += 3
                continue
            }
            guard isUnreserved(c) || subDelims.contains(c) || extra.contains(c) else { return false }
            i += 1
        }
        return true
    }

    /// `scheme ":" hier-part [ "?" query ] [ "#" fragment ]`.
    static func isAbsoluteURI(_ s: [Unicode.Scalar]) -> Bool {
        guard let colon = s.firstIndex(of: ":"), colon > 0, s[0].isASCII, s[0].properties.isAlphabetic,
              s[1..<colon].allSatisfy({ ($0.isASCII && $0.properties.isAlphabetic) || $0.isASCIIDigit || $0 == "+" || $0 == "-" || $0 == "." })
        else { return false }
        var rest = s[(colon + 1)...]
        if let hash = rest.firstIndex(of: "#") {
            guard isEncoded(rest[(hash + 1)...], extra: [":", "@", "/", "?"]) else { return false }
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            guard isEncoded(rest[(question + 1)...], extra: [":", "@", "/", "?"]) else { return false }
            rest = rest[..<question]
        }
        if rest.starts(with: ["/", "/"]) {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            guard isAuthority(rest[..<end]) else { return false }
            rest = rest[end...]
        }
        return isEncoded(rest, extra: [":", "@", "/"])
    }

    /// `[ userinfo "@" ] host [ ":" port ]`.
    static func isAuthority(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        var hostAndPort = s
        if let at = s.lastIndex(of: "@") {
            guard isEncoded(s[..<at], extra: [":"]) else { return false }
            hostAndPort = s[(at + 1)...]
        }
        var host = hostAndPort
        if hostAndPort.first == "[" {
            guard let close = hostAndPort.firstIndex(of: "]") else { return false }
            let literal = hostAndPort[(hostAndPort.startIndex + 1)..<close]
            guard isIPv6(literal) || isIPvFuture(literal) else { return false }
            let after = hostAndPort[(close + 1)...]
            if after.isEmpty { return true }
            guard after.first == ":" else { return false }
            return after.dropFirst().allSatisfy(\.isASCIIDigit)
        }
        if let colon = hostAndPort.lastIndex(of: ":") {
            guard hostAndPort[(colon + 1)...].allSatisfy(\.isASCIIDigit) else { return false }
            host = hostAndPort[..<colon]
        }
        // A reg-name; an IPv4 address is one too, so `999.999.999.999` is well-formed.
        return isEncoded(host, extra: [])
    }

    static func isIPvFuture(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        guard s.first == "v" || s.first == "V", let dot = s.firstIndex(of: "."), dot > s.startIndex + 1,
              s[(s.startIndex + 1)..<dot].allSatisfy(\.isHexDigit) else { return false }
        let tail = s[(dot + 1)...]
        return !tail.isEmpty && tail.allSatisfy { isUnreserved($0) || subDelims.contains($0) || $0 == ":" }
    }

    /// Four decimal octets 0-255 without leading zeros.
    static func isIPv4(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit) else { return false }
            if part.count > 1, part.first == "0" { return false }
            return Int(String(String.UnicodeScalarView(part)))! <= 255
        }
    }

    /// RFC 4291 text form: eight groups of 1-4 hex digits, `::` once for a run of zero groups,
    /// the last two groups possibly written as an IPv4 address.
    static func isIPv6(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
        let text = String(String.UnicodeScalarView(s))
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        func groups(_ part: String, last: Bool) -> Int? {
            if part.isEmpty { return 0 }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (i, piece) in pieces.enumerated() {
                if last, i == pieces.count - 1, piece.contains(".") {
                    guard isIPv4(Array(piece.unicodeScalars)[...]) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(piece.count), piece.unicodeScalars.allSatisfy(\.isHexDigit) else { return nil }
                    count += 1
                }
            }
            return count
        }
        if halves.count == 1 { return groups(text, last: true) == 8 }
        guard let head = groups(halves[0], last: false), let tail = groups(halves[1], last: true) else { return false }
        return head + tail <= 7
    }
}

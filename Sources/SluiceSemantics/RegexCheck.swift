import Foundation

/// Why ICU would refuse `pattern`, or nil when it compiles. Foundation's error says only
/// "the value is invalid", so common mistakes are located here by a small scan; anything else
/// gets a general message. `offset` and `length` are in UTF-8 bytes from the pattern's start.
func regexProblem(_ pattern: String) -> (message: String, offset: Int?, length: Int)? {
    if (try? NSRegularExpression(pattern: pattern)) != nil { return nil }
    let bytes = Array(pattern.utf8)
    var i = 0
    var groups: [Int] = []
    var canRepeat = false
    func isQuantifier(_ b: UInt8) -> Bool { b == UInt8(ascii: "*") || b == UInt8(ascii: "+") || b == UInt8(ascii: "?") }
    while i < bytes.count {
        let b = bytes[i]
        switch b {
        case UInt8(ascii: "\\"):
            if i + 1 >= bytes.count { return ("a trailing `\\` escapes nothing", i, 1) }
            i += 2
            canRepeat = true
            continue
        case UInt8(ascii: "["):
            let start = i
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "^") { i += 1 }
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1 }
            var depth = 1
            while i < bytes.count, depth > 0 {
                if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                if bytes[i] == UInt8(ascii: "[") { depth += 1 }
                if bytes[i] == UInt8(ascii: "]") { depth -= 1 }
                i += 1
            }
            if depth > 0 { return ("`[` is never closed", start, 1) }
            canRepeat = true
            continue
        case UInt8(ascii: "("):
            groups.append(i)
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "?") {
                // (?i) (?:...) (?=...) (?<name>...): skip the group's flag letters.
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: ")"), bytes[i] != UInt8(ascii: ":"),
                      !(bytes[i] == UInt8(ascii: ">") && bytes[i - 1] != UInt8(ascii: "?")),
                      bytes[i] != UInt8(ascii: "="), bytes[i] != UInt8(ascii: "!") { i += 1 }
                if i < bytes.count, bytes[i] == UInt8(ascii: ")") { groups.removeLast(); i += 1; canRepeat = false; continue }
                i += 1
            }
            canRepeat = false
            continue
        case UInt8(ascii: ")"):
            if groups.isEmpty { return ("`)` closes no group", i, 1) }
            groups.removeLast()
            canRepeat = true
        case UInt8(ascii: "|"):
            canRepeat = false
        case _ where isQuantifier(b):
            if !canRepeat { return ("`\(Character(Unicode.Scalar(b)))` has nothing to repeat", i, 1) }
            // A lazy or possessive marker after a quantifier is fine; a third one is not.
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "?") || bytes[i + 1] == UInt8(ascii: "+") { i += 1 }
            canRepeat = false
        case UInt8(ascii: "{"):
            var j = i + 1
            var text = ""
            while j < bytes.count, bytes[j] != UInt8(ascii: "}") { text.append(Character(Unicode.Scalar(bytes[j]))); j += 1 }
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            if j < bytes.count, (1...2).contains(parts.count), let low = Int(parts[0]) {
                if !canRepeat { return ("`{\(text)}` has nothing to repeat", i, j - i + 1) }
                if parts.count == 2, let high = Int(parts[1]), high < low {
                    return ("in `{\(text)}` the minimum is larger than the maximum", i, j - i + 1)
                }
                i = j + 1
                canRepeat = false
                continue
            }
            canRepeat = true
        default:
            canRepeat = true
        }
        i += 1
    }
    if let open = groups.last { return ("`(` is never closed", open, 1) }
    return ("ICU cannot compile it (check escapes, group syntax and property names)", nil, 0)
}

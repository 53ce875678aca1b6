// The lexer: UTF-8 bytes in, tokens out. It walks the byte array with indices (no Character
// iteration, no regular expressions). Problems become diagnostics and lexing goes on, so one
// run reports every lexical error of a file.

public struct Lexer {
    private let file: SourceFile
    private let bytes: [UInt8]
    private let end: Int
    private var position: Int
    private var atLineStart = true
    private var tokens: [Token] = []
    private var diagnostics: [Diagnostic] = []

    /// Lexes `range` of `file` (the whole file by default). The token list always ends with
    /// an `endOfFile` token placed at the end of the range.
    public static func tokenize(_ file: SourceFile, range: Range<Int>? = nil) -> (tokens: [Token], diagnostics: [Diagnostic]) {
        let whole = 0..<file.bytes.count
        let clamped = range.map { $0.clamped(to: whole) } ?? whole
        var lexer = Lexer(file: file, range: clamped)
        lexer.run()
        return (lexer.tokens, lexer.diagnostics)
    }

    private init(file: SourceFile, range: Range<Int>) {
        self.file = file
        self.bytes = file.bytes
        self.end = range.upperBound
        self.position = range.lowerBound
    }

    private mutating func run() {
        while position < end {
            let byte = bytes[position]
            switch byte {
            case .space, .tab, .carriageReturn:
                position += 1
            case .newline:
                atLineStart = true
                position += 1
            case .hash:
                skipComment()
            case .quote:
                lexString()
            case .dollar:
                lexMoney()
            case _ where byte.isDigit:
                lexNumber(kind: .number, start: position)
            case _ where byte.isIdentifierStart:
                lexWord()
            default:
                lexPunctuation(byte)
            }
        }
        tokens.append(Token(kind: .endOfFile, span: Span(end, end), isAtLineStart: true))
    }

    private mutating func emit(_ kind: TokenKind, from start: Int, value: TokenValue = .none) {
        tokens.append(Token(kind: kind, span: Span(start, position), isAtLineStart: atLineStart, value: value))
        atLineStart = false
    }

    private mutating func error(_ message: String, _ span: Span, help: String? = nil) {
        diagnostics.append(.error(message, in: file, at: span, help: help))
    }

    // comment = "#" { any byte but newline }
    private mutating func skipComment() {
        while position < end, bytes[position] != .newline {
            if bytes[position] >= 0x80 {
                if let length = utf8SequenceLength(at: position, limit: end) { position += length; continue }
                position = reportInvalidUTF8(at: position, limit: end, context: "in a comment")
                continue
            }
            position += 1
        }
    }

    // identifier = letter { letter | digit } ; letter = "A".."Z" | "a".."z" | "_"
    private mutating func lexWord() {
        let start = position
        while position < end, bytes[position].isIdentifierPart { position += 1 }
        if position - start == 1, bytes[start] == UInt8(ascii: "r"), position < end, bytes[position] == .quote {
            lexRawString(start: start)
            return
        }
        let word = String(decoding: bytes[start..<position], as: UTF8.self)
        if let keyword = Keyword(rawValue: word) {
            emit(.keyword(keyword), from: start)
        } else {
            emit(.identifier, from: start)
        }
    }

    /// Whether the decimal literal `digits` (digits and at most one `.`) times 10^`suffixZeros`
    /// is above 2^53 = 9007199254740992, past which not every integer has a Double, so the
    /// literal could silently change value. Decided on the digits, not on the rounded Double
    /// (9007199254740993 rounds down to 2^53).
    static func exceedsLargestExactNumber(digits: [UInt8], suffixZeros: Int) -> Bool {
        var integer = digits, fraction: [UInt8] = []
        if let dot = digits.firstIndex(of: .dot) {
            integer = Array(digits[..<dot])
            fraction = Array(digits[(dot + 1)...])
        }
        let shifted = min(suffixZeros, fraction.count)
        integer += fraction.prefix(shifted) + Array(repeating: UInt8(ascii: "0"), count: suffixZeros - shifted)
        fraction.removeFirst(shifted)
        let significant = Array(integer.drop { $0 == UInt8(ascii: "0") })
        let largest = Array("9007199254740992".utf8)
        if significant.count != largest.count { return significant.count > largest.count }
        if significant != largest { return largest.lexicographicallyPrecedes(significant) }
        return fraction.contains { $0 != UInt8(ascii: "0") }
    }

    // number = digit { digit | "_" } [ "." digit { digit | "_" } ] [ "k" | "M" ]
    private mutating func lexNumber(kind: TokenKind, start: Int) {
        let digitsStart = position
        var digits: [UInt8] = []
        func scanDigits(_ lexer: inout Lexer) {
            while lexer.position < lexer.end {
                let byte = lexer.bytes[lexer.position]
                if byte.isDigit { digits.append(byte) } else if byte != .underscore { break }
                lexer.position += 1
            }
        }
        scanDigits(&self)
        if position + 1 < end, bytes[position] == .dot, bytes[position + 1].isDigit {
            digits.append(.dot)
            position += 1
            scanDigits(&self)
        }
        var value = Double(String(decoding: digits, as: UTF8.self)) ?? 0
        var suffixZeros = 0
        if bytes[position - 1] == .underscore {
            error("a number cannot end with `_`", Span(digitsStart, position))
        }
        if position < end, bytes[position].isIdentifierPart {
            let suffixStart = position
            while position < end, bytes[position].isIdentifierPart { position += 1 }
            let suffix = String(decoding: bytes[suffixStart..<position], as: UTF8.self)
            switch suffix {
            case "k": value *= 1_000; suffixZeros = 3
            case "M": value *= 1_000_000; suffixZeros = 6
            case _ where Self.secondsPerUnit[suffix] != nil && kind == .number:
                // A duration (`10m`, ten minutes; `10M` is ten million): its value is in seconds.
                if Self.exceedsLargestExactNumber(digits: digits, suffixZeros: 0) {
                    error("number too large", Span(start, position), help: "numbers are exact only up to 9007199254740992 (2^53)")
                }
                emit(.duration, from: start, value: .number(value * (Self.secondsPerUnit[suffix] ?? 1)))
                return
            default:
                error("unknown number suffix `\(suffix)`", Span(suffixStart, position),
                      help: kind == .money ? "the suffixes are `k` (×1 000) and `M` (×1 000 000)"
                          : "the suffixes are `k` (×1 000) and `M` (×1 000 000), and for a duration `ms`, `s`, `m`, `h` and `d`")
            }
        }
        if Self.exceedsLargestExactNumber(digits: digits, suffixZeros: suffixZeros) {
            error("number too large", Span(start, position),
                  help: "numbers are exact only up to 9007199254740992 (2^53)")
        }
        emit(kind, from: start, value: .number(value))
    }

    /// Duration suffixes and the seconds in each unit.
    static let secondsPerUnit: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3_600, "d": 86_400]

    // money = "$" number
    private mutating func lexMoney() {
        let start = position
        position += 1
        guard position < end, bytes[position].isDigit else {
            error("expected an amount after `$`", Span(start, position), help: "write money as `$0.10`")
            return
        }
        lexNumber(kind: .money, start: start)
    }

    // raw_string = "r" '"' { any byte but '"' or newline } '"'
    private mutating func lexRawString(start: Int) {
        position += 1 // the opening quote
        let contentStart = position
        while position < end, bytes[position] != .quote, bytes[position] != .newline { position += 1 }
        let contentEnd = position
        if position < end, bytes[position] == .quote {
            position += 1
        } else {
            error("unterminated raw string", Span(start, contentEnd), help: "close it with `\"` on the same line")
        }
        var builder = SegmentBuilder()
        var index = contentStart
        while index < contentEnd {
            if bytes[index] >= 0x80, utf8SequenceLength(at: index, limit: contentEnd) == nil {
                index = reportInvalidUTF8(at: index, limit: contentEnd, context: "in a string")
                builder.text.append(contentsOf: replacementCharacter)
                continue
            }
            builder.text.append(bytes[index])
            index += 1
        }
        emit(.string, from: start, value: .string(builder.finish()))
    }

    // string = '"' { char | escape | hole } '"' | '"""' ... '"""'
    private mutating func lexString() {
        let start = position
        if position + 2 < end, bytes[position + 1] == .quote, bytes[position + 2] == .quote {
            lexTripleQuotedString(start: start)
            return
        }
        let contentStart = start + 1
        let (contentEnd, closed) = findStringEnd(from: contentStart, triple: false)
        if closed {
            position = contentEnd + 1
        } else {
            position = contentEnd
            error("unterminated string", Span(start, contentEnd),
                  help: "close it with `\"` on the same line, or use `\"\"\"` for text over several lines")
        }
        var builder = SegmentBuilder()
        decodeStringContent(contentStart..<contentEnd, into: &builder)
        emit(.string, from: start, value: .string(builder.finish()))
    }

    private mutating func lexTripleQuotedString(start: Int) {
        let contentStart = start + 3
        let (contentEnd, closed) = findStringEnd(from: contentStart, triple: true)
        if closed {
            position = contentEnd + 3
        } else {
            position = contentEnd
            error("unterminated `\"\"\"` string", Span(start, contentStart), help: "close it with `\"\"\"`")
        }
        var builder = SegmentBuilder()
        let lines = dedentedLines(contentStart..<contentEnd)
        for (number, line) in lines.enumerated() {
            if number > 0 { builder.text.append(.newline) }
            decodeStringContent(line, into: &builder)
        }
        emit(.string, from: start, value: .string(builder.finish()))
    }

    /// The content lines of a triple-quoted string, as byte ranges with the common indentation
    /// removed: the opening line is dropped when only blanks follow `"""`, and so is the closing
    /// line when only blanks precede `"""`. Blank lines become empty and do not count towards
    /// the common indentation.
    private func dedentedLines(_ content: Range<Int>) -> [Range<Int>] {
        var lines: [Range<Int>] = []
        var lineStart = content.lowerBound
        for index in content where bytes[index] == .newline {
            lines.append(lineStart..<index)
            lineStart = index + 1
        }
        lines.append(lineStart..<content.upperBound)
        lines = lines.map { line in
            line.upperBound > line.lowerBound && bytes[line.upperBound - 1] == .carriageReturn
                ? line.lowerBound..<(line.upperBound - 1) : line
        }
        guard lines.count > 1 else { return lines }
        let firstLineIsContent = !isBlank(lines[0])
        if !firstLineIsContent { lines.removeFirst() }
        if let last = lines.last, isBlank(last) { lines.removeLast() }
        let indentedLines = lines.indices.filter { !(firstLineIsContent && $0 == 0) && !isBlank(lines[$0]) }
        let commonIndent = indentedLines.map { indentation(of: lines[$0]) }.min() ?? 0
        return lines.indices.map { number in
            let line = lines[number]
            if isBlank(line) { return line.upperBound..<line.upperBound }
            if firstLineIsContent && number == 0 { return line }
            return (line.lowerBound + commonIndent)..<line.upperBound
        }
    }

    private func isBlank(_ line: Range<Int>) -> Bool {
        line.allSatisfy { bytes[$0] == .space || bytes[$0] == .tab }
    }

    private func indentation(of line: Range<Int>) -> Int {
        var count = 0
        while line.lowerBound + count < line.upperBound,
              bytes[line.lowerBound + count] == .space || bytes[line.lowerBound + count] == .tab { count += 1 }
        return count
    }

    /// Finds the closing quote of a string whose content starts at `from`, stepping over
    /// escapes and holes (a hole may hold quotes of its own). Returns the offset of the closing
    /// quote, or where the string was cut short (a line break for one-line strings, the end).
    private func findStringEnd(from: Int, triple: Bool) -> (contentEnd: Int, closed: Bool) {
        var index = from
        while index < end {
            switch bytes[index] {
            case .quote:
                if !triple { return (index, true) }
                if index + 2 < end, bytes[index + 1] == .quote, bytes[index + 2] == .quote { return (index, true) }
                index += 1
            case .backslash:
                index += (index + 1 < end && bytes[index + 1] != .newline) ? 2 : 1
            case .newline where !triple:
                return (index, false)
            case .leftBrace:
                if index + 1 < end, bytes[index + 1] == .leftBrace {
                    index += 2
                } else if let close = holeEnd(openingAt: index, limit: end) {
                    index = close + 1
                } else {
                    index += 1
                }
            default:
                index += 1
            }
        }
        return (end, false)
    }

    /// The offset of the `}` closing the hole opened by the `{` at `open`, or nil if the hole
    /// is not closed before a line break or `limit`. Strings inside the hole (which may have
    /// holes of their own) are stepped over with an explicit stack, so deep nesting cannot
    /// overflow the call stack.
    private func holeEnd(openingAt open: Int, limit: Int) -> Int? {
        enum Context { case hole(depth: Int), string, rawString }
        var stack: [Context] = [.hole(depth: 1)]
        var index = open + 1
        while index < limit {
            let byte = bytes[index]
            if byte == .newline { return nil }
            guard let context = stack.last else { return nil }
            switch context {
            case .hole(let depth):
                if byte == .leftBrace {
                    stack[stack.count - 1] = .hole(depth: depth + 1)
                } else if byte == .rightBrace {
                    if depth == 1 {
                        stack.removeLast()
                        if stack.isEmpty { return index }
                    } else {
                        stack[stack.count - 1] = .hole(depth: depth - 1)
                    }
                } else if byte == .quote {
                    let isRaw = bytes[index - 1] == UInt8(ascii: "r") && (index < 2 || !bytes[index - 2].isIdentifierPart)
                    stack.append(isRaw ? .rawString : .string)
                }
            case .string:
                if byte == .backslash {
                    index += 1
                } else if byte == .quote {
                    stack.removeLast()
                } else if byte == .leftBrace {
                    if index + 1 < limit, bytes[index + 1] == .leftBrace { index += 1 } else { stack.append(.hole(depth: 1)) }
                }
            case .rawString:
                if byte == .quote { stack.removeLast() }
            }
            index += 1
        }
        return nil
    }

    /// Decodes string content (one line of it for triple-quoted strings): escapes, `{{` and
    /// `}}`, and holes, whose byte ranges are kept for the parser.
    private mutating func decodeStringContent(_ content: Range<Int>, into builder: inout SegmentBuilder) {
        var index = content.lowerBound
        while index < content.upperBound {
            let byte = bytes[index]
            switch byte {
            case .backslash:
                index = decodeEscape(at: index, limit: content.upperBound, into: &builder)
            case .leftBrace:
                if index + 1 < content.upperBound, bytes[index + 1] == .leftBrace {
                    builder.text.append(.leftBrace)
                    index += 2
                } else if let close = holeEnd(openingAt: index, limit: content.upperBound) {
                    builder.appendHole(Span(index + 1, close))
                    index = close + 1
                } else {
                    error("unclosed `{` in string", Span(index, index + 1), help: "write `{{` for a literal brace")
                    builder.text.append(.leftBrace)
                    index += 1
                }
            case .rightBrace:
                if index + 1 < content.upperBound, bytes[index + 1] == .rightBrace {
                    index += 2
                } else {
                    error("unmatched `}` in string", Span(index, index + 1), help: "write `}}` for a literal brace")
                    index += 1
                }
                builder.text.append(.rightBrace)
            case _ where byte >= 0x80:
                if let length = utf8SequenceLength(at: index, limit: content.upperBound) {
                    builder.text.append(contentsOf: bytes[index..<(index + length)])
                    index += length
                } else {
                    index = reportInvalidUTF8(at: index, limit: content.upperBound, context: "in a string")
                    builder.text.append(contentsOf: replacementCharacter)
                }
            default:
                builder.text.append(byte)
                index += 1
            }
        }
    }

    // escape = "\" ( "n" | "t" | '"' | "\" | "{" | "}" | "u{" hex { hex } "}" )
    private mutating func decodeEscape(at backslash: Int, limit: Int, into builder: inout SegmentBuilder) -> Int {
        let help = "the escapes are \\n \\t \\\" \\\\ \\{ \\} \\u{…}"
        guard backslash + 1 < limit else {
            error("unfinished escape at the end of the line", Span(backslash, backslash + 1), help: help)
            return backslash + 1
        }
        let code = bytes[backslash + 1]
        switch code {
        case UInt8(ascii: "n"): builder.text.append(.newline)
        case UInt8(ascii: "t"): builder.text.append(.tab)
        case .quote, .backslash, .leftBrace, .rightBrace: builder.text.append(code)
        case UInt8(ascii: "u"):
            return decodeUnicodeEscape(at: backslash, limit: limit, into: &builder)
        default:
            let length = code >= 0x80 ? (utf8SequenceLength(at: backslash + 1, limit: limit) ?? 1) : 1
            let shown = String(decoding: bytes[(backslash + 1)..<(backslash + 1 + length)], as: UTF8.self)
            error("unknown escape `\\\(shown)`", Span(backslash, backslash + 1 + length), help: help)
            builder.text.append(contentsOf: bytes[backslash..<(backslash + 1 + length)])
            return backslash + 1 + length
        }
        return backslash + 2
    }

    private mutating func decodeUnicodeEscape(at backslash: Int, limit: Int, into builder: inout SegmentBuilder) -> Int {
        var index = backslash + 2
        guard index < limit, bytes[index] == .leftBrace else {
            error("expected `{` after `\\u`", Span(backslash, min(index, limit)), help: "write a code point as `\\u{1F600}`")
            return index
        }
        index += 1
        var scalarValue: UInt32 = 0
        var digitCount = 0
        while index < limit, let digit = bytes[index].hexDigitValue {
            scalarValue = scalarValue &* 16 &+ UInt32(digit)
            digitCount += 1
            index += 1
        }
        guard index < limit, bytes[index] == .rightBrace, (1...8).contains(digitCount) else {
            // Skip the rest of what was meant as the escape, up to its `}`.
            while index < limit, bytes[index].isIdentifierPart { index += 1 }
            if index < limit, bytes[index] == .rightBrace { index += 1 }
            error("malformed `\\u{…}` escape", Span(backslash, index), help: "write a code point as `\\u{1F600}`")
            return index
        }
        index += 1
        if let scalar = Unicode.Scalar(scalarValue) {
            builder.text.append(contentsOf: Array(String(Character(scalar)).utf8))
        } else {
            error("`\\u{…}` escape is not a Unicode scalar value", Span(backslash, index))
        }
        return index
    }

    // punctuation = "(" | ")" | "[" | "]" | "{" | "}" | "," | ":" | "." | "|" | "??" | "==" | "!="
    //             | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%" | "=" | "->" | "?"
    private mutating func lexPunctuation(_ byte: UInt8) {
        let start = position
        let next: UInt8 = position + 1 < end ? bytes[position + 1] : 0
        func single(_ kind: TokenKind, _ lexer: inout Lexer) { lexer.position += 1; lexer.emit(kind, from: start) }
        func double(_ kind: TokenKind, _ lexer: inout Lexer) { lexer.position += 2; lexer.emit(kind, from: start) }
        switch byte {
        case UInt8(ascii: "("): single(.leftParen, &self)
        case UInt8(ascii: ")"): single(.rightParen, &self)
        case UInt8(ascii: "["): single(.leftBracket, &self)
        case UInt8(ascii: "]"): single(.rightBracket, &self)
        case .leftBrace: single(.leftBrace, &self)
        case .rightBrace: single(.rightBrace, &self)
        case UInt8(ascii: ","): single(.comma, &self)
        case UInt8(ascii: ":"): single(.colon, &self)
        case .dot: single(.dot, &self)
        case UInt8(ascii: "|"):
            if next == UInt8(ascii: "|") {
                error("unknown operator `||`", Span(start, start + 2), help: "use `or`")
                double(.keyword(.or), &self)
            } else {
                single(.pipe, &self)
            }
        case UInt8(ascii: "?"): next == UInt8(ascii: "?") ? double(.coalesce, &self) : single(.question, &self)
        case UInt8(ascii: "="): next == UInt8(ascii: "=") ? double(.equalEqual, &self) : single(.assign, &self)
        case UInt8(ascii: "!"):
            if next == UInt8(ascii: "=") {
                double(.notEqual, &self)
            } else {
                error("unknown operator `!`", Span(start, start + 1), help: "use `not` to negate, `!=` to compare")
                single(.keyword(.not), &self)
            }
        case UInt8(ascii: "&"):
            let length = next == UInt8(ascii: "&") ? 2 : 1
            error("unknown operator `\(length == 2 ? "&&" : "&")`", Span(start, start + length), help: "use `and`")
            length == 2 ? double(.keyword(.and), &self) : single(.keyword(.and), &self)
        case UInt8(ascii: "<"): next == UInt8(ascii: "=") ? double(.lessEqual, &self) : single(.less, &self)
        case UInt8(ascii: ">"): next == UInt8(ascii: "=") ? double(.greaterEqual, &self) : single(.greater, &self)
        case UInt8(ascii: "+"): single(.plus, &self)
        case UInt8(ascii: "-"): next == UInt8(ascii: ">") ? double(.arrow, &self) : single(.minus, &self)
        case UInt8(ascii: "*"): single(.star, &self)
        case UInt8(ascii: "/"): single(.slash, &self)
        case UInt8(ascii: "%"): single(.percent, &self)
        default:
            reportUnexpectedCharacter(at: start)
        }
    }

    private mutating func reportUnexpectedCharacter(at start: Int) {
        let byte = bytes[start]
        guard byte >= 0x80 else {
            position += 1
            let shown = byte >= 0x20 && byte < 0x7F ? "`\(Character(Unicode.Scalar(byte)))`" : "U+\(hex(UInt32(byte), width: 4))"
            error("unexpected character \(shown)", Span(start, position),
                  help: byte == UInt8(ascii: "'") ? "strings use double quotes `\"`" : nil)
            return
        }
        guard let length = utf8SequenceLength(at: start, limit: end) else {
            position = reportInvalidUTF8(at: start, limit: end, context: "")
            return
        }
        position += length
        let character = String(decoding: bytes[start..<position], as: UTF8.self)
        let scalar = character.unicodeScalars.first.map { hex($0.value, width: 4) } ?? ""
        let help: String? = switch character {
        case "“", "”": "use straight quotes `\"` for strings"
        case "’", "‘": "strings use straight double quotes `\"`"
        case "→": "write `->`"
        case "≤": "write `<=`"
        case "≥": "write `>=`"
        case "≠": "write `!=`"
        default: nil
        }
        error("unexpected character `\(character)` (U+\(scalar))", Span(start, position), help: help)
    }

    /// Reports a run of bytes that are not valid UTF-8 as one diagnostic; returns the run's end.
    private mutating func reportInvalidUTF8(at start: Int, limit: Int, context: String) -> Int {
        var runEnd = start + 1
        while runEnd < limit, bytes[runEnd] >= 0x80, utf8SequenceLength(at: runEnd, limit: limit) == nil { runEnd += 1 }
        let shown = bytes[start..<min(runEnd, start + 4)].map { "0x" + hex(UInt32($0), width: 2) }.joined(separator: " ")
        let message = context.isEmpty ? "invalid UTF-8 (\(shown))" : "invalid UTF-8 \(context) (\(shown))"
        error(message, Span(start, runEnd), help: "Sluice files must be encoded in UTF-8")
        return runEnd
    }

    /// The length of the well-formed UTF-8 sequence starting at `index`, or nil if the bytes
    /// there are not well-formed (overlong forms, surrogates and values past U+10FFFF included).
    private func utf8SequenceLength(at index: Int, limit: Int) -> Int? {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: return nil
        }
        guard index + length <= limit, secondRange.contains(bytes[index + 1]) else { return nil }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) { return nil }
        return length
    }
}

/// Accumulates the segments of one string literal.
private struct SegmentBuilder {
    var segments: [StringSegment] = []
    var text: [UInt8] = []

    mutating func appendHole(_ span: Span) {
        flushText()
        segments.append(.hole(span))
    }

    private mutating func flushText() {
        if !text.isEmpty { segments.append(.text(String(decoding: text, as: UTF8.self))) }
        text.removeAll(keepingCapacity: true)
    }

    mutating func finish() -> [StringSegment] {
        flushText()
        return segments.isEmpty ? [.text("")] : segments
    }
}

/// U+FFFD, which stands in decoded text for bytes that are not UTF-8.
private let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

private func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

extension UInt8 {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let dollar: UInt8 = 0x24
    static let dot: UInt8 = 0x2E
    static let backslash: UInt8 = 0x5C
    static let underscore: UInt8 = 0x5F
    static let leftBrace: UInt8 = 0x7B
    static let rightBrace: UInt8 = 0x7D

    var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    var isIdentifierStart: Bool { (self | 0x20) >= 0x61 && (self | 0x20) <= 0x7A || self == .underscore }
    var isIdentifierPart: Bool { isIdentifierStart || isDigit }
    var hexDigitValue: Int? {
        switch self {
        case 0x30...0x39: Int(self - 0x30)
        case 0x41...0x46: Int(self - 0x41 + 10)
        case 0x61...0x66: Int(self - 0x61 + 10)
        default: nil
        }
    }
}

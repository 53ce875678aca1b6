// Tokens produced by the lexer. Positions are byte offsets into the source file.

/// The reserved words of Sluice. They cannot be used as names, except where a word is
/// expected by position: field keys, member names (`d.score`), record keys, argument labels.
/// Words such as `user`, `top`, `order`, `accept`, `as`, `retries`, `trusted`, `action`,
/// `pattern`, `replace`, `returns` are contextual: they are ordinary names elsewhere.
public enum Keyword: String, Sendable, CaseIterable {
    case use, model, type, prompt, index, `guard`, budget, pipeline
    case `if`, `else`, `for`, `in`, `return`, with, when, validate, score
    case retrieve, from, template, cascade, using
    case and, or, not, `true`, `false`, null

    /// Keywords that begin a top-level declaration, in the order the language reference lists them.
    public static let declarationKeywords: [Keyword] = [.use, .model, .type, .prompt, .index, .guard, .budget, .pipeline]
}

public enum TokenKind: Hashable, Sendable {
    case identifier
    case keyword(Keyword)
    case number
    case money
    /// A number with a unit of time, `500ms`, `2s`, `10m`, `1h`, `1d`; its value is in seconds.
    case duration
    case string
    case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
    case comma, colon, dot, pipe, coalesce
    case equalEqual, notEqual, less, lessEqual, greater, greaterEqual
    case plus, minus, star, slash, percent
    case assign, arrow, question
    case endOfFile

    /// How the token is written, for messages such as "expected `)`".
    public var spelling: String {
        switch self {
        case .identifier: "a name"
        case .keyword(let k): "`\(k.rawValue)`"
        case .number: "a number"
        case .money: "an amount of money"
        case .duration: "a duration"
        case .string: "a string"
        case .leftParen: "`(`"
        case .rightParen: "`)`"
        case .leftBracket: "`[`"
        case .rightBracket: "`]`"
        case .leftBrace: "`{`"
        case .rightBrace: "`}`"
        case .comma: "`,`"
        case .colon: "`:`"
        case .dot: "`.`"
        case .pipe: "`|`"
        case .coalesce: "`??`"
        case .equalEqual: "`==`"
        case .notEqual: "`!=`"
        case .less: "`<`"
        case .lessEqual: "`<=`"
        case .greater: "`>`"
        case .greaterEqual: "`>=`"
        case .plus: "`+`"
        case .minus: "`-`"
        case .star: "`*`"
        case .slash: "`/`"
        case .percent: "`%`"
        case .assign: "`=`"
        case .arrow: "`->`"
        case .question: "`?`"
        case .endOfFile: "end of file"
        }
    }
}

/// A piece of a string literal as the lexer sees it: decoded text, or the byte range of a
/// `{hole}`'s contents (without the braces), which the parser parses as an expression.
public enum StringSegment: Sendable, Equatable {
    case text(String)
    case hole(Span)
}

public enum TokenValue: Sendable, Equatable {
    case none
    /// The value of a number, money or duration token, suffixes applied (`8k` → 8000, `10m` → 600).
    case number(Double)
    /// The pieces of a string token, escapes decoded and triple-quoted text dedented.
    /// An empty string is a single empty text segment.
    case string([StringSegment])
}

public struct Token: Sendable, Equatable {
    public var kind: TokenKind
    public var span: Span
    /// True when a line break (or the start of the input) comes before this token.
    public var isAtLineStart: Bool
    public var value: TokenValue

    public init(kind: TokenKind, span: Span, isAtLineStart: Bool, value: TokenValue = .none) {
        self.kind = kind; self.span = span; self.isAtLineStart = isAtLineStart; self.value = value
    }

    public var numberValue: Double { if case .number(let n) = value { n } else { 0 } }
    public var stringSegments: [StringSegment] { if case .string(let s) = value { s } else { [] } }

    /// The text of a string token that has no holes; nil when it has any.
    public var plainStringText: String? {
        var text = ""
        for segment in stringSegments {
            switch segment {
            case .text(let t): text += t
            case .hole: return nil
            }
        }
        return text
    }
}

// The recursive-descent parser. Each parse function carries the grammar production it
// implements as a comment (the full grammar is grammar/sluice.ebnf).
//
// Newlines: a token that starts a line ends the statement or field before it, unless
// newlines are ignored (inside `( )` and `[ ]`) or the token is a binary operator, which
// continues the expression of the line before.
//
// Errors: a parse function that cannot go on records a diagnostic and throws `ParseFailure`;
// the nearest loop over lines (block, declaration body, module) catches it, skips to the next
// line or declaration, and goes on, so one run reports every syntax error of a file.

public enum Parser {
    public static func parse(_ file: SourceFile) -> (module: Module, diagnostics: [Diagnostic]) {
        var parser = SyntaxParser(file: file, range: 0..<file.bytes.count, depth: 0)
        let decls = parser.parseModule()
        return (Module(file: file, decls: decls), limited(inSourceOrder(parser.diagnostics), in: file))
    }

    /// For the REPL: a line is either declarations or pipeline statements. Input may mix
    /// the two; each item is a declaration when it starts with `use`, `model`, `type`,
    /// `prompt`, `index`, `pipeline`, `budget` (a session-wide budget), or `guard NAME {`,
    /// and a statement otherwise.
    public static func parseReplInput(_ file: SourceFile) -> (decls: [Decl], statements: [Stmt], diagnostics: [Diagnostic]) {
        var parser = SyntaxParser(file: file, range: 0..<file.bytes.count, depth: 0)
        let (decls, statements) = parser.parseReplItems()
        return (decls, statements, limited(inSourceOrder(parser.diagnostics), in: file))
    }

    /// At most `maximumErrorCount` diagnostics, then one saying how many more there are: past
    /// that, more errors (often consequences of the first) help nobody, and rendering thousands
    /// of them from one generated line would take longer than fixing the first.
    private static func limited(_ diagnostics: [Diagnostic], in file: SourceFile) -> [Diagnostic] {
        guard diagnostics.count > maximumErrorCount else { return diagnostics }
        let rest = diagnostics.count - maximumErrorCount
        return Array(diagnostics.prefix(maximumErrorCount)) + [
            Diagnostic(.error, "too many syntax errors: \(rest) more not shown", file: file,
                       span: diagnostics[maximumErrorCount].span, help: "fix the errors above and check again"),
        ]
    }

    /// How many syntax errors of one file are shown.
    public static let maximumErrorCount = 100

    /// Lexer and parser diagnostics merged by position (stable for equal positions).
    private static func inSourceOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated()
            .sorted { ($0.element.span.start, $0.offset) < ($1.element.span.start, $1.offset) }
            .map(\.element)
    }

    /// How deep brackets, blocks, string holes and type references may nest: this caps the
    /// parser's own recursion.
    public static let maximumNestingDepth = 128

    /// How high an expression tree may be (`Expr.height`). Operator chains, filter chains and
    /// postfix chains (`.a`, `[0]`, `(…)`) are parsed by loops, but the trees they build are
    /// as deep as they are long, and the checker and the interpreter walk them recursively: this
    /// cap keeps those walks within the stack (measured by `DeepExpressionTests`, with
    /// `maximumNestingDepth` blocks around the expression, in a debug build on a Swift
    /// concurrency thread). Far beyond any hand-written expression.
    public static let maximumExpressionHeight = 256
}

/// Thrown after a diagnostic has been recorded, to unwind to the nearest recovery point.
struct ParseFailure: Error {
    /// The nesting limit was hit: recovery skips the whole nested group, whatever its lines.
    var nestingTooDeep = false
}

struct SyntaxParser {
    let file: SourceFile
    var tokens: [Token]
    var position = 0
    var diagnostics: [Diagnostic]
    /// Current nesting of expressions and blocks (see `Parser.maximumNestingDepth`).
    var depth: Int
    /// True inside `( )` and `[ ]`, where line breaks mean nothing.
    var newlinesIgnored = false
    /// The token that begins the current line item (statement, field, record entry): it may
    /// start a line without that line break ending anything.
    var itemStart = 0

    /// True when parsing the inside of a string hole, whose end is the hole's `}`.
    let isHole: Bool
    /// Lines (1-based) with a lexical error: syntax errors on those lines are most likely
    /// consequences of it, so they are not reported.
    let linesWithLexicalErrors: Set<Int>

    init(file: SourceFile, range: Range<Int>, depth: Int, isHole: Bool = false) {
        self.file = file
        let (tokens, diagnostics) = Lexer.tokenize(file, range: range)
        self.tokens = tokens
        self.diagnostics = diagnostics
        self.depth = depth
        self.isHole = isHole
        self.linesWithLexicalErrors = Set(diagnostics.map { file.line(of: $0.span.start) })
    }

    // MARK: Token access

    var current: Token { tokens[position] }

    func peek(_ offset: Int = 1) -> Token { tokens[min(position + offset, tokens.count - 1)] }

    /// The end of the last consumed token, for building spans.
    var previousEnd: Int { position == 0 ? current.span.start : tokens[position - 1].span.end }

    func spanFrom(_ start: Int) -> Span { Span(start, max(start, previousEnd)) }

    @discardableResult
    mutating func advance() -> Token {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    /// Whether the current token continues the current line (or newlines do not matter here).
    var onCurrentLine: Bool { newlinesIgnored || !current.isAtLineStart || position == itemStart }

    /// The current token, if it is on the current line and of the given kind.
    func check(_ kind: TokenKind) -> Bool { current.kind == kind && onCurrentLine }

    func check(_ keyword: Keyword) -> Bool { check(.keyword(keyword)) }

    /// The current token is the contextual word `word` (an identifier) on the current line.
    func checkWord(_ word: String) -> Bool { check(.identifier) && text(of: current) == word }

    @discardableResult
    mutating func accept(_ kind: TokenKind) -> Bool {
        guard check(kind) else { return false }
        advance()
        return true
    }

    /// Binary operators continue an expression across a line break, so they are accepted
    /// wherever they are.
    @discardableResult
    mutating func acceptOperator(_ kind: TokenKind) -> Bool {
        guard current.kind == kind else { return false }
        advance()
        return true
    }

    func text(of token: Token) -> String { file.slice(token.span) }

    /// "`x`", "a string", "end of line", "end of file": what the current token looks like.
    var currentDescription: String {
        if current.kind != .endOfFile && !onCurrentLine { return "end of line" }
        return describe(current)
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .endOfFile: return isHole ? "the `}` ending the hole" : "end of file"
        case .string: return "a string"
        case .identifier, .keyword, .number, .money, .duration: return "`\(text(of: token))`"
        default: return token.kind.spelling
        }
    }

    /// Where the current token is, for an error about it: the end of the previous line when
    /// the problem is that the line ended.
    var currentErrorSpan: Span {
        if current.kind != .endOfFile && !onCurrentLine { return Span(previousEnd, previousEnd) }
        return current.span
    }

    // MARK: Errors

    mutating func report(_ message: String, at span: Span, help: String? = nil, notes: [Diagnostic.Note] = []) {
        if linesWithLexicalErrors.contains(file.line(of: span.start)) { return }
        diagnostics.append(Diagnostic(.error, message, file: file, span: span, notes: notes, help: help))
    }

    /// Reports "expected X, found Y" at the current token; the caller throws the result.
    mutating func expected(_ what: String, help: String? = nil, notes: [Diagnostic.Note] = []) -> ParseFailure {
        report("expected \(what), found \(currentDescription)", at: currentErrorSpan, help: help, notes: notes)
        return ParseFailure()
    }

    @discardableResult
    mutating func expect(_ kind: TokenKind, _ context: String) throws(ParseFailure) -> Token {
        guard check(kind) else { throw expected("\(kind.spelling) \(context)") }
        return advance()
    }

    /// Expects the token closing the bracket `opener`, pointing back at the opener if it is missing.
    @discardableResult
    mutating func expectClosing(_ kind: TokenKind, opener: Token, what: String) throws(ParseFailure) -> Token {
        if current.kind == kind { return advance() }
        // A closing bracket may be on any line, so the line break is not what is wrong here.
        report("expected \(kind.spelling) to close the \(what) opened at \(lineColumn(opener.span.start)), found \(describe(current))",
               at: current.span, notes: [Diagnostic.Note("the \(what) opened here", file: file, span: opener.span)])
        throw ParseFailure()
    }

    func lineColumn(_ offset: Int) -> String {
        let (line, column) = file.location(of: offset)
        return "\(line):\(column)"
    }

    // MARK: Names

    /// name = identifier
    mutating func expectName(_ what: String) throws(ParseFailure) -> Name {
        guard check(.identifier) else {
            if case .keyword(let keyword) = current.kind, onCurrentLine {
                report("`\(keyword.rawValue)` is a keyword and cannot be used as \(what)", at: current.span,
                       help: "choose another name, such as `\(keyword.rawValue)_`")
                throw ParseFailure()
            }
            throw expected(what)
        }
        let token = advance()
        return Name(text(of: token), token.span)
    }

    /// word = identifier | keyword — where position makes the meaning clear (field keys,
    /// member names, record keys, labels).
    var checkWordToken: Bool {
        guard onCurrentLine else { return false }
        switch current.kind {
        case .identifier, .keyword: return true
        default: return false
        }
    }

    mutating func expectWord(_ what: String) throws(ParseFailure) -> Name {
        guard checkWordToken else { throw expected(what) }
        let token = advance()
        return Name(text(of: token), token.span)
    }

    // MARK: Nesting

    /// Enters one level of nesting; reports and throws past the limit.
    mutating func enterNesting() throws(ParseFailure) {
        depth += 1
        if depth > Parser.maximumNestingDepth {
            depth -= 1
            report("nesting deeper than \(Parser.maximumNestingDepth) levels", at: current.span,
                   help: "split the expression with intermediate names")
            throw ParseFailure(nestingTooDeep: true)
        }
    }

    mutating func leaveNesting() { depth -= 1 }

    /// Builds an expression node, refusing one higher than `Parser.maximumExpressionHeight`.
    /// `token` is where the node's extra level comes from (an operator, `.`, `[`, `(`, a filter
    /// name), which is where the caret goes.
    mutating func node(_ kind: Expr.Kind, span: Span, at token: Span) throws(ParseFailure) -> Expr {
        let expression = Expr(kind, span: span)
        guard expression.height <= Parser.maximumExpressionHeight else {
            report("expression deeper than \(Parser.maximumExpressionHeight) levels", at: token,
                   help: "split the expression with intermediate names")
            throw ParseFailure(nestingTooDeep: true)
        }
        return expression
    }

    /// Runs `body` with newlines ignored (inside `( )` and `[ ]`) or significant (inside `{ }`).
    mutating func withNewlines<T>(ignored: Bool, _ body: (inout SyntaxParser) throws(ParseFailure) -> T) throws(ParseFailure) -> T {
        let saved = newlinesIgnored
        newlinesIgnored = ignored
        defer { newlinesIgnored = saved }
        return try body(&self)
    }

    // MARK: Recovery

    /// Skips the rest of a line item after `failure`: to the next line start, or to a `}`
    /// closing the enclosing block, stepping over bracketed groups and lines that start with a
    /// binary operator (they continue the item), but never past a declaration keyword in
    /// column 1. After a nesting overflow it first skips to the end of every group opened since
    /// the item started. Always makes progress.
    mutating func skipToNextLine(from itemStartPosition: Int, after failure: ParseFailure = ParseFailure()) {
        if failure.nestingTooDeep {
            var open = tokens[itemStartPosition..<position].reduce(0) { $0 + $1.kind.bracketBalance }
            while open > 0, current.kind != .endOfFile { open += advance().kind.bracketBalance }
        }
        if position == itemStartPosition, current.kind != .rightBrace, current.kind != .endOfFile { advance() }
        var balance = 0
        while current.kind != .endOfFile {
            if position != itemStartPosition {
                if balance == 0 && current.kind == .rightBrace { return }
                if balance == 0 && current.isAtLineStart && !current.kind.continuesExpression { return }
                if atDeclarationInFirstColumn { return }
            }
            balance = max(0, balance + advance().kind.bracketBalance)
        }
    }

    /// A declaration keyword at the very start of a line (column 1) is taken as the start of
    /// the next declaration, even inside an unclosed body; `guard` only in the form
    /// `guard NAME {`, and `budget` never (it reads the same as the statement).
    var atDeclarationInFirstColumn: Bool {
        guard case .keyword(let keyword) = current.kind, Keyword.declarationKeywords.contains(keyword),
              keyword != .budget else { return false }
        let start = current.span.start
        guard start == 0 || file.bytes[start - 1] == .newline else { return false }
        return keyword != .guard || (peek(1).kind == .identifier && peek(2).kind == .leftBrace)
    }
}

extension TokenKind {
    /// A binary operator, which continues the expression of the line before when it starts a line.
    var continuesExpression: Bool {
        switch self {
        case .pipe, .coalesce, .keyword(.or), .keyword(.and), .plus, .minus, .star, .slash, .percent,
             .equalEqual, .notEqual, .less, .lessEqual, .greater, .greaterEqual: true
        default: false
        }
    }

    /// +1 for an opening bracket, -1 for a closing one, 0 otherwise.
    var bracketBalance: Int {
        switch self {
        case .leftParen, .leftBracket, .leftBrace: 1
        case .rightParen, .rightBracket, .rightBrace: -1
        default: 0
        }
    }
}

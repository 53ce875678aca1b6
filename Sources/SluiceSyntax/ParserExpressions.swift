// Expressions, loosest first: `|`, `??`, `or`, `and`, `not`, comparisons, `+ -`, `* / %`,
// unary `-`, postfix, primary. Binary operators continue an expression across a line break.

extension SyntaxParser {
    // expression = filtered [ "catch" expression ]
    // filtered = coalesce { "|" name [ arguments ] }
    mutating func parseExpression() throws(ParseFailure) -> Expr {
        try enterNesting()
        defer { leaveNesting() }
        var value = try parseCoalesce()
        while acceptOperator(.pipe) {
            let filter = try expectName("a filter name after `|`")
            var arguments: [Argument] = []
            if check(.leftParen) { arguments = try parseArguments(opener: advance()) }
            value = try node(.filter(value, filter, arguments), span: value.span.to(spanFrom(filter.span.start)), at: filter.span)
        }
        // `catch` is a word only here, after a whole expression on the same line.
        if onCurrentLine, current.kind == .identifier, text(of: current) == "catch" {
            let keyword = advance()
            let fallback = try parseRequiredExpression("a fallback value after `catch`")
            value = try node(.fallback(value, fallback), span: value.span.to(fallback.span), at: keyword.span)
        }
        return value
    }

    /// operand { operator operand }, left-associative.
    private mutating func parseLeftAssociative(
        _ binaryOperator: (TokenKind) -> BinaryOp?,
        operand: (inout SyntaxParser) throws(ParseFailure) -> Expr
    ) throws(ParseFailure) -> Expr {
        var left = try operand(&self)
        while let op = binaryOperator(current.kind) {
            let operatorToken = advance()
            let right = try operand(&self)
            left = try node(.binary(op, left, right), span: left.span.to(right.span), at: operatorToken.span)
        }
        return left
    }

    // coalesce = or_expr { "??" or_expr }
    private mutating func parseCoalesce() throws(ParseFailure) -> Expr {
        try parseLeftAssociative({ $0 == .coalesce ? .coalesce : nil }) { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parseOr() }
    }

    // or_expr = and_expr { "or" and_expr }
    private mutating func parseOr() throws(ParseFailure) -> Expr {
        try parseLeftAssociative({ $0 == .keyword(.or) ? .or : nil }) { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parseAnd() }
    }

    // and_expr = not_expr { "and" not_expr }
    private mutating func parseAnd() throws(ParseFailure) -> Expr {
        try parseLeftAssociative({ $0 == .keyword(.and) ? .and : nil }) { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parseNot() }
    }

    // not_expr = { "not" } comparison
    private mutating func parseNot() throws(ParseFailure) -> Expr {
        var nots: [Token] = []
        while check(.not) { nots.append(advance()) }
        var value = try parseComparison()
        for not in nots.reversed() { value = try node(.unary(.not, value), span: not.span.to(value.span), at: not.span) }
        return value
    }

    // comparison = additive [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) additive ]
    private mutating func parseComparison() throws(ParseFailure) -> Expr {
        let left = try parseAdditive()
        guard let op = comparisonOperator(current.kind) else { return left }
        let operatorToken = advance()
        let right = try parseAdditive()
        if comparisonOperator(current.kind) != nil {
            report("comparisons cannot be chained", at: current.span,
                   help: "combine two comparisons with `and`, as in `a < b and b < c`")
            throw ParseFailure()
        }
        return try node(.binary(op, left, right), span: left.span.to(right.span), at: operatorToken.span)
    }

    private func comparisonOperator(_ kind: TokenKind) -> BinaryOp? {
        switch kind {
        case .equalEqual: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .lessEqual: .lessEqual
        case .greater: .greater
        case .greaterEqual: .greaterEqual
        default: nil
        }
    }

    // additive = multiplicative { ( "+" | "-" ) multiplicative }
    private mutating func parseAdditive() throws(ParseFailure) -> Expr {
        try parseLeftAssociative({ kind in
            switch kind {
            case .plus: .add
            case .minus: .subtract
            default: nil
            }
        }) { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parseMultiplicative() }
    }

    // multiplicative = unary { ( "*" | "/" | "%" ) unary }
    private mutating func parseMultiplicative() throws(ParseFailure) -> Expr {
        try parseLeftAssociative({ kind in
            switch kind {
            case .star: .multiply
            case .slash: .divide
            case .percent: .remainder
            default: nil
            }
        }) { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parseUnary() }
    }

    // unary = { "-" } postfix
    mutating func parseUnary() throws(ParseFailure) -> Expr {
        var minuses: [Token] = []
        while check(.minus) { minuses.append(advance()) }
        var value = try parsePostfix()
        for minus in minuses.reversed() { value = try node(.unary(.negate, value), span: minus.span.to(value.span), at: minus.span) }
        return value
    }

    // postfix = primary { "." word | arguments [ "using" name ] | "[" expression "]" }
    // (`(` and `[` must be on the line of what they apply to)
    private mutating func parsePostfix() throws(ParseFailure) -> Expr {
        var value = try parsePrimary()
        while true {
            if check(.dot) {
                let dot = advance()
                let member = try expectWord("a member name after `.`")
                value = try node(.member(value, member), span: value.span.to(member.span), at: dot.span.to(member.span))
            } else if check(.leftParen) {
                let opener = advance()
                let arguments = try parseArguments(opener: opener)
                var model: Name?
                if check(.using) {
                    advance()
                    model = try expectName("a model name after `using`")
                }
                value = try node(.call(value, arguments, using: model), span: value.span.to(spanFrom(value.span.start)), at: opener.span)
            } else if check(.leftBracket) {
                let opener = advance()
                let index = try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> Expr in
                    let index = try parser.parseRequiredExpression("an index inside `[ ]`")
                    try parser.expectClosing(.rightBracket, opener: opener, what: "index")
                    return index
                }
                value = try node(.index(value, index), span: value.span.to(spanFrom(value.span.start)), at: opener.span)
            } else {
                return value
            }
        }
    }

    // arguments = "(" [ argument { "," argument } [ "," ] ] ")"
    // argument = [ word ":" ] expression
    mutating func parseArguments(opener: Token) throws(ParseFailure) -> [Argument] {
        try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> [Argument] in
            var arguments: [Argument] = []
            while parser.current.kind != .rightParen {
                var label: Name?
                if parser.checkWordToken, parser.peek().kind == .colon {
                    label = try parser.expectWord("an argument label")
                    parser.advance()
                }
                arguments.append(Argument(label: label, value: try parser.parseRequiredExpression("an argument")))
                if !parser.accept(.comma) { break }
            }
            try parser.expectClosing(.rightParen, opener: opener, what: "argument list")
            return arguments
        }
    }

    // primary = NUMBER | MONEY | STRING | "true" | "false" | "null" | name
    //         | list | record | "(" expression ")" | retrieve | template | cascade
    private mutating func parsePrimary() throws(ParseFailure) -> Expr {
        guard onCurrentLine else { throw expected("an expression") }
        let token = current
        switch token.kind {
        case .number:
            advance()
            return Expr(.number(token.numberValue), span: token.span)
        case .money:
            advance()
            return Expr(.money(token.numberValue), span: token.span)
        case .duration:
            report("a duration such as `\(text(of: token))` is written only in an `alert`", at: token.span,
                   help: "in an expression, write the number of seconds")
            throw ParseFailure()
        case .string:
            advance()
            return try parseStringLiteral(token)
        case .keyword(.true), .keyword(.false):
            advance()
            return Expr(.bool(token.kind == .keyword(.true)), span: token.span)
        case .keyword(.null):
            advance()
            return Expr(.null, span: token.span)
        case .identifier where text(of: token) == "parallel" && startsExpression(peek()):
            return try parseParallelMap()
        case .identifier:
            advance()
            return Expr(.name(text(of: token)), span: token.span)
        case .leftBracket:
            return try parseList()
        case .leftBrace:
            return try parseRecord()
        case .leftParen:
            let opener = advance()
            return try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> Expr in
                let inner = try parser.parseRequiredExpression("an expression after `(`")
                try parser.expectClosing(.rightParen, opener: opener, what: "parenthesis")
                return inner
            }
        case .keyword(.retrieve):
            return try parseRetrieve()
        case .keyword(.template):
            return try parseTemplate()
        case .keyword(.cascade):
            return try parseCascade()
        case .keyword(let keyword):
            report("expected an expression, found the keyword `\(keyword.rawValue)`", at: token.span,
                   help: Keyword.declarationKeywords.contains(keyword) || [.if, .for, .return].contains(keyword)
                       ? nil : "keywords cannot be used as names")
            throw ParseFailure()
        default:
            throw expected("an expression")
        }
    }

    /// Whether `token`, on the current line, can begin an expression (so `parallel` before it
    /// is the parallel form, not a name).
    private func startsExpression(_ token: Token) -> Bool {
        guard !token.isAtLineStart else { return false }
        switch token.kind {
        case .identifier, .number, .money, .string, .leftBracket, .leftParen, .leftBrace,
             .keyword(.retrieve), .keyword(.template), .keyword(.cascade), .keyword(.true), .keyword(.false), .keyword(.null):
            return true
        default:
            return false
        }
    }

    // parallel_map = "parallel" expression "for" name "in" expression parallel_settings
    private mutating func parseParallelMap() throws(ParseFailure) -> Expr {
        let keyword = advance().span
        let start = keyword.start
        let body = try parseRequiredExpression("an expression after `parallel`")
        try expect(.keyword(.for), "after the expression of `parallel` (as in `parallel f(x: d) for d in docs`)")
        let variable = try expectName("a loop variable after `for`")
        try expect(.keyword(.in), "after the loop variable")
        let sequence = try parseRequiredExpression("a list after `in`")
        let settings = try parseParallelSettings()
        return try node(.parallelMap(body, variable: variable, sequence: sequence, settings), span: spanFrom(start), at: keyword)
    }

    // list = "[" [ expression { "," expression } [ "," ] ] "]"
    private mutating func parseList() throws(ParseFailure) -> Expr {
        let opener = advance()
        let elements = try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> [Expr] in
            var elements: [Expr] = []
            while parser.current.kind != .rightBracket, parser.current.kind != .endOfFile {
                elements.append(try parser.parseExpression())
                if !parser.accept(.comma) { break }
            }
            try parser.expectClosing(.rightBracket, opener: opener, what: "list")
            return elements
        }
        return try node(.list(elements), span: spanFrom(opener.span.start), at: opener.span)
    }

    // record = "{" [ record_entry { ( "," | NEWLINE ) record_entry } [ "," ] ] "}"
    // record_entry = ( word | STRING ) ":" expression
    private mutating func parseRecord() throws(ParseFailure) -> Expr {
        let opener = advance()
        try enterNesting()
        defer { leaveNesting() }
        let entries = try withNewlines(ignored: false) { (parser: inout SyntaxParser) throws(ParseFailure) -> [(name: Name, value: Expr)] in
            var entries: [(name: Name, value: Expr)] = []
            while parser.current.kind != .rightBrace, parser.current.kind != .endOfFile {
                parser.itemStart = parser.position
                let key: Name
                if parser.current.kind == .string {
                    let token = parser.advance()
                    guard let text = token.plainStringText else {
                        parser.report("a record key cannot contain holes", at: token.span)
                        throw ParseFailure()
                    }
                    key = Name(text, token.span)
                } else {
                    key = try parser.expectWord("a field name in the record")
                }
                try parser.expect(.colon, "after the record field `\(key.text)`")
                let value = try parser.parseRequiredExpression("a value for the record field `\(key.text)`")
                entries.append((key, value))
                if parser.accept(.comma) || parser.current.kind == .rightBrace || parser.current.isAtLineStart { continue }
                throw parser.expected("`,` or `}` after the record field")
            }
            try parser.expectClosing(.rightBrace, opener: opener, what: "record")
            return entries
        }
        return try node(.record(entries), span: spanFrom(opener.span.start), at: opener.span)
    }

    // retrieve = "retrieve" expression "from" name [ "top" unary ] [ "order" word ]
    private mutating func parseRetrieve() throws(ParseFailure) -> Expr {
        let keyword = advance().span
        let start = keyword.start
        let query = try parseRequiredExpression("a query after `retrieve`")
        try expect(.keyword(.from), "after the query (as in `retrieve question from kb`)")
        let index = try expectName("an index name after `from`")
        var top: Expr?
        if checkWord("top") {
            advance()
            // `top` takes a unary expression, which may be another `retrieve`: that recursion counts.
            top = try withNesting { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parseUnary() }
        }
        var order: Name?
        if checkWord("order") {
            advance()
            order = try expectWord("`score` or `edges` after `order`")
        }
        return try node(.retrieve(query: query, index: index, top: top, order: order), span: spanFrom(start), at: keyword)
    }

    // template = "template" postfix        (the postfix expression is a call)
    private mutating func parseTemplate() throws(ParseFailure) -> Expr {
        let keyword = advance().span
        let call = try parsePromptCall(after: "template")
        return try node(.template(call), span: spanFrom(keyword.start), at: keyword)
    }

    // cascade = "cascade" postfix "{" { cascade_step NEWLINE } "}"
    // cascade_step = name [ "accept" expression ]
    private mutating func parseCascade() throws(ParseFailure) -> Expr {
        let keyword = advance().span
        let start = keyword.start
        let call = try parsePromptCall(after: "cascade")
        let opener = try expectBodyOpener(after: "the cascade's prompt call")
        var steps: [CascadeStep] = []
        try parseBraced(opener: opener, what: "cascade") { (parser: inout SyntaxParser) throws(ParseFailure) in
            let model = try parser.expectName("a model name")
            var accept: Expr?
            if parser.checkWord("accept") {
                parser.advance()
                accept = try parser.parseRequiredExpression("a condition after `accept`")
            }
            steps.append(CascadeStep(model: model, accept: accept, span: parser.spanFrom(model.span.start)))
            try parser.expectLineEnd(after: "the cascade step")
        }
        return try node(.cascade(call, steps), span: spanFrom(start), at: keyword)
    }

    private mutating func parsePromptCall(after keyword: String) throws(ParseFailure) -> Expr {
        let call = try withNesting { (parser: inout SyntaxParser) throws(ParseFailure) in try parser.parsePostfix() }
        guard case .call = call.kind else {
            report("expected a prompt call after `\(keyword)`", at: call.span,
                   help: "write `\(keyword) prompt_name(argument: value)`")
            throw ParseFailure()
        }
        return call
    }

    private mutating func withNesting<T>(_ body: (inout SyntaxParser) throws(ParseFailure) -> T) throws(ParseFailure) -> T {
        try enterNesting()
        defer { leaveNesting() }
        return try body(&self)
    }

    // string = STRING, whose holes are parsed here: each hole's bytes are lexed and parsed
    // again in place, so spans inside holes stay absolute in the file.
    private mutating func parseStringLiteral(_ token: Token) throws(ParseFailure) -> Expr {
        var parts: [StringPart] = []
        for segment in token.stringSegments {
            switch segment {
            case .text(let text):
                parts.append(.text(text))
            case .hole(let span):
                if let expression = parseHole(span) { parts.append(.hole(expression)) }
            }
        }
        return try node(.string(parts), span: token.span, at: token.span)
    }

    /// Parses the expression in a string hole whose contents are at `span`; nil (after a
    /// diagnostic) when it does not parse.
    private mutating func parseHole(_ span: Span) -> Expr? {
        let braces = Span(span.start - 1, span.end + 1)
        let literalBraceHelp = "write `{{` for a literal brace"
        guard depth < Parser.maximumNestingDepth else {
            report("nesting deeper than \(Parser.maximumNestingDepth) levels", at: braces,
                   help: "split the expression with intermediate names")
            return nil
        }
        var hole = SyntaxParser(file: file, range: span.start..<span.end, depth: depth + 1, isHole: true)
        let lexerDiagnosticCount = hole.diagnostics.count
        var expression: Expr?
        if hole.current.kind == .endOfFile {
            hole.report("empty `{}` in string", at: braces, help: literalBraceHelp)
        } else {
            hole.newlinesIgnored = true
            do {
                let value = try hole.parseExpression()
                if hole.current.kind == .endOfFile {
                    expression = value
                } else {
                    hole.report("unexpected \(hole.currentDescription) in string hole", at: hole.current.span,
                                help: literalBraceHelp)
                }
            } catch {
                // The hole parser has recorded the diagnostic.
            }
        }
        for index in hole.diagnostics.indices.dropFirst(lexerDiagnosticCount) where hole.diagnostics[index].help == nil {
            hole.diagnostics[index].help = literalBraceHelp
        }
        diagnostics.append(contentsOf: hole.diagnostics)
        return expression
    }
}

// Declarations: use, model, type, prompt, index, guard, budget, pipeline; and type references.
// (`alert` and `notify` are in ParserAlerts.swift.)

extension SyntaxParser {
    // module = { declaration NEWLINE } EOF
    mutating func parseModule() -> [Decl] {
        var decls: [Decl] = []
        while current.kind != .endOfFile {
            let start = position
            itemStart = position
            do {
                decls.append(try parseDeclaration())
                try expectLineEnd(after: "the declaration")
            } catch let failure {
                skipToNextLine(from: start, after: failure)
            }
        }
        return decls
    }

    /// repl_input = { ( declaration | statement ) NEWLINE } EOF
    mutating func parseReplItems() -> (decls: [Decl], statements: [Stmt]) {
        var decls: [Decl] = [], statements: [Stmt] = []
        while current.kind != .endOfFile {
            let start = position
            itemStart = position
            do {
                if startsDeclaration {
                    decls.append(try parseDeclaration())
                    try expectLineEnd(after: "the declaration")
                } else {
                    let statement = try parseStatement()
                    statements.append(statement)
                    try expectLineEnd(after: statementDescription(statement))
                }
            } catch let failure {
                skipToNextLine(from: start, after: failure)
            }
        }
        return (decls, statements)
    }

    /// In REPL input: does the current item begin a declaration rather than a statement?
    private var startsDeclaration: Bool {
        switch current.kind {
        case .keyword(.use), .keyword(.model), .keyword(.type), .keyword(.prompt), .keyword(.index),
             .keyword(.pipeline), .keyword(.budget):
            return true
        case .identifier:
            return isMetricDeclaration || isAlertDeclaration || isNotifyDeclaration
        case .keyword(.guard):
            return peek(1).kind == .identifier && peek(2).kind == .leftBrace && !peek(2).isAtLineStart
        default:
            return false
        }
    }

    // declaration = use_decl | model_decl | type_decl | prompt_decl | index_decl
    //             | guard_decl | budget | pipeline_decl
    mutating func parseDeclaration() throws(ParseFailure) -> Decl {
        switch current.kind {
        case .keyword(.use): return .use(try parseUse())
        case .keyword(.model):
            let (name, fields, span) = try parseFieldDeclaration(what: "model")
            return .model(ModelDecl(name: name, fields: fields, span: span))
        case .keyword(.index):
            let (name, fields, span) = try parseFieldDeclaration(what: "index")
            return .index(IndexDecl(name: name, fields: fields, span: span))
        case .keyword(.type): return .type(try parseTypeDeclaration())
        case .keyword(.prompt): return .prompt(try parsePrompt())
        case .keyword(.guard): return .guardSet(try parseGuardDeclaration())
        case .keyword(.budget): return .budget(try parseBudget())
        case .keyword(.pipeline): return .pipeline(try parsePipeline())
        case .identifier where isMetricDeclaration: return .metric(try parseMetric())
        case .identifier where checkWord("expect"): return .expect(try parseExpect())
        case .identifier where isAlertDeclaration: return .alert(try parseAlert())
        case .identifier where isNotifyDeclaration: return .notify(try parseNotify())
        default:
            let keywords = Keyword.declarationKeywords.map(\.rawValue)
            var help: String?
            if current.kind == .identifier, let match = closestMatch(to: text(of: current), in: keywords) {
                help = "did you mean `\(match)`?"
            } else if case .keyword(let keyword) = current.kind, [.if, .for, .return, .validate, .score].contains(keyword) {
                help = "statements belong inside a `pipeline NAME() { … }`"
            } else if current.kind == .identifier, peek().kind == .assign {
                help = "statements belong inside a `pipeline NAME() { … }`"
            }
            throw expected("a declaration (\(keywords.joined(separator: ", ")))", help: help)
        }
    }

    /// Requires that the line ends here: a line break, a `}` or the end of the file.
    mutating func expectLineEnd(after what: String) throws(ParseFailure) {
        if current.kind == .endOfFile || current.kind == .rightBrace || !onCurrentLine { return }
        throw expected("end of line after \(what)")
    }

    /// Parses `{ item... }`, calling `item` for each item. Errors inside an item are
    /// recovered at the next line. A missing `}` is reported at the end of the file or at a
    /// declaration starting in column 1 (and, for statement blocks, at any line starting with
    /// a keyword that only begins declarations), and what was parsed is kept.
    mutating func parseBraced(opener: Token, what: String, isStatementBlock: Bool = false,
                              item: (inout SyntaxParser) throws(ParseFailure) -> Void) throws(ParseFailure) {
        try enterNesting()
        defer { leaveNesting() }
        try withNewlines(ignored: false) { (parser: inout SyntaxParser) throws(ParseFailure) in
            while true {
                if parser.current.kind == .rightBrace {
                    parser.advance()
                    return
                }
                if parser.current.kind == .endOfFile || parser.atDeclarationInFirstColumn
                    || (isStatementBlock && parser.current.isAtLineStart && parser.atDeclarationOnlyKeyword) {
                    _ = try? parser.expectClosing(.rightBrace, opener: opener, what: what)
                    return
                }
                let start = parser.position
                parser.itemStart = start
                do throws(ParseFailure) {
                    try item(&parser)
                } catch let failure {
                    parser.skipToNextLine(from: start, after: failure)
                }
            }
        }
    }

    /// Keywords that can only begin a declaration, never a statement.
    private var atDeclarationOnlyKeyword: Bool {
        switch current.kind {
        case .keyword(.use), .keyword(.model), .keyword(.type), .keyword(.prompt), .keyword(.index), .keyword(.pipeline): true
        default: false
        }
    }

    mutating func expectBodyOpener(after what: String) throws(ParseFailure) -> Token {
        guard check(.leftBrace) else { throw expected("`{` after \(what)") }
        return advance()
    }

    // use_decl = "use" ( module_path | STRING ) [ "." "{" name { "," name } [ "," ] "}" ]
    // module_path = word { "." word }
    private mutating func parseUse() throws(ParseFailure) -> UseDecl {
        let start = advance().span.start
        let target: UseDecl.Target
        if check(.string) {
            let token = advance()
            guard let path = token.plainStringText else {
                report("the path of a `use` cannot contain holes", at: token.span)
                throw ParseFailure()
            }
            target = .file(path, token.span)
        } else {
            var path = [try expectWord("a module path such as `std.models` or a file path string after `use`")]
            while check(.dot), peek().kind != .leftBrace {
                advance()
                path.append(try expectWord("a module name after `.`"))
            }
            target = .module(path)
        }
        var names: [Name]?
        if check(.dot) {
            advance()
            let opener = try expect(.leftBrace, "after `.` in `use` (to list the imported names)")
            names = try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> [Name] in
                var list: [Name] = []
                while parser.current.kind != .rightBrace {
                    list.append(try parser.expectName("a name to import"))
                    if !parser.accept(.comma) { break }
                }
                try parser.expectClosing(.rightBrace, opener: opener, what: "list of imported names")
                return list
            }
        }
        return UseDecl(target: target, names: names, span: spanFrom(start))
    }

    // model_decl = "model" name "{" { field } "}"
    // index_decl = "index" name "{" { field } "}"
    private mutating func parseFieldDeclaration(what: String) throws(ParseFailure) -> (Name, [Field], Span) {
        let start = advance().span.start
        let name = try expectName("a name for the \(what)")
        let opener = try expectBodyOpener(after: "the \(what) name")
        var fields: [Field] = []
        try parseBraced(opener: opener, what: "\(what) body") { (parser: inout SyntaxParser) throws(ParseFailure) in
            fields.append(try parser.parseField(key: try parser.expectWord("a field name")))
        }
        return (name, fields, spanFrom(start))
    }

    // field = word expression        (the value on the same line as the key)
    mutating func parseField(key: Name) throws(ParseFailure) -> Field {
        let value = try parseRequiredExpression("a value for `\(key.text)`")
        return Field(name: key, value: value, span: key.span.to(value.span))
    }

    // type_decl = "type" name ( "=" type | "{" { type_field } "}" )
    // type_field = word [ "?" ] ":" type [ "," ]
    private mutating func parseTypeDeclaration() throws(ParseFailure) -> TypeDecl {
        let start = advance().span.start
        let name = try expectName("a name for the type")
        if accept(.assign) {
            let aliased = try parseType()
            return TypeDecl(name: name, body: .alias(aliased), span: spanFrom(start))
        }
        guard check(.leftBrace) else {
            throw expected("`{` or `=` after the type name", help: "write `type \(name.text) { field: string }` or `type \(name.text) = \"a\" | \"b\"`")
        }
        let opener = advance()
        var fields: [TypeDecl.FieldDecl] = []
        try parseBraced(opener: opener, what: "type body") { (parser: inout SyntaxParser) throws(ParseFailure) in
            let fieldName = try parser.expectWord("a field name")
            let optional = parser.accept(.question)
            try parser.expect(.colon, "after the field name `\(fieldName.text)`")
            let type = try parser.parseType()
            fields.append(TypeDecl.FieldDecl(name: fieldName, type: type, optional: optional, span: fieldName.span.to(type.span)))
            parser.accept(.comma)
        }
        return TypeDecl(name: name, body: .record(fields), span: spanFrom(start))
    }

    // type = type_base { "?" }
    // type_base = name | "[" type "]" | STRING { "|" STRING }
    mutating func parseType() throws(ParseFailure) -> TypeRef {
        try enterNesting()
        defer { leaveNesting() }
        let start = current.span.start
        var type: TypeRef
        if check(.identifier) {
            type = .named(try expectName("a type"))
        } else if check(.leftBracket) {
            let opener = advance()
            let element = try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> TypeRef in
                let element = try parser.parseType()
                try parser.expectClosing(.rightBracket, opener: opener, what: "list type")
                return element
            }
            type = .list(element, spanFrom(start))
        } else if check(.string) {
            var cases: [String] = []
            repeat {
                guard check(.string) else { throw expected("a string for the enum case after `|`") }
                let token = advance()
                guard let value = token.plainStringText else {
                    report("an enum case cannot contain holes", at: token.span, help: "write `{{` for a literal brace")
                    throw ParseFailure()
                }
                cases.append(value)
            } while acceptOperator(.pipe)
            type = .enumeration(cases, spanFrom(start))
        } else {
            throw expected("a type (such as `string`, `[Doc]`, `number?` or `\"a\" | \"b\"`)")
        }
        // Each `?` wraps the type once more, so a run of them counts towards the nesting limit.
        var optionals = 0
        defer { depth -= optionals }
        while check(.question) {
            try enterNesting()
            optionals += 1
            advance()
            type = .optional(type, spanFrom(start))
        }
        return type
    }

    // params = "(" [ param { "," param } [ "," ] ] ")"
    // param = name [ ":" { "trusted" | "sensitive" } type ] [ "=" expression ]
    mutating func parseParams(opener: Token) throws(ParseFailure) -> [Param] {
        try withNewlines(ignored: true) { (parser: inout SyntaxParser) throws(ParseFailure) -> [Param] in
            var params: [Param] = []
            while parser.current.kind != .rightParen {
                let name = try parser.expectName("a parameter name")
                var type: TypeRef?
                var trusted = false, sensitive = false
                if parser.accept(.colon) {
                    // `trusted` and `sensitive` are modifiers only when a type follows them.
                    while parser.checkWord("trusted") || parser.checkWord("sensitive") {
                        let isTrusted = parser.checkWord("trusted")
                        switch parser.peek().kind {
                        case .identifier, .leftBracket, .string:
                            parser.advance()
                            if isTrusted { trusted = true } else { sensitive = true }
                            continue
                        default: break
                        }
                        break
                    }
                    type = try parser.parseType()
                }
                var defaultValue: Expr?
                if parser.accept(.assign) { defaultValue = try parser.parseExpression() }
                params.append(Param(name: name, type: type, trusted: trusted, sensitive: sensitive, defaultValue: defaultValue,
                                    span: parser.spanFrom(name.span.start)))
                if !parser.accept(.comma) { break }
            }
            try parser.expectClosing(.rightParen, opener: opener, what: "parameter list")
            return params
        }
    }

    // prompt_decl = "prompt" name [ params ] [ version ] "{" { prompt_item } "}"
    // version = identifier "v" digit { digit }, such as `v2`
    // prompt_item = role expression
    //             | "example" "{" { role expression } "}"
    //             | "history" expression
    //             | "returns" type
    //             | "meta" expression
    //             | field
    // role = "system" | "user" | "assistant"
    private mutating func parsePrompt() throws(ParseFailure) -> PromptDecl {
        let start = advance().span.start
        let name = try expectName("a name for the prompt")
        var params: [Param]?
        if check(.leftParen) { params = try parseParams(opener: advance()) }
        var version: Int?
        if check(.identifier) {
            let token = advance()
            let word = text(of: token)
            guard word.utf8.first == UInt8(ascii: "v"), let number = Int(word.dropFirst()), word.utf8.dropFirst().allSatisfy(\.isDigit) else {
                report("expected a version such as `v2` or `{`, found `\(word)`", at: token.span)
                throw ParseFailure()
            }
            version = number
        }
        let opener = try expectBodyOpener(after: "the prompt header")
        var messages: [PromptMessage] = [], examples: [[PromptMessage]] = [], fields: [Field] = []
        var returns: TypeRef?, meta: Expr?
        var returnsKey: Name?, metaKey: Name?
        try parseBraced(opener: opener, what: "prompt body") { (parser: inout SyntaxParser) throws(ParseFailure) in
            let key = try parser.expectWord("a prompt setting (model, temperature, max_tokens, stop, context, meta), a message (system, user, assistant), `example`, `history` or `returns`")
            if let role = Role(rawValue: key.text) {
                messages.append(try parser.parseMessage(role: role, key: key))
                return
            }
            switch key.text {
            case "example":
                let exampleOpener = try parser.expectBodyOpener(after: "`example`")
                var pair: [PromptMessage] = []
                try parser.parseBraced(opener: exampleOpener, what: "example") { (inner: inout SyntaxParser) throws(ParseFailure) in
                    let roleKey = try inner.expectWord("`user` or `assistant` in the example")
                    guard let role = Role(rawValue: roleKey.text), role != .system else {
                        inner.report("expected `user` or `assistant` in the example, found `\(roleKey.text)`", at: roleKey.span)
                        throw ParseFailure()
                    }
                    pair.append(try inner.parseMessage(role: role, key: roleKey))
                }
                examples.append(pair)
            case "history":
                let content = try parser.parseField(key: key).value
                messages.append(PromptMessage(role: .user, content: content, isHistory: true, span: key.span.to(content.span)))
            case "returns":
                if let previous = returnsKey { parser.reportDuplicate(key, previous: previous) }
                returnsKey = key
                returns = try parser.parseType()
            case "meta":
                if let previous = metaKey { parser.reportDuplicate(key, previous: previous) }
                metaKey = key
                meta = try parser.parseField(key: key).value
            default:
                fields.append(try parser.parseField(key: key))
            }
        }
        return PromptDecl(name: name, params: params, version: version, messages: messages, examples: examples,
                          returns: returns, meta: meta, fields: fields, span: spanFrom(start))
    }

    private mutating func parseMessage(role: Role, key: Name) throws(ParseFailure) -> PromptMessage {
        let content = try parseField(key: key).value
        return PromptMessage(role: role, content: content, span: key.span.to(content.span))
    }

    private mutating func reportDuplicate(_ key: Name, previous: Name) {
        report("`\(key.text)` is given twice", at: key.span,
               notes: [Diagnostic.Note("first given here", file: file, span: previous.span)])
    }

    // guard_decl = "guard" name "{" { guard_item } "}"
    // guard_item = "action" name | "pattern" name expression [ "replace" expression ] | field
    private mutating func parseGuardDeclaration() throws(ParseFailure) -> GuardDecl {
        let start = advance().span.start
        let name = try expectName("a name for the guard")
        let opener = try expectBodyOpener(after: "the guard name")
        var action: Name?
        var patterns: [GuardDecl.Pattern] = [], fields: [Field] = []
        try parseBraced(opener: opener, what: "guard body") { (parser: inout SyntaxParser) throws(ParseFailure) in
            let key = try parser.expectWord("`action`, `pattern` or a guard setting")
            switch key.text {
            case "action":
                if let previous = action { parser.reportDuplicate(key, previous: previous) }
                action = try parser.expectName("`block`, `redact` or `flag` after `action`")
            case "pattern":
                let patternName = try parser.expectName("a name for the pattern")
                let regex = try parser.parseField(key: patternName).value
                var replacement: Expr?
                if parser.checkWord("replace") {
                    let replaceKey = try parser.expectWord("`replace`")
                    replacement = try parser.parseField(key: replaceKey).value
                }
                patterns.append(GuardDecl.Pattern(name: patternName, regex: regex, replacement: replacement,
                                                  span: parser.spanFrom(key.span.start)))
            default:
                fields.append(try parser.parseField(key: key))
            }
        }
        return GuardDecl(name: name, action: action, patterns: patterns, fields: fields, span: spanFrom(start))
    }

    // budget = "budget" field { "," field }
    mutating func parseBudget() throws(ParseFailure) -> BudgetDecl {
        let start = advance().span.start
        var limits: [Field] = []
        repeat {
            limits.append(try parseField(key: try expectWord("a budget limit (`request`, `tokens`, `user_day`, `pipeline_day`, `day` or `session`)")))
        } while accept(.comma)
        return BudgetDecl(limits: limits, span: spanFrom(start))
    }

    // expect_decl = "expect" name "(" name { "." word } ")" ( ">=" | ">" | "<=" | "<" ) [ "-" ] NUMBER
    // `expect` is a contextual word, not a keyword: it begins a declaration only at the top level.
    private mutating func parseExpect() throws(ParseFailure) -> ExpectDecl {
        let start = advance().span.start
        let aggregate = try expectName("an aggregate (`mean` or `min`) after `expect`")
        try expect(.leftParen, "after `\(aggregate.text)` (as in `expect mean(exact) >= 0.9`)")
        // A score named with `as` reads `grounded.contains`.
        var score = try expectName("the name of a score")
        while accept(.dot) {
            let part = try expectWord("the metric's name after `.` (as in `grounded.contains`)")
            score = Name(score.text + "." + part.text, Span(score.span.start, part.span.end))
        }
        try expect(.rightParen, "after the score's name")
        let comparisons: [(TokenKind, ExpectDecl.Comparison)] = [
            (.greaterEqual, .atLeast), (.greater, .above), (.lessEqual, .atMost), (.less, .below),
        ]
        guard let comparison = comparisons.first(where: { check($0.0) })?.1 else {
            throw expected("a comparison (`>=`, `>`, `<=` or `<`)")
        }
        advance()
        let negative = accept(.minus)
        guard check(.number) else { throw expected("a number to compare the \(aggregate.text) with") }
        let bound = advance().numberValue
        let decl = ExpectDecl(aggregate: aggregate, score: score, comparison: comparison, bound: negative ? -bound : bound, span: spanFrom(start))
        try expectLineEnd(after: "the expectation")
        return decl
    }

    // pipeline_decl = "pipeline" name params [ "->" type ] block
    /// `metric` is a word, not a keyword (scripts name values `metric`): it starts a declaration
    /// when a name and `(` follow on the same line.
    private var isMetricDeclaration: Bool {
        text(of: current) == "metric" && peek(1).kind == .identifier && !peek(1).isAtLineStart
            && peek(2).kind == .leftParen && !peek(2).isAtLineStart
    }

    // metric_decl = "metric" name params ( "=" expression | "judge" expression )
    private mutating func parseMetric() throws(ParseFailure) -> MetricDecl {
        let keyword = advance()
        let start = keyword.span.start
        let name = try expectName("a name for the metric")
        let paramsOpener = try expect(.leftParen, "after the metric name (a metric declares its parameters, even `()`)")
        let params = try parseParams(opener: paramsOpener)
        let body: MetricDecl.Body
        if accept(.assign) {
            body = .expression(try parseRequiredExpression("an expression over `it` after `=` (as in `= it.confidence`)"))
        } else if checkWord("judge") {
            advance()
            body = .judge(try parseRequiredExpression("a call of the judge prompt after `judge`"))
        } else {
            throw expected("`=` and an expression, or `judge` and a prompt call, after the metric's parameters")
        }
        // `it` binds where the declaration starts: the word `metric`.
        return MetricDecl(name: name, params: params, body: body, itName: Name("it", keyword.span), span: spanFrom(start))
    }

    private mutating func parsePipeline() throws(ParseFailure) -> PipelineDecl {
        let start = advance().span.start
        let name = try expectName("a name for the pipeline")
        let paramsOpener = try expect(.leftParen, "after the pipeline name (a pipeline declares its parameters, even `()`)")
        let params = try parseParams(opener: paramsOpener)
        var returnType: TypeRef?
        if accept(.arrow) { returnType = try parseType() }
        let body = try parseBlock(after: "the pipeline header")
        return PipelineDecl(name: name, params: params, returnType: returnType, body: body, span: spanFrom(start))
    }
}

// Pipeline statements.

extension SyntaxParser {
    // block = "{" { statement NEWLINE } "}"
    mutating func parseBlock(after what: String) throws(ParseFailure) -> Block {
        let opener = try expectBodyOpener(after: what)
        var statements: [Stmt] = []
        try parseBraced(opener: opener, what: "block", isStatementBlock: true) { (parser: inout SyntaxParser) throws(ParseFailure) in
            let statement = try parser.parseStatement()
            statements.append(statement)
            try parser.expectLineEnd(after: parser.statementDescription(statement))
        }
        return Block(statements: statements, span: spanFrom(opener.span.start))
    }

    // statement = if_stmt | for_stmt | return_stmt | guard_stmt | validate_stmt | score_stmt
    //           | budget | session_stmt | assignment | expression
    mutating func parseStatement() throws(ParseFailure) -> Stmt {
        let start = current.span.start
        switch current.kind {
        case .keyword(.if): return try parseIf()
        case .keyword(.for): return try parseFor()
        case .keyword(.return): return try parseReturn()
        case .keyword(.guard): return try parseGuardStatement()
        case .keyword(.validate): return try parseValidate()
        case .keyword(.score): return try parseScore()
        case .keyword(.budget):
            let budget = try parseBudget()
            return Stmt(.budget(budget), span: budget.span)
        case .keyword(.else):
            report("`else` without a matching `if`", at: current.span,
                   help: "`else` follows the `}` of an `if` block")
            throw ParseFailure()
        case .identifier where peek().kind == .assign && !peek().isAtLineStart:
            return try parseAssignment()
        case .identifier where text(of: current) == "session" && peek().kind == .identifier && !peek().isAtLineStart:
            return try parseSession()
        case .identifier where text(of: current) == "parallel" && !peek().isAtLineStart
                && (peek().kind == .leftBrace || ["limit", "on_failure"].contains(text(of: peek()))):
            return try parseParallel()
        default:
            let expression = try parseExpression()
            if check(.assign) {
                report("only a name can be assigned to", at: expression.span,
                       help: "bind the value to a new name: `name = …`")
                throw ParseFailure()
            }
            return Stmt(.expression(expression), span: spanFrom(start))
        }
    }

    func statementDescription(_ statement: Stmt) -> String {
        switch statement.kind {
        case .assign: "the assignment"
        case .guardStage: "the `guard` statement"
        case .validate: "the `validate` statement"
        case .score: "the `score` statement"
        case .ifElse: "the `if` statement"
        case .forIn: "the `for` loop"
        case .returnValue: "the `return` statement"
        case .budget: "the `budget` statement"
        case .session: "the `session` statement"
        case .parallel: "a `parallel` block"
        case .expression: "the expression"
        }
    }

    // parallel_stmt = "parallel" parallel_settings block
    private mutating func parseParallel() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        let settings = try parseParallelSettings()
        let body = try parseBlock(after: "`parallel`")
        return Stmt(.parallel(settings, body), span: spanFrom(start))
    }

    // parallel_settings = [ "limit" expression ] [ "on_failure" name ]
    mutating func parseParallelSettings() throws(ParseFailure) -> ParallelSettings {
        var settings = ParallelSettings()
        while onCurrentLine, current.kind == .identifier {
            switch text(of: current) {
            case "limit" where settings.limit == nil:
                advance()
                settings.limit = try parseRequiredExpression("the most branches at once after `limit`", beforeBlock: true)
            case "on_failure" where settings.onFailure == nil:
                advance()
                settings.onFailure = try expectName("`cancel` or `finish` after `on_failure`")
            default:
                return settings
            }
        }
        return settings
    }

    // session_stmt = "session" name [ "with" field { "," field } ]
    private mutating func parseSession() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        let name = try expectName("a name for the conversation history")
        var settings: [Field] = []
        if current.kind == .keyword(.with) {
            advance()
            repeat {
                settings.append(try parseField(key: try expectWord("a session setting (keep, max_tokens, summarize_every, summarize_over, model, user)")))
            } while accept(.comma)
        }
        return Stmt(.session(name, settings), span: spanFrom(start))
    }

    // assignment = name "=" expression
    private mutating func parseAssignment() throws(ParseFailure) -> Stmt {
        let name = try expectName("a name")
        advance()
        let value = try parseRequiredExpression("a value after `=`")
        return Stmt(.assign(name, value), span: name.span.to(value.span))
    }

    // if_stmt = "if" expression block { "else" "if" expression block } [ "else" block ]
    private mutating func parseIf() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        var branches: [(condition: Expr, body: Block)] = []
        var elseBody: Block?
        let condition = try parseRequiredExpression("a condition after `if`", beforeBlock: true)
        branches.append((condition, try parseBlock(after: "the `if` condition")))
        while current.kind == .keyword(.else) {
            advance()
            if check(.if) {
                advance()
                let condition = try parseRequiredExpression("a condition after `else if`", beforeBlock: true)
                branches.append((condition, try parseBlock(after: "the `else if` condition")))
            } else {
                elseBody = try parseBlock(after: "`else`")
                break
            }
        }
        return Stmt(.ifElse(branches, elseBody: elseBody), span: spanFrom(start))
    }

    /// An expression that must start on the current line, described as `description` if missing.
    /// Before a block (`if`, `for`), a `{` means the expression is missing rather than a record.
    mutating func parseRequiredExpression(_ description: String, beforeBlock: Bool = false) throws(ParseFailure) -> Expr {
        guard onCurrentLine, !(beforeBlock && current.kind == .leftBrace), current.kind != .rightBrace,
              current.kind != .endOfFile else {
            throw expected(description)
        }
        return try parseExpression()
    }

    // for_stmt = "for" name "in" expression block
    private mutating func parseFor() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        let variable = try expectName("a loop variable after `for`")
        try expect(.keyword(.in), "after the loop variable")
        let sequence = try parseRequiredExpression("a sequence after `in`", beforeBlock: true)
        let body = try parseBlock(after: "the sequence of the `for` loop")
        return Stmt(.forIn(variable, sequence, body), span: spanFrom(start))
    }

    // return_stmt = "return" [ expression ]
    private mutating func parseReturn() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        var value: Expr?
        if onCurrentLine, current.kind != .rightBrace, current.kind != .endOfFile {
            value = try parseExpression()
        }
        return Stmt(.returnValue(value), span: spanFrom(start))
    }

    // guard_stmt = "guard" expression "with" stage_use { "," stage_use }
    private mutating func parseGuardStatement() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        let subject = try parseRequiredExpression("a value to guard after `guard`")
        try expect(.keyword(.with), "after the guarded value (as in `guard question with injection`)")
        let guards = try parseStageUses(what: "a guard name")
        return Stmt(.guardStage(subject, guards), span: spanFrom(start))
    }

    // score_stmt = "score" expression [ "as" name ] "with" stage_use { "," stage_use }
    private mutating func parseScore() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        let subject = try parseRequiredExpression("a value to score after `score`")
        var scoreName: Name?
        if checkWord("as") {
            advance()
            scoreName = try expectName("a name for the scores after `as` (as in `score reply as grounded with …`)")
        }
        try expect(.keyword(.with), "after the scored value (as in `score reply with contains(\"x\")`)")
        let metrics = try parseStageUses(what: "a metric name")
        var sample: ScoreSample?
        if checkWord("sample") {
            let sampleStart = advance().span.start
            guard check(.number) else {
                report("expected a percentage after `sample`, as in `sample 10%`", at: current.span)
                throw ParseFailure()
            }
            let percent = advance().numberValue
            _ = try expect(.percent, "after the share of runs to score (as in `sample 10%`)")
            let span = spanFrom(sampleStart)
            guard percent > 0, percent <= 100 else {
                report("`sample` takes a percentage above 0 and at most 100", at: span)
                throw ParseFailure()
            }
            sample = ScoreSample(fraction: percent / 100, span: span)
        }
        return Stmt(.score(subject, metrics, as: scoreName, sample: sample), span: spanFrom(start))
    }

    // stage_use = name [ arguments ] [ "when" expression ]
    private mutating func parseStageUses(what: String) throws(ParseFailure) -> [StageUse] {
        var uses: [StageUse] = []
        repeat {
            let name = try expectName(what)
            var arguments: [Argument] = []
            if check(.leftParen) { arguments = try parseArguments(opener: advance()) }
            var condition: Expr?
            if check(.when) {
                advance()
                condition = try parseRequiredExpression("a condition after `when`")
            }
            uses.append(StageUse(name: name, args: arguments, condition: condition, span: spanFrom(name.span.start)))
        } while accept(.comma)
        return uses
    }

    // validate_stmt = "validate" name [ "as" type | "against" schema_file ] [ "retries" expression [ "using" name ] ]
    private mutating func parseValidate() throws(ParseFailure) -> Stmt {
        let start = advance().span.start
        let name = try expectName("the name of the value to validate")
        var type: ValidationTarget?
        if checkWord("as") {
            advance()
            type = .type(try parseType())
        } else if checkWord("against") {
            advance()
            type = .schema(try parseSchemaFile())
        }
        var retries: Expr?
        if checkWord("retries") {
            advance()
            retries = try parseRequiredExpression("a number of retries after `retries`")
        }
        var retryModel: Name?
        if check(.using) {
            if retries == nil {
                report("`using` names the model that answers the retries, so it follows `retries N`", at: current.span,
                       help: "write `validate \(name.text) retries 1 using MODEL`")
                throw ParseFailure()
            }
            advance()
            retryModel = try expectName("the model that answers the retries after `using`")
        }
        return Stmt(.validate(name, type, retries: retries, using: retryModel), span: spanFrom(start))
    }

    // schema_file = "schema" "(" STRING [ "," "formats" ":" ( "true" | "false" ) ] ")"
    private mutating func parseSchemaFile() throws(ParseFailure) -> SchemaFileRef {
        guard checkWord("schema") else {
            report("expected `schema(\"FILE.json\")` after `against`", at: current.span,
                   help: "write `validate NAME against schema(\"schemas/order.json\")`, or `validate NAME as TYPE`")
            throw ParseFailure()
        }
        let start = advance().span.start
        _ = try expect(.leftParen, "`(` after `schema`")
        guard check(.string) else {
            report("expected the path of a JSON Schema file, as a string", at: current.span,
                   help: "write `schema(\"schemas/order.json\")`; the path is relative to the script")
            throw ParseFailure()
        }
        let pathToken = advance()
        guard let path = pathToken.plainStringText else {
            report("the path of a schema cannot contain holes: the checker reads the file before anything runs", at: pathToken.span)
            throw ParseFailure()
        }
        var assertFormats = false
        if accept(.comma) {
            guard checkWord("formats") else {
                report("`schema` takes the file and, optionally, `formats: true`", at: current.span,
                       help: "`formats: true` makes `format` (date-time, email, uri, …) an assertion")
                throw ParseFailure()
            }
            advance()
            _ = try expect(.colon, "`:` after `formats`")
            if accept(.keyword(.true)) {
                assertFormats = true
            } else if !accept(.keyword(.false)) {
                report("`formats` is `true` or `false`", at: current.span)
                throw ParseFailure()
            }
        }
        _ = try expect(.rightParen, "`)` to close `schema(`")
        return SchemaFileRef(path: path, pathSpan: pathToken.span, assertFormats: assertFormats, span: spanFrom(start))
    }
}

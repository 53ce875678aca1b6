// alert_decl  = "alert" name "when" ( name | "budget" word ) comparison quantity [ "over" quantity ]
// notify_decl = "notify" ( name | STRING )
// quantity    = MONEY | NUMBER [ "%" ] | DURATION
// `alert`, `over` and `notify` are contextual words: they begin a declaration (or a part
// of one) only where the grammar expects them, and stay usable as names.

extension SyntaxParser {
    /// `alert` followed, on the same line, by a name: an alert declaration.
    var isAlertDeclaration: Bool {
        text(of: current) == "alert" && peek(1).kind == .identifier && !peek(1).isAtLineStart
    }

    /// `notify` followed, on the same line, by a name or a string.
    var isNotifyDeclaration: Bool {
        text(of: current) == "notify" && (peek(1).kind == .identifier || peek(1).kind == .string) && !peek(1).isAtLineStart
    }

    mutating func parseAlert() throws(ParseFailure) -> AlertDecl {
        let start = advance().span.start
        let name = try expectName("a name for the alert")
        guard check(.when) else {
            throw expected("`when` and a condition after the alert's name (as in `alert failing when error_rate > 5% over 10m`)")
        }
        advance()
        let subject: AlertDecl.Subject
        if check(.keyword(.budget)) {
            let keyword = advance().span
            subject = .budget(keyword: keyword, limit: try expectWord("the name of a budget limit after `budget` (as in `budget user_day > 80%`)"))
        } else {
            subject = .metric(try expectName("a metric (such as `error_rate`, `p95_latency` or `request_cost`) or `budget LIMIT` after `when`"))
        }
        let comparisons: [(TokenKind, ExpectDecl.Comparison)] = [
            (.greaterEqual, .atLeast), (.greater, .above), (.lessEqual, .atMost), (.less, .below),
        ]
        guard onCurrentLine, let comparison = comparisons.first(where: { check($0.0) })?.1 else {
            throw expected("a comparison (`>`, `>=`, `<` or `<=`)")
        }
        advance()
        let threshold = try parseQuantity("a threshold (`$0.50`, `5%`, `2s` or a number) after `\(comparison.rawValue)`")
        var window: Quantity?
        if onCurrentLine, checkWord("over") {
            advance()
            window = try parseQuantity("a window such as `10m` or `1h` after `over`")
        }
        let decl = AlertDecl(name: name, subject: subject, comparison: comparison, threshold: threshold, window: window, span: spanFrom(start))
        try expectLineEnd(after: "the alert")
        return decl
    }

    mutating func parseNotify() throws(ParseFailure) -> NotifyDecl {
        let start = advance().span.start
        let target: NotifyDecl.Target
        if check(.string) {
            let token = advance()
            guard let url = token.plainStringText else {
                report("the webhook URL of `notify` cannot contain holes", at: token.span)
                throw ParseFailure()
            }
            target = .webhook(url, token.span)
        } else {
            target = .named(try expectName("`stderr` or a webhook URL string after `notify`"))
        }
        let decl = NotifyDecl(target: target, span: spanFrom(start))
        try expectLineEnd(after: "`notify`")
        return decl
    }

    /// A number with its unit: money, a percentage (a number and an adjacent `%`), a duration, or
    /// a plain number.
    private mutating func parseQuantity(_ what: String) throws(ParseFailure) -> Quantity {
        guard onCurrentLine else { throw expected(what) }
        let token = current
        switch token.kind {
        case .money:
            advance()
            return Quantity(value: token.numberValue, unit: .money, text: text(of: token), span: token.span)
        case .duration:
            advance()
            return Quantity(value: token.numberValue, unit: .seconds, text: text(of: token), span: token.span)
        case .number:
            advance()
            if check(.percent) {
                guard current.span.start == token.span.end else {
                    report("a percentage is written with `%` right after the number", at: Span(token.span.start, current.span.end),
                           help: "write `\(text(of: token))%`")
                    throw ParseFailure()
                }
                let percent = advance()
                let span = Span(token.span.start, percent.span.end)
                return Quantity(value: token.numberValue, unit: .percent, text: text(of: token) + "%", span: span)
            }
            return Quantity(value: token.numberValue, unit: .number, text: text(of: token), span: token.span)
        default:
            throw expected(what)
        }
    }
}

import SluiceSyntax

/// The kinds of value the runtime tells apart when it applies an operator.
enum ValueKind: CaseIterable {
    case number, money, string, bool, null, list, record, reply
}

/// The kinds a value of a static type can have at run time. For `T?` only those of `T`: an
/// operator that fails on every `T` fails whenever the value is there.
func kinds(_ type: SluiceType) -> Set<ValueKind> {
    switch type {
    case .number, .int: [.number]
    case .money: [.money]
    case .string, .enumeration: [.string]
    case .bool: [.bool]
    case .null: [.null]
    case .list: [.list]
    case .record: [.record]
    case .reply: [.reply]
    case .any: Set(ValueKind.allCases)
    case .optional(let inner): kinds(inner)
    }
}

/// The runtime's operator table: whether `op` applies to values of kinds `a` and `b`.
func operatorApplies(_ op: BinaryOp, _ a: ValueKind, _ b: ValueKind) -> Bool {
    switch op {
    case .add:
        return (a, b) == (.number, .number) || (a, b) == (.money, .money) || a == .string || b == .string || (a, b) == (.list, .list)
    case .subtract:
        return (a, b) == (.number, .number) || (a, b) == (.money, .number) || (a, b) == (.money, .money)
    case .multiply:
        return (a, b) == (.number, .number) || (a, b) == (.money, .number) || (a, b) == (.number, .money)
    case .divide:
        return (a, b) == (.number, .number) || (a, b) == (.money, .number) || (a, b) == (.money, .money)
    case .remainder:
        return (a, b) == (.number, .number) || (a, b) == (.money, .number)
    case .less, .lessEqual, .greater, .greaterEqual:
        // An absent value satisfies no comparison: false, not an error.
        return (a, b) == (.number, .number) || (a, b) == (.money, .money) || (a, b) == (.string, .string) || a == .null || b == .null
    case .equal, .notEqual, .and, .or, .coalesce:
        return true
    }
}

extension BodyChecker {
    // MARK: Operators

    func binary(_ op: BinaryOp, _ l: Facts, _ r: Facts, _ expr: Expr, _ left: Expr, _ right: Expr) -> Facts {
        switch op {
        case .and, .or:
            // The value of `a and b` is one of its operands.
            return .combining([l, r], into: l.type == .bool && r.type == .bool ? .bool : .any)
        case .coalesce:
            return .combining([l, r], into: SluiceType.join(l.type.nonOptional, r.type))
        case .equal, .notEqual:
            checkEnumComparison(op, l, r, left, right)
            return Facts(.bool)
        default: break
        }
        let lk = kinds(l.type), rk = kinds(r.type)
        guard lk.contains(where: { a in rk.contains { b in operatorApplies(op, a, b) } }) else {
            error("cannot apply `\(op.rawValue)` to \(describe(l.type)) and \(describe(r.type))", at: expr.span,
                  help: operatorHelp(op, l.type, r.type, left, right))
            return .unknown
        }
        switch op {
        case .less, .lessEqual, .greater, .greaterEqual:
            return Facts(.bool)
        case .add:
            let type: SluiceType
            if lk == [.string] || rk == [.string] {
                type = .string
            } else if lk.count == 1 && rk.count == 1 {
                if case .list(let a) = l.type.nonOptional, case .list(let b) = r.type.nonOptional {
                    type = .list(SluiceType.join(a, b))
                } else {
                    type = arithmetic(op, l.type, r.type)
                }
            } else {
                type = .any
            }
            return .combining([l, r], into: type)
        default:
            // Numbers and money: no text.
            return lk.count == 1 && rk.count == 1 ? Facts(arithmetic(op, l.type, r.type)) : Facts(.any, .trusted)
        }
    }

    private func arithmetic(_ op: BinaryOp, _ l: SluiceType, _ r: SluiceType) -> SluiceType {
        let lm = l.nonOptional == .money, rm = r.nonOptional == .money
        if lm && rm { return op == .divide ? .number : .money }
        if lm || rm { return .money }
        if l.nonOptional == .int && r.nonOptional == .int && op != .divide { return .int }
        return .number
    }

    private func operatorHelp(_ op: BinaryOp, _ l: SluiceType, _ r: SluiceType, _ left: Expr, _ right: Expr) -> String? {
        let lk = kinds(l), rk = kinds(r)
        if lk == [.reply] || rk == [.reply] {
            let reply = lk == [.reply] ? l : r
            if case .reply(let inner?) = reply {
                return "validate the reply first (`validate NAME`): then it is a `\(inner)`"
            }
            return "a reply is not a string: turn it into one first, with `| str`"
        }
        let moneyAndNumber = (lk == [.money] && rk == [.number]) || (lk == [.number] && rk == [.money])
        guard moneyAndNumber else { return nil }
        let number = lk == [.number] ? left : right
        if literalNumber(number) != nil, case .number = number.kind {
            return "money and plain numbers do not mix here: write the amount as money, `$\(mc.file.slice(number.span))`"
        }
        return "money and plain numbers do not mix here: write amounts as money, like `$0.05`"
    }

    /// `x == "literal"` where `x` is an enum and the literal is none of its cases.
    private func checkEnumComparison(_ op: BinaryOp, _ l: Facts, _ r: Facts, _ left: Expr, _ right: Expr) {
        func cases(_ type: SluiceType) -> [String]? {
            switch type {
            case .enumeration(let cases): cases
            case .optional(let inner), .reply(let inner?): cases(inner)
            default: nil
            }
        }
        for (side, literal) in [(l, right), (r, left)] {
            guard let cases = cases(side.type), let text = literalString(literal), !cases.contains(text) else { continue }
            let written = JSONValue.string(text).serialized()
            let always = op == .equal ? "false" : "true"
            error("\(written) is not a case of `\(SluiceType.enumeration(cases))`, so this comparison is always \(always)",
                  at: literal.span,
                  help: suggestion(text, cases)?.replacingOccurrencesOfBackticks()
                    ?? "the cases are " + cases.map { JSONValue.string($0).serialized() }.joined(separator: ", "))
            return
        }
    }
}

import SluiceSemantics
import SluiceSyntax

extension Interpreter {
    func applyUnary(_ op: UnaryOp, _ value: Value, _ span: Span, _ file: SourceFile) throws -> Value {
        switch (op, value) {
        case (.not, _): return .bool(!value.isTruthy)
        case (.negate, .number(let n)): return .number(-n)
        case (.negate, .money(let m)): return .money(-m)
        default: throw RuntimeError(.script, "cannot negate a \(value.typeName)", file: file, span: span)
        }
    }

    func applyBinary(_ op: BinaryOp, _ left: Value, _ right: Value, _ span: Span, _ file: SourceFile) throws -> Value {
        func mismatch() -> RuntimeError {
            RuntimeError(.script, "cannot apply `\(op.rawValue)` to \(left.typeName) and \(right.typeName)", file: file, span: span)
        }
        switch op {
        case .equal: return .bool(valuesEqual(left, right))
        case .notEqual: return .bool(!valuesEqual(left, right))
        case .less, .lessEqual, .greater, .greaterEqual:
            let ordering: Int
            switch (left, right) {
            case let (.number(a), .number(b)), let (.money(a), .money(b)): ordering = a < b ? -1 : (a > b ? 1 : 0)
            case let (.string(a, _), .string(b, _)): ordering = a < b ? -1 : (a > b ? 1 : 0)
            case (.null, _), (_, .null): return .bool(false)   // an absent value satisfies no comparison
            default: throw mismatch()
            }
            switch op {
            case .less: return .bool(ordering < 0)
            case .lessEqual: return .bool(ordering <= 0)
            case .greater: return .bool(ordering > 0)
            default: return .bool(ordering >= 0)
            }
        case .add:
            switch (left, right) {
            case let (.number(a), .number(b)): return .number(a + b)
            case let (.money(a), .money(b)): return .money(a + b)
            case let (.string(a, ta), .string(b, tb)): return .string(a + b, ta.combined(with: tb))
            case let (.string(a, ta), other): return .string(a + other.text, ta.combined(with: other.trust))
            case let (other, .string(b, tb)): return .string(other.text + b, tb.combined(with: other.trust))
            case let (.list(a), .list(b)): return .list(a + b)
            default: throw mismatch()
            }
        case .subtract, .multiply, .divide, .remainder:
            switch (left, right) {
            case let (.number(a), .number(b)): return .number(try arithmetic(op, a, b, span, file))
            case let (.money(a), .number(b)): return .money(try arithmetic(op, a, b, span, file))
            case let (.number(a), .money(b)) where op == .multiply: return .money(a * b)
            case let (.money(a), .money(b)) where op == .subtract: return .money(a - b)
            case let (.money(a), .money(b)) where op == .divide: return .number(try arithmetic(op, a, b, span, file))
            default: throw mismatch()
            }
        case .and, .or, .coalesce:
            // Short-circuiting operators are evaluated in `eval`.
            throw mismatch()
        }
    }

    private func arithmetic(_ op: BinaryOp, _ a: Double, _ b: Double, _ span: Span, _ file: SourceFile) throws -> Double {
        switch op {
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide, .remainder:
            guard b != 0 else { throw RuntimeError(.script, "division by zero", file: file, span: span) }
            return op == .divide ? a / b : a.truncatingRemainder(dividingBy: b)
        default: return a + b
        }
    }

    /// Evaluates a declaration field: literals and arithmetic on them, no names.
    func constant(_ expr: Expr, file: SourceFile) throws -> Value {
        switch expr.kind {
        case .number(let n): return .number(n)
        case .money(let m): return .money(m)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .name(let n): return .text(n)   // bare words such as `redact` or a model name
        case .string(let parts):
            var text = ""
            for part in parts {
                guard case .text(let s) = part else {
                    throw RuntimeError(.script, "a declaration's string cannot have holes", file: file, span: expr.span)
                }
                text += s
            }
            return .text(text)
        case .list(let items): return .list(try items.map { try constant($0, file: file) })
        case .record(let members): return .record(try members.map { ($0.name.text, try constant($0.value, file: file)) })
        case .unary(let op, let operand): return try applyUnary(op, try constant(operand, file: file), expr.span, file)
        case .binary(let op, let lhs, let rhs):
            return try applyBinary(op, try constant(lhs, file: file), try constant(rhs, file: file), expr.span, file)
        default:
            throw RuntimeError(.script, "a declaration's value must be a literal", file: file, span: expr.span)
        }
    }
}

func valuesEqual(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.null, .null): true
    case let (.bool(x), .bool(y)): x == y
    case let (.number(x), .number(y)), let (.money(x), .money(y)): x == y
    case let (.string(x, _), .string(y, _)): x == y
    case (.reply, _), (_, .reply): a.json == b.json
    case let (.list(x), .list(y)): x.count == y.count && zip(x, y).allSatisfy { valuesEqual($0, $1) }
    case (.record, .record): a.json == b.json
    default: false
    }
}

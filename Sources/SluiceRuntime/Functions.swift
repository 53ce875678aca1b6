import Foundation
import SluiceSemantics
import SluiceSyntax

extension Interpreter {
    /// Built-in functions and filters. `x | f(a)` arrives here as `f(x, a)`.
    func callBuiltin(_ name: String, _ args: [Value], span: Span, file: SourceFile) throws -> Value {
        func fail(_ message: String) -> RuntimeError { RuntimeError(.script, "`\(name)`: \(message)", file: file, span: span) }
        func arity(_ range: ClosedRange<Int>) throws {
            guard range.contains(args.count) else {
                let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
                throw fail("takes \(expected) argument\(range.upperBound == 1 ? "" : "s"), got \(args.count)")
            }
        }
        func mapText(_ transform: (String) -> String) throws -> Value {
            try arity(1...1)
            return .string(transform(args[0].text), args[0].trust)
        }
        func whole(_ value: Value) throws -> Int {
            guard case .number(let n) = value, n == n.rounded(), n >= 0 else { throw fail("needs a whole number, got \(value.typeName)") }
            return Int(n)
        }
        switch name {
        case "len":
            try arity(1...1)
            switch args[0] {
            case .string(let s, _): return .number(Double(s.count))
            case .list(let items): return .number(Double(items.count))
            case .record(let members): return .number(Double(members.count))
            case .null: return .number(0)
            case let other: return .number(Double(other.text.count))
            }
        case "upper": return try mapText { $0.uppercased() }
        case "lower": return try mapText { $0.lowercased() }
        case "trim": return try mapText { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        case "text", "str": return try mapText { $0 }
        case "join":
            try arity(1...2)
            let separator = args.count > 1 ? args[1].text : "\n"
            return .string(items(args[0]).map(\.text).joined(separator: separator), args[0].trust)
        case "numbered":
            try arity(1...1)
            let lines = items(args[0]).enumerated().map { i, item in
                if let source = item.member("source"), item.member("text") != nil { "[\(i + 1)] (\(source.text)) \(item.text)" }
                else { "\(i + 1). \(item.text)" }
            }
            return .string(lines.joined(separator: "\n"), args[0].trust)
        case "fenced":
            try arity(1...1)
            return .string(fence(args[0].text), args[0].trust == .trusted ? .trusted : .fenced)
        case "json":
            try arity(1...1)
            return .string(args[0].json.serialized(), args[0].trust == .trusted ? .trusted : .fenced)
        case "trusted":
            try arity(1...1)
            return args[0].withTrust(.trusted)
        case "lines":
            try arity(1...1)
            let trust = args[0].trust
            return .list(args[0].text.split(separator: "\n", omittingEmptySubsequences: false).map { .string(String($0), trust) })
        case "first", "last":
            try arity(1...1)
            let list = items(args[0])
            return (name == "first" ? list.first : list.last) ?? .null
        case "num":
            try arity(1...1)
            if case .number = args[0] { return args[0] }
            guard let n = Double(args[0].text.trimmingCharacters(in: .whitespaces)) else { throw fail("\"\(args[0].text)\" is not a number") }
            return .number(n)
        case "contains":
            try arity(2...2)
            if case .list(let list) = args[0] { return .bool(list.contains { valuesEqual($0, args[1]) }) }
            return .bool(args[0].text.contains(args[1].text))
        case "keys":
            try arity(1...1)
            // Keys come from the data: they are as trusted as the record is (a reply's, not at all).
            guard case .record(let members) = args[0] else {
                if case .reply(let r) = args[0], case .object(let o)? = r.json { return .list(o.map { .string($0.key, .untrusted) }) }
                throw fail("needs a record, got \(args[0].typeName)")
            }
            let trust = args[0].trust
            return .list(members.map { .string($0.key, trust) })
        case "default":
            try arity(2...2)
            if case .null = args[0] { return args[1] }
            return args[0]
        case "truncate":
            try arity(2...2)
            let n = try whole(args[1])
            return .string(String(args[0].text.prefix(n)), args[0].trust)
        default:
            throw RuntimeError(.script, "unknown function `\(name)`", file: file, span: span,
                               help: closestMatch(to: name, in: Builtins.functions.keys).map { "did you mean `\($0)`?" })
        }
    }

    private func items(_ value: Value) -> [Value] {
        switch value {
        case .list(let items): items
        case .null: []
        default: [value]
        }
    }

    /// Built-in metrics, each a number in 0...1.
    func metric(_ name: String, _ value: Value, _ args: [Value], span: Span, file: SourceFile) throws -> Double {
        func fail(_ message: String) -> RuntimeError { RuntimeError(.script, "metric `\(name)`: \(message)", file: file, span: span) }
        let text = value.text
        switch name {
        case "exact":
            guard args.count == 1 else { throw fail("takes the expected text") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines) == args[0].text.trimmingCharacters(in: .whitespacesAndNewlines) ? 1 : 0
        case "contains":
            guard args.count == 1 else { throw fail("takes the text to look for") }
            return text.contains(args[0].text) ? 1 : 0
        case "regex":
            guard args.count == 1 else { throw fail("takes a regular expression") }
            guard let regex = try? NSRegularExpression(pattern: args[0].text) else { throw fail("`\(args[0].text)` is not a valid regular expression") }
            return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil ? 0 : 1
        case "json_valid":
            guard args.isEmpty else { throw fail("takes no arguments") }
            if case .reply(let r) = value { return parseReplyJSON(r.text) == nil ? 0 : 1 }
            if case .string(let s, _) = value { return parseReplyJSON(s) == nil ? 0 : 1 }
            return 1
        case "length":
            guard (1...2).contains(args.count), case .number(let low) = args[0] else { throw fail("takes a minimum and an optional maximum length") }
            var high = Double.infinity
            if args.count == 2 {
                guard case .number(let h) = args[1] else { throw fail("the maximum must be a number") }
                high = h
            }
            let length = Double(text.count)
            return length >= low && length <= high ? 1 : 0
        default:
            throw RuntimeError(.script, "unknown metric `\(name)`", file: file, span: span,
                               help: closestMatch(to: name, in: Builtins.metrics.keys).map { "did you mean `\($0)`?" })
        }
    }
}

import SluiceSyntax

/// The one table of built-in functions, filters and metrics, shared by the checker and the
/// interpreter so that both agree on names and arities.
public enum Builtins {
    /// Built-in functions and filters with the number of arguments they take, counting the
    /// piped value: `x | join(", ")` is `join(x, ", ")`, two arguments.
    public static let functions: [String: ClosedRange<Int>] = [
        "flagged": 0...1,     // whether guard `G` (any guard without one) with action `flag` matched so far
        "len": 1...1,
        "upper": 1...1,
        "lower": 1...1,
        "trim": 1...1,
        "join": 1...2,        // separator defaults to a line break
        "numbered": 1...1,
        "fenced": 1...1,
        "json": 1...1,
        "trusted": 1...1,
        "lines": 1...1,
        "first": 1...1,
        "last": 1...1,
        "text": 1...1,
        "str": 1...1,
        "num": 1...1,
        "contains": 2...2,
        "keys": 1...1,
        "default": 2...2,
        "truncate": 2...2,
    ]

    /// Built-in metrics for `score`, with the number of arguments written in the call (the scored
    /// value is passed implicitly and not counted): `exact(expected)`, `length(min, max)`.
    public static let metrics: [String: ClosedRange<Int>] = [
        "exact": 1...1,
        "contains": 1...1,
        "regex": 1...1,
        "json_valid": 0...0,
        "similarity": 2...2,
        "length": 1...2,      // maximum optional
    ]

    /// Filters that mark a value as data (a fenced block or JSON): their result is `fenced`
    /// (see `TrustLevel`), safe anywhere, and not fenced again in user/assistant messages.
    public static let fencingFilters: Set<String> = ["fenced", "json"]

    /// The filter by which the script author vouches for a value: its result is trusted.
    public static let trustedFilter = "trusted"

    /// The filters whose result may stand in a `system` message whatever their input: the
    /// fencing filters and `trusted`. Any other function of untrusted or fenced text is untrusted.
    public static let systemSafeFilters: Set<String> = fencingFilters.union([trustedFilter])

    /// Actions a guard can take.
    public static let guardActions: [String] = ["block", "redact", "flag"]

    /// `retrieve ... order X`.
    public static let retrieveOrders: [String] = ["score", "edges"]

    /// Type names that need no declaration.
    public static let types: [String: SluiceType] = [
        "string": .string, "number": .number, "int": .int, "bool": .bool, "any": .any, "money": .money,
        "Doc": SluiceType.doc, "Message": historyMessage,
    ]

    /// Keys of a `model` declaration.
    public static let modelFields: [String] = [
        "provider", "id", "context", "max_output", "input", "output", "cached", "tokenizer", "base_url",
        "api_key_env", "temperature", "timeout", "retries", "backoff", "max_backoff", "connect_timeout",
        "breaker_failures", "breaker_cooldown", "rpm", "tpm",
    ]
    public static let providers: [String] = ["openai", "anthropic", "scripted"]
    public static let tokenizers: [String] = ["o200k_base", "cl100k_base", "estimate"]
    /// Keys of an `index` declaration.
    public static let indexFields: [String] = ["store", "source", "chunk", "overlap", "embed"]
    /// Settings of a `prompt` declaration (besides messages, `example`, `returns` and `meta`).
    public static let promptFields: [String] = ["model", "temperature", "max_tokens", "stop", "context"]
    /// Settings of a `guard` declaration (besides `action` and `pattern`).
    public static let guardFields: [String] = ["max_length"]
    /// Limits of a `budget`.
    public static let budgetLimits: [String] = ["request", "tokens"]
    /// Settings of a `session` statement.
    public static let sessionSettings: [String] = ["keep", "max_tokens", "summarize_every", "summarize_over", "model", "user"]
    /// Strategies of a prompt's `context` setting, used when a call would not fit the model's window.
    public static let contextStrategies: [String] = ["fail", "keep_recent", "drop_middle", "summarize_middle"]
    /// One message of a conversation's history, as a `session` binds it and `history` splices it.
    public static let historyMessage = SluiceType.record(name: "Message", fields: [
        SluiceType.RecordField(name: "role", type: .string, optional: false),
        SluiceType.RecordField(name: "content", type: .string, optional: false),
    ])

    /// The static type of a built-in function's result given its argument types (best effort).
    public static func resultType(of function: String, arguments: [SluiceType]) -> SluiceType {
        switch function {
        case "len", "num": return .number
        case "upper", "lower", "trim", "join", "numbered", "fenced", "json", "text", "str", "truncate": return .string
        case "trusted":
            // A reply vouched for is its text.
            if case .reply? = arguments.first { return .string }
            return arguments.first ?? .any
        case "lines", "keys": return .list(.string)
        case "contains", "flagged": return .bool
        case "first", "last":
            switch arguments.first {
            case .list(let element)?: return element
            case .string?: return .string
            default: return .any
            }
        case "default":
            guard arguments.count == 2 else { return .any }
            return SluiceType.join(arguments[0].nonOptional, arguments[1])
        default: return .any
        }
    }
}

extension SluiceType {
    /// The type without its outer `?`.
    public var nonOptional: SluiceType {
        if case .optional(let inner) = self { return inner.nonOptional }
        return self
    }

    /// The type a value has when it may come from either of two places (e.g. two branches).
    public static func join(_ a: SluiceType, _ b: SluiceType) -> SluiceType {
        if a == b { return a }
        switch (a, b) {
        case (.null, .optional), (.optional, .null): return a == .null ? b : a
        case (.null, let t), (let t, .null): return t == .any ? .any : .optional(t.nonOptional)
        case (.optional(let x), let y), (let y, .optional(let x)):
            let j = join(x, y.nonOptional)
            return j == .any ? .any : .optional(j)
        case (.int, .number), (.number, .int): return .number
        case (.list(let x), .list(let y)): return .list(join(x, y))
        case (.enumeration, .string), (.string, .enumeration): return .string
        default: return .any
        }
    }
}

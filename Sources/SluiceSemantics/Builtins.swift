import SluiceSyntax

/// A built-in function or filter. This enum is the one table of them: the checker takes names,
/// arities and result types from it, and the interpreter implements each case in an exhaustive
/// switch, so a function the checker accepts always exists at run time.
public enum BuiltinFunction: String, CaseIterable, Sendable {
    case flagged, len, upper, lower, trim, join, numbered, fenced, json, trusted, lines, first, last, text, str, num
    case contains, keys, `default`, truncate, take

    /// The number of arguments, counting the piped value: `x | join(", ")` is `join(x, ", ")`.
    public var arity: ClosedRange<Int> {
        switch self {
        case .flagged: 0...1          // whether guard `G` (any guard without one) with action `flag` matched so far
        case .join: 1...2             // the separator defaults to a line break
        case .contains, .default, .truncate, .take: 2...2
        case .len, .upper, .lower, .trim, .numbered, .fenced, .json, .trusted, .lines, .first, .last, .text, .str, .num, .keys: 1...1
        }
    }

    /// The static type of the result given the argument types (best effort).
    public func resultType(_ arguments: [SluiceType]) -> SluiceType {
        switch self {
        case .len, .num: return .number
        case .upper, .lower, .trim, .join, .numbered, .fenced, .json, .text, .str, .truncate: return .string
        case .trusted:
            // A reply vouched for is its text.
            if case .reply? = arguments.first { return .string }
            return arguments.first ?? .any
        case .lines, .keys: return .list(.string)
        case .contains, .flagged: return .bool
        case .first, .last:
            switch arguments.first {
            case .list(let element)?: return element
            case .string?: return .string
            default: return .any
            }
        case .default:
            guard arguments.count == 2 else { return .any }
            return SluiceType.join(arguments[0].nonOptional, arguments[1])
        case .take:
            if case .list? = arguments.first?.nonOptional { return arguments[0].nonOptional }
            return .list(.any)
        }
    }
}

/// A built-in metric of `score`: the one table of them, as `BuiltinFunction` is of functions.
public enum BuiltinMetric: String, CaseIterable, Sendable {
    case exact, contains, regex, json_valid, similarity, length
    case bleu, chrf, rouge1, rouge2, rougeL, rougeLsum
    /// Domain checks: a JSON Schema file, the latency and cost of the call (or the run so far).
    case schema_valid, latency, cost
    /// Code checks, through the injected code runner: parses; runs within limits; passes tests.
    case syntax_valid, code_runs, passes_tests

    /// The arguments written in the call (the scored value is passed implicitly, not counted).
    public var arity: ClosedRange<Int> {
        switch self {
        case .exact, .contains, .regex, .bleu, .chrf: 1...1
        case .rouge1, .rouge2, .rougeL, .rougeLsum: 1...2   // the reference, and whether to stem
        case .json_valid: 0...0
        case .similarity: 2...2
        case .length: 1...2           // the maximum is optional
        case .schema_valid, .latency, .cost, .syntax_valid: 1...1
        case .code_runs: 1...3        // the language, then seconds and megabytes
        case .passes_tests: 2...4     // the language and the tests, then seconds and megabytes
        }
    }

    /// Limits of the code metrics when the script gives none.
    public static let defaultCodeSeconds = 5.0
    public static let defaultCodeMegabytes = 256.0
}

/// The languages the code metrics check, and how: the one table of them.
public enum CodeLanguage: String, CaseIterable, Sendable {
    case python, bash
}

/// A field of a `model` declaration and the kind of value it takes: the checker validates by
/// `kind`, and the interpreter sets each case in an exhaustive switch.
public enum ModelField: String, CaseIterable, Sendable {
    case provider, id, context, max_output, input, output, cached, cache_write, tokenizer, base_url, api_key_env, temperature, timeout
    case retries, backoff, max_backoff, connect_timeout, breaker_failures, breaker_cooldown, rpm, tpm, deadline

    public enum Kind: Sendable, Equatable {
        case text(oneOf: [String]?)
        case wholeNumber(example: String)
        case number(example: String)
        /// Money per token, like `$2.50 / 1M`.
        case price
    }

    public var kind: Kind {
        switch self {
        case .provider: .text(oneOf: Builtins.providers)
        case .tokenizer: .text(oneOf: Builtins.tokenizers)
        case .id, .base_url, .api_key_env: .text(oneOf: nil)
        case .context, .max_output, .tpm: .wholeNumber(example: "128k")
        case .retries, .breaker_failures, .rpm: .wholeNumber(example: "3")
        case .temperature: .number(example: "0.7")
        case .timeout, .backoff, .max_backoff, .connect_timeout, .breaker_cooldown, .deadline: .number(example: "30")
        case .input, .output, .cached, .cache_write: .price
        }
    }
}

/// The providers a model can name (`provider "anthropic"`): the one table of them. Services
/// builds each in an exhaustive switch (`ProviderCatalog`), so a new provider is a case here, its
/// own file, and its line there.
public enum ProviderKind: String, CaseIterable, Sendable {
    case openai, anthropic, scripted
}

/// A spending window a `budget` can limit beyond one run (`user_day $2`), kept across runs by the
/// runtime's spend ledger. Day windows are UTC calendar days.
public enum BudgetWindow: String, CaseIterable, Sendable, Hashable, Comparable {
    /// One user's spending (`--user ID`) in a UTC day, whatever they ran.
    case userDay = "user_day"
    /// The spending of every run of one pipeline (by name) in a UTC day.
    case pipelineDay = "pipeline_day"
    /// Everything spent through the store in a UTC day.
    case day
    /// One conversation (`--session ID`), from its first turn on.
    case session

    /// In the order written above: the order refusals and reports name them in.
    private var rank: Int {
        switch self {
        case .userDay: 0
        case .pipelineDay: 1
        case .day: 2
        case .session: 3
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }

    /// What one window of this budget is, for messages and documentation.
    public var window: String {
        switch self {
        case .userDay: "one user's UTC day"
        case .pipelineDay: "the pipeline's UTC day"
        case .day: "the UTC day"
        case .session: "one conversation"
        }
    }
}

/// Names and settings the checker and the interpreter share.
public enum Builtins {
    /// Built-in functions and filters by name, with the number of arguments they take.
    public static let functions: [String: ClosedRange<Int>] =
        Dictionary(uniqueKeysWithValues: BuiltinFunction.allCases.map { ($0.rawValue, $0.arity) })

    /// Built-in metrics for `score` by name, with the number of arguments written in the call.
    public static let metrics: [String: ClosedRange<Int>] =
        Dictionary(uniqueKeysWithValues: BuiltinMetric.allCases.map { ($0.rawValue, $0.arity) })

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
    public static let modelFields: [String] = ModelField.allCases.map(\.rawValue)
    public static let providers: [String] = ProviderKind.allCases.map(\.rawValue)
    public static let tokenizers: [String] = ["o200k_base", "cl100k_base", "estimate"]
    /// Keys of an `index` declaration.
    public static let indexFields: [String] = ["store", "source", "chunk", "overlap", "embed"]
    /// Settings of a `prompt` declaration (besides messages, `example`, `returns` and `meta`).
    public static let promptFields: [String] = ["model", "temperature", "max_tokens", "stop", "context"]
    /// Settings of a `guard` declaration (besides `action` and `pattern`).
    public static let guardFields: [String] = ["max_length"]
    /// Limits of a `budget`.
    public static let budgetLimits: [String] = ["request", "tokens"] + BudgetWindow.allCases.map(\.rawValue)
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
        BuiltinFunction(rawValue: function)?.resultType(arguments) ?? .any
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

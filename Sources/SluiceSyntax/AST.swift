// The syntax tree of a Sluice file. Every node keeps the byte span it came from, so later
// layers (checker, runtime) can point diagnostics at the exact source text.

public struct Name: Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var span: Span
    public init(_ text: String, _ span: Span) { self.text = text; self.span = span }
    public var description: String { text }
}

/// A parsed file: its declarations in source order.
public struct Module: Sendable {
    public var file: SourceFile
    public var decls: [Decl]
    public init(file: SourceFile, decls: [Decl]) { self.file = file; self.decls = decls }
}

public enum Decl: Sendable {
    case use(UseDecl)
    case model(ModelDecl)
    case type(TypeDecl)
    case prompt(PromptDecl)
    case index(IndexDecl)
    case guardSet(GuardDecl)
    case budget(BudgetDecl)
    case expect(ExpectDecl)
    case pipeline(PipelineDecl)
    case metric(MetricDecl)
    case alert(AlertDecl)
    case notify(NotifyDecl)

    public var span: Span {
        switch self {
        case .use(let d): d.span
        case .model(let d): d.span
        case .type(let d): d.span
        case .prompt(let d): d.span
        case .index(let d): d.span
        case .guardSet(let d): d.span
        case .budget(let d): d.span
        case .expect(let d): d.span
        case .pipeline(let d): d.span
        case .metric(let d): d.span
        case .alert(let d): d.span
        case .notify(let d): d.span
        }
    }

    /// The declared name, for declarations that have one.
    public var name: Name? {
        switch self {
        case .use, .budget, .expect, .alert, .notify: nil
        case .model(let d): d.name
        case .type(let d): d.name
        case .prompt(let d): d.name
        case .index(let d): d.name
        case .guardSet(let d): d.name
        case .pipeline(let d): d.name
        case .metric(let d): d.name
        }
    }
}

/// `use std.models.{a, b}`, `use std.guards`, `use "./file.sluice".{a}`.
public struct UseDecl: Sendable {
    public enum Target: Sendable {
        case module([Name])          // std.models → ["std", "models"]
        case file(String, Span)      // a path relative to the importing file
    }
    public var target: Target
    /// The names imported; nil imports every name the module declares.
    public var names: [Name]?
    public var span: Span
    public init(target: Target, names: [Name]?, span: Span) { self.target = target; self.names = names; self.span = span }
}

/// `key value` on a line of its own inside a declaration body.
public struct Field: Sendable {
    public var name: Name
    public var value: Expr
    public var span: Span
    public init(name: Name, value: Expr, span: Span) { self.name = name; self.value = value; self.span = span }
}

public struct ModelDecl: Sendable {
    public var name: Name
    public var fields: [Field]
    public var span: Span
    public init(name: Name, fields: [Field], span: Span) { self.name = name; self.fields = fields; self.span = span }
}

public struct IndexDecl: Sendable {
    public var name: Name
    public var fields: [Field]
    public var span: Span
    public init(name: Name, fields: [Field], span: Span) { self.name = name; self.fields = fields; self.span = span }
}

/// A type as written: `string`, `[Doc]`, `number?`, `"a" | "b"`.
public indirect enum TypeRef: Sendable {
    case named(Name)
    case list(TypeRef, Span)
    case optional(TypeRef, Span)
    case enumeration([String], Span)

    public var span: Span {
        switch self {
        case .named(let n): n.span
        case .list(_, let s), .optional(_, let s), .enumeration(_, let s): s
        }
    }
}

public struct TypeDecl: Sendable {
    public struct FieldDecl: Sendable {
        public var name: Name
        public var type: TypeRef
        /// `name?: T` — the field may be absent.
        public var optional: Bool
        public var span: Span
        public init(name: Name, type: TypeRef, optional: Bool, span: Span) {
            self.name = name; self.type = type; self.optional = optional; self.span = span
        }
    }
    public enum Body: Sendable {
        case record([FieldDecl])
        case alias(TypeRef)
    }
    public var name: Name
    public var body: Body
    public var span: Span
    public init(name: Name, body: Body, span: Span) { self.name = name; self.body = body; self.span = span }
}

/// A parameter of a prompt or pipeline: `question: string`, `name: trusted string`,
/// `card: sensitive string`, `expected: string? = null`.
public struct Param: Sendable {
    public var name: Name
    public var type: TypeRef?
    public var trusted: Bool
    /// `card: sensitive string`: the value is never stored raw (traces, sessions, errors).
    public var sensitive: Bool
    public var defaultValue: Expr?
    public var span: Span
    public init(name: Name, type: TypeRef?, trusted: Bool = false, sensitive: Bool = false, defaultValue: Expr? = nil, span: Span) {
        self.name = name; self.type = type; self.trusted = trusted; self.sensitive = sensitive
        self.defaultValue = defaultValue; self.span = span
    }
}

public enum Role: String, Sendable, CaseIterable { case system, user, assistant }

public struct PromptMessage: Sendable {
    public var role: Role
    /// A string expression (normally a literal with holes); for a `history` item, a list of
    /// `{role, content}` records spliced in as messages of their own.
    public var content: Expr
    /// `history EXPR`: earlier turns of a conversation, placed here as separate messages.
    public var isHistory: Bool
    public var span: Span
    public init(role: Role, content: Expr, isHistory: Bool = false, span: Span) {
        self.role = role; self.content = content; self.isHistory = isHistory; self.span = span
    }
}

public struct PromptDecl: Sendable {
    public var name: Name
    /// nil when the prompt declares no parameter list: its parameters are then its holes' free names.
    public var params: [Param]?
    /// `v2` → 2.
    public var version: Int?
    public var messages: [PromptMessage]
    /// Few-shot examples: each `example { user "..." assistant "..." }` block, in order.
    public var examples: [[PromptMessage]]
    public var returns: TypeRef?
    /// `meta { key: value }` as a record expression.
    public var meta: Expr?
    /// Other settings: `model`, `temperature`, `max_tokens`, `stop`.
    public var fields: [Field]
    public var span: Span
    public init(name: Name, params: [Param]?, version: Int?, messages: [PromptMessage], examples: [[PromptMessage]],
                returns: TypeRef?, meta: Expr?, fields: [Field], span: Span) {
        self.name = name; self.params = params; self.version = version; self.messages = messages
        self.examples = examples; self.returns = returns; self.meta = meta; self.fields = fields; self.span = span
    }
}

public struct GuardDecl: Sendable {
    public struct Pattern: Sendable {
        public var name: Name
        public var regex: Expr
        public var replacement: Expr?
        public var span: Span
        public init(name: Name, regex: Expr, replacement: Expr?, span: Span) {
            self.name = name; self.regex = regex; self.replacement = replacement; self.span = span
        }
    }
    public var name: Name
    /// `action block|redact|flag`; nil means block.
    public var action: Name?
    public var patterns: [Pattern]
    /// Other settings, e.g. `max_length 4000`.
    public var fields: [Field]
    public var span: Span
    public init(name: Name, action: Name?, patterns: [Pattern], fields: [Field], span: Span) {
        self.name = name; self.action = action; self.patterns = patterns; self.fields = fields; self.span = span
    }
}

/// `budget request $0.10, tokens 8k` — at top level or as a pipeline statement.
public struct BudgetDecl: Sendable {
    public var limits: [Field]
    public var span: Span
    public init(limits: [Field], span: Span) { self.limits = limits; self.span = span }
}

/// `expect mean(exact) >= 0.9`: a bound `sluice test` checks on a score aggregated over its cases.
public struct ExpectDecl: Sendable {
    public enum Aggregate: String, Sendable, CaseIterable {
        case mean, min
    }

    public enum Comparison: String, Sendable, CaseIterable {
        // Two-character operators first, so that reading text finds `>=` before `>`.
        case atLeast = ">=", atMost = "<=", above = ">", below = "<"

        public func holds(_ value: Double, _ bound: Double) -> Bool {
            switch self {
            case .atLeast: value >= bound
            case .atMost: value <= bound
            case .above: value > bound
            case .below: value < bound
            }
        }
    }

    /// The aggregate as written (the checker verifies it names an `Aggregate`).
    public var aggregate: Name
    public var score: Name
    public var comparison: Comparison
    public var bound: Double
    public var span: Span
    public init(aggregate: Name, score: Name, comparison: Comparison, bound: Double, span: Span) {
        self.aggregate = aggregate; self.score = score; self.comparison = comparison; self.bound = bound; self.span = span
    }
}

public struct PipelineDecl: Sendable {
    public var name: Name
    public var params: [Param]
    public var returnType: TypeRef?
    public var body: Block
    public var span: Span
    public init(name: Name, params: [Param], returnType: TypeRef?, body: Block, span: Span) {
        self.name = name; self.params = params; self.returnType = returnType; self.body = body; self.span = span
    }
}

/// `metric NAME(params) = EXPR` or `metric NAME(params) judge PROMPT(args)`: a metric `score`
/// can use. It runs as `lowered`, a pipeline whose parameters are `it` (the scored value) and
/// the metric's, and whose body returns the expression (or the judge prompt's reply), so names,
/// slots and trust are checked and run by the machinery pipelines already have.
public struct MetricDecl: Sendable {
    public enum Body: Sendable {
        /// A number in 0..1 computed from `it` and the parameters.
        case expression(Expr)
        /// A call of a prompt that `returns` a grade record with `score: number`.
        case judge(Expr)
    }
    public var name: Name
    public var params: [Param]
    public var body: Body
    public var span: Span
    public var lowered: PipelineDecl
    public init(name: Name, params: [Param], body: Body, itName: Name, span: Span) {
        self.name = name; self.params = params; self.body = body; self.span = span
        let value: Expr
        switch body {
        case .expression(let e), .judge(let e): value = e
        }
        lowered = PipelineDecl(name: name, params: [Param(name: itName, type: nil, span: itName.span)] + params, returnType: nil,
                               body: Block(statements: [Stmt(.returnValue(value), span: value.span)], span: value.span), span: span)
    }
}

public struct Block: Sendable {
    public var statements: [Stmt]
    public var span: Span
    public init(statements: [Stmt], span: Span) { self.statements = statements; self.span = span }
}

/// One use of a guard or metric in a statement: `pii(redact)`, `exact(expected) when expected`.
public struct StageUse: Sendable {
    public var name: Name
    public var args: [Argument]
    public var condition: Expr?
    public var span: Span
    public init(name: Name, args: [Argument], condition: Expr? = nil, span: Span) {
        self.name = name; self.args = args; self.condition = condition; self.span = span
    }
}

/// `sample 10%` of a `score` statement: the share of runs that compute its scores.
public struct ScoreSample: Sendable {
    /// In 0 (exclusive) ... 1.
    public var fraction: Double
    public var span: Span
    public init(fraction: Double, span: Span) { self.fraction = fraction; self.span = span }
}

/// What `validate` checks a value against: a type, or a JSON Schema written by hand.
public enum ValidationTarget: Sendable {
    /// `as Type`.
    case type(TypeRef)
    /// `against schema("schemas/order.json" [, formats: true])`.
    case schema(SchemaFileRef)

    public var span: Span {
        switch self {
        case .type(let ref): ref.span
        case .schema(let file): file.span
        }
    }
}

/// `schema("path.json" [, formats: BOOL])`: a JSON Schema file, relative to the script, that the
/// checker reads and compiles; `formats: true` makes `format` an assertion.
public struct SchemaFileRef: Sendable {
    public var path: String
    public var pathSpan: Span
    public var assertFormats: Bool
    public var span: Span
    public init(path: String, pathSpan: Span, assertFormats: Bool, span: Span) {
        self.path = path; self.pathSpan = pathSpan; self.assertFormats = assertFormats; self.span = span
    }
}

public struct Stmt: Sendable {
    public indirect enum Kind: Sendable {
        case assign(Name, Expr)
        /// `guard EXPR with G, G(action)`.
        case guardStage(Expr, [StageUse])
        /// `validate NAME [as Type | against schema("f.json")] [retries N [using MODEL]]`: MODEL answers the retries.
        case validate(Name, ValidationTarget?, retries: Expr?, using: Name?)
        /// `score EXPR [as NAME] with M(args) [when COND], ... [sample N%]`: with a NAME the scores
        /// are `NAME.M`; with `sample`, the statement scores that share of the runs.
        case score(Expr, [StageUse], as: Name?, sample: ScoreSample?)
        case ifElse([(condition: Expr, body: Block)], elseBody: Block?)
        case forIn(Name, Expr, Block)
        case returnValue(Expr?)
        case budget(BudgetDecl)
        /// `session NAME [with key value, ...]`: NAME is bound to the conversation so far.
        case session(Name, [Field])
        /// `parallel [limit N] [on_failure cancel|finish] { ... }`: each statement of the block
        /// is a branch, and the branches run at the same time.
        case parallel(ParallelSettings, Block)
        case expression(Expr)
    }
    public var kind: Kind
    public var span: Span
    public init(_ kind: Kind, span: Span) { self.kind = kind; self.span = span }
}

public struct Argument: Sendable {
    public var label: Name?
    public var value: Expr
    public init(label: Name?, value: Expr) { self.label = label; self.value = value }
    public var span: Span { label.map { $0.span.to(value.span) } ?? value.span }
}

public enum UnaryOp: String, Sendable { case negate = "-", not = "not" }

public enum BinaryOp: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case and = "and", or = "or", coalesce = "??"
}

/// A piece of a string literal: literal text, or a `{hole}` holding an expression.
public enum StringPart: Sendable {
    case text(String)
    case hole(Expr)
}

/// How a `parallel` form runs: at most `limit` branches at once (default: all), and what the
/// first failure does (`on_failure cancel`, the default, or `finish`).
public struct ParallelSettings: Sendable {
    public var limit: Expr?
    public var onFailure: Name?
    public init(limit: Expr? = nil, onFailure: Name? = nil) { self.limit = limit; self.onFailure = onFailure }
}

public struct CascadeStep: Sendable {
    public var model: Name
    public var accept: Expr?
    public var span: Span
    public init(model: Name, accept: Expr?, span: Span) { self.model = model; self.accept = accept; self.span = span }
}

/// Expressions are reference types so that the checker can annotate them in side tables
/// keyed by `ObjectIdentifier` without copying the tree.
public final class Expr: Sendable {
    public indirect enum Kind: Sendable {
        case string([StringPart])
        case number(Double)
        case money(Double)
        case bool(Bool)
        case null
        case list([Expr])
        case record([(name: Name, value: Expr)])
        case name(String)
        case member(Expr, Name)
        case index(Expr, Expr)
        /// `f(x)`, `p(name: x)`, `p(name: x) using model`.
        case call(Expr, [Argument], using: Name?)
        case unary(UnaryOp, Expr)
        case binary(BinaryOp, Expr, Expr)
        /// `x | f(a)`: the filter `f` applied to `x` with extra arguments.
        case filter(Expr, Name, [Argument])
        /// `retrieve Q from INDEX [top N] [order score|edges]`.
        case retrieve(query: Expr, index: Name, top: Expr?, order: Name?)
        /// `template P(args)`: the call expression, rendered but not sent.
        case template(Expr)
        /// `cascade P(args) { model [accept cond] ... }`.
        case cascade(Expr, [CascadeStep])
        /// `parallel EXPR for NAME in LIST [limit N] [on_failure cancel|finish]`: EXPR for every
        /// item at the same time, the results as a list in the items' order.
        case parallelMap(Expr, variable: Name, sequence: Expr, ParallelSettings)
        /// `EXPR catch FALLBACK`: the fallback's value when EXPR fails at run time.
        case fallback(Expr, Expr)
    }
    public let kind: Kind
    public let span: Span
    /// The number of nodes on the longest path from this node down to a leaf (a leaf is 1).
    /// Computed from the children, so it costs nothing to ask; the parser refuses trees
    /// higher than `Parser.maximumExpressionHeight`, which is what keeps every recursive walk
    /// over an expression (checker, interpreter, dumps, deallocation) within the stack.
    public let height: Int

    public init(_ kind: Kind, span: Span) {
        self.kind = kind
        self.span = span
        self.height = 1 + kind.children.reduce(0) { max($0, $1.height) }
    }
}

extension Expr.Kind {
    /// The direct subexpressions, in source order.
    public var children: [Expr] {
        switch self {
        case .number, .money, .bool, .null, .name: []
        case .string(let parts): parts.compactMap { if case .hole(let e) = $0 { e } else { nil } }
        case .list(let items): items
        case .record(let fields): fields.map(\.value)
        case .member(let base, _): [base]
        case .index(let base, let index): [base, index]
        case .call(let callee, let args, _): [callee] + args.map(\.value)
        case .unary(_, let operand): [operand]
        case .binary(_, let left, let right): [left, right]
        case .filter(let input, _, let args): [input] + args.map(\.value)
        case .retrieve(let query, _, let top, _): [query] + (top.map { [$0] } ?? [])
        case .template(let call): [call]
        case .cascade(let call, let steps): [call] + steps.compactMap(\.accept)
        case .parallelMap(let body, _, let sequence, let settings): [body, sequence] + (settings.limit.map { [$0] } ?? [])
        case .fallback(let value, let fallback): [value, fallback]
        }
    }
}

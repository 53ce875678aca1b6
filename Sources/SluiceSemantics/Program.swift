import SluiceSyntax

/// A declaration together with the file it was declared in (for diagnostics that point into
/// the standard library or an imported file).
public struct Declared<D: Sendable>: Sendable {
    public var decl: D
    public var file: SourceFile
    public init(_ decl: D, in file: SourceFile) { self.decl = decl; self.file = file }
}

/// Finds the source of `use` targets. The CLI reads files; tests and the embedded standard
/// library answer from memory. The checker itself does no I/O.
public protocol ModuleLoader: Sendable {
    /// `use std.models` → ["std", "models"]; nil when there is no such module.
    func loadModule(_ path: [String]) -> SourceFile?
    /// `use "./x.sluice"` relative to the importing file; throws a message when unreadable.
    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile
    /// Every module `loadModule` can answer (e.g. [["std", "models"], ...]), for "did you mean"
    /// on an unknown module. Optional: the default is an empty list.
    func availableModules() -> [[String]]
}

/// A checked program: every declaration visible from the main file (its own and imported
/// ones) by name, with types resolved. Built by `Checker.check`.
/// The tables also hold, under their own names, the declarations that imported ones depend on
/// (the model an imported prompt names, the type it returns, the prompts an imported pipeline
/// calls), so the interpreter finds them; the checker reports a clash if such a name means
/// something else in the main file. Such dependencies are not visible to the main file's code.
public final class Program: Sendable {
    public let main: Module
    public let models: [String: Declared<ModelDecl>]
    public let types: [String: Declared<TypeDecl>]
    public let prompts: [String: Declared<PromptDecl>]
    public let indexes: [String: Declared<IndexDecl>]
    public let guards: [String: Declared<GuardDecl>]
    public let pipelines: [String: Declared<PipelineDecl>]
    /// `metric` declarations, by name: what `score` runs for a metric that is not built in.
    public let metrics: [String: Declared<MetricDecl>]
    /// The main file's file-wide `budget`, if any.
    public let budget: Declared<BudgetDecl>?
    /// Every declared type, resolved (record fields, lists, optionals, enums).
    public let resolvedTypes: [String: SluiceType]
    /// What each `.call` and `.filter` expression of every checked pipeline and prompt calls,
    /// keyed by `ObjectIdentifier` of the expression: the interpreter follows this table instead
    /// of looking names up again.
    public let callTargets: [ObjectIdentifier: CallTarget]
    /// The expressions `callTargets` is keyed by, kept alive so that no key is ever reused by
    /// another expression (a REPL session drops redefined declarations but keeps the table).
    private let callExpressions: [Expr]
    /// Where every local of every checked body lives: the slot of each name read and each
    /// binding site, and each body's layout. The interpreter reads and writes slots, never a
    /// local by its name.
    public let bindings: BindingTable
    /// The JSON Schema files of `validate NAME against schema("f.json")`, read and compiled by the
    /// checker, by the site of the `schema(...)` written in the statement.
    public let schemas: [BindingSite: SchemaFile]
    /// The errors the checker found. A program with any cannot be run: the interpreter refuses it.
    public let errors: [Diagnostic]

    public init(main: Module, models: [String: Declared<ModelDecl>], types: [String: Declared<TypeDecl>],
                prompts: [String: Declared<PromptDecl>], indexes: [String: Declared<IndexDecl>],
                guards: [String: Declared<GuardDecl>], pipelines: [String: Declared<PipelineDecl>],
                metrics: [String: Declared<MetricDecl>] = [:], budget: Declared<BudgetDecl>?, resolvedTypes: [String: SluiceType],
                calls: CallTable = CallTable(), bindings: BindingTable = BindingTable(), schemas: [BindingSite: SchemaFile] = [:],
                errors: [Diagnostic] = []) {
        self.main = main; self.models = models; self.types = types; self.prompts = prompts; self.indexes = indexes
        self.guards = guards; self.pipelines = pipelines; self.metrics = metrics; self.budget = budget; self.resolvedTypes = resolvedTypes
        self.callTargets = calls.targets; self.callExpressions = calls.expressions
        self.bindings = bindings; self.schemas = schemas; self.errors = errors
    }

    /// The same program, knowing the errors its check found.
    func with(errors: [Diagnostic]) -> Program {
        Program(main: main, models: models, types: types, prompts: prompts, indexes: indexes, guards: guards, pipelines: pipelines,
                metrics: metrics, budget: budget, resolvedTypes: resolvedTypes, calls: callTable, bindings: bindings, schemas: schemas,
                errors: errors)
    }

    /// The call table with its expressions, to extend (REPL declarations).
    var callTable: CallTable { CallTable(targets: callTargets, expressions: callExpressions) }
}

/// A JSON Schema file a `validate` names, as the checker read and compiled it.
public struct SchemaFile: Sendable {
    /// The path as the script wrote it, for traces and messages.
    public let path: String
    public let validator: JSONSchemaValidator
    public init(path: String, validator: JSONSchemaValidator) { self.path = path; self.validator = validator }

    /// What is wrong with `value`, one message per violation naming its JSON path and rule
    /// (`$.total: expected number, got string (type)`); empty when it is valid.
    public func problems(_ value: JSONValue) -> [String] { validator.validate(value).map(\.description) }
}

/// What a call or filter expression calls, as the checker resolved it.
public enum CallTarget: Sendable, Hashable {
    case prompt(String)
    case pipeline(String)
    case builtin(String)
}

/// Call targets keyed by expression, together with the expressions themselves (so that their
/// `ObjectIdentifier`s stay unique while the table lives).
public struct CallTable: Sendable {
    public private(set) var targets: [ObjectIdentifier: CallTarget] = [:]
    private(set) var expressions: [Expr] = []

    public init() {}
    init(targets: [ObjectIdentifier: CallTarget], expressions: [Expr]) { self.targets = targets; self.expressions = expressions }

    mutating func record(_ expr: Expr, _ target: CallTarget) {
        if targets.updateValue(target, forKey: ObjectIdentifier(expr)) == nil { expressions.append(expr) }
    }

    mutating func merge(_ other: CallTable) {
        for expr in other.expressions { if let target = other.targets[ObjectIdentifier(expr)] { record(expr, target) } }
    }
}

/// Where a name is bound or a body is declared: the file (by identity, so that two REPL inputs
/// or two files of one path never share a site) and the byte offset its name starts at.
public struct BindingSite: Hashable, Sendable {
    public let file: ObjectIdentifier
    public let start: Int
    public init(_ file: SourceFile, _ span: Span) { self.file = ObjectIdentifier(file); self.start = span.start }
}

/// The slots of one body (a pipeline, a prompt, a REPL input): its parameters first, in order,
/// then each local in order of first binding. A `for` variable, a `parallel ... for` variable
/// and a cascade's candidate `it` each have a slot of their own, which a name of the body that
/// they shadow never shares.
public struct SlotLayout: Sendable, Hashable {
    /// The name each slot holds, by slot, for messages.
    public internal(set) var names: [String] = []
    /// The names bound at the outer level of the body, with their slots: what a REPL input
    /// leaves bound for the next one.
    public internal(set) var outer: [String: Int] = [:]
    public var size: Int { names.count }
    public init() {}
}

/// The resolution of every local: what the interpreter follows instead of names.
public struct BindingTable: Sendable {
    /// The slot each `.name` expression that reads a local reads, by `ObjectIdentifier` of the expression.
    public private(set) var reads: [ObjectIdentifier: Int] = [:]
    /// The slot each binding site (an assignment target, a `for` variable, `validate NAME`,
    /// `session NAME`, an argument's label in the callee's layout) writes.
    public private(set) var sites: [BindingSite: Int] = [:]
    /// The slot of the candidate reply (`it`, and the name the cascade is assigned to) of each
    /// cascade whose steps have an `accept`, by `ObjectIdentifier` of the cascade expression.
    public private(set) var candidates: [ObjectIdentifier: Int] = [:]
    /// The layout of each pipeline and prompt, by the site of its declared name.
    public private(set) var layouts: [BindingSite: SlotLayout] = [:]
    /// The slots each branch of a `parallel` block binds, by the site of the branch statement:
    /// what the block's frame takes from that branch's.
    public private(set) var branches: [BindingSite: [Int]] = [:]
    /// The expressions and files the keys name, kept alive so that no key is ever reused.
    private var expressions: [Expr] = []
    private var files: [ObjectIdentifier: SourceFile] = [:]

    public init() {}

    mutating func read(_ expr: Expr, _ slot: Int) {
        if reads.updateValue(slot, forKey: ObjectIdentifier(expr)) == nil { expressions.append(expr) }
    }

    mutating func bind(_ name: Name, in file: SourceFile, _ slot: Int) {
        sites[BindingSite(file, name.span)] = slot
        files[ObjectIdentifier(file)] = file
    }

    mutating func candidate(_ cascade: Expr, _ slot: Int) {
        if candidates.updateValue(slot, forKey: ObjectIdentifier(cascade)) == nil { expressions.append(cascade) }
    }

    mutating func branch(_ statement: Stmt, in file: SourceFile, binds slots: [Int]) {
        branches[BindingSite(file, statement.span)] = slots
        files[ObjectIdentifier(file)] = file
    }

    mutating func layout(of name: Name, in file: SourceFile, _ layout: SlotLayout) {
        layouts[BindingSite(file, name.span)] = layout
        files[ObjectIdentifier(file)] = file
    }

    mutating func merge(_ other: BindingTable) {
        for expr in other.expressions {
            let key = ObjectIdentifier(expr)
            if let slot = other.reads[key] { read(expr, slot) }
            if let slot = other.candidates[key] { candidate(expr, slot) }
        }
        sites.merge(other.sites) { $1 }
        layouts.merge(other.layouts) { $1 }
        branches.merge(other.branches) { $1 }
        files.merge(other.files) { $1 }
    }
}

/// A resolved type.
public indirect enum SluiceType: Sendable, Hashable, CustomStringConvertible {
    case string, number, int, bool, money, any, null
    case list(SluiceType)
    case optional(SluiceType)
    case enumeration([String])
    /// A record with its declared name (nil for anonymous) and fields in order.
    case record(name: String?, fields: [RecordField])
    /// The value of a prompt call: JSON when the prompt `returns` a type, text otherwise.
    case reply(SluiceType?)

    public struct RecordField: Sendable, Hashable {
        public var name: String
        public var type: SluiceType
        public var optional: Bool
        public init(name: String, type: SluiceType, optional: Bool) { self.name = name; self.type = type; self.optional = optional }
    }

    public var description: String {
        switch self {
        case .string: "string"
        case .number: "number"
        case .int: "int"
        case .bool: "bool"
        case .money: "money"
        case .any: "any"
        case .null: "null"
        case .list(let t): "[\(t)]"
        case .optional(let t): "\(t)?"
        case .enumeration(let cases): cases.map { "\"\($0)\"" }.joined(separator: " | ")
        case .record(let name, let fields): name ?? "{" + fields.map { "\($0.name): \($0.type)" }.joined(separator: ", ") + "}"
        case .reply(let t): t.map { "reply(\($0))" } ?? "reply"
        }
    }

    /// The built-in record that `retrieve` returns.
    public static let doc = SluiceType.record(name: "Doc", fields: [
        RecordField(name: "text", type: .string, optional: false),
        RecordField(name: "source", type: .string, optional: false),
        RecordField(name: "score", type: .number, optional: false),
    ])
}

extension Program {
    /// A type as written, resolved against the built-in types and the program's declared types
    /// (unknown names resolve to `any`; the checker has reported them).
    public func resolve(_ ref: TypeRef) -> SluiceType {
        switch ref {
        case .named(let n): return resolvedTypes[n.text] ?? Builtins.types[n.text] ?? .any
        case .list(let t, _): return .list(resolve(t))
        case .optional(let t, _):
            let inner = resolve(t)
            return inner == .any ? .any : .optional(inner.nonOptional)
        case .enumeration(let cases, _): return .enumeration(cases)
        }
    }

    /// The resolved `returns` type of a prompt, if it has one.
    public func returnType(of prompt: PromptDecl) -> SluiceType? { prompt.returns.map(resolve) }
}

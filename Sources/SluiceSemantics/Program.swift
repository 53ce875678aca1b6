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
}

/// A checked program: every declaration visible from the main file (its own and imported
/// ones) by name, with types resolved. Built by `Checker.check`.
public final class Program: Sendable {
    public let main: Module
    public let models: [String: Declared<ModelDecl>]
    public let types: [String: Declared<TypeDecl>]
    public let prompts: [String: Declared<PromptDecl>]
    public let indexes: [String: Declared<IndexDecl>]
    public let guards: [String: Declared<GuardDecl>]
    public let pipelines: [String: Declared<PipelineDecl>]
    /// The main file's file-wide `budget`, if any.
    public let budget: Declared<BudgetDecl>?
    /// Every declared type, resolved (record fields, lists, optionals, enums).
    public let resolvedTypes: [String: SluiceType]

    public init(main: Module, models: [String: Declared<ModelDecl>], types: [String: Declared<TypeDecl>],
                prompts: [String: Declared<PromptDecl>], indexes: [String: Declared<IndexDecl>],
                guards: [String: Declared<GuardDecl>], pipelines: [String: Declared<PipelineDecl>],
                budget: Declared<BudgetDecl>?, resolvedTypes: [String: SluiceType]) {
        self.main = main; self.models = models; self.types = types; self.prompts = prompts; self.indexes = indexes
        self.guards = guards; self.pipelines = pipelines; self.budget = budget; self.resolvedTypes = resolvedTypes
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

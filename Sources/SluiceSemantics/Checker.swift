import SluiceSyntax

/// Static checks of a Sluice program: imports, name resolution, declarations, prompt holes and
/// the trust rule, calls, stages and light type inference. Every problem of every file is
/// reported in one run; the returned `Program` is best-effort even when there are errors
/// (callers refuse to run when any diagnostic is an error).
public enum Checker {
    /// `use` chains nest at most this deep.
    public static let maxImportDepth = 32

    public static func check(_ module: Module, loader: ModuleLoader) -> (program: Program, diagnostics: [Diagnostic]) {
        let session = Session(loader: loader)
        let checker = ModuleChecker(session: session, file: module.file, moduleName: module.file.path, isMain: true, depth: 0)
        session.stack.append((normalizedPath(module.file.path), normalizedPath(module.file.path)))
        checker.run(module)
        session.stack.removeLast()
        let program = checker.makeProgram(main: module, budget: checker.budget, calls: session.calls, bindings: session.bindings,
                                          schemas: session.schemas)
        let diagnostics = session.sortedDiagnostics()
        return (program.with(errors: diagnostics.filter { $0.severity == .error }), diagnostics)
    }

    /// Checks statements typed in the REPL against the declarations of `program` and the REPL's
    /// current locals (name → type).
    public static func checkStatements(_ statements: [Stmt], file: SourceFile, program: Program,
                                       locals: [String: SluiceType], trust: [String: TrustLevel] = [:]) -> [Diagnostic] {
        checkStatementsAndLocals(statements, file: file, program: program, locals: locals, trust: trust).diagnostics
    }

    /// Like `checkStatements`, and also returns the locals after the statements with their static
    /// types and trust, so that the REPL can carry them to the next input, what each call and
    /// filter expression of the statements calls, and where their locals live: the layout of
    /// the input (the existing locals first, by name, then each new one) and the slots its
    /// names read and bind. A local missing from `trust` is untrusted (the checker cannot know
    /// where its value came from).
    public static func checkStatementsAndLocals(_ statements: [Stmt], file: SourceFile, program: Program,
                                                locals: [String: SluiceType], trust: [String: TrustLevel] = [:])
        -> (diagnostics: [Diagnostic], locals: [String: SluiceType], trust: [String: TrustLevel],
            callTargets: [ObjectIdentifier: CallTarget], layout: SlotLayout, bindings: BindingTable) {
        let session = Session(loader: NoModules())
        let checker = ModuleChecker(session: session, file: file, moduleName: file.path, isMain: true, depth: 0)
        checker.adopt(program)
        let existing = locals.sorted { $0.key < $1.key }.map { name, type in
            (name, Facts(type, trust[name] ?? .untrusted, taint: .source("`\(name)`, bound by an earlier input")))
        }
        let body = BodyChecker(checker, mode: .repl, parameters: existing)
        body.prescan(statements)
        body.check(statements)
        return (session.sortedDiagnostics(), body.locals.mapValues(\.type), body.locals.mapValues(\.trust),
                session.calls.targets, body.layout, session.bindings)
    }

    /// Checks declarations typed in the REPL (or any later chunk of declarations) on top of an
    /// existing program and returns the extended program. A new declaration may redefine a name
    /// of the old program; `use` works as in a file.
    public static func extend(_ program: Program, with decls: [Decl], file: SourceFile,
                              loader: ModuleLoader) -> (program: Program, diagnostics: [Diagnostic]) {
        let session = Session(loader: loader)
        let checker = ModuleChecker(session: session, file: file, moduleName: file.path, isMain: true, depth: 0)
        checker.adopt(program)
        session.stack.append((normalizedPath(file.path), file.path))
        checker.run(Module(file: file, decls: decls))
        session.stack.removeLast()
        var calls = program.callTable
        calls.merge(session.calls)
        var bindings = program.bindings
        bindings.merge(session.bindings)
        let extended = checker.makeProgram(main: program.main, budget: checker.budget ?? program.budget, calls: calls,
                                           bindings: bindings, schemas: program.schemas.merging(session.schemas) { $1 })
        let diagnostics = session.sortedDiagnostics()
        return (extended.with(errors: diagnostics.filter { $0.severity == .error }), diagnostics)
    }
}

extension ModuleLoader {
    /// Default: no list of modules, so no "did you mean" for unknown modules.
    public func availableModules() -> [[String]] { [] }
}

struct NoModules: ModuleLoader {
    func loadModule(_ path: [String]) -> SourceFile? { nil }
    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        throw LoadError(message: "files cannot be imported here")
    }
}

struct LoadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

// MARK: - Declarations as checked

/// A declaration known to the checker, shared by every module that imports it.
final class Entry {
    enum Kind: String {
        case model, type, prompt, index, guardSet = "guard", pipeline, metric

        init?(_ decl: Decl) {
            switch decl {
            case .model: self = .model
            case .type: self = .type
            case .prompt: self = .prompt
            case .index: self = .index
            case .guardSet: self = .guardSet
            case .pipeline: self = .pipeline
            case .metric: self = .metric
            case .use, .budget, .expect, .alert, .notify: return nil
            }
        }

        var article: String { self == .index ? "an index" : "a \(rawValue)" }
    }

    let kind: Kind
    let name: Name
    let decl: Decl
    let file: SourceFile
    /// How the defining module is named in messages: `std.models` or a path.
    let moduleName: String
    /// Declarations this one refers to (resolved in its own module's scope). Held weakly: every
    /// entry is owned by its module's scope, and a long chain of strong references would be
    /// freed by a recursion as deep as the chain.
    var deps: [Entry] { dependencies.compactMap(\.entry) }
    private var dependencies: [WeakEntry] = []
    private var depIDs: Set<ObjectIdentifier> = []
    /// Resolved type, for type declarations.
    var type: SluiceType?
    var resolving = false
    /// Parameters and result, for prompts and pipelines.
    var signature: Signature?
    /// Taken over from an already checked program (REPL): not checked again.
    var adopted = false

    init(kind: Kind, name: Name, decl: Decl, file: SourceFile, moduleName: String) {
        self.kind = kind; self.name = name; self.decl = decl; self.file = file; self.moduleName = moduleName
    }

    func addDependency(_ entry: Entry) {
        guard entry !== self, depIDs.insert(ObjectIdentifier(entry)).inserted else { return }
        dependencies.append(WeakEntry(entry: entry))
    }
}

struct WeakEntry {
    weak var entry: Entry?
}

struct ParamInfo {
    var name: String
    var span: Span
    var type: SluiceType
    var trusted: Bool
    var hasDefault: Bool
}

struct Signature {
    var params: [ParamInfo]
    var returns: SluiceType?
}

/// What a checked module offers to its importers: its own declarations.
final class ModuleResult {
    let display: String
    let file: SourceFile
    let exports: [Entry]
    let byName: [String: Entry]
    init(display: String, file: SourceFile, exports: [Entry]) {
        self.display = display; self.file = file; self.exports = exports
        var byName: [String: Entry] = [:]
        for e in exports where byName[e.name.text] == nil { byName[e.name.text] = e }
        self.byName = byName
    }
}

/// State shared by all modules of one check: the loader, diagnostics, the module cache and the
/// stack of modules being checked (for cycles).
final class Session {
    let loader: ModuleLoader
    var diagnostics: [Diagnostic] = []
    var cache: [String: ModuleResult] = [:]
    var stack: [(key: String, display: String)] = []
    /// What every checked call and filter expression calls, in every module of this check.
    var calls = CallTable()
    /// Where every local of every checked body lives.
    var bindings = BindingTable()
    /// The schema file each `validate … against schema(...)` names, compiled, by the site of its `schema(...)`.
    var schemas: [BindingSite: SchemaFile] = [:]
    /// Schema files already read and compiled in this check, by path and whether formats are asserted:
    /// a failure is reported at every `schema(...)` that names the file.
    var compiledSchemas: [String: Result<JSONSchemaValidator, SchemaFileProblem>] = [:]

    init(loader: ModuleLoader) { self.loader = loader }

    func add(_ d: Diagnostic) { diagnostics.append(d) }

    /// Grouped by file (in order of first appearance), then by position.
    func sortedDiagnostics() -> [Diagnostic] {
        var order: [String: Int] = [:]
        for d in diagnostics where order[d.file?.path ?? ""] == nil { order[d.file?.path ?? ""] = order.count }
        return diagnostics.enumerated().sorted { a, b in
            let fa = order[a.element.file?.path ?? ""]!, fb = order[b.element.file?.path ?? ""]!
            if fa != fb { return fa < fb }
            if a.element.span.start != b.element.span.start { return a.element.span.start < b.element.span.start }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// Loads, parses and checks the target of a `use` (once per file), reporting problems
    /// through `importer`.
    func load(_ use: UseDecl, importer: ModuleChecker) -> ModuleResult? {
        let source: SourceFile
        let display: String
        let targetSpan: Span
        switch use.target {
        case .module(let parts):
            let path = parts.map(\.text)
            display = path.joined(separator: ".")
            targetSpan = parts.isEmpty ? use.span : parts[0].span.to(parts[parts.count - 1].span)
            guard let file = loader.loadModule(path) else {
                let known = loader.availableModules().map { $0.joined(separator: ".") }
                importer.error("no module `\(display)`", at: targetSpan, help: suggestion(display, known))
                return nil
            }
            source = file
        case .file(let path, let span):
            display = path
            targetSpan = span
            do {
                source = try loader.loadFile(path, relativeTo: importer.file)
            } catch {
                importer.error("cannot read `\(path)`: \(error)", at: span)
                return nil
            }
        }
        let key = normalizedPath(source.path)
        // In the stack and in cycle messages, files go by their path, modules by their dotted name.
        let stackName: String
        if case .file = use.target { stackName = key } else { stackName = display }
        if let i = stack.firstIndex(where: { $0.key == key }) {
            let chain = stack[i...].map(\.display) + [stackName]
            importer.error("import cycle: " + chain.map { "`\($0)`" }.joined(separator: " → "), at: targetSpan,
                           help: "move what both files need into a third file that neither imports back")
            return nil
        }
        if let cached = cache[key] { return cached }
        if stack.count >= Checker.maxImportDepth {
            importer.error("imports nest deeper than \(Checker.maxImportDepth) levels", at: targetSpan)
            return nil
        }
        let parsed = Parser.parse(source)
        for d in parsed.diagnostics { add(d) }
        stack.append((key, stackName))
        let checker = ModuleChecker(session: self, file: source, moduleName: display, isMain: false, depth: stack.count)
        checker.run(parsed.module)
        stack.removeLast()
        let result = ModuleResult(display: display, file: source, exports: checker.exports)
        cache[key] = result
        return result
    }
}

/// `a/./b/../c.sluice` → `a/c.sluice`, so that one file reached two ways is one module.
func normalizedPath(_ path: String) -> String {
    var parts: [Substring] = []
    let absolute = path.hasPrefix("/")
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
        parts.append(part)
    }
    return (absolute ? "/" : "") + parts.joined(separator: "/")
}

func suggestion(_ name: String, _ candidates: some Sequence<String>) -> String? {
    closestMatch(to: name, in: candidates).map { "did you mean `\($0)`?" }
}

// MARK: - Building the program

extension ModuleChecker {
    /// The tables of everything visible from this (main) module, plus the declarations that
    /// imported ones depend on (a prompt's model, a pipeline's prompts, ...), under their names.
    func makeProgram(main: Module, budget: Declared<BudgetDecl>?, calls: CallTable, bindings: BindingTable,
                     schemas: [BindingSite: SchemaFile]) -> Program {
        var table: [String: Entry] = [:]
        var names: [String] = []
        for name in order { if let e = scope[name], table[name] == nil { table[name] = e; names.append(name) } }
        var visited: Set<ObjectIdentifier> = []
        // Depth first, with a stack of its own: chains of declarations may be long.
        func visit(_ start: Entry, root: String) {
            var stack = [start]
            while let entry = stack.popLast() {
            guard visited.insert(ObjectIdentifier(entry)).inserted else { continue }
            for dep in entry.deps {
                if let existing = table[dep.name.text] {
                    if existing !== dep, let origin = origins[root] {
                        error("imported \(table[root]?.kind.rawValue ?? "declaration") `\(root)` uses \(dep.kind.rawValue) `\(dep.name.text)` from `\(dep.moduleName)`, but `\(dep.name.text)` here is a different declaration",
                              at: origin,
                              notes: [Diagnostic.Note("`\(dep.name.text)` is declared here", file: existing.file, span: existing.name.span)],
                              help: "rename one of the two, or import `\(dep.name.text)` from `\(dep.moduleName)`")
                    }
                } else {
                    table[dep.name.text] = dep
                    names.append(dep.name.text)
                }
            }
            stack.append(contentsOf: entry.deps.reversed())
            }
        }
        for name in names { if let e = table[name] { visit(e, root: name) } }

        var models: [String: Declared<ModelDecl>] = [:], types: [String: Declared<TypeDecl>] = [:]
        var prompts: [String: Declared<PromptDecl>] = [:], indexes: [String: Declared<IndexDecl>] = [:]
        var guards: [String: Declared<GuardDecl>] = [:], pipelines: [String: Declared<PipelineDecl>] = [:]
        var metrics: [String: Declared<MetricDecl>] = [:]
        var resolved: [String: SluiceType] = [:]
        for (name, e) in table {
            switch e.decl {
            case .model(let d): models[name] = Declared(d, in: e.file)
            case .type(let d):
                types[name] = Declared(d, in: e.file)
                resolved[name] = e.type ?? .any
            case .prompt(let d): prompts[name] = Declared(d, in: e.file)
            case .index(let d): indexes[name] = Declared(d, in: e.file)
            case .guardSet(let d): guards[name] = Declared(d, in: e.file)
            case .pipeline(let d): pipelines[name] = Declared(d, in: e.file)
            case .metric(let d): metrics[name] = Declared(d, in: e.file)
            case .use, .budget, .expect, .alert, .notify: break
            }
        }
        return Program(main: main, models: models, types: types, prompts: prompts, indexes: indexes, guards: guards,
                       pipelines: pipelines, metrics: metrics, budget: budget, resolvedTypes: resolved, calls: calls, bindings: bindings,
                       schemas: schemas)
    }

    /// Makes the declarations of an existing program visible (and redefinable) here: for the REPL.
    func adopt(_ program: Program) {
        func add(_ kind: Entry.Kind, _ name: String, _ decl: Decl, _ declName: Name, _ file: SourceFile) {
            let entry = Entry(kind: kind, name: declName, decl: decl, file: file, moduleName: file.path)
            if kind == .type { entry.type = program.resolvedTypes[name] ?? .any }
            entry.adopted = true
            scope[name] = entry
            order.append(name)
            replaceable.insert(name)
        }
        for (n, d) in program.models.sorted(by: { $0.key < $1.key }) { add(.model, n, .model(d.decl), d.decl.name, d.file) }
        for (n, d) in program.types.sorted(by: { $0.key < $1.key }) { add(.type, n, .type(d.decl), d.decl.name, d.file) }
        for (n, d) in program.prompts.sorted(by: { $0.key < $1.key }) { add(.prompt, n, .prompt(d.decl), d.decl.name, d.file) }
        for (n, d) in program.indexes.sorted(by: { $0.key < $1.key }) { add(.index, n, .index(d.decl), d.decl.name, d.file) }
        for (n, d) in program.guards.sorted(by: { $0.key < $1.key }) { add(.guardSet, n, .guardSet(d.decl), d.decl.name, d.file) }
        for (n, d) in program.pipelines.sorted(by: { $0.key < $1.key }) { add(.pipeline, n, .pipeline(d.decl), d.decl.name, d.file) }
        for (n, d) in program.metrics.sorted(by: { $0.key < $1.key }) { add(.metric, n, .metric(d.decl), d.decl.name, d.file) }
    }
}

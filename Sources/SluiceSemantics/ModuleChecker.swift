import SluiceSyntax

/// Checks one file: its imports, the names it declares, and every declaration's body.
final class ModuleChecker {
    let session: Session
    let file: SourceFile
    let moduleName: String
    let isMain: Bool
    let depth: Int

    /// Every name visible in this file (own and imported declarations).
    var scope: [String: Entry] = [:]
    /// Names in the order they entered the scope.
    var order: [String] = []
    /// Where each name entered the scope in this file (its declaration or the `use` naming it).
    var origins: [String: Span] = [:]
    /// The `use` that brought a name in, for messages ("already imported from `std.models`").
    var importedFrom: [String: String] = [:]
    /// Names that a new declaration may silently redefine (the REPL's earlier declarations).
    var replaceable: Set<String> = []
    /// Names brought in by a `use` without a name list: a declaration in this file or an
    /// explicit import of the same name shadows them (so a script can override a catalog model).
    var wildcard: Set<String> = []
    /// Names whose import failed: no further "unknown" errors for them.
    var poisoned: Set<String> = []
    /// This file's own declarations, in order (including duplicates, which are still checked).
    var declared: [Entry] = []
    /// What importers of this file can see: its own declarations, first of each name.
    var exports: [Entry] = []
    /// The file-wide budget.
    var budget: Declared<BudgetDecl>?

    /// The declaration being checked: names it resolves become its dependencies.
    var current: Entry?
    /// Type declarations being resolved (for recursion messages).
    var resolvingTypes: [Entry] = []
    /// While > 0, errors are dropped (re-deriving facts about already checked declarations).
    var muted = 0

    /// Type declarations refer to each other at most this deep (each level is a recursion).
    static let maximumTypeDepth = 128

    init(session: Session, file: SourceFile, moduleName: String, isMain: Bool, depth: Int) {
        self.session = session; self.file = file; self.moduleName = moduleName; self.isMain = isMain; self.depth = depth
    }

    // MARK: Diagnostics

    func error(_ message: String, at span: Span, notes: [Diagnostic.Note] = [], help: String? = nil) {
        guard muted == 0 else { return }
        session.add(Diagnostic(.error, message, file: file, span: span, notes: notes, help: help))
    }

    func warning(_ message: String, at span: Span, notes: [Diagnostic.Note] = [], help: String? = nil) {
        guard muted == 0 else { return }
        session.add(Diagnostic(.warning, message, file: file, span: span, notes: notes, help: help))
    }

    func note(_ message: String, _ span: Span) -> Diagnostic.Note { Diagnostic.Note(message, file: file, span: span) }

    // MARK: Running

    func run(_ module: Module) {
        // 1. Names: imports and own declarations, in source order.
        for decl in module.decls {
            switch decl {
            case .use(let use): importUse(use)
            case .budget(let b):
                if let first = budget, first.file === file {
                    error("a second file-wide `budget`", at: b.span, notes: [note("the first one is here", first.decl.span)],
                          help: "put every limit in one `budget` line")
                } else if isMain {
                    budget = Declared(b, in: file)
                } else {
                    // An imported file's budget applies when that file is run, not here.
                    budget = Declared(b, in: file)
                }
            default:
                guard let kind = Entry.Kind(decl), let name = decl.name else { continue }
                let entry = Entry(kind: kind, name: name, decl: decl, file: file, moduleName: moduleName)
                checkReservedName(entry)
                declared.append(entry)
                if register(name.text, entry, at: name.span, from: nil) { exports.append(entry) }
            }
        }
        // 2. Types, 3. signatures, 4. bodies.
        for entry in declared where entry.kind == .type { _ = resolvedType(of: entry, referencedAt: nil) }
        for entry in declared where entry.kind == .prompt || entry.kind == .pipeline { _ = signature(of: entry) }
        for decl in module.decls { if case .budget(let b) = decl { checkBudget(b) } }
        checkExpectations(module)
        checkAlerts(module)
        for entry in declared { checkBody(of: entry) }
    }

    func checkReservedName(_ entry: Entry) {
        let name = entry.name.text
        switch entry.kind {
        case .type where Builtins.types[name] != nil:
            error("`\(name)` is a built-in type", at: entry.name.span, help: "choose another name")
        case .prompt, .pipeline:
            if Builtins.functions[name] != nil {
                error("`\(name)` is the name of a built-in function", at: entry.name.span, help: "choose another name")
            }
        default: break
        }
    }

    /// Adds a name to the scope; reports a clash with an earlier, different declaration.
    @discardableResult
    func register(_ name: String, _ entry: Entry, at span: Span, from module: String?, isWildcard: Bool = false) -> Bool {
        if let existing = scope[name] {
            if existing === entry { return true }
            if isWildcard && !wildcard.contains(name) && !replaceable.contains(name) { return false }
            if replaceable.contains(name) || (wildcard.contains(name) && !isWildcard) {
                replaceable.remove(name)
                wildcard.remove(name)
                if isWildcard { wildcard.insert(name) }
                scope[name] = entry
                origins[name] = span
                if let module { importedFrom[name] = module } else { importedFrom[name] = nil }
                return true
            }
            let origin = origins[name] ?? existing.name.span
            switch (importedFrom[name], module) {
            case (nil, nil):
                error("`\(name)` is declared twice", at: span, notes: [note("first declared here", origin)])
            case (let first?, nil):
                error("`\(name)` is already imported from `\(first)`", at: span, notes: [note("imported here", origin)],
                      help: "rename this declaration, or drop `\(name)` from the `use`")
            case (nil, let second?):
                error("`\(name)` from `\(second)` clashes with the declaration in this file", at: span,
                      notes: [note("declared here", origin)],
                      help: "rename the declaration, or drop `\(name)` from the `use`")
            case (let first?, let second?):
                error("`\(name)` is imported from both `\(first)` and `\(second)`", at: span,
                      notes: [note("first imported here", origin)])
            }
            return false
        }
        scope[name] = entry
        order.append(name)
        origins[name] = span
        if let module { importedFrom[name] = module }
        if isWildcard { wildcard.insert(name) }
        return true
    }

    func importUse(_ use: UseDecl) {
        guard let result = session.load(use, importer: self) else {
            for name in use.names ?? [] { poisoned.insert(name.text) }
            return
        }
        if let names = use.names {
            for name in names {
                if let entry = result.byName[name.text] {
                    register(name.text, entry, at: name.span, from: result.display)
                } else {
                    poisoned.insert(name.text)
                    error("module `\(result.display)` has no declaration `\(name.text)`", at: name.span,
                          help: suggestion(name.text, result.byName.keys))
                }
            }
        } else {
            for entry in result.exports { register(entry.name.text, entry, at: use.span, from: result.display, isWildcard: true) }
        }
    }

    // MARK: Lookups

    /// A declaration by name, recorded as a dependency of the declaration being checked.
    func lookup(_ name: String) -> Entry? {
        guard let entry = scope[name] else { return nil }
        current?.addDependency(entry)
        return entry
    }

    func names(of kind: Entry.Kind) -> [String] {
        order.filter { scope[$0]?.kind == kind }
    }

    /// A name used where a model is expected (`using M`, a cascade step, a prompt's `model`).
    func checkModelName(_ name: Name) {
        if let entry = lookup(name.text) {
            if entry.kind != .model {
                error("`\(name.text)` is \(entry.kind.article), not a model", at: name.span, help: suggestion(name.text, names(of: .model)))
            }
            return
        }
        if poisoned.contains(name.text) { return }
        error("unknown model `\(name.text)`", at: name.span,
              help: suggestion(name.text, names(of: .model))
                ?? "declare it with `model \(name.text) { ... }`, or import it: `use std.models.{\(name.text)}`")
    }

    // MARK: Types

    func resolve(_ ref: TypeRef) -> SluiceType {
        switch ref {
        case .named(let n):
            if let entry = lookup(n.text) {
                guard entry.kind == .type else {
                    error("`\(n.text)` is \(entry.kind.article), not a type", at: n.span)
                    return .any
                }
                return resolvedType(of: entry, referencedAt: n.span)
            }
            if let builtin = Builtins.types[n.text] { return builtin }
            if poisoned.contains(n.text) { return .any }
            error("unknown type `\(n.text)`", at: n.span,
                  help: suggestion(n.text, names(of: .type) + Builtins.types.keys.sorted()))
            return .any
        case .list(let element, _):
            return .list(resolve(element))
        case .optional(let inner, _):
            let t = resolve(inner)
            return t == .any ? .any : .optional(t.nonOptional)
        case .enumeration(let cases, let span):
            var seen: Set<String> = []
            var unique: [String] = []
            for c in cases {
                if seen.insert(c).inserted { unique.append(c) } else {
                    error("\(JSONValue.string(c).serialized()) appears twice in the enum", at: span)
                }
            }
            return .enumeration(unique)
        }
    }

    func resolvedType(of entry: Entry, referencedAt span: Span?) -> SluiceType {
        if let t = entry.type { return t }
        if entry.resolving {
            let start = resolvingTypes.firstIndex { $0 === entry } ?? 0
            let chain = resolvingTypes[start...].map(\.name.text) + [entry.name.text]
            error("type `\(entry.name.text)` contains itself: " + chain.joined(separator: " → "), at: span ?? entry.name.span,
                  help: "types compile to JSON Schema without references; break the cycle, for example with `any`")
            return .any
        }
        guard case .type(let decl) = entry.decl, entry.file === file else { return .any }
        guard resolvingTypes.count < Self.maximumTypeDepth else {
            error("type `\(entry.name.text)` is reached through more than \(Self.maximumTypeDepth) type declarations", at: span ?? entry.name.span,
                  help: "types refer to each other at most \(Self.maximumTypeDepth) deep; declare this one directly")
            return .any
        }
        entry.resolving = true
        resolvingTypes.append(entry)
        let saved = current
        current = entry
        let type: SluiceType
        switch decl.body {
        case .record(let fields):
            var seen: [String: Span] = [:]
            var out: [SluiceType.RecordField] = []
            for field in fields {
                if let first = seen[field.name.text] {
                    error("field `\(field.name.text)` is declared twice in type `\(decl.name.text)`", at: field.name.span,
                          notes: [note("first declared here", first)])
                    continue
                }
                seen[field.name.text] = field.name.span
                out.append(.init(name: field.name.text, type: resolve(field.type), optional: field.optional))
            }
            type = .record(name: decl.name.text, fields: out)
        case .alias(let ref):
            type = resolve(ref)
        }
        current = saved
        resolvingTypes.removeLast()
        entry.resolving = false
        entry.type = type
        return type
    }

    // MARK: Signatures

    func signature(of entry: Entry) -> Signature {
        if let s = entry.signature { return s }
        let saved = current
        current = entry
        if entry.adopted || entry.file !== file { muted += 1 }
        defer {
            current = saved
            if entry.adopted || entry.file !== file { muted -= 1 }
        }
        var signature = Signature(params: [], returns: nil)
        switch entry.decl {
        case .prompt(let p):
            if let params = p.params {
                signature.params = params.map(paramInfo)
            } else {
                signature.params = inferredParameters(of: p).map {
                    ParamInfo(name: $0.name, span: $0.span, type: .any, trusted: false, hasDefault: false)
                }
            }
            signature.returns = p.returns.map(resolve)
        case .pipeline(let p):
            signature.params = p.params.map(paramInfo)
            signature.returns = p.returnType.map(resolve)
        case .metric(let m):
            signature.params = m.lowered.params.map(paramInfo)
        default: break
        }
        entry.signature = signature
        return signature
    }

    private func paramInfo(_ p: Param) -> ParamInfo {
        ParamInfo(name: p.name.text, span: p.name.span, type: p.type.map(resolve) ?? .any, trusted: p.trusted,
                  hasDefault: p.defaultValue != nil)
    }

    // MARK: Declarations

    func checkBody(of entry: Entry) {
        let saved = current
        current = entry
        defer { current = saved }
        switch entry.decl {
        case .model(let d): checkModel(d)
        case .index(let d): checkIndex(d)
        case .guardSet(let d): checkGuard(d)
        case .prompt(let d): checkPrompt(d, entry)
        case .pipeline(let d): checkPipeline(d, entry)
        case .metric(let d): checkMetric(d, entry)
        case .type, .use, .budget, .expect, .alert, .notify: break
        }
    }

    /// Reports a key given twice; returns false for the repeat.
    private func firstTime(_ field: Field, _ seen: inout [String: Span], in what: String) -> Bool {
        if let first = seen[field.name.text] {
            error("`\(field.name.text)` is set twice in \(what)", at: field.name.span, notes: [note("first set here", first)])
            return false
        }
        seen[field.name.text] = field.name.span
        return true
    }

    func constantType(_ expr: Expr, _ what: String) -> SluiceType {
        BodyChecker(self, mode: .constant(what)).check(expr).type
    }

    func checkModel(_ d: ModelDecl) {
        var seen: [String: Span] = [:]
        for field in d.fields {
            guard firstTime(field, &seen, in: "model `\(d.name.text)`") else { continue }
            let key = field.name.text
            guard let modelField = ModelField(rawValue: key) else {
                error("unknown model field `\(key)`", at: field.name.span,
                      help: suggestion(key, Builtins.modelFields) ?? "model fields: " + Builtins.modelFields.joined(separator: ", "))
                _ = constantType(field.value, "a model field")
                continue
            }
            let type = constantType(field.value, "a model field")
            switch modelField.kind {
            case .text(let choices?): expectString(field, type, oneOf: choices, kind: key)
            case .text(nil): expectString(field, type)
            case .wholeNumber(let example): expectNumber(field, type, whole: true, example: example)
            case .number(let example): expectNumber(field, type, whole: false, example: example)
            case .price: expectMoney(field, type, example: "$2.50 / 1M")
            }
        }
    }

    func checkIndex(_ d: IndexDecl) {
        var seen: [String: Span] = [:]
        var chunk: Double?, overlap: (Double, Span)?
        for field in d.fields {
            guard firstTime(field, &seen, in: "index `\(d.name.text)`") else { continue }
            let key = field.name.text
            if key == "embed" {
                guard case .name(let model) = field.value.kind else {
                    error("`embed` names the embedding model that reranks what BM25 finds", at: field.value.span)
                    continue
                }
                checkModelName(Name(model, field.value.span))
                continue
            }
            let type = constantType(field.value, "an index field")
            switch key {
            case "store", "source": expectString(field, type)
            case "chunk", "overlap":
                expectNumber(field, type, whole: true, example: key == "chunk" ? "200" : "40")
                if let n = literalNumber(field.value) {
                    if key == "chunk" { chunk = n } else { overlap = (n, field.value.span) }
                }
            default:
                error("unknown index field `\(key)`", at: field.name.span,
                      help: suggestion(key, Builtins.indexFields) ?? "index fields: " + Builtins.indexFields.joined(separator: ", "))
            }
        }
        if let chunk, let (o, span) = overlap, o >= chunk {
            error("`overlap` must be smaller than `chunk` (\(JSONValue.formatNumber(chunk)))", at: span)
        }
    }

    func checkGuard(_ d: GuardDecl) {
        if let action = d.action, !Builtins.guardActions.contains(action.text) {
            error("unknown guard action `\(action.text)`", at: action.span,
                  help: suggestion(action.text, Builtins.guardActions) ?? "a guard's action is `block`, `redact` or `flag`")
        }
        var patternNames: [String: Span] = [:]
        for pattern in d.patterns {
            if let first = patternNames[pattern.name.text] {
                error("pattern `\(pattern.name.text)` is declared twice in guard `\(d.name.text)`", at: pattern.name.span,
                      notes: [note("first declared here", first)])
            } else {
                patternNames[pattern.name.text] = pattern.name.span
            }
            checkPattern(pattern.regex)
            if let replacement = pattern.replacement {
                if case .string(let parts) = replacement.kind {
                    if parts.contains(where: { if case .hole = $0 { true } else { false } }) {
                        error("a replacement text cannot have holes", at: replacement.span, help: "write `{{` for a literal brace")
                    }
                } else {
                    error("a replacement must be a string", at: replacement.span)
                }
            }
        }
        var seen: [String: Span] = [:]
        for field in d.fields {
            guard firstTime(field, &seen, in: "guard `\(d.name.text)`") else { continue }
            let type = constantType(field.value, "a guard setting")
            if field.name.text == "max_length" {
                expectNumber(field, type, whole: true, example: "4000")
            } else {
                error("unknown guard setting `\(field.name.text)`", at: field.name.span,
                      help: suggestion(field.name.text, Builtins.guardFields + ["action", "pattern"])
                        ?? "a guard has `action`, `pattern` lines and `max_length`")
            }
        }
    }

    func checkPattern(_ regex: Expr) {
        guard case .string(let parts) = regex.kind else {
            error("a pattern must be a string, like r\"\\bword\\b\"", at: regex.span)
            return
        }
        var text = ""
        for part in parts {
            switch part {
            case .text(let t): text += t
            case .hole:
                error("a pattern cannot have holes", at: regex.span, help: "write it as a raw string: r\"...\"")
                return
            }
        }
        if text.isEmpty {
            error("an empty pattern matches everywhere", at: regex.span)
            return
        }
        if let problem = regexProblem(text) {
            var span = regex.span
            // In a raw string `r"..."` the pattern's characters are the source bytes: point at the culprit.
            let source = file.slice(span)
            if let offset = problem.offset, source.hasPrefix("r\""), !source.hasPrefix("r\"\"\"") {
                let start = span.start + 2 + offset
                span = Span(start, min(start + max(1, problem.length), span.end - 1))
            }
            error("invalid regular expression: \(problem.message)", at: span)
        }
    }

    /// `expect AGGREGATE(SCORE) OP NUMBER`: a known aggregate, a finite bound, and one bound per
    /// aggregate of a score. Whether a case records the score is known only when `sluice test` runs
    /// the cases (a score under a `when` may never be recorded), so that is checked there.
    func checkExpectations(_ module: Module) {
        var seen: [String: Span] = [:]
        for decl in module.decls {
            guard case .expect(let expect) = decl else { continue }
            let aggregates = ExpectDecl.Aggregate.allCases.map(\.rawValue)
            guard aggregates.contains(expect.aggregate.text) else {
                error("unknown aggregate `\(expect.aggregate.text)` in `expect`", at: expect.aggregate.span,
                      help: suggestion(expect.aggregate.text, aggregates)
                        ?? "`mean(SCORE)` is the score's mean over the cases, `min(SCORE)` its lowest value")
                continue
            }
            guard expect.bound.isFinite else {
                error("the bound of `expect` must be a finite number", at: expect.span)
                continue
            }
            let key = "\(expect.aggregate.text)(\(expect.score.text))"
            if let first = seen[key] {
                error("`\(key)` is expected twice", at: expect.span, notes: [note("the first expectation is here", first)],
                      help: "keep one bound for each aggregate of a score")
                continue
            }
            seen[key] = expect.span
        }
    }

    /// `request` is money and `tokens` a token count, per run; a window (`user_day`, `pipeline_day`,
    /// `day`, `session`) takes money or a token count, and may be written once with each.
    func checkBudget(_ b: BudgetDecl) {
        var seen: [String: Span] = [:]
        for limit in b.limits {
            let type = constantType(limit.value, "a budget limit")
            let name = limit.name.text
            if let window = BudgetWindow(rawValue: name) {
                let isMoney = isCompatibleConstant(type, .money)
                guard isMoney || isCompatibleConstant(type, .number) else {
                    error("budget `\(name)` must be money, like `$2`, or a number of tokens, like `200k`", at: limit.value.span,
                          help: "this is \(describe(type))")
                    continue
                }
                // One money limit and one token limit per window.
                let kind = isMoney ? "money" : "token"
                if let first = seen["\(name) \(kind)"] {
                    error("this budget already has a \(kind) limit for `\(window.rawValue)`", at: limit.name.span,
                          notes: [note("the first is here", first)],
                          help: "a window takes one money limit and one token limit, like `\(name) $2, \(name) 200k`")
                    continue
                }
                seen["\(name) \(kind)"] = limit.name.span
                if !isMoney, let n = literalNumber(limit.value), n != n.rounded() {
                    error("budget `\(name)` must be a whole number of tokens", at: limit.value.span)
                }
            } else {
                guard firstTime(limit, &seen, in: "this budget") else { continue }
                switch name {
                case "request":
                    if !isCompatibleConstant(type, .money) {
                        error("budget `request` must be money, like `$0.10`", at: limit.value.span, help: "this is \(describe(type))")
                    }
                case "tokens":
                    if !isCompatibleConstant(type, .number) {
                        error("budget `tokens` must be a number of tokens, like `8k`", at: limit.value.span, help: "this is \(describe(type))")
                    } else if let n = literalNumber(limit.value), n < 0 || n != n.rounded() {
                        error("budget `tokens` must be a whole number of tokens", at: limit.value.span)
                    }
                default:
                    error("unknown budget limit `\(name)`", at: limit.name.span,
                          help: suggestion(name, Builtins.budgetLimits)
                            ?? "a budget has `request` (money per run), `tokens` (tokens per run), and the windows kept across runs: "
                                + "`user_day`, `pipeline_day`, `day` (UTC days) and `session`, each money or tokens")
                }
            }
            if let n = literalNumber(limit.value), n < 0 {
                error("a budget limit cannot be negative", at: limit.value.span)
            }
        }
    }

    func checkPrompt(_ p: PromptDecl, _ entry: Entry) {
        let sig = signature(of: entry)
        checkParams(p.params ?? [], sig, of: "prompt `\(p.name.text)`")

        var seen: [String: Span] = [:]
        for field in p.fields {
            guard firstTime(field, &seen, in: "prompt `\(p.name.text)`") else { continue }
            switch field.name.text {
            case "model":
                if case .name(let m) = field.value.kind {
                    checkModelName(Name(m, field.value.span))
                } else {
                    error("`model` must name a declared model", at: field.value.span,
                          help: "declare one (`model mine { id \"...\" }`) and write `model mine`")
                }
            case "temperature":
                let t = constantType(field.value, "a prompt setting")
                expectNumber(field, t, whole: false, example: "0.2")
            case "max_tokens":
                let t = constantType(field.value, "a prompt setting")
                expectNumber(field, t, whole: true, example: "400")
                if let n = literalNumber(field.value), n < 1 { error("`max_tokens` must be at least 1", at: field.value.span) }
            case "stop":
                let t = constantType(field.value, "a prompt setting")
                switch t {
                case .string, .list(.string), .list(.any), .any: break
                default: error("`stop` must be a string or a list of strings", at: field.value.span)
                }
            case "context":
                guard case .name(let strategy) = field.value.kind, Builtins.contextStrategies.contains(strategy) else {
                    let written = field.value.kind.nameText ?? ""
                    error("`context` is one of " + Builtins.contextStrategies.joined(separator: ", "), at: field.value.span,
                          help: suggestion(written, Builtins.contextStrategies))
                    continue
                }
            default:
                _ = constantType(field.value, "a prompt setting")
                error("unknown prompt setting `\(field.name.text)`", at: field.name.span,
                      help: suggestion(field.name.text, Builtins.promptFields + ["system", "user", "assistant", "example", "returns", "meta"])
                        ?? "prompt settings: " + Builtins.promptFields.joined(separator: ", "))
            }
        }
        if let meta = p.meta { _ = constantType(meta, "a `meta` value") }
        if p.messages.isEmpty {
            error("prompt `\(p.name.text)` has no messages", at: p.name.span, help: "add a `user \"...\"` message")
        }

        let parameters = sig.params.map { ($0.name, parameterFacts($0, role: "a parameter of prompt `\(p.name.text)`")) }
        let body = BodyChecker(self, mode: .prompt(p.name.text), parameters: parameters)
        defer { session.bindings.layout(of: p.name, in: file, body.layout) }
        for message in p.messages + p.examples.joined() {
            if message.isHistory {
                body.checkHistory(message.content)
                continue
            }
            let holes: [Expr]
            if case .string(let parts) = message.content.kind {
                holes = parts.compactMap { if case .hole(let e) = $0 { e } else { nil } }
            } else {
                holes = [message.content]
            }
            for hole in holes {
                let facts = body.check(hole)
                guard message.role == .system, !facts.trust.isSafeAsInstructions else { continue }
                untrustedInSystemMessage(hole, facts.taint, body, inferred: p.params == nil)
            }
        }
    }

    /// A parameter as its body sees it: trusted when declared `trusted` (callers pass only
    /// trusted or fenced text for it), untrusted otherwise. `role` says what it is, for messages.
    private func parameterFacts(_ param: ParamInfo, role: String) -> Facts {
        if param.trusted { return Facts(param.type) }
        return Facts(param.type, .untrusted, taint: .source("`\(param.name)`, \(role) not declared `trusted`", parameter: param.name))
    }

    private func untrustedInSystemMessage(_ hole: Expr, _ taint: Taint?, _ body: BodyChecker, inferred: Bool) {
        switch taint {
        case .source(_, let name?)?:
            error("untrusted `\(name)` in a system message: pass it through `| fenced` (marks it as data) or `| trusted`",
                  at: hole.span,
                  help: inferred
                    ? "a prompt without a parameter list has only untrusted parameters; declare `\(name): trusted string` if the script author supplies it"
                    : "or declare the parameter as `\(name): trusted ...` if the script author supplies it")
        case .unfenced?:
            let (reason, notes) = body.explain(taint)
            error("untrusted text in a system message\(reason)", at: hole.span, notes: notes,
                  help: BodyChecker.fenceLastHelp)
        default:
            let (reason, notes) = body.explain(taint)
            error("untrusted text in a system message\(reason)", at: hole.span, notes: notes,
                  help: "pass it through `| fenced` (marks it as data) or `| trusted`")
        }
    }

    func checkPipeline(_ p: PipelineDecl, _ entry: Entry) {
        let sig = signature(of: entry)
        checkParams(p.params, sig, of: "pipeline `\(p.name.text)`")
        let parameters = sig.params.map { ($0.name, parameterFacts($0, role: "an input of pipeline `\(p.name.text)`")) }
        let body = BodyChecker(self, mode: .pipeline(p.name.text, returns: sig.returns), parameters: parameters)
        body.pipeline = p
        body.prescan(p.body.statements)
        let returns = body.check(p.body.statements)
        session.bindings.layout(of: p.name, in: file, body.layout)
        if let declared = p.returnType, !returns {
            let closing = Span(max(p.body.span.start, p.body.span.end - 1), p.body.span.end)
            var notes: [Diagnostic.Note] = []
            if let last = p.body.statements.last, let why = fallThrough(last) {
                notes.append(note(why, body.keywordSpan(last)))
            }
            error("pipeline `\(p.name.text)` returns `\(slice(declared.span))`, but it can end without `return`", at: closing,
                  notes: notes, help: "end every path with `return VALUE`")
        }
    }

    /// A metric's body is checked as its lowered pipeline's, with `it` of any type; what it gives
    /// must be a number (an expression) or a grade (a judge).
    func checkMetric(_ m: MetricDecl, _ entry: Entry) {
        if Builtins.metrics[m.name.text] != nil {
            error("`\(m.name.text)` is a built-in metric; a declared metric needs another name", at: m.name.span)
        }
        let sig = signature(of: entry)
        checkParams(m.params, Signature(params: Array(sig.params.dropFirst()), returns: nil), of: "metric `\(m.name.text)`")
        for param in m.params where param.name.text == "it" {
            error("`it` is the scored value in a metric; name the parameter otherwise", at: param.name.span)
        }
        let parameters = sig.params.map { ($0.name, parameterFacts($0, role: "an input of metric `\(m.name.text)`")) }
        let body = BodyChecker(self, mode: .pipeline(m.name.text, returns: nil), parameters: parameters)
        body.pipeline = m.lowered
        let value: Expr
        switch m.body { case .expression(let e), .judge(let e): value = e }
        let facts = body.check(value)
        session.bindings.layout(of: m.lowered.name, in: file, body.layout)
        switch m.body {
        case .expression(let e):
            if !kinds(facts.type).contains(.number) {
                error("metric `\(m.name.text)` must give a number in 0..1, but this is \(describe(facts.type))", at: e.span)
            }
        case .judge(let call):
            let help = "a judge is a prompt that `returns` a grade, as in `type Grade { reasoning: string  score: number }`"
            guard case .call = call.kind, case .reply(let returns) = facts.type else {
                error("`judge` takes a call of a prompt, as in `judge relevance_judge(question: question, answer: it)`", at: call.span,
                      help: help)
                return
            }
            guard case .record(_, let fields)? = returns?.nonOptional, let score = fields.first(where: { $0.name == "score" }) else {
                error("the judge of metric `\(m.name.text)` must return a record with a `score: number` field", at: call.span, help: help)
                return
            }
            if ![.number, .int].contains(score.type.nonOptional) {
                error("the judge's `score` must be a number, not \(describe(score.type))", at: call.span, help: help)
            }
            if let reasoning = fields.first(where: { $0.name == "reasoning" }), reasoning.type.nonOptional != .string {
                error("the judge's `reasoning` must be a string, not \(describe(reasoning.type))", at: call.span, help: help)
            }
        }
    }

    /// Why a final statement that does not always return lets the pipeline reach its end.
    private func fallThrough(_ last: Stmt) -> String? {
        switch last.kind {
        case .ifElse(_, nil): "this `if` has no `else`: when no condition holds, nothing is returned"
        case .ifElse: "a branch of this `if` does not end in `return`"
        case .forIn: "a `for` loop may run zero times"
        default: nil
        }
    }

    private func slice(_ span: Span) -> String { file.slice(span) }

    func checkParams(_ params: [Param], _ sig: Signature, of what: String) {
        var seen: [String: Span] = [:]
        for (param, info) in zip(params, sig.params) {
            if let first = seen[param.name.text] {
                error("parameter `\(param.name.text)` is declared twice in \(what)", at: param.name.span,
                      notes: [note("first declared here", first)])
            }
            seen[param.name.text] = param.name.span
            if let value = param.defaultValue {
                let t = constantType(value, "a default value")
                if let why = mismatch(t, info.type) {
                    error("default of `\(param.name.text)` must be `\(info.type)`, but this value \(why)", at: value.span)
                }
            }
        }
    }

    // MARK: Field value kinds

    private func expectString(_ field: Field, _ type: SluiceType, oneOf allowed: [String]? = nil, kind: String? = nil) {
        guard isCompatibleConstant(type, .string) else {
            error("`\(field.name.text)` must be a string", at: field.value.span, help: "this is \(describe(type))")
            return
        }
        if let allowed, let kind, let s = literalString(field.value), !allowed.contains(s) {
            error("unknown \(kind) \(JSONValue.string(s).serialized())", at: field.value.span,
                  help: suggestion(s, allowed).map { $0.replacingOccurrencesOfBackticks() }
                    ?? "expected one of " + allowed.map { JSONValue.string($0).serialized() }.joined(separator: ", "))
        }
    }

    private func expectNumber(_ field: Field, _ type: SluiceType, whole: Bool, example: String) {
        switch type {
        case .number, .int, .any: break
        case .money:
            error("`\(field.name.text)` must be a number, not money", at: field.value.span, help: "write it like `\(example)`")
            return
        default:
            error("`\(field.name.text)` must be a number, like `\(example)`", at: field.value.span, help: "this is \(describe(type))")
            return
        }
        if let n = literalNumber(field.value) {
            if n < 0 { error("`\(field.name.text)` cannot be negative", at: field.value.span) }
            else if whole, n != n.rounded() { error("`\(field.name.text)` must be a whole number", at: field.value.span) }
        }
    }

    private func expectMoney(_ field: Field, _ type: SluiceType, example: String) {
        switch type {
        case .money, .any: break
        default:
            error("`\(field.name.text)` must be money per token, like `\(example)`", at: field.value.span, help: "this is \(describe(type))")
        }
    }

    private func isCompatibleConstant(_ type: SluiceType, _ expected: SluiceType) -> Bool {
        switch (type, expected) {
        case (.any, _): true
        case (.int, .number), (.number, .number), (.money, .money), (.string, .string): true
        default: false
        }
    }
}

func describe(_ type: SluiceType) -> String {
    switch type {
    case .reply(nil): "a text reply"
    case .reply(let inner?): "a reply (`\(inner)`)"
    case .money: "money"
    case .null: "null"
    case .string: "a string"
    case .number, .int: "a number"
    case .bool: "a bool"
    case .list: "a list (`\(type)`)"
    case .record(let name, _): name.map { "a `\($0)`" } ?? "a record"
    default: "`\(type)`"
    }
}

/// The value of a number literal (also `-3`).
func literalNumber(_ expr: Expr) -> Double? {
    switch expr.kind {
    case .number(let n): n
    case .unary(.negate, let inner): literalNumber(inner).map { -$0 }
    default: nil
    }
}

/// The text of a string literal without holes.
func literalString(_ expr: Expr) -> String? {
    guard case .string(let parts) = expr.kind else { return nil }
    var out = ""
    for part in parts {
        guard case .text(let t) = part else { return nil }
        out += t
    }
    return out
}

extension String {
    /// "did you mean `openai`?" → "did you mean \"openai\"?" for string values.
    func replacingOccurrencesOfBackticks() -> String {
        var out = ""
        var open = true
        for c in self {
            if c == "`" { out.append("\""); open.toggle() } else { out.append(c) }
        }
        return out
    }
}

extension Expr.Kind {
    /// The name, when the expression is a bare name.
    var nameText: String? { if case .name(let n) = self { n } else { nil } }
}

import SluiceSyntax

/// Checks statements and expressions: names in scope, calls, stages, and light type inference
/// (every expression gets a `SluiceType`; `any` when unknown). Reports only mismatches that are
/// certain.
final class BodyChecker {
    enum Mode {
        case pipeline(String, returns: SluiceType?)
        /// The holes of a prompt: only parameters and built-in functions.
        case prompt(String)
        /// A value that must be written as a literal (model fields, defaults, budgets); the
        /// string says what, for messages.
        case constant(String)
        case repl
    }

    let mc: ModuleChecker
    let mode: Mode
    /// Names bound at this point, with their types.
    var locals: [String: SluiceType]
    /// Names assigned somewhere in the body (for "used before it is assigned").
    var assigned: [String: Span] = [:]
    /// Unknown names already reported, so that one typo gives one error.
    var reported: Set<String> = []
    /// > 0 inside `if` and `for` bodies, where a rebinding may or may not happen.
    var conditional = 0

    init(_ mc: ModuleChecker, mode: Mode, locals: [String: SluiceType]) {
        self.mc = mc; self.mode = mode; self.locals = locals
    }

    private func error(_ message: String, at span: Span, notes: [Diagnostic.Note] = [], help: String? = nil) {
        mc.error(message, at: span, notes: notes, help: help)
    }

    private var isPrompt: Bool { if case .prompt = mode { true } else { false } }

    // MARK: Statements

    /// Records every name the statements assign, wherever it is.
    func prescan(_ statements: [Stmt]) {
        for s in statements {
            switch s.kind {
            case .assign(let name, _): if assigned[name.text] == nil { assigned[name.text] = name.span }
            case .ifElse(let branches, let elseBody):
                for b in branches { prescan(b.body.statements) }
                if let elseBody { prescan(elseBody.statements) }
            case .forIn(_, _, let body): prescan(body.statements)
            default: break
            }
        }
    }

    func check(_ block: Block) {
        for s in block.statements { check(s) }
    }

    private func bind(_ name: String, _ type: SluiceType) {
        if conditional > 0, let old = locals[name] { locals[name] = SluiceType.join(old, type) } else { locals[name] = type }
    }

    func check(_ stmt: Stmt) {
        switch stmt.kind {
        case .assign(let name, let value):
            let type: SluiceType
            if case .cascade(let call, let steps) = value.kind {
                type = cascade(value, call, steps, target: name.text)
            } else {
                type = check(value)
            }
            bind(name.text, type)

        case .guardStage(let subject, let uses):
            let type = check(subject)
            var mayRedact = false
            for use in uses {
                let action = guardUse(use)
                if action != "block" && action != "flag" { mayRedact = true }
            }
            if mayRedact, case .name(let n) = subject.kind, let old = locals[n], old != .string {
                bind(n, type == .string ? .string : .any)
            }

        case .validate(let name, let typeRef, let retries):
            let current = value(name.text, at: name.span)
            var target: SluiceType = .any
            if let typeRef {
                target = mc.resolve(typeRef)
            } else if case .reply(let returns) = current {
                if let returns {
                    target = returns
                } else {
                    error("cannot validate `\(name.text)` without a type: the prompt it comes from has no `returns`", at: name.span,
                          help: "write `validate \(name.text) as TYPE`, or give the prompt a `returns` type")
                }
            } else if case .record = current.nonOptional {
                target = current
            }
            if let retries {
                let t = check(retries)
                if !isNumeric(t) && t != .any {
                    error("`retries` must be a number", at: retries.span, help: "this is \(describe(t))")
                } else if let n = literalNumber(retries), n < 0 || n != n.rounded() {
                    error("`retries` must be a whole number, 0 or more", at: retries.span)
                }
            }
            if locals[name.text] != nil { bind(name.text, target) }

        case .score(let subject, let uses):
            _ = check(subject)
            for use in uses { metric(use) }

        case .ifElse(let branches, let elseBody):
            for branch in branches {
                _ = check(branch.condition)
                conditional += 1
                check(branch.body)
                conditional -= 1
            }
            if let elseBody {
                conditional += 1
                check(elseBody)
                conditional -= 1
            }

        case .forIn(let variable, let sequence, let body):
            let t = check(sequence)
            var element: SluiceType = .any
            switch t.nonOptional {
            case .list(let e): element = e
            case .number, .int, .money, .bool, .string, .enumeration, .record, .reply(nil):
                error("cannot loop over \(describe(t))", at: sequence.span,
                      help: t.nonOptional == .string ? "`for` goes through the items of a list; `lines(x)` splits text into lines"
                        : "`for` goes through the items of a list")
            default: break
            }
            let saved = locals[variable.text]
            locals[variable.text] = element
            conditional += 1
            check(body)
            conditional -= 1
            locals[variable.text] = saved

        case .returnValue(let value):
            let t = value.map { check($0) } ?? .null
            if case .pipeline(let name, let returns?) = mode, let why = mismatch(t, returns) {
                if value == nil {
                    error("pipeline `\(name)` returns `\(returns)`, but this `return` gives no value", at: stmt.span,
                          help: "write `return VALUE`")
                } else {
                    error("pipeline `\(name)` returns `\(returns)`, but this value \(why)", at: value?.span ?? stmt.span)
                }
            }

        case .budget(let b):
            mc.checkBudget(b)

        case .session(let name, let settings):
            checkSessionSettings(settings)
            bind(name.text, .list(Builtins.historyMessage))

        case .expression(let e):
            if case .cascade(let call, let steps) = e.kind {
                _ = cascade(e, call, steps, target: nil)
            } else {
                _ = check(e)
            }
        }
    }

    /// Checks one `G` or `G(action)` of a guard statement; returns the action it takes (nil when unknown).
    @discardableResult
    private func guardUse(_ use: StageUse) -> String? {
        var action: String?
        if let entry = mc.lookup(use.name.text) {
            if case .guardSet(let g) = entry.decl {
                action = g.action?.text ?? "block"
            } else {
                error("`\(use.name.text)` is \(entry.kind.article), not a guard", at: use.name.span,
                      help: suggestion(use.name.text, mc.names(of: .guardSet)))
            }
        } else if !mc.poisoned.contains(use.name.text) {
            error("unknown guard `\(use.name.text)`", at: use.name.span,
                  help: suggestion(use.name.text, mc.names(of: .guardSet))
                    ?? "declare it with `guard \(use.name.text) { ... }`, or import it: `use std.guards.{\(use.name.text)}`")
        }
        if use.args.count > 1 {
            error("a guard takes at most one argument, its action", at: use.args[1].span)
        }
        if let arg = use.args.first {
            if let label = arg.label { error("a guard's action takes no label", at: label.span) }
            if case .name(let a) = arg.value.kind {
                if Builtins.guardActions.contains(a) { action = a } else {
                    error("unknown guard action `\(a)`", at: arg.value.span,
                          help: suggestion(a, Builtins.guardActions) ?? "a guard's action is `block`, `redact` or `flag`")
                }
            } else {
                error("a guard's argument is its action: `block`, `redact` or `flag`", at: arg.value.span)
            }
        }
        if let condition = use.condition { _ = check(condition) }
        return action
    }

    private func metric(_ use: StageUse) {
        var labelled = false
        for (position, arg) in use.args.enumerated() {
            // `similarity(expected, MODEL)`: the second argument names an embedding model.
            if use.name.text == "similarity", position == 1 {
                if case .name(let model) = arg.value.kind {
                    mc.checkModelName(Name(model, arg.value.span))
                } else {
                    error("the second argument of `similarity` names an embedding model", at: arg.value.span)
                }
                continue
            }
            _ = check(arg.value)
            if let label = arg.label, !labelled {
                labelled = true
                error("metric arguments take no labels", at: label.span)
            }
        }
        if let arity = Builtins.metrics[use.name.text] {
            if !arity.contains(use.args.count) {
                error("metric `\(use.name.text)` takes \(count(arity)), got \(use.args.count)", at: use.span)
            }
        } else {
            error("unknown metric `\(use.name.text)`", at: use.name.span,
                  help: suggestion(use.name.text, Builtins.metrics.keys)
                    ?? "built-in metrics: " + Builtins.metrics.keys.sorted().joined(separator: ", "))
        }
        if let condition = use.condition { _ = check(condition) }
    }

    // MARK: Expressions

    func check(_ expr: Expr) -> SluiceType {
        if case .constant(let what) = mode {
            switch expr.kind {
            case .string, .number, .money, .bool, .null, .list, .record, .unary, .binary, .name: break
            default:
                error("\(what) must be a literal, like `0.7`, `\"text\"` or `$2.50 / 1M`", at: expr.span)
                return .any
            }
        }
        switch expr.kind {
        case .string(let parts):
            for case .hole(let hole) in parts { _ = check(hole) }
            return .string
        case .number: return .number
        case .money: return .money
        case .bool: return .bool
        case .null: return .null
        case .list(let items):
            var type: SluiceType?
            for item in items {
                let t = check(item)
                type = type.map { SluiceType.join($0, t) } ?? t
            }
            return .list(type ?? .any)
        case .record(let fields):
            var seen: [String: Span] = [:]
            var out: [SluiceType.RecordField] = []
            for field in fields {
                let t = check(field.value)
                if let first = seen[field.name.text] {
                    error("field `\(field.name.text)` appears twice", at: field.name.span, notes: [mc.note("first here", first)])
                    continue
                }
                seen[field.name.text] = field.name.span
                out.append(.init(name: field.name.text, type: t, optional: false))
            }
            return .record(name: nil, fields: out)
        case .name(let n):
            return value(n, at: expr.span)
        case .member(let base, let name):
            return member(check(base), name, base: base)
        case .index(let base, let index):
            return subscripted(check(base), check(index), expr)
        case .call(let callee, let args, let using):
            return call(expr, callee, args, using: using)
        case .unary(let op, let operand):
            let t = check(operand)
            switch op {
            case .not: return .bool
            case .negate:
                if isNumeric(t) { return t.nonOptional }
                if category(t) != .unknown { error("cannot negate \(describe(t))", at: expr.span) }
                return .any
            }
        case .binary(let op, let left, let right):
            return binary(op, check(left), check(right), expr)
        case .filter(let subject, let name, let args):
            return filter(check(subject), name, args, expr)
        case .retrieve(let query, let index, let top, let order):
            return retrieve(query, index, top, order, expr)
        case .template(let inner):
            if isPrompt {
                error("`template` cannot be used inside a prompt", at: expr.span)
                return .any
            }
            guard case .call(let callee, let args, let using) = inner.kind, case .name(let p) = callee.kind,
                  let entry = mc.scope[p], entry.kind == .prompt else {
                error("`template` needs a prompt call, like `template answer(question: q)`", at: inner.span)
                _ = check(inner)
                return .any
            }
            mc.current?.addDependency(entry)
            if let using { mc.checkModelName(using) }
            _ = promptCall(entry, args, span: inner.span)
            return .list(.record(name: nil, fields: [
                .init(name: "role", type: .string, optional: false), .init(name: "content", type: .string, optional: false),
            ]))
        case .cascade(let call, let steps):
            return cascade(expr, call, steps, target: nil)
        }
    }

    /// A name in value position.
    func value(_ n: String, at span: Span) -> SluiceType {
        if let t = locals[n] { return t }
        if case .constant(let what) = mode {
            error("`\(n)` is not a constant: \(what) must be a literal", at: span)
            return .any
        }
        if reported.contains(n) || mc.poisoned.contains(n) { return .any }
        reported.insert(n)
        if let entry = mc.scope[n] {
            let callable = entry.kind == .prompt || entry.kind == .pipeline
            error("`\(n)` is \(entry.kind.article), not a value", at: span, help: callable ? "call it: `\(n)(...)`" : nil)
            return .any
        }
        if Builtins.functions[n] != nil {
            error("`\(n)` is a built-in function, not a value", at: span, help: "call it, `\(n)(x)`, or use it as a filter, `x | \(n)`")
            return .any
        }
        if let later = assigned[n] {
            error("`\(n)` is used before it is assigned", at: span, notes: [mc.note("assigned here", later)])
            return .any
        }
        if case .prompt(let prompt) = mode {
            error("unknown name `\(n)` in prompt `\(prompt)`", at: span,
                  help: suggestion(n, locals.keys) ?? "add `\(n)` to the parameters of `\(prompt)`")
            return .any
        }
        var help = suggestion(n, locals.keys)
        if help == nil, n == "it" { help = "`it` names the candidate reply only inside a cascade's `accept` condition" }
        error("unknown name `\(n)`", at: span, help: help)
        return .any
    }

    private func member(_ type: SluiceType, _ name: Name, base: Expr) -> SluiceType {
        switch type {
        case .any, .reply(nil): return .any
        case .optional(let inner): return member(inner, name, base: base)
        case .reply(let inner?): return member(inner, name, base: base)
        case .record(let recordName, let fields):
            if let field = fields.first(where: { $0.name == name.text }) {
                return field.optional ? .optional(field.type.nonOptional) : field.type
            }
            let what = recordName.map { "type `\($0)`" } ?? "this record"
            error("\(what) has no field `\(name.text)`", at: name.span,
                  help: suggestion(name.text, fields.map(\.name)) ?? "its fields: " + fields.map { "`\($0.name)`" }.joined(separator: ", "))
            return .any
        case .list:
            error("\(describe(type)) has no field `\(name.text)`", at: name.span, help: "pick an item first, like `x[0].\(name.text)`, or loop with `for`")
            return .any
        default:
            error("\(describe(type)) has no field `\(name.text)`", at: name.span)
            return .any
        }
    }

    private func subscripted(_ base: SluiceType, _ index: SluiceType, _ expr: Expr) -> SluiceType {
        switch base.nonOptional {
        case .list(let element):
            if category(index) == .text || category(index) == .bool || category(index) == .list || category(index) == .record {
                error("a list is indexed by a number, not \(describe(index))", at: expr.span)
            }
            return element
        case .string: return .string
        case .number, .int, .money, .bool:
            error("cannot index \(describe(base))", at: expr.span)
            return .any
        default: return .any
        }
    }

    // MARK: Calls

    private func call(_ expr: Expr, _ callee: Expr, _ args: [Argument], using: Name?) -> SluiceType {
        guard case .name(let f) = callee.kind else {
            var help: String?
            if case .member(let base, let method) = callee.kind {
                _ = check(base)
                if Builtins.functions[method.text] != nil {
                    help = "call the built-in function as `\(method.text)(x, ...)` or use it as a filter: `x | \(method.text)`"
                }
            } else {
                _ = check(callee)
            }
            error("only prompts, pipelines and built-in functions can be called", at: callee.span, help: help)
            for arg in args { _ = check(arg.value) }
            return .any
        }
        if let entry = mc.scope[f], entry.kind == .prompt || entry.kind == .pipeline {
            if isPrompt {
                error("a prompt's holes can call only built-in functions; `\(f)` is \(entry.kind.article)", at: callee.span)
                for arg in args { _ = check(arg.value) }
                return .any
            }
            mc.current?.addDependency(entry)
            if entry.kind == .prompt {
                if let using {
                    mc.checkModelName(using)
                } else if case .prompt(let prompt) = entry.decl, !prompt.fields.contains(where: { $0.name.text == "model" }) {
                    error("prompt `\(f)` names no model, so this call needs one", at: expr.span,
                          help: "call it with `using MODEL`, give the prompt a `model` setting, or call it in a `cascade`")
                }
                return promptCall(entry, args, span: expr.span)
            }
            if let using {
                error("`using` picks the model of a prompt call; `\(f)` is a pipeline", at: using.span)
            }
            return pipelineCall(entry, args, span: expr.span)
        }
        if let arity = Builtins.functions[f] {
            if let using { error("`using` picks the model of a prompt call; `\(f)` is a built-in function", at: using.span) }
            var types: [SluiceType] = []
            var labelled = false
            for arg in args {
                types.append(check(arg.value))
                if let label = arg.label, !labelled {
                    labelled = true
                    error("built-in function `\(f)` takes arguments without labels", at: label.span)
                }
            }
            if !arity.contains(args.count) {
                error("`\(f)` takes \(count(arity)), got \(args.count)", at: expr.span)
            }
            return Builtins.resultType(of: f, arguments: types)
        }
        for arg in args { _ = check(arg.value) }
        if let entry = mc.scope[f] {
            error("`\(f)` is \(entry.kind.article); it cannot be called", at: callee.span)
        } else if locals[f] != nil {
            error("`\(f)` is a value, not a function", at: callee.span)
        } else if !mc.poisoned.contains(f) {
            let candidates = isPrompt ? Array(Builtins.functions.keys)
                : mc.names(of: .prompt) + mc.names(of: .pipeline) + Builtins.functions.keys.sorted()
            error("unknown function `\(f)`", at: callee.span, help: suggestion(f, candidates))
        }
        return .any
    }

    /// Arguments of a prompt call: every parameter by name, nothing else. Returns the reply type.
    func promptCall(_ entry: Entry, _ args: [Argument], span: Span) -> SluiceType {
        let sig = mc.signature(of: entry)
        checkArguments(args, sig, what: "prompt `\(entry.name.text)`", span: span)
        return .reply(sig.returns)
    }

    private func pipelineCall(_ entry: Entry, _ args: [Argument], span: Span) -> SluiceType {
        let sig = mc.signature(of: entry)
        checkArguments(args, sig, what: "pipeline `\(entry.name.text)`", span: span)
        return sig.returns ?? .any
    }

    private func checkArguments(_ args: [Argument], _ sig: Signature, what: String, span: Span) {
        var given: Set<String> = []
        var suggested: Set<String> = []
        var unlabelled = false
        for (position, arg) in args.enumerated() {
            let t = check(arg.value)
            guard let label = arg.label else {
                unlabelled = true
                var help = "write `name: value`"
                let text = mc.file.slice(arg.value.span)
                let shown = text.count <= 30 && !text.contains("\n") ? text : "..."
                if case .name(let n) = arg.value.kind, sig.params.contains(where: { $0.name == n }) {
                    help = "write `\(n): \(n)`"
                } else if position < sig.params.count {
                    help = "write `\(sig.params[position].name): \(shown)`"
                }
                error("arguments to \(what) need parameter names", at: arg.span, help: help)
                continue
            }
            if !given.insert(label.text).inserted {
                error("argument `\(label.text)` is given twice", at: label.span)
                continue
            }
            guard let param = sig.params.first(where: { $0.name == label.text }) else {
                let close = closestMatch(to: label.text, in: sig.params.map(\.name).filter { !given.contains($0) })
                if let close { suggested.insert(close) }
                error("\(what) has no parameter `\(label.text)`", at: label.span,
                      help: close.map { "did you mean `\($0)`?" }
                        ?? (sig.params.isEmpty ? "it takes no arguments"
                            : "its parameters: " + sig.params.map { "`\($0.name)`" }.joined(separator: ", ")))
                continue
            }
            if let why = mismatch(t, param.type) {
                error("argument `\(label.text)` of \(what) must be `\(param.type)`, but this value \(why)", at: arg.value.span)
            }
        }
        guard !unlabelled else { return }
        let missing = sig.params.filter { !given.contains($0.name) && !$0.hasDefault && !suggested.contains($0.name) }.map(\.name)
        if missing.count == 1 {
            error("missing argument `\(missing[0])` for \(what)", at: span)
        } else if missing.count > 1 {
            let list = missing.dropLast().map { "`\($0)`" }.joined(separator: ", ") + " and `\(missing.last!)`"
            error("missing arguments \(list) for \(what)", at: span)
        }
    }

    private func cascade(_ expr: Expr, _ call: Expr, _ steps: [CascadeStep], target: String?) -> SluiceType {
        if isPrompt {
            error("`cascade` cannot be used inside a prompt", at: expr.span)
            return .any
        }
        var reply: SluiceType = .any
        if case .call(let callee, let args, let using) = call.kind, case .name(let p) = callee.kind,
           let entry = mc.scope[p], entry.kind == .prompt {
            mc.current?.addDependency(entry)
            if let using {
                error("a cascade picks the model itself; remove `using \(using.text)`", at: using.span)
            }
            reply = promptCall(entry, args, span: call.span)
        } else {
            var help: String?
            if case .call(let callee, _, _) = call.kind, case .name(let p) = callee.kind, let entry = mc.scope[p] {
                help = "`\(p)` is \(entry.kind.article)"
            }
            error("`cascade` needs a prompt call, like `cascade answer(question: q) { ... }`", at: call.span, help: help)
            _ = check(call)
        }
        if steps.isEmpty { error("a cascade needs at least one model", at: expr.span) }
        for step in steps {
            mc.checkModelName(step.model)
            guard let accept = step.accept else { continue }
            let savedIt = locals["it"]
            let savedTarget = target.flatMap { locals[$0] }
            locals["it"] = reply
            if let target { locals[target] = reply }
            _ = check(accept)
            locals["it"] = savedIt
            if let target { locals[target] = savedTarget }
        }
        return reply
    }

    private func filter(_ subject: SluiceType, _ name: Name, _ args: [Argument], _ expr: Expr) -> SluiceType {
        var types = [subject]
        var labelled = false
        for arg in args {
            types.append(check(arg.value))
            if let label = arg.label, !labelled {
                labelled = true
                error("filter arguments take no labels", at: label.span)
            }
        }
        guard let arity = Builtins.functions[name.text] else {
            if let entry = mc.scope[name.text] {
                error("`\(name.text)` is \(entry.kind.article); only built-in functions can be filters", at: name.span)
            } else {
                error("unknown filter `\(name.text)`", at: name.span, help: suggestion(name.text, Builtins.functions.keys))
            }
            return .any
        }
        let written = max(0, arity.lowerBound - 1)...max(0, arity.upperBound - 1)
        if !written.contains(args.count) {
            error("filter `\(name.text)` takes \(count(written)), got \(args.count)", at: Span(name.span.start, max(expr.span.end, name.span.end)))
        }
        return Builtins.resultType(of: name.text, arguments: types)
    }

    private func retrieve(_ query: Expr, _ index: Name, _ top: Expr?, _ order: Name?, _ expr: Expr) -> SluiceType {
        if isPrompt {
            error("`retrieve` cannot be used inside a prompt", at: expr.span)
            return .any
        }
        let q = check(query)
        if [.numeric, .bool, .record].contains(category(q)) {
            error("a retrieval query must be text, not \(describe(q))", at: query.span)
        }
        if let entry = mc.lookup(index.text) {
            if entry.kind != .index {
                error("`\(index.text)` is \(entry.kind.article), not an index", at: index.span, help: suggestion(index.text, mc.names(of: .index)))
            }
        } else if !mc.poisoned.contains(index.text) {
            error("unknown index `\(index.text)`", at: index.span,
                  help: suggestion(index.text, mc.names(of: .index)) ?? "declare it with `index \(index.text) { source \"docs/\" }`")
        }
        if let top {
            let t = check(top)
            if !isNumeric(t) && category(t) != .unknown {
                error("`top` must be a number", at: top.span, help: "this is \(describe(t))")
            } else if let n = literalNumber(top), n < 1 || n != n.rounded() {
                error("`top` must be a whole number, at least 1", at: top.span)
            }
        }
        if let order, !Builtins.retrieveOrders.contains(order.text) {
            error("unknown order `\(order.text)`", at: order.span,
                  help: suggestion(order.text, Builtins.retrieveOrders) ?? "`order` is `score` or `edges`")
        }
        return .list(.doc)
    }

    // MARK: Operators

    private func binary(_ op: BinaryOp, _ l: SluiceType, _ r: SluiceType, _ expr: Expr) -> SluiceType {
        let cl = category(l), cr = category(r)
        func fail() -> SluiceType {
            error("cannot apply `\(op.rawValue)` to \(describe(l)) and \(describe(r))", at: expr.span)
            return .any
        }
        switch op {
        case .add:
            if cl == .unknown || cr == .unknown {
                if [cl, cr].contains(where: { [.bool, .null, .record].contains($0) }) { return fail() }
                return .any
            }
            switch (cl, cr) {
            case (.numeric, .numeric): return arithmetic(op, l, r)
            case (.text, .text): return .string
            case (.text, .numeric), (.numeric, .text): return .string
            case (.list, .list):
                if case .list(let a) = l.nonOptional, case .list(let b) = r.nonOptional { return .list(SluiceType.join(a, b)) }
                return .any
            default: return fail()
            }
        case .subtract, .multiply, .divide, .remainder:
            for c in [cl, cr] where c != .numeric && c != .unknown { return fail() }
            if cl == .numeric && cr == .numeric { return arithmetic(op, l, r) }
            return .any
        case .equal, .notEqual:
            return .bool
        case .less, .lessEqual, .greater, .greaterEqual:
            if cl != .unknown && cr != .unknown {
                let orderable: Set<Category> = [.numeric, .text]
                if cl != cr || !orderable.contains(cl) { _ = fail() }
            } else if [cl, cr].contains(where: { [.bool, .null, .list, .record].contains($0) }) {
                _ = fail()
            }
            return .bool
        case .and, .or:
            return l == .bool && r == .bool ? .bool : .any
        case .coalesce:
            return SluiceType.join(l.nonOptional, r)
        }
    }

    private func arithmetic(_ op: BinaryOp, _ l: SluiceType, _ r: SluiceType) -> SluiceType {
        let lm = l.nonOptional == .money, rm = r.nonOptional == .money
        if lm && rm { return op == .divide ? .number : .money }
        if lm || rm { return .money }
        if l.nonOptional == .int && r.nonOptional == .int && op != .divide { return .int }
        return .number
    }

    enum Category { case numeric, text, bool, null, list, record, unknown }

    func category(_ t: SluiceType) -> Category {
        switch t {
        case .number, .int, .money: .numeric
        case .string, .enumeration, .reply(nil): .text
        case .bool: .bool
        case .null: .null
        case .list: .list
        case .record: .record
        case .any, .optional, .reply: .unknown
        }
    }

    func isNumeric(_ t: SluiceType) -> Bool { category(t.nonOptional) == .numeric }
}

/// "1 argument", "1 to 2 arguments", "no arguments".
func count(_ arity: ClosedRange<Int>) -> String {
    let noun = arity.upperBound == 1 ? "argument" : "arguments"
    if arity.upperBound == 0 { return "no arguments" }
    if arity.lowerBound == arity.upperBound { return "\(arity.lowerBound) \(noun)" }
    return "\(arity.lowerBound) to \(arity.upperBound) \(noun)"
}

/// Why a value of type `value` cannot be used where `expected` is declared, or nil when it can
/// (or when that is not certain).
func mismatch(_ value: SluiceType, _ expected: SluiceType) -> String? {
    switch (value, expected) {
    case (.any, _), (_, .any), (.reply(nil), _), (_, .reply): return nil
    case (.reply(let inner?), _):
        if expected.nonOptional == .string { return nil }
        return mismatch(inner, expected)
    case (.null, .optional): return nil
    case (.null, _): return "is `null`"
    case (.optional(let inner), _): return mismatch(inner, expected.nonOptional)
    case (_, .optional(let inner)): return mismatch(value, inner)
    default: break
    }
    let numeric: Set<SluiceType> = [.number, .int, .money]
    if numeric.contains(value) && numeric.contains(expected) { return nil }
    switch (value, expected) {
    case (.string, .string), (.bool, .bool), (.string, .enumeration), (.enumeration, .string), (.enumeration, .enumeration):
        return nil
    case (.list(let a), .list(let b)):
        return mismatch(a, b) == nil ? nil : "is `\(value)`"
    case (.record(let vn, let vf), .record(let en, let ef)):
        if let vn, vn == en { return nil }
        for field in ef where !field.optional && !vf.contains(where: { $0.name == field.name }) {
            return "lacks field `\(field.name)`"
        }
        for field in vf {
            guard let target = ef.first(where: { $0.name == field.name }) else {
                return "has a field `\(field.name)`, which `\(expected)` does not declare"
            }
            if let why = mismatch(field.type, target.type) { return "has field `\(field.name)` that \(why)" }
        }
        return nil
    default:
        return "is `\(value)`"
    }
}

extension BodyChecker {
    /// `session NAME with keep 4, max_tokens 2k, summarize_every 8, summarize_over 3k, model M, user PARAM`.
    private func checkSessionSettings(_ settings: [Field]) {
        var seen: Set<String> = []
        for setting in settings {
            let key = setting.name.text
            guard seen.insert(key).inserted else {
                error("`\(key)` is set twice in this session", at: setting.name.span)
                continue
            }
            switch key {
            case "keep", "max_tokens", "summarize_every", "summarize_over":
                guard let n = literalNumber(setting.value), n >= 0, n == n.rounded() else {
                    error("session `\(key)` must be a whole number, like `4` or `2k`", at: setting.value.span)
                    continue
                }
            case "model":
                guard case .name = setting.value.kind else {
                    error("session `model` names a declared model", at: setting.value.span)
                    continue
                }
                if case .name(let model) = setting.value.kind { mc.checkModelName(Name(model, setting.value.span)) }
            case "user":
                guard case .name(let input) = setting.value.kind, locals[input] != nil else {
                    error("session `user` names the pipeline input that is the user's turn", at: setting.value.span)
                    continue
                }
            default:
                error("unknown session setting `\(key)`", at: setting.name.span,
                      help: suggestion(key, Builtins.sessionSettings) ?? "settings: " + Builtins.sessionSettings.joined(separator: ", "))
            }
        }
    }
}

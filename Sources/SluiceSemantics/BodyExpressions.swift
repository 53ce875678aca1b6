import SluiceSyntax

extension BodyChecker {
    // MARK: Expressions

    func check(_ expr: Expr) -> Facts {
        if case .constant(let what) = mode {
            switch expr.kind {
            case .string, .number, .money, .bool, .null, .list, .record, .unary, .binary, .name: break
            default:
                error("\(what) must be a literal, like `0.7`, `\"text\"` or `$2.50 / 1M`", at: expr.span)
                return .unknown
            }
        }
        switch expr.kind {
        case .string(let parts):
            var holes: [Facts] = []
            for case .hole(let hole) in parts { holes.append(check(hole)) }
            return .combining(holes, into: .string)
        case .number: return Facts(.number)
        case .money: return Facts(.money)
        case .bool: return Facts(.bool)
        case .null: return Facts(.null)
        case .list(let items):
            let facts = items.map { check($0) }
            let element = facts.dropFirst().reduce(facts.first?.type ?? .any) { SluiceType.join($0, $1.type) }
            return .combining(facts, into: .list(element))
        case .record(let fields):
            var seen: [String: Span] = [:]
            var out: [SluiceType.RecordField] = []
            var facts: [Facts] = []
            for field in fields {
                let value = check(field.value)
                if let first = seen[field.name.text] {
                    error("field `\(field.name.text)` appears twice", at: field.name.span, notes: [mc.note("first here", first)])
                    continue
                }
                seen[field.name.text] = field.name.span
                out.append(.init(name: field.name.text, type: value.type, optional: false))
                facts.append(value)
            }
            return .combining(facts, into: .record(name: nil, fields: out))
        case .name(let n):
            let facts = value(n, at: expr.span)
            if locals[n] != nil, let slot = slot(of: n) { mc.session.bindings.read(expr, slot) }
            return facts
        case .member(let base, let name):
            let facts = check(base)
            guard let type = member(facts, name) else { return .unknown }
            return .derived(type, from: [facts], step: "`.\(name.text)`", at: name.span)
        case .index(let base, let index):
            let container = check(base), key = check(index)
            guard let type = subscripted(container, key, index, expr) else { return .unknown }
            return .derived(type, from: [container, key], step: "indexing", at: expr.span)
        case .call(let callee, let args, let using):
            return call(expr, callee, args, using: using)
        case .unary(let op, let operand):
            let facts = check(operand)
            switch op {
            case .not: return Facts(.bool)
            case .negate:
                let possible = kinds(facts.type)
                guard possible.contains(.number) || possible.contains(.money) else {
                    error("cannot negate \(describe(facts.type))", at: expr.span)
                    return .unknown
                }
                // The result is a number or money: no text.
                return possible.count == 1 ? Facts(facts.type.nonOptional) : Facts(.any, .trusted)
            }
        case .binary(let op, let left, let right):
            return binary(op, check(left), check(right), expr, left, right)
        case .filter(let subject, let name, let args):
            return filter(check(subject), subject, name, args, expr)
        case .retrieve(let query, let index, let top, let order):
            return retrieve(query, index, top, order, expr)
        case .template(let inner):
            if isPrompt {
                error("`template` cannot be used inside a prompt", at: expr.span)
                return .unknown
            }
            guard case .call(let callee, let args, let using) = inner.kind, case .name(let p) = callee.kind,
                  let entry = mc.scope[p], entry.kind == .prompt else {
                error("`template` needs a prompt call, like `template answer(question: q)`", at: inner.span)
                _ = check(inner)
                return .unknown
            }
            mc.current?.addDependency(entry)
            resolved(inner, .prompt(p))
            if let using { mc.checkModelName(using) }
            _ = promptCall(entry, args, span: inner.span)
            // The rendered messages: trusted instructions with every untrusted part fenced.
            return Facts(.list(.record(name: nil, fields: [
                .init(name: "role", type: .string, optional: false), .init(name: "content", type: .string, optional: false),
            ])), .fenced)
        case .cascade(let call, let steps):
            return cascade(expr, call, steps, target: nil)
        case .parallelMap(let body, let variable, let sequence, let settings):
            return parallelMap(expr, body, variable, sequence, settings)
        case .fallback(let value, let fallback):
            if isPrompt {
                error("`catch` cannot be used inside a prompt", at: expr.span)
                return .unknown
            }
            let tried = check(value), instead = check(fallback)
            return .combining([tried, instead], into: SluiceType.join(tried.type, instead.type))
        }
    }

    /// A name in value position.
    func value(_ n: String, at span: Span) -> Facts {
        if let facts = locals[n] { return facts }
        if case .constant(let what) = mode {
            error("`\(n)` is not a constant: \(what) must be a literal", at: span)
            return .unknown
        }
        if reported.contains(n) || mc.poisoned.contains(n) { return .unknown }
        reported.insert(n)
        if let entry = mc.scope[n] {
            let callable = entry.kind == .prompt || entry.kind == .pipeline
            error("`\(n)` is \(entry.kind.article), not a value", at: span, help: callable ? "call it: `\(n)(...)`" : nil)
            return .unknown
        }
        if Builtins.functions[n] != nil {
            error("`\(n)` is a built-in function, not a value", at: span, help: "call it, `\(n)(x)`, or use it as a filter, `x | \(n)`")
            return .unknown
        }
        if let later = assigned[n] {
            error("`\(n)` is used before it is assigned", at: span, notes: [mc.note("assigned here", later)])
            return .unknown
        }
        if case .prompt(let prompt) = mode {
            error("unknown name `\(n)` in prompt `\(prompt)`", at: span,
                  help: suggestion(n, locals.keys) ?? "add `\(n)` to the parameters of `\(prompt)`")
            return .unknown
        }
        var help = suggestion(n, locals.keys)
        if help == nil, n == "it" { help = "`it` names the candidate reply only inside a cascade's `accept` condition" }
        error("unknown name `\(n)`", at: span, help: help)
        return .unknown
    }

    /// The type of `base.name`; nil after an error.
    private func member(_ base: Facts, _ name: Name) -> SluiceType? {
        func lookup(_ type: SluiceType) -> SluiceType? {
            switch type {
            case .any: return .any
            case .optional(let inner): return lookup(inner)
            case .reply(nil):
                textReplyError(base, "has no field `\(name.text)`", at: name.span)
                return nil
            case .reply(let inner?): return lookup(inner)
            case .record(let recordName, let fields):
                if let field = fields.first(where: { $0.name == name.text }) {
                    return field.optional ? .optional(field.type.nonOptional) : field.type
                }
                let what = recordName.map { "type `\($0)`" } ?? "this record"
                error("\(what) has no field `\(name.text)`", at: name.span,
                      help: suggestion(name.text, fields.map(\.name)) ?? "its fields: " + fields.map { "`\($0.name)`" }.joined(separator: ", "))
                return nil
            case .list:
                error("\(describe(type)) has no field `\(name.text)`", at: name.span, help: "pick an item first, like `x[0].\(name.text)`, or loop with `for`")
                return nil
            default:
                error("\(describe(type)) has no field `\(name.text)`", at: name.span)
                return nil
            }
        }
        return lookup(base.type)
    }

    /// The reply of a prompt without `returns` is text: it has no fields.
    private func textReplyError(_ reply: Facts, _ what: String, at span: Span) {
        if let prompt = reply.replyOf {
            error("the reply of prompt `\(prompt)` is text, so it \(what)", at: span,
                  help: "give prompt `\(prompt)` a `returns TYPE` to read fields of its JSON reply")
        } else {
            error("this reply is text (its prompt has no `returns`), so it \(what)", at: span,
                  help: "give the prompt a `returns TYPE` to read fields of its JSON reply")
        }
    }

    /// The type of `base[index]`; nil after an error.
    private func subscripted(_ base: Facts, _ index: Facts, _ indexExpr: Expr, _ expr: Expr) -> SluiceType? {
        let byNumber = kinds(index.type) == [.number], byText = kinds(index.type) == [.string]
        switch base.type.nonOptional {
        case .list(let element):
            if [.string, .bool, .list, .record, .reply].contains(kinds(index.type).first), kinds(index.type).count == 1 {
                error("a list is indexed by a number, not \(describe(index.type))", at: expr.span)
                return nil
            }
            return element
        case .string, .enumeration: return .string
        case .number, .int, .money, .bool:
            error("cannot index \(describe(base.type))", at: expr.span)
            return nil
        case .record(_, let fields):
            if byNumber {
                error("a record is indexed by a field name, not a number", at: expr.span, help: "write `x.field` or `x[\"field\"]`")
                return nil
            }
            if let key = literalString(indexExpr) { return fields.first { $0.name == key }?.type ?? .null }
            return .any
        case .reply(nil):
            if byNumber || byText {
                textReplyError(base, "cannot be indexed", at: expr.span)
                return nil
            }
            return .any
        case .reply(let inner?):
            if byNumber {
                error("a reply cannot be indexed by a number before it is validated", at: expr.span,
                      help: "validate it first (`validate NAME`): then it is a `\(inner)`")
                return nil
            }
            return .any
        default: return .any
        }
    }

    // MARK: Calls

    private func call(_ expr: Expr, _ callee: Expr, _ args: [Argument], using: Name?) -> Facts {
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
            return .unknown
        }
        if let entry = mc.scope[f], entry.kind == .prompt || entry.kind == .pipeline {
            if isPrompt {
                error("a prompt's holes can call only built-in functions; `\(f)` is \(entry.kind.article)", at: callee.span)
                for arg in args { _ = check(arg.value) }
                return .unknown
            }
            mc.current?.addDependency(entry)
            if entry.kind == .prompt {
                resolved(expr, .prompt(f))
                if let using {
                    mc.checkModelName(using)
                } else if case .prompt(let prompt) = entry.decl, !prompt.fields.contains(where: { $0.name.text == "model" }) {
                    error("prompt `\(f)` names no model, so this call needs one", at: expr.span,
                          help: "call it with `using MODEL`, give the prompt a `model` setting, or call it in a `cascade`")
                }
                return promptCall(entry, args, span: expr.span)
            }
            resolved(expr, .pipeline(f))
            if let using {
                error("`using` picks the model of a prompt call; `\(f)` is a pipeline", at: using.span)
            }
            return pipelineCall(entry, args, span: expr.span)
        }
        if let arity = Builtins.functions[f] {
            resolved(expr, .builtin(f))
            if let using { error("`using` picks the model of a prompt call; `\(f)` is a built-in function", at: using.span) }
            var inputs: [(Facts, Expr)] = []
            var labelled = false
            for arg in args {
                inputs.append((check(arg.value), arg.value))
                if let label = arg.label, !labelled {
                    labelled = true
                    error("built-in function `\(f)` takes arguments without labels", at: label.span)
                }
            }
            if !arity.contains(args.count) {
                error("`\(f)` takes \(count(arity)), got \(args.count)", at: expr.span)
                return .unknown
            }
            return builtin(f, inputs, at: callee.span)
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
        return .unknown
    }

    /// A built-in function or filter applied to checked inputs (the piped value first).
    private func builtin(_ f: String, _ inputs: [(facts: Facts, expr: Expr)], at span: Span) -> Facts {
        let facts = inputs.map(\.facts)
        guard checkBuiltinArguments(f, inputs) else { return .unknown }
        let type = Builtins.resultType(of: f, arguments: facts.map(\.type))
        if Builtins.systemSafeFilters.contains(f) {
            // `trusted` vouches for its input; a fencing filter wraps it whole as data.
            if f == Builtins.trustedFilter { return Facts(type) }
            return Facts(type, (facts.map(\.trust).max() ?? .trusted).fencedResult)
        }
        return .derived(type, from: facts, step: "`\(f)`", at: span)
    }

    /// Arguments the runtime refuses whatever their value: false after an error.
    private func checkBuiltinArguments(_ f: String, _ inputs: [(facts: Facts, expr: Expr)]) -> Bool {
        switch f {
        case "truncate" where inputs.count == 2:
            let (length, expr) = inputs[1]
            if !kinds(length.type).contains(.number) {
                error("`truncate` takes a number of characters, not \(describe(length.type))", at: expr.span)
                return false
            }
            if let n = literalNumber(expr), n < 0 || n != n.rounded() {
                error("`truncate` takes a whole number of characters, 0 or more", at: expr.span)
                return false
            }
        case "flagged" where inputs.count == 1:
            // The runtime looks the guard up by name.
            guard let name = literalString(inputs[0].expr) else { break }
            if let entry = mc.lookup(name), entry.kind == .guardSet { break }
            error("`flagged`: no guard named `\(name)`", at: inputs[0].expr.span,
                  help: suggestion(name, mc.names(of: .guardSet)) ?? "`flagged(\"G\")` names a guard declared or imported here")
            return false
        case "keys" where inputs.count == 1:
            let possible = kinds(inputs[0].facts.type)
            if !possible.contains(.record) && !possible.contains(.reply) {
                error("`keys` takes a record, not \(describe(inputs[0].facts.type))", at: inputs[0].expr.span)
                return false
            }
        default: break
        }
        return true
    }

    /// Arguments of a prompt call: every parameter by name, nothing else. Returns the reply.
    func promptCall(_ entry: Entry, _ args: [Argument], span: Span) -> Facts {
        let sig = mc.signature(of: entry)
        checkArguments(args, sig, what: "prompt `\(entry.name.text)`", span: span)
        return Facts(.reply(sig.returns), .untrusted, taint: .source("a model reply"), replyOf: entry.name.text)
    }

    private func pipelineCall(_ entry: Entry, _ args: [Argument], span: Span) -> Facts {
        let sig = mc.signature(of: entry)
        checkArguments(args, sig, what: "pipeline `\(entry.name.text)`", span: span)
        return Facts(sig.returns ?? .any, .untrusted, taint: .source("the result of pipeline `\(entry.name.text)`"))
    }

    private func checkArguments(_ args: [Argument], _ sig: Signature, what: String, span: Span) {
        var given: Set<String> = []
        var suggested: Set<String> = []
        var unlabelled = false
        for (position, arg) in args.enumerated() {
            let facts = check(arg.value)
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
            guard let index = sig.params.firstIndex(where: { $0.name == label.text }) else {
                let close = closestMatch(to: label.text, in: sig.params.map(\.name).filter { !given.contains($0) })
                if let close { suggested.insert(close) }
                error("\(what) has no parameter `\(label.text)`", at: label.span,
                      help: close.map { "did you mean `\($0)`?" }
                        ?? (sig.params.isEmpty ? "it takes no arguments"
                            : "its parameters: " + sig.params.map { "`\($0.name)`" }.joined(separator: ", ")))
                continue
            }
            // The argument binds the parameter's slot in the callee's layout.
            mc.session.bindings.bind(label, in: mc.file, index)
            let param = sig.params[index]
            if let why = mismatch(facts.type, param.type) {
                error("argument `\(label.text)` of \(what) must be `\(param.type)`, but this value \(why)", at: arg.value.span)
            } else if param.trusted && !facts.trust.isSafeAsInstructions {
                // Inside the callee a trusted parameter may reach a system message as it is.
                let (reason, notes) = explain(facts.taint)
                var help = "pass it through `| fenced` (marks it as data), or vouch for it with `| trusted` if the script author controls it"
                if case .unfenced? = facts.taint { help = Self.fenceLastHelp }
                error("untrusted text passed to the trusted parameter `\(label.text)` of \(what)\(reason)", at: arg.span,
                      notes: notes, help: help)
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

    static let fenceLastHelp = "make the fencing filter the last step, after every other filter and access"

    /// Why a value is untrusted, as the end of a message (": it comes from ...") and notes.
    func explain(_ taint: Taint?) -> (String, [Diagnostic.Note]) {
        switch taint {
        case .source(let origin, _)?: return (": it comes from \(origin)", [])
        case .unfenced(let step, let span)?:
            return (": \(step) is applied after the fencing filter, and text computed from fenced text is not fenced",
                    [mc.note("the fence is lost here", span)])
        case nil: return ("", [])
        }
    }

    func cascade(_ expr: Expr, _ call: Expr, _ steps: [CascadeStep], target: String?) -> Facts {
        if isPrompt {
            error("`cascade` cannot be used inside a prompt", at: expr.span)
            return .unknown
        }
        var reply = Facts.unknown
        if case .call(let callee, let args, let using) = call.kind, case .name(let p) = callee.kind,
           let entry = mc.scope[p], entry.kind == .prompt {
            mc.current?.addDependency(entry)
            resolved(call, .prompt(p))
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
        for step in steps { mc.checkModelName(step.model) }
        guard steps.contains(where: { $0.accept != nil }) else { return reply }
        // In an `accept`, `it` (and the name the cascade is assigned to) is the candidate reply:
        // a slot of its own, which the runtime fills before each condition.
        withScopedSlot(["it"] + (target.map { [$0] } ?? []), site: expr.span.start) { slot in
            mc.session.bindings.candidate(expr, slot)
            for step in steps {
                guard let accept = step.accept else { continue }
                let savedIt = locals["it"]
                let savedTarget = target.flatMap { locals[$0] }
                locals["it"] = reply
                if let target { locals[target] = reply }
                _ = check(accept)
                locals["it"] = savedIt
                if let target { locals[target] = savedTarget }
            }
        }
        return reply
    }

    private func filter(_ subject: Facts, _ subjectExpr: Expr, _ name: Name, _ args: [Argument], _ expr: Expr) -> Facts {
        var inputs: [(Facts, Expr)] = [(subject, subjectExpr)]
        var labelled = false
        for arg in args {
            inputs.append((check(arg.value), arg.value))
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
            return .unknown
        }
        resolved(expr, .builtin(name.text))
        let written = max(0, arity.lowerBound - 1)...max(0, arity.upperBound - 1)
        if !written.contains(args.count) {
            error("filter `\(name.text)` takes \(count(written)), got \(args.count)", at: Span(name.span.start, max(expr.span.end, name.span.end)))
            return .unknown
        }
        return builtin(name.text, inputs, at: name.span)
    }

    private func retrieve(_ query: Expr, _ index: Name, _ top: Expr?, _ order: Name?, _ expr: Expr) -> Facts {
        if isPrompt {
            error("`retrieve` cannot be used inside a prompt", at: expr.span)
            return .unknown
        }
        let q = check(query).type
        if [.number, .money, .bool, .record].contains(kinds(q).first), kinds(q).count == 1 {
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
            let t = check(top).type
            if !kinds(t).contains(.number) {
                error("`top` must be a number", at: top.span, help: "this is \(describe(t))")
            } else if let n = literalNumber(top), n < 1 || n != n.rounded() {
                error("`top` must be a whole number, at least 1", at: top.span)
            }
        }
        if let order, !Builtins.retrieveOrders.contains(order.text) {
            error("unknown order `\(order.text)`", at: order.span,
                  help: suggestion(order.text, Builtins.retrieveOrders) ?? "`order` is `score` or `edges`")
        }
        return Facts(.list(.doc), .untrusted, taint: .source("retrieved documents"))
    }
}

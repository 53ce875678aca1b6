import SluiceSyntax

/// What the checker knows about the value of an expression: its type and its trust.
struct Facts {
    var type: SluiceType
    var trust: TrustLevel
    /// Why an untrusted value is untrusted, for messages (nil when it is not untrusted).
    var taint: Taint?
    /// The prompt whose reply this is, for messages about replies.
    var replyOf: String?

    init(_ type: SluiceType, _ trust: TrustLevel = .trusted, taint: Taint? = nil, replyOf: String? = nil) {
        self.type = type
        // A value that cannot hold text is trusted whatever it was computed from.
        self.trust = type.carriesText ? trust : .trusted
        self.taint = self.trust == .untrusted ? taint : nil
        self.replyOf = replyOf
    }

    /// After an error: `any` and trusted, so that one mistake gives one error.
    static let unknown = Facts(.any)

    /// Made of several parts (a string's holes, a list's items, a record's fields, `+`, `??`):
    /// the worst trust wins, and the first untrusted part explains it.
    static func combining(_ parts: [Facts], into type: SluiceType) -> Facts {
        let trust = parts.reduce(TrustLevel.trusted) { $0.combined(with: $1.trust) }
        return Facts(type, trust, taint: parts.first { $0.trust == .untrusted }?.taint)
    }

    /// Computed from `inputs` by `step` (a function or filter, indexing, member access): trusted
    /// only when every input is; a piece of fenced text is not fenced.
    static func derived(_ type: SluiceType, from inputs: [Facts], step: String, at span: Span) -> Facts {
        guard let worst = inputs.max(by: { $0.trust < $1.trust }), worst.trust != .trusted else { return Facts(type) }
        return Facts(type, .untrusted, taint: worst.trust == .fenced ? .unfenced(step, at: span) : worst.taint)
    }

    /// A value that may come from either of two places (branches, loop passes).
    func joined(with other: Facts) -> Facts {
        var joined = Facts.combining([self, other], into: SluiceType.join(type, other.type))
        joined.replyOf = replyOf == other.replyOf ? replyOf : nil
        return joined
    }

    /// Same type and trust: what the flow analysis compares to know it is done.
    func same(as other: Facts) -> Bool { type == other.type && trust == other.trust }
}

/// Why a value is untrusted.
enum Taint {
    /// Where the text comes from, as a phrase: "`question`, an input of pipeline `support` not
    /// declared `trusted`", "retrieved documents". `parameter` names the parameter when it is one.
    case source(String, parameter: String? = nil)
    /// Fenced text went through `step` (the fence is lost at `span`).
    case unfenced(String, at: Span)
}

/// Checks statements and expressions: names in scope, calls, stages, light type inference
/// (every expression gets a `SluiceType`; `any` when unknown) and the trust of every value.
/// Reports only type mismatches that are certain.
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

    /// A loop body is checked again (muted) until what its names hold stops changing; the
    /// trust lattice and the types are shallow, so this bound is never reached in practice.
    static let maxLoopPasses = 16

    let mc: ModuleChecker
    let mode: Mode
    /// Names bound at this point, with what is known of their values.
    var locals: [String: Facts]
    /// Names assigned somewhere in the body (for "used before it is assigned").
    var assigned: [String: Span] = [:]
    /// Unknown names already reported, so that one typo gives one error.
    var reported: Set<String> = []
    /// > 0 while loop bodies are checked muted, to find what their names hold on every pass.
    var loopPasses = 0
    /// The pipeline whose body this is (for `session`, which stores the user's input).
    var pipeline: PipelineDecl?
    /// The first `session` statement of the body: a run keeps one conversation.
    var session: Span?
    /// The slots of this body, as the runtime will lay out its frame.
    private(set) var layout = SlotLayout()
    /// The names in scope with their slots, innermost last; the first is the body's outer level.
    private var scopes: [[String: Int]] = [[:]]
    /// The slots of `for` and `parallel ... for` variables and of cascade candidates, by where
    /// they are written: a loop body checked again finds the same slots.
    private var scopedSlots: [Int: Int] = [:]

    /// `parameters` (with what is known of them) take the first slots, in order; a repeated
    /// name (an error reported elsewhere) has a slot but is not in scope.
    init(_ mc: ModuleChecker, mode: Mode, parameters: [(name: String, facts: Facts)] = []) {
        self.mc = mc; self.mode = mode; self.locals = [:]
        for (name, facts) in parameters {
            let slot = layout.names.count
            layout.names.append(name)
            guard locals[name] == nil else { continue }
            locals[name] = facts
            layout.outer[name] = slot
            scopes[0][name] = slot
        }
    }

    // MARK: Slots

    /// The slot `name` has here, innermost scope first.
    func slot(of name: String) -> Int? {
        for scope in scopes.reversed() { if let slot = scope[name] { return slot } }
        return nil
    }

    /// The slot a binding of `name` writes, recorded for its site: the one in scope, or a new
    /// one at the body's outer level (a name first bound in a loop or branch stays bound after it).
    @discardableResult
    func bindingSlot(_ name: Name) -> Int {
        let slot = slot(of: name.text) ?? {
            let slot = layout.names.count
            layout.names.append(name.text)
            layout.outer[name.text] = slot
            scopes[0][name.text] = slot
            return slot
        }()
        mc.session.bindings.bind(name, in: mc.file, slot)
        return slot
    }

    /// Runs `body` with `names` bound to one slot of their own, the slot of `site`; outside
    /// `body` the names mean what they meant before.
    func withScopedSlot<T>(_ names: [String], site: Int, _ body: (Int) -> T) -> T {
        let slot = scopedSlots[site] ?? {
            let slot = layout.names.count
            layout.names.append(names[0])
            scopedSlots[site] = slot
            return slot
        }()
        scopes.append(Dictionary(names.map { ($0, slot) }, uniquingKeysWith: { first, _ in first }))
        defer { scopes.removeLast() }
        return body(slot)
    }

    func error(_ message: String, at span: Span, notes: [Diagnostic.Note] = [], help: String? = nil) {
        mc.error(message, at: span, notes: notes, help: help)
    }

    var isPrompt: Bool { if case .prompt = mode { true } else { false } }

    /// Records what a call or filter expression calls, for the interpreter.
    func resolved(_ expr: Expr, _ target: CallTarget) { mc.session.calls.record(expr, target) }

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
            case .parallel(_, let body): prescan(body.statements)
            default: break
            }
        }
    }

    /// Checks statements in order. Returns true when every path through them ends in `return`.
    @discardableResult
    func check(_ statements: [Stmt]) -> Bool {
        var ended: Stmt?
        var reportedUnreachable = false
        for (position, statement) in statements.enumerated() {
            if let ended, !reportedUnreachable {
                reportedUnreachable = true
                let why = if case .returnValue = ended.kind { "it comes after a `return`" } else {
                    "every branch of the `if` before it returns"
                }
                error("unreachable statement: \(why)", at: statement.span, notes: [mc.note("returns here", keywordSpan(ended))],
                      help: "remove it, or move it before the `return`")
            }
            var valueOnNextLine = false
            if ended == nil, isBareReturn(statement), position + 1 < statements.count,
               case .expression = statements[position + 1].kind {
                // The parser ended the `return` at the line break: one error for this, not an
                // "unreachable" one too.
                valueOnNextLine = true
                reportedUnreachable = true
                error("this `return` gives no value: the expression on the next line is a statement of its own, never run",
                      at: keywordSpan(statement), notes: [mc.note("never run", statements[position + 1].span)],
                      help: "the value must start on the same line as `return`")
            }
            if check(statement, valueOnNextLine: valueOnNextLine), ended == nil { ended = statement }
        }
        return ended != nil
    }

    private func isBareReturn(_ s: Stmt) -> Bool { if case .returnValue(nil) = s.kind { true } else { false } }

    /// The keyword a statement starts with (`return`, `if`), for notes.
    func keywordSpan(_ s: Stmt) -> Span {
        let length = switch s.kind {
        case .returnValue: 6
        case .ifElse: 2
        case .forIn: 3
        case .session: 7
        case .parallel: 8
        default: s.span.end - s.span.start
        }
        return Span(s.span.start, min(s.span.end, s.span.start + length))
    }

    /// Checks one statement. Returns true when it always ends in `return`.
    func check(_ stmt: Stmt, valueOnNextLine: Bool = false) -> Bool {
        switch stmt.kind {
        case .assign(let name, let value):
            let facts = if case .cascade(let call, let steps) = value.kind {
                cascade(value, call, steps, target: name.text)
            } else {
                check(value)
            }
            bindingSlot(name)
            locals[name.text] = facts

        case .guardStage(let subject, let uses):
            _ = check(subject)
            var mayRedact = false
            for use in uses {
                let action = guardUse(use)
                if action != "block" && action != "flag" { mayRedact = true }
            }
            if mayRedact, let n = rootName(of: subject), let old = locals[n] {
                // Redaction rewrites every string in the value and keeps its shape (a reply stays
                // a reply): trusted text stays trusted, fenced text is no longer whole.
                let taint: Taint? = old.trust == .fenced ? .unfenced("redaction by a guard", at: stmt.span) : old.taint
                locals[n] = Facts(old.type, old.trust.derived, taint: taint, replyOf: old.replyOf)
            }

        case .validate(let name, let typeRef, let retries, let retryModel):
            validate(name, typeRef, retries)
            if let retryModel { mc.checkModelName(retryModel) }

        case .score(let subject, let uses, _, _):
            _ = check(subject)
            for use in uses { metric(use) }

        case .ifElse(let branches, let elseBody):
            // Each branch starts from the state before the `if`; afterwards a name holds what
            // any branch that does not return may have left in it.
            let before = locals
            var ends: [[String: Facts]] = []
            for branch in branches {
                locals = before
                _ = check(branch.condition)
                if !check(branch.body.statements) { ends.append(locals) }
            }
            if let elseBody {
                locals = before
                if !check(elseBody.statements) { ends.append(locals) }
            } else {
                ends.append(before)
            }
            locals = ends.dropFirst().reduce(ends.first ?? before, joinStates)
            return ends.isEmpty

        case .forIn(let variable, let sequence, let body):
            let list = check(sequence)
            let element = Facts(elementType(of: list, sequence), list.trust, taint: list.taint)
            // The variable has a slot of its own: after the loop the name means what it meant before.
            withScopedSlot([variable.text], site: variable.span.start) { slot in
                mc.session.bindings.bind(variable, in: mc.file, slot)
                let saved = locals[variable.text]
                var head = locals
                if loopPasses == 0 {
                    // Find what every name holds at the top of the body on any pass; nested loops
                    // converge within these passes.
                    loopPasses += 1
                    mc.muted += 1
                    let savedReported = reported
                    for _ in 0..<Self.maxLoopPasses {
                        locals = head
                        locals[variable.text] = element
                        _ = check(body.statements)
                        let next = joinStates(head, locals)
                        if sameState(next, head) { break }
                        head = next
                    }
                    reported = savedReported
                    mc.muted -= 1
                    loopPasses -= 1
                }
                locals = head
                locals[variable.text] = element
                _ = check(body.statements)
                locals = joinStates(head, locals)   // the body may run zero times
                locals[variable.text] = saved
            }

        case .returnValue(let value):
            let facts = value.map { check($0) } ?? Facts(.null)
            if case .pipeline(let name, let returns?) = mode, !valueOnNextLine, let why = mismatch(facts.type, returns) {
                if value == nil {
                    error("pipeline `\(name)` returns `\(returns)`, but this `return` gives no value", at: stmt.span,
                          help: "write `return VALUE`")
                } else {
                    error("pipeline `\(name)` returns `\(returns)`, but this value \(why)", at: value?.span ?? stmt.span)
                }
            }
            return true

        case .budget(let b):
            mc.checkBudget(b)

        case .session(let name, let settings):
            checkSession(stmt, settings)
            bindingSlot(name)
            locals[name.text] = Facts(.list(Builtins.historyMessage), .untrusted, taint: .source("the conversation history"))

        case .expression(let e):
            if case .cascade(let call, let steps) = e.kind {
                _ = cascade(e, call, steps, target: nil)
            } else {
                _ = check(e)
            }

        case .parallel(let settings, let body):
            checkParallel(settings, body)
        }
        return false
    }

    /// The name a place (`q`, `ticket.body`, `items[0].text`) is part of: what a redacting guard
    /// writes back to.
    func rootName(of place: Expr) -> String? {
        switch place.kind {
        case .name(let n): n
        case .member(let base, _), .index(let base, _): rootName(of: base)
        default: nil
        }
    }

    /// What names hold after either of two paths. A name bound on one path only keeps what that
    /// path bound.
    private func joinStates(_ a: [String: Facts], _ b: [String: Facts]) -> [String: Facts] {
        a.merging(b) { $0.joined(with: $1) }
    }

    private func sameState(_ a: [String: Facts], _ b: [String: Facts]) -> Bool {
        a.count == b.count && a.allSatisfy { name, facts in b[name].map { facts.same(as: $0) } ?? false }
    }

    /// The type of a `for` variable; reports a sequence that is not a list.
    func elementType(of list: Facts, _ sequence: Expr) -> SluiceType {
        switch list.type.nonOptional {
        case .list(let e): return e
        case .reply(nil):
            error("cannot loop over a text reply", at: sequence.span,
                  help: "give the prompt `returns [TYPE]` and validate the reply (`validate NAME`) to get a list")
        case .reply(let inner?):
            error("cannot loop over a reply before it is validated", at: sequence.span,
                  help: "validate it first (`validate NAME`): then it is a `\(inner)`")
        case .number, .int, .money, .bool, .string, .enumeration, .record:
            error("cannot loop over \(describe(list.type))", at: sequence.span,
                  help: list.type.nonOptional == .string ? "`for` goes through the items of a list; `lines(x)` splits text into lines"
                    : "`for` goes through the items of a list")
        default: break
        }
        return .any
    }

    /// `validate NAME [as TYPE | against schema("f.json")] [retries N]`.
    private func validate(_ name: Name, _ against: ValidationTarget?, _ retries: Expr?) {
        let current = value(name.text, at: name.span)
        // `validate` reads the name and writes the validated value back to the same slot.
        if locals[name.text] != nil, let slot = slot(of: name.text) { mc.session.bindings.bind(name, in: mc.file, slot) }
        var target: SluiceType = .any
        if case .type(let typeRef)? = against {
            target = mc.resolve(typeRef)
            checkValidatable(name, current, as: target, typeRef)
        } else if case .schema(let schemaFile)? = against {
            // A schema written by hand says nothing the checker can type: the value is `any`.
            mc.checkSchemaFile(schemaFile)
        } else if case .reply(let returns) = current.type {
            if let returns {
                target = returns
            } else {
                error("cannot validate `\(name.text)` without a type: the prompt it comes from has no `returns`", at: name.span,
                      help: "write `validate \(name.text) as TYPE`, or give the prompt a `returns` type")
            }
        } else if case .record = current.type.nonOptional {
            target = current.type
        }
        if let retries {
            let t = check(retries).type
            if !kinds(t).contains(.number) {
                error("`retries` must be a number", at: retries.span, help: "this is \(describe(t))")
            } else if let n = literalNumber(retries), n < 0 || n != n.rounded() {
                error("`retries` must be a whole number, 0 or more", at: retries.span)
            }
        }
        // The validated value is the reply's JSON: as untrusted as the reply.
        if locals[name.text] != nil {
            locals[name.text] = Facts(target, .untrusted, taint: current.taint ?? .source("a value checked by `validate`"))
        }
    }

    /// A value whose shape is known (a reply of a prompt that `returns` a type, a record, a
    /// list) that can never match the type it is validated against.
    private func checkValidatable(_ name: Name, _ current: Facts, as target: SluiceType, _ typeRef: TypeRef) {
        let shape: SluiceType
        switch current.type {
        case .reply(let returns?): shape = returns
        case .record, .list: shape = current.type
        default: return
        }
        guard target != .any, let why = mismatch(shape, target) else { return }
        let origin = current.replyOf.map { "prompt `\($0)` asks the model for `\(shape)`" } ?? "it is `\(shape)`"
        let detail = why.hasPrefix("is ") ? "" : ", which \(why)"
        var help: String?
        if case .enumeration = target.nonOptional, case .record(_, let fields) = shape,
           let field = fields.first(where: { $0.type.nonOptional == .string }) {
            let written = mc.file.slice(typeRef.span)
            let body = fields.map { "\($0.name)\($0.optional ? "?" : ""): \($0.name == field.name ? written : "\($0.type)")" }
            help = "to check its `\(field.name)` against the enum, validate a record whose field has the enum's type: "
                + "`type Checked { \(body.joined(separator: "  ")) }` and `validate \(name.text) as Checked`"
        }
        error("`\(name.text)` can never match `\(mc.file.slice(typeRef.span))`: \(origin)\(detail)", at: typeRef.span, help: help)
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
            let type = check(arg.value).type
            if let label = arg.label, !labelled {
                labelled = true
                error("metric arguments take no labels", at: label.span)
            }
            switch use.name.text {
            case "length" where !kinds(type).contains(.number):
                error("`length` takes numbers of characters, not \(describe(type))", at: arg.value.span)
            case "regex" where position == 0 && !(literalString(arg.value) ?? "").isEmpty:
                mc.checkPattern(arg.value)
            case "schema_valid":
                // The schema file is read and compiled now, like `validate … against schema(...)`'s.
                guard let path = literalString(arg.value) else {
                    error("`schema_valid` takes the path of a JSON Schema file, as a string literal", at: arg.value.span,
                          help: "the checker reads the file before anything runs: `schema_valid(\"schemas/order.json\")`")
                    break
                }
                mc.checkSchemaFile(SchemaFileRef(path: path, pathSpan: arg.value.span, assertFormats: false, span: arg.value.span))
            case "latency" where !kinds(type).contains(.number):
                error("`latency` takes the most milliseconds, a number, not \(describe(type))", at: arg.value.span)
            case "cost" where !kinds(type).contains(.money):
                error("`cost` takes the most money, as in `cost($0.01)`, not \(describe(type))", at: arg.value.span)
            case "syntax_valid", "code_runs", "passes_tests":
                if position == 0, let language = literalString(arg.value), CodeLanguage(rawValue: language) == nil {
                    error("no code checks for `\(language)`", at: arg.value.span,
                          help: suggestion(language, CodeLanguage.allCases.map(\.rawValue))
                            ?? "the languages are " + CodeLanguage.allCases.map(\.rawValue).joined(separator: ", "))
                }
                let limitsStart = use.name.text == "passes_tests" ? 2 : 1
                if position >= limitsStart, !kinds(type).contains(.number) {
                    error("`\(use.name.text)` takes \(position == limitsStart ? "a time limit in seconds" : "a memory limit in megabytes") here, not \(describe(type))",
                          at: arg.value.span)
                }
            default: break
            }
        }
        if let arity = Builtins.metrics[use.name.text] {
            if !arity.contains(use.args.count) {
                error("metric `\(use.name.text)` takes \(count(arity)), got \(use.args.count)", at: use.span)
            }
        } else if let entry = mc.lookup(use.name.text) {
            if case .metric(let declared) = entry.decl {
                // The arguments are the metric's parameters after `it`, in order.
                let required = declared.params.filter { $0.defaultValue == nil }.count
                if use.args.count < required || use.args.count > declared.params.count {
                    let arity = required == declared.params.count ? "\(required)" : "\(required) to \(declared.params.count)"
                    error("metric `\(use.name.text)` takes \(arity) argument\(declared.params.count == 1 ? "" : "s"), got \(use.args.count)",
                          at: use.span, notes: [Diagnostic.Note("declared here", file: entry.file, span: declared.name.span)])
                }
            } else {
                error("`\(use.name.text)` is \(entry.kind.article), not a metric", at: use.name.span)
            }
        } else {
            let known = Array(Builtins.metrics.keys) + mc.names(of: .metric)
            error("unknown metric `\(use.name.text)`", at: use.name.span,
                  help: suggestion(use.name.text, known)
                    ?? "built-in metrics: " + Builtins.metrics.keys.sorted().joined(separator: ", ") + "; or declare one with `metric NAME(…) = …`")
        }
        if let condition = use.condition { _ = check(condition) }
    }

    /// `history EXPR` in a prompt: a list of `{role, content}` messages.
    func checkHistory(_ content: Expr) {
        let facts = check(content)
        let help = "a `session NAME` statement binds the conversation so far; or write a list like `[{role: \"user\", content: text}]`"
        func fail(_ what: String) {
            error("`history` needs a list of `{role, content}` messages, not \(what)", at: content.span, help: help)
        }
        switch facts.type.nonOptional {
        case .any, .null: break
        case .list(let element):
            switch element.nonOptional {
            case .any, .null: break
            case .record(_, let fields):
                let missing = ["role", "content"].filter { key in !fields.contains { $0.name == key } }
                if !missing.isEmpty {
                    fail("a list of records without " + missing.map { "`\($0)`" }.joined(separator: " and "))
                }
            default: fail(describe(facts.type))
            }
        case .reply(nil): fail("a text reply")
        case .reply(let inner?):
            error("`history` needs a list of `{role, content}` messages, not a reply before it is validated", at: content.span,
                  help: "validate it first (`validate NAME`): then it is a `\(inner)`")
        default: fail(describe(facts.type))
        }
        // The runtime places each message in the user or assistant role; a literal says which.
        if case .list(let items) = content.kind {
            for item in items {
                guard case .record(let fields) = item.kind, let role = fields.first(where: { $0.name.text == "role" }),
                      let text = literalString(role.value), text != "user", text != "assistant" else { continue }
                error("a `history` message's role is \"user\" or \"assistant\", not \(JSONValue.string(text).serialized())",
                      at: role.value.span, help: suggestion(text, ["user", "assistant"])?.replacingOccurrencesOfBackticks()
                        ?? "instructions go in `system` messages of the prompt itself")
            }
        }
    }
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
    /// `session NAME with ...`: in a pipeline, once, knowing which input is the user's turn.
    private func checkSession(_ stmt: Stmt, _ settings: [Field]) {
        checkSessionSettings(settings)
        guard case .pipeline(let name, _) = mode else {
            error("`session` belongs in a pipeline", at: keywordSpan(stmt))
            return
        }
        if let first = session {
            error("a run has one session; this is a second `session` statement", at: keywordSpan(stmt),
                  notes: [mc.note("the first one is here", first)])
            return
        }
        session = keywordSpan(stmt)
        // Without `user`, the first string (or untyped) input is the user's turn.
        let hasUser = settings.contains { $0.name.text == "user" }
        let stringInput = pipeline?.params.contains { param in
            guard let type = param.type else { return true }
            if case .named(let n) = type { return n.text == "string" }
            return false
        } ?? true
        if !hasUser && !stringInput {
            error("the session needs to know which input is the user's turn", at: keywordSpan(stmt),
                  help: "add `with user INPUT`, naming a parameter of pipeline `\(name)`")
        }
    }

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
                guard case .name(let input) = setting.value.kind, locals[input] != nil, let slot = slot(of: input) else {
                    error("session `user` names the pipeline input that is the user's turn", at: setting.value.span)
                    continue
                }
                mc.session.bindings.read(setting.value, slot)
            default:
                error("unknown session setting `\(key)`", at: setting.name.span,
                      help: suggestion(key, Builtins.sessionSettings) ?? "settings: " + Builtins.sessionSettings.joined(separator: ", "))
            }
        }
    }
}

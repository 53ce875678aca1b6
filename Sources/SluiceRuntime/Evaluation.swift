import Foundation
import SluiceSemantics
import SluiceSyntax

/// Statements and expressions, evaluated against a frame of one run.
extension RunContext {
    // MARK: Pipelines

    /// `arguments` are the values of the parameters, in order (nil takes the default).
    func callPipeline(_ declared: Declared<PipelineDecl>, arguments: [Value?], budget: BudgetScope, depth: Int,
                      callSite: (file: SourceFile, span: Span)? = nil, spanKind: String = "pipeline") async throws -> Value {
        let decl = declared.decl
        guard depth < Interpreter.maxPipelineDepth else {
            throw RuntimeError(.limit, "pipelines call each other more than \(Interpreter.maxPipelineDepth) deep",
                               file: callSite?.file ?? declared.file, span: callSite?.span ?? decl.name.span)
        }
        return try await tracer.span(spanKind, decl.name.text) { _ in
            var frame = Frame(file: declared.file, layout: try layout(of: decl.name, in: declared.file), pipeline: decl,
                              budget: budget, depth: depth + 1)
            // The parameters are the first slots, in order.
            for (slot, param) in decl.params.enumerated() {
                if let given = arguments.indices.contains(slot) ? arguments[slot] : nil {
                    frame.slots[slot] = given
                } else if let defaultValue = param.defaultValue {
                    frame.slots[slot] = try await eval(defaultValue, &frame)
                } else {
                    frame.slots[slot] = .null
                }
            }
            if case .returned(let value) = try await execute(decl.body, &frame) { return value }
            return .null
        }
    }

    enum Flow { case normal, returned(Value) }

    func execute(_ block: Block, _ frame: inout Frame) async throws -> Flow {
        for statement in block.statements {
            if case .returned(let value) = try await execute(statement, &frame) { return .returned(value) }
        }
        return .normal
    }

    func execute(_ statement: Stmt, _ frame: inout Frame) async throws -> Flow {
        switch statement.kind {
        case .assign(let name, let expr):
            try bind(name, to: try await eval(expr, &frame), &frame)
        case .expression(let expr):
            _ = try await eval(expr, &frame)
        case .returnValue(let expr):
            guard let expr else { return .returned(.null) }
            return .returned(try await eval(expr, &frame))
        case .ifElse(let branches, let elseBody):
            if let estimate {
                // A dry run takes the branch its path says, evaluating the conditions a real run
                // would evaluate before reaching it (they may call models too).
                let line = frame.file.location(of: statement.span.start).line
                let chosen = estimate.decide("`if` at line \(line)",
                                             branches.indices.map { "branch \($0 + 1)" } + [elseBody == nil ? "no branch" : "else"])
                for branch in branches.prefix(chosen + 1) { _ = try await eval(branch.condition, &frame) }
                if chosen < branches.count { return try await execute(branches[chosen].body, &frame) }
                if let elseBody { return try await execute(elseBody, &frame) }
                return .normal
            }
            for branch in branches where try await eval(branch.condition, &frame).isTruthy {
                return try await execute(branch.body, &frame)
            }
            if let elseBody { return try await execute(elseBody, &frame) }
        case .forIn(let name, let sequence, let body):
            let items = try await listItems(sequence, what: "`for`", &frame)
            let callsBefore = estimate?.callCount ?? 0
            // The variable's slot is its own: the name it may shadow keeps its value, as the checker says.
            let slot = try slot(of: name, frame)
            for item in items {
                frame.slots[slot] = item
                if case .returned(let value) = try await execute(body, &frame) { return .returned(value) }
            }
            if let estimate {
                estimate.loopSeen(line: frame.file.location(of: statement.span.start).line, items: items.count,
                                  callsInside: estimate.callCount - callsBefore)
            }
        case .budget(let budget):
            if frame.depth <= 1 {
                // The run's own pipeline: its budget replaces the file-wide default.
                try applyBudget(budget, file: frame.file, to: frame.budget)
            } else {
                // A called pipeline's budget opens a scope inside its caller's: it can only tighten.
                frame.budget = BudgetScope(parent: frame.budget, owner: frame.pipeline?.name.text,
                                           limits: try limits(of: budget, file: frame.file))
            }
        case .session(let name, let settings):
            try startSession(name, settings, &frame, span: statement.span)
        case .guardStage(let target, let uses):
            try await runGuards(target, uses, &frame)
        case .validate(let name, let target, let retries, let retryModel):
            try await runValidate(name, target, retries, retryModel, &frame)
        case .score(let target, let uses, let scoreName, let sample):
            try await runScores(target, uses, named: scoreName, sample: sample, &frame)
        case .parallel(let settings, let body):
            try await runParallel(settings, body, &frame)
        }
        return .normal
    }

    // MARK: Expressions

    func eval(_ expr: Expr, _ frame: inout Frame) async throws -> Value {
        switch expr.kind {
        case .string(let parts):
            var text = ""
            var trust = Trust.trusted
            for part in parts {
                switch part {
                case .text(let s): text += s
                case .hole(let hole):
                    let value = try await eval(hole, &frame)
                    text += value.text
                    trust = trust.combined(with: value.trust)
                }
            }
            return .string(text, trust)
        case .number(let n): return .number(n)
        case .money(let m): return .money(m)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .list(let items):
            var values: [Value] = []
            for item in items { values.append(try await eval(item, &frame)) }
            return try nested(.list(values), expr, frame)
        case .record(let members):
            var values: [(key: String, value: Value)] = []
            for member in members { values.append((member.name.text, try await eval(member.value, &frame))) }
            return try nested(.record(values), expr, frame)
        case .name:
            return try local(expr, frame)
        case .member(let base, let name):
            let value = try await eval(base, &frame)
            return try memberValue(value, name, frame)
        case .index(let base, let index):
            let container = try await eval(base, &frame)
            let key = try await eval(index, &frame)
            return try subscriptValue(container, key, expr, frame)
        case .unary(let op, let operand):
            let value = try await eval(operand, &frame)
            return try interpreter.applyUnary(op, value, expr.span, frame.file)
        case .binary(let op, let lhs, let rhs):
            let left = try await eval(lhs, &frame)
            switch op {
            case .and: return left.isTruthy ? try await eval(rhs, &frame) : left
            case .or: return left.isTruthy ? left : try await eval(rhs, &frame)
            case .coalesce:
                if case .null = left { return try await eval(rhs, &frame) }
                return left
            default:
                let right = try await eval(rhs, &frame)
                return try interpreter.applyBinary(op, left, right, expr.span, frame.file)
            }
        case .filter(let input, let name, let args):
            guard case .builtin(let function)? = callTarget(of: expr) else { throw unresolved(name.text, name.span, frame) }
            var values = [try await eval(input, &frame)]
            for arg in args { values.append(try await eval(arg.value, &frame)) }
            return try callBuiltin(function, values, span: name.span, file: frame.file)
        case .call(let callee, let args, let using):
            return try await evalCall(callee, args, using: using, expr: expr, &frame)
        case .retrieve(let query, let index, let top, let order):
            return try await runRetrieve(query, index, top, order, &frame)
        case .template(let call):
            return try await runTemplate(call, &frame)
        case .cascade(let call, let steps):
            return try await runCascade(expr, call, steps, &frame)
        case .parallelMap(let body, let variable, let sequence, let settings):
            return try await runParallelMap(body, variable, sequence, settings, &frame)
        case .fallback(let value, let fallback):
            do {
                return try await eval(value, &frame)
            } catch let error as RuntimeError {
                // The failure stays in the trace (the failed calls and spans are recorded); the run goes on.
                return try await tracer.span("catch", frame.file.slice(value.span)) { detail in
                    detail["error"] = .string(error.message)
                    return try await eval(fallback, &frame)
                }
            }
        }
    }

    /// `value`, unless it nests deeper than `Value.maximumDepth` (a loop wrapping a list in a list
    /// again and again): every walk over a value, freeing it too, recurses once per level.
    func nested(_ value: Value, _ expr: Expr, _ frame: Frame) throws -> Value {
        guard value.nests(deeperThan: Value.maximumDepth) else { return value }
        throw RuntimeError(.limit, "a value nests deeper than \(Value.maximumDepth) levels", file: frame.file, span: expr.span,
                           help: "lists and records built in a loop should grow by `+`, not by wrapping: `acc = acc + [item]`")
    }

    /// The items of the list `sequence` evaluates to (none for null), for a loop.
    func listItems(_ sequence: Expr, what: String, _ frame: inout Frame) async throws -> [Value] {
        switch try await eval(sequence, &frame) {
        case .list(let list): return list
        case .null: return []
        case let other:
            throw RuntimeError(.script, "\(what) needs a list, got \(other.typeName)", file: frame.file, span: sequence.span)
        }
    }

    func memberValue(_ value: Value, _ name: Name, _ frame: Frame) throws -> Value {
        if case .null = value { return .null }
        if let member = value.member(name.text) { return member }
        switch value {
        case .record(let members):
            // A dry run's synthetic replies hold only required fields: a missing one is absent, not an error.
            if estimate != nil { return .null }
            throw RuntimeError(.script, "the record has no field `\(name.text)`", file: frame.file, span: name.span,
                               help: closestMatch(to: name.text, in: members.map(\.key)).map { "did you mean `\($0)`?" })
        case .reply:
            return .null   // a reply that is not JSON, or lacks the field: conditions on it are simply false
        default:
            throw RuntimeError(.script, "a \(value.typeName) has no field `\(name.text)`", file: frame.file, span: name.span)
        }
    }

    func subscriptValue(_ container: Value, _ key: Value, _ expr: Expr, _ frame: Frame) throws -> Value {
        func outOfRange(_ n: Double, _ count: Int, _ what: String) -> RuntimeError {
            RuntimeError(.script, "index \(JSONValue.formatNumber(n)) is out of range for a \(what) of \(count)",
                         file: frame.file, span: expr.span)
        }
        /// A whole number counts from the start, a negative one from the end.
        func position(_ n: Double, _ count: Int) -> Int? {
            guard let i = exactInt(n) else { return nil }
            let p = i < 0 ? count + i : i
            return p >= 0 && p < count ? p : nil
        }
        switch (container, key) {
        case (.list(let items), .number(let n)):
            guard let p = position(n, items.count) else {
                if estimate != nil { return .null }   // a synthetic reply's list is empty
                throw outOfRange(n, items.count, "list")
            }
            return items[p]
        case (.string(let s, let trust), .number(let n)):
            let chars = Array(s)
            guard let p = position(n, chars.count) else {
                if estimate != nil { return .string("", trust) }
                throw outOfRange(n, chars.count, "string")
            }
            // One character of any text is no longer fenced.
            return .string(String(chars[p]), trust == .trusted ? .trusted : .untrusted)
        case (_, .string(let k, _)):
            return container.member(k) ?? .null
        case (.null, _):
            return .null
        default:
            throw RuntimeError(.script, "cannot index a \(container.typeName) with a \(key.typeName)", file: frame.file, span: expr.span)
        }
    }

    // MARK: Calls

    func evalCall(_ callee: Expr, _ args: [Argument], using: Name?, expr: Expr, _ frame: inout Frame) async throws -> Value {
        switch callTarget(of: expr) {
        case .prompt(let name)?:
            guard let prompt = program.prompts[name] else { throw unresolved(name, callee.span, frame) }
            let modelName = try using?.text ?? defaultModel(of: prompt, span: callee.span, frame.file)
            let rendered = try await renderPrompt(prompt, args, &frame)
            return try await tracer.span("prompt", name) { detail in
                detail["model"] = .string(modelName)
                if let version = prompt.decl.version { detail["version"] = .number(Double(version)) }
                return .reply(try await callModel(modelName, rendered, span: expr.span, file: frame.file, budget: frame.budget, detail: &detail))
            }
        case .pipeline(let name)?:
            guard let pipeline = program.pipelines[name] else { throw unresolved(name, callee.span, frame) }
            var arguments = [Value?](repeating: nil, count: pipeline.decl.params.count)
            for arg in args {
                guard let label = arg.label else {
                    throw RuntimeError(.script, "arguments to pipeline `\(name)` need names, as in `\(name)(x: ...)`", file: frame.file, span: arg.span)
                }
                var value = try await eval(arg.value, &frame)
                // The checker resolved the label to its parameter's slot in the callee.
                guard let slot = siteSlot(of: label, in: frame.file), arguments.indices.contains(slot) else {
                    throw unresolvedLocal("`\(label.text)` of pipeline `\(name)`", label.span, frame.file)
                }
                // The checker let only trusted or fenced text reach a `trusted` parameter: inside, it is trusted.
                if pipeline.decl.params[slot].trusted { value = value.withTrust(.trusted) }
                arguments[slot] = value
            }
            return try await callPipeline(pipeline, arguments: arguments, budget: frame.budget, depth: frame.depth,
                                          callSite: (frame.file, expr.span))
        case .builtin(let name)?:
            var values: [Value] = []
            for arg in args { values.append(try await eval(arg.value, &frame)) }
            return try callBuiltin(name, values, span: callee.span, file: frame.file)
        case nil:
            throw unresolved(frame.file.slice(callee.span), callee.span, frame)
        }
    }

    /// A call the checker did not resolve: only a checked program runs, so this is a bug of the
    /// checker, reported as such rather than guessed at by name.
    func unresolved(_ name: String, _ span: Span, _ frame: Frame) -> RuntimeError { unresolved(name, span, frame.file) }

    func unresolved(_ name: String, _ span: Span, _ file: SourceFile) -> RuntimeError {
        RuntimeError(.script, "internal error: the checker did not resolve the call of `\(name)`", file: file, span: span,
                     help: "please report this script; `sluice check` should have accepted or refused it")
    }

    func defaultModel(of prompt: Declared<PromptDecl>, span: Span, _ file: SourceFile) throws -> String {
        if let field = prompt.decl.fields.first(where: { $0.name.text == "model" }), case .name(let model) = field.value.kind {
            return model
        }
        throw RuntimeError(.script, "prompt `\(prompt.decl.name.text)` names no model", file: file, span: span,
                           help: "add `model NAME` to the prompt, or call it with `using NAME`")
    }
}

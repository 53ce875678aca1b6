import SluiceSyntax

/// `parallel { ... }` and `parallel EXPR for NAME in LIST`: branches that run at the same time
/// must not depend on each other, so the checker refuses a branch that reads what another binds,
/// two branches binding one name, and statements whose order matters (`return`, `budget`,
/// `session`).
extension BodyChecker {
    static let failurePolicies = ["cancel", "finish"]

    func checkParallelSettings(_ settings: ParallelSettings) {
        if let limit = settings.limit {
            let facts = check(limit)
            if !kinds(facts.type).isSubset(of: [.number]), facts.type != .any {
                error("`limit` must be a number", at: limit.span, help: "this is \(describe(facts.type))")
            } else if let n = literalNumber(limit), n < 1 || n != n.rounded() {
                error("`limit` must be a whole number, at least 1", at: limit.span)
            }
        }
        if let policy = settings.onFailure, !Self.failurePolicies.contains(policy.text) {
            error("unknown failure policy `\(policy.text)`", at: policy.span,
                  help: suggestion(policy.text, Self.failurePolicies) ?? "`on_failure` is `cancel` (the default) or `finish`")
        }
    }

    func checkParallel(_ settings: ParallelSettings, _ body: Block) {
        if isPrompt { error("`parallel` cannot be used inside a prompt", at: body.span) }
        checkParallelSettings(settings)
        var boundBy: [String: Span] = [:]
        for branch in body.statements {
            if let (what, span) = orderDependent(branch) {
                error("\(what) cannot be a branch of `parallel`: branches run at the same time, in no order", at: span,
                      help: "move it before or after the `parallel` block")
            }
            for name in namesBound(by: branch) {
                if let first = boundBy[name] {
                    error("`\(name)` is bound by two branches of this `parallel`", at: branch.span,
                          notes: [mc.note("also bound here", first)], help: "give each branch a name of its own")
                } else {
                    boundBy[name] = branch.span
                }
            }
        }
        for branch in body.statements {
            let own = Set(namesBound(by: branch))
            var reported: Set<String> = []
            for (name, span) in namesRead(by: branch) where !own.contains(name) && boundBy[name] != nil && reported.insert(name).inserted {
                error("this branch reads `\(name)`, which another branch of the `parallel` binds: branches run at the same time",
                      at: span, notes: [mc.note("bound here", boundBy[name]!)],
                      help: "use `\(name)` after the `parallel` block, or compute it in this branch")
            }
        }
        // Every branch starts from the state before the block; afterwards each name holds what
        // the branch that binds it left.
        let before = locals
        var after = before
        for branch in body.statements {
            locals = before
            // What other branches bind was reported above if read here: no second error for it.
            for (name, _) in boundBy where locals[name] == nil { locals[name] = .unknown }
            _ = check(branch)
            let bound = namesBound(by: branch)
            for name in bound { after[name] = locals[name] }
            mc.session.bindings.branch(branch, in: mc.file, binds: bound.compactMap(slot(of:)))
        }
        locals = after
    }

    func parallelMap(_ expr: Expr, _ body: Expr, _ variable: Name, _ sequence: Expr, _ settings: ParallelSettings) -> Facts {
        if isPrompt {
            error("`parallel` cannot be used inside a prompt", at: expr.span)
            return .unknown
        }
        checkParallelSettings(settings)
        let list = check(sequence)
        let element = Facts(elementType(of: list, sequence), list.trust, taint: list.taint)
        let result = withScopedSlot([variable.text], site: variable.span.start) { slot in
            mc.session.bindings.bind(variable, in: mc.file, slot)
            let saved = locals[variable.text]
            locals[variable.text] = element
            defer { locals[variable.text] = saved }
            return check(body)
        }
        return Facts(.list(result.type), result.trust, taint: result.taint, replyOf: nil)
    }

    /// A statement whose effect depends on when it runs.
    private func orderDependent(_ statement: Stmt) -> (String, Span)? {
        switch statement.kind {
        case .returnValue: ("`return`", keywordSpan(statement))
        case .budget: ("`budget`", statement.span)
        case .session: ("`session`", keywordSpan(statement))
        case .parallel: nil
        case .ifElse(let branches, let elseBody):
            (branches.map(\.body) + (elseBody.map { [$0] } ?? [])).lazy.flatMap(\.statements).compactMap(orderDependent).first
        case .forIn(_, _, let body): body.statements.lazy.compactMap(orderDependent).first
        default: nil
        }
    }

    /// The names a branch binds: its assignments, what `validate` rebinds and what a guard writes back to.
    func namesBound(by statement: Stmt) -> [String] {
        switch statement.kind {
        case .assign(let name, _): [name.text]
        case .validate(let name, _, _, _): [name.text]
        case .guardStage(let subject, _): rootName(of: subject).map { [$0] } ?? []
        case .ifElse(let branches, let elseBody):
            (branches.map(\.body) + (elseBody.map { [$0] } ?? [])).flatMap(\.statements).flatMap(namesBound)
        case .forIn(_, _, let body), .parallel(_, let body): body.statements.flatMap(namesBound)
        default: []
        }
    }

    /// Every name a statement reads, with where.
    private func namesRead(by statement: Stmt) -> [(String, Span)] {
        var out: [(String, Span)] = []
        func walk(_ e: Expr) {
            switch e.kind {
            case .name(let n): out.append((n, e.span))
            // A callee names a prompt, pipeline or function, not a value.
            case .call(_, let args, _): args.forEach { walk($0.value) }
            default: e.kind.children.forEach(walk)
            }
        }
        func visit(_ s: Stmt) {
            switch s.kind {
            case .assign(_, let value): walk(value)
            case .guardStage(let subject, let uses): walk(subject); uses.forEach { $0.condition.map(walk) }
            case .validate(let name, _, let retries, _): out.append((name.text, name.span)); retries.map(walk)
            case .score(let subject, let uses, _, _): walk(subject); uses.forEach { $0.args.forEach { walk($0.value) }; $0.condition.map(walk) }
            case .ifElse(let branches, let elseBody):
                for branch in branches { walk(branch.condition); branch.body.statements.forEach(visit) }
                elseBody?.statements.forEach(visit)
            case .forIn(_, let sequence, let body): walk(sequence); body.statements.forEach(visit)
            case .returnValue(let value): value.map(walk)
            case .expression(let e): walk(e)
            case .parallel(let settings, let body): settings.limit.map(walk); body.statements.forEach(visit)
            case .budget, .session: break
            }
        }
        visit(statement)
        return out
    }
}

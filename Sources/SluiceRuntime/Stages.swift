import Foundation
import SluiceSemantics
import SluiceSyntax

extension RunContext {
    // MARK: retrieve

    func runRetrieve(_ query: Expr, _ index: Name, _ top: Expr?, _ order: Name?, _ frame: inout Frame) async throws -> Value {
        guard let declared = program.indexes[index.text] else {
            throw RuntimeError(.script, "unknown index `\(index.text)`", file: frame.file, span: index.span)
        }
        let queryText = try await eval(query, &frame).text
        var limit = 5
        if let top {
            guard case .number(let n) = try await eval(top, &frame), let whole = exactInt(n), whole >= 1 else {
                throw RuntimeError(.script, "`top` needs a whole number of at least 1", file: frame.file, span: top.span)
            }
            limit = whole
        }
        let spec = try indexSpec(declared)
        let reranker = try declared.decl.fields.first { $0.name.text == "embed" }.map { field -> (name: String, spec: ModelSpec) in
            let name = try interpreter.constant(field.value, file: declared.file).text
            return (name, try modelSpec(name, span: field.value.span, file: declared.file))
        }
        let budget = frame.budget
        return try await tracer.span("retrieve", index.text) { detail in
            detail["query"] = .string(queryText)
            detail["top"] = .number(Double(limit))
            var chunks: [RetrievedChunk]
            var fromStatistics = false
            do {
                try effects.retrieval.prepare(spec)
                // With an embedding model, BM25 gathers a wider set that embeddings then rank.
                chunks = try effects.retrieval.search(index: spec.name, query: queryText, limit: reranker == nil ? limit : max(20, limit * 4))
                if let estimate, estimate.hasMissingInputs, chunks.isEmpty,
                   let statistics = try (effects.retrieval as? EstimationHistory)?.statistics(index: spec.name) {
                    // The query is not known: size the context from the index's average chunk.
                    chunks = placeholderChunks(statistics, limit: reranker == nil ? limit : max(20, limit * 4))
                    fromStatistics = true
                }
            } catch {
                throw RuntimeError(.script, "retrieval from index `\(index.text)` failed: \(error)", file: frame.file, span: index.span)
            }
            if let reranker, !chunks.isEmpty {
                chunks = try await rerank(queryText, chunks, with: reranker.name, reranker.spec, limit: limit, span: index.span,
                                          file: frame.file, budget: budget)
                detail["reranked_by"] = .string(reranker.name)
            }
            let ordered = (order?.text == "edges" ? placeAtEdges(chunks) : chunks).map { chunk in
                var chunk = chunk
                chunk.source = displaySource(chunk.source, indexSource: spec.source)
                return chunk
            }
            detail["results"] = .array(ordered.map { .object([("source", .string($0.source)), ("score", .number($0.score))]) })
            estimate?.record(EstimationPath.Retrieval(
                index: index.text, documents: ordered.count,
                tokens: ordered.reduce(0) { $0 + effects.tokens.count($1.text, encoding: "o200k_base") }, fromStatistics: fromStatistics))
            return .list(ordered.map { chunk in
                .record([("text", .string(chunk.text, .untrusted)), ("source", .string(chunk.source, .untrusted)),
                         ("score", .number(chunk.score))])
            })
        }
    }

    func indexSpec(_ declared: Declared<IndexDecl>) throws -> IndexSpec {
        var spec = IndexSpec(name: declared.decl.name.text, source: nil)
        for field in declared.decl.fields {
            let value = try interpreter.constant(field.value, file: declared.file)
            switch (field.name.text, value, count(value, atLeast: 0)) {
            case ("store", .string(let s, _), _): spec.name = s
            case ("source", .string(let s, _), _): spec.source = resolvePath(s, relativeTo: declared.file.path)
            case ("chunk", _, let n?) where n >= 1: spec.chunkTokens = n
            case ("overlap", _, let n?): spec.overlapTokens = n
            case ("embed", _, _): break   // the reranking model, resolved in `runRetrieve`
            default:
                throw RuntimeError(.script, "index field `\(field.name.text)` cannot be \(value.typeName)", file: declared.file, span: field.span)
            }
        }
        return spec
    }

    /// Orders chunks by the cosine similarity of their embeddings to the query's; the score
    /// becomes that similarity.
    func rerank(_ query: String, _ chunks: [RetrievedChunk], with modelName: String, _ model: ModelSpec, limit: Int,
                span: Span, file: SourceFile, budget: BudgetScope) async throws -> [RetrievedChunk] {
        let vectors = try await embed([query] + chunks.map(\.text), modelName, model, span: span, file: file, budget: budget)
        let ranked = zip(chunks, vectors.dropFirst()).map { chunk, vector in
            RetrievedChunk(text: chunk.text, source: chunk.source, score: cosineSimilarity(vectors[0], vector))
        }
        return Array(ranked.sorted { $0.score > $1.score }.prefix(limit))
    }

    /// One embeddings call: reserved against the budget, traced and settled like a chat call.
    /// A dry run records it as a row of the estimate and answers with zero vectors.
    func embed(_ texts: [String], _ modelName: String, _ model: ModelSpec, span: Span, file: SourceFile,
               budget: BudgetScope) async throws -> [[Float]] {
        let tokens = texts.reduce(0) { $0 + effects.tokens.count($1, encoding: model.tokenizer) }
        let dollars = Double(tokens) * model.inputPrice
        let reservation: BudgetReservation
        do { reservation = try await ledger.reserve(dollars: dollars, tokens: tokens, in: budget, leaseSeconds: leaseSeconds(for: model)) } catch {
            throw RuntimeError(.budget, "budget exceeded: embedding with `\(modelName)`: \(error.message)", file: file, span: span)
        }
        if let estimate {
            estimate.record(EstimationPath.Embedding(model: model, texts: texts.count, tokens: tokens,
                                                     exact: effects.tokens.isExact(encoding: model.tokenizer)))
            await ledger.settle(reservation, actualDollars: dollars, actualTokens: tokens)
            return texts.map { _ in [] }
        }
        guard let embedder = effects.embeddings else {
            await ledger.settle(reservation, actualDollars: 0, actualTokens: 0)
            throw RuntimeError(.provider, "this run has no way to embed text (model `\(modelName)`)", file: file, span: span)
        }
        let started = effects.clock.now()
        do {
            let result = try await embedder.embedWithUsage(texts, model: model)
            let vectors = result.vectors
            guard vectors.count == texts.count else {
                throw ProviderError(.malformedReply, "asked for \(texts.count) embeddings, got \(vectors.count)")
            }
            // Charged at the usage the server reports; without one, at our own count, and the trace says so.
            let used = result.inputTokens ?? tokens
            let spent = Double(used) * model.inputPrice
            let overrun = await ledger.settle(reservation, actualDollars: spent, actualTokens: used)
            var warnings = result.inputTokens == nil ? ["the server reported no usage: charged at Sluice's own count of \(tokens) tokens"] : []
            if let overrun { warnings.append(overrunWarning(overrun, reserved: reservation)) }
            var call = TraceModelCall(runId: tracer.runId, spanId: tracer.currentSpan ?? "", model: modelName, provider: model.provider,
                                      messages: [ChatMessage(role: "embed", content: "\(texts.count) texts")], reply: nil,
                                      inputTokens: used, outputTokens: 0, cachedTokens: 0, cost: spent,
                                      latencyMs: (effects.clock.now() - started) * 1000, error: nil, attempt: 1, warnings: warnings)
            call.requestModel = model.id
            tracer.modelCalled(call)
            if let overrun, !overrun.passedLimits.isEmpty { throw overBudget(overrun, file: file, span: span) }
            return vectors
        } catch let error as RuntimeError where error.kind == .overBudget {
            throw error
        } catch {
            await ledger.settle(reservation, actualDollars: 0, actualTokens: 0)
            var call = TraceModelCall(runId: tracer.runId, spanId: tracer.currentSpan ?? "", model: modelName, provider: model.provider,
                                      messages: [ChatMessage(role: "embed", content: "\(texts.count) texts")], reply: nil,
                                      inputTokens: 0, outputTokens: 0, cachedTokens: 0, cost: 0,
                                      latencyMs: (effects.clock.now() - started) * 1000, error: "\(error)", attempt: 1)
            call.requestModel = model.id
            tracer.modelCalled(call)
            throw RuntimeError(.provider, "embedding with `\(modelName)` failed: \(error)", file: file, span: span)
        }
    }

    func placeholderChunks(_ statistics: IndexStatistics, limit: Int) -> [RetrievedChunk] {
        let words = max(1, min(100_000, exactInt(statistics.averageTokens.rounded()) ?? 1))
        let text = String(repeating: " data", count: words)
        return (0..<min(limit, statistics.chunks)).map { _ in RetrievedChunk(text: text, source: "(average chunk)", score: 0) }
    }

    /// Best results first and last, weakest in the middle: models attend least to the middle
    /// of a long context ("lost in the middle").
    func placeAtEdges(_ ranked: [RetrievedChunk]) -> [RetrievedChunk] {
        var front: [RetrievedChunk] = [], back: [RetrievedChunk] = []
        for (i, chunk) in ranked.enumerated() {
            if i % 2 == 0 { front.append(chunk) } else { back.append(chunk) }
        }
        return front + back.reversed()
    }

    // MARK: template

    /// `template P(args)`: the rendered messages, without a model call; traced with them.
    func runTemplate(_ call: Expr, _ frame: inout Frame) async throws -> Value {
        guard case .call(_, let args, _) = call.kind, case .prompt(let promptName)? = callTarget(of: call),
              let prompt = program.prompts[promptName] else {
            throw unresolved(frame.file.slice(call.span), call.span, frame)
        }
        let rendered = try await renderPrompt(prompt, args, &frame)
        return try await tracer.span("template", promptName) { detail in
            detail["messages"] = .array(rendered.messages.map(\.json))
            if let version = prompt.decl.version { detail["version"] = .number(Double(version)) }
            return .list(rendered.messages.map { .record([("role", .text($0.role)), ("content", .string($0.content, .fenced))]) })
        }
    }

    // MARK: cascade

    func runCascade(_ cascade: Expr, _ call: Expr, _ steps: [CascadeStep], _ frame: inout Frame) async throws -> Value {
        guard case .call(_, let args, _) = call.kind, case .prompt(let promptName)? = callTarget(of: call),
              let prompt = program.prompts[promptName] else {
            throw unresolved(frame.file.slice(call.span), call.span, frame)
        }
        let rendered = try await renderPrompt(prompt, args, &frame)
        // A dry run takes the path's choice of the model that answers; those before it are called and rejected.
        let answering = estimate?.decide("cascade at line \(frame.file.location(of: call.span.start).line)",
                                         steps.map { "`\($0.model.text)` answers" })
        return try await tracer.span("cascade", promptName) { detail in
            var attempts: [JSONValue] = []
            var failures: [String] = []
            defer { detail["attempts"] = .array(attempts) }
            for (position, step) in steps.enumerated() {
                let isLast = position == steps.count - 1
                let reply: Reply
                do {
                    var callDetail = JSONDetail()
                    reply = try await callModel(step.model.text, rendered, span: step.model.span, file: frame.file, budget: frame.budget,
                                                detail: &callDetail)
                } catch let error as RuntimeError where error.kind == .provider {
                    attempts.append(.object([("model", .string(step.model.text)), ("outcome", .string("error")),
                                             ("reason", .string(error.message))]))
                    failures.append("`\(step.model.text)`: \(error.message)")
                    if isLast {
                        throw RuntimeError(.provider, "every model of the cascade failed: " + failures.joined(separator: "; "),
                                           file: frame.file, span: call.span)
                    }
                    continue
                }
                var accepted = true
                if let answering {
                    accepted = position >= answering
                } else if let accept = step.accept {
                    // `it` (and the name the cascade is assigned to) is the candidate's own slot.
                    guard let slot = candidateSlot(of: cascade), frame.slots.indices.contains(slot) else {
                        throw unresolvedLocal("`it`", accept.span, frame.file)
                    }
                    frame.slots[slot] = .reply(reply)
                    accepted = try await eval(accept, &frame).isTruthy
                }
                if !accepted, let accept = step.accept {
                    let condition = frame.file.slice(accept.span)
                    attempts.append(.object([("model", .string(step.model.text)), ("outcome", .string("rejected")),
                                             ("reason", .string("accept condition `\(condition)` was false"))]))
                    failures.append("`\(step.model.text)`: its reply failed `\(condition)`")
                    if isLast {
                        throw RuntimeError(.provider, "no model in the cascade accepted the reply: " + failures.joined(separator: "; "),
                                           file: frame.file, span: accept.span)
                    }
                    continue
                }
                let reason = step.accept.map { "accept condition `\(frame.file.slice($0.span))` held" }
                    ?? (position == 0 ? "first model" : "last model, after \(position) rejected or failed")
                attempts.append(.object([("model", .string(step.model.text)), ("outcome", .string("answered")), ("reason", .string(reason))]))
                detail["answered_by"] = .string(step.model.text)
                detail["reason"] = .string(reason)
                return .reply(reply)
            }
            throw RuntimeError(.provider, "the cascade has no models", file: frame.file, span: call.span)
        }
    }

    // MARK: validate

    func runValidate(_ name: Name, _ against: ValidationTarget?, _ retries: Expr?, _ retryModel: Name?, _ frame: inout Frame) async throws {
        let slot = try slot(of: name, frame)
        guard var value = frame.slots[slot] else { throw unbound(name.text, name.span, frame) }
        var maxRetries = 1
        if let retries {
            guard case .number(let n) = try await eval(retries, &frame), let whole = exactInt(n), whole >= 0 else {
                throw RuntimeError(.script, "`retries` needs a whole number", file: frame.file, span: retries.span)
            }
            maxRetries = whole
        }
        let rule: ValidationRule
        switch against {
        case .type(let typeRef)?:
            rule = .type(program.resolve(typeRef))
        case .schema(let ref)?:
            guard let compiled = program.schemas[BindingSite(frame.file, ref.span)] else {
                throw RuntimeError(.script, "internal error: the checker did not compile the schema file \"\(ref.path)\"",
                                   file: frame.file, span: ref.span, help: "please report this script; `sluice check` should have read the file")
            }
            rule = .schemaFile(compiled)
        case nil:
            guard case .reply(let reply) = value, let returns = reply.returns else {
                throw RuntimeError(.script, "`validate \(name.text)` needs a type: `\(name.text)` is not the reply of a prompt that `returns` one",
                                   file: frame.file, span: name.span, help: "write `validate \(name.text) as TypeName`")
            }
            rule = .type(returns)
        }
        // A dry run takes the path's number of failed attempts before one passes; the retries are
        // estimated on the model that answers them.
        let failedAttempts = estimate?.decide("`validate \(name.text)` at line \(frame.file.location(of: name.span.start).line)",
                                              (0...maxRetries).map { $0 == 0 ? "valid at once" : "\($0) retr\($0 == 1 ? "y" : "ies")" })
        let budget = frame.budget
        let validated: Value = try await tracer.span("validate", name.text) { detail in
            detail[rule.detail.key] = .string(rule.detail.value)
            var attempts: [JSONValue] = []
            var repairs: [JSONValue] = []
            var attempt = 1
            while true {
                var (json, problems, stripped) = check(value, against: rule)
                if let failedAttempts, attempt <= failedAttempts { problems = ["(dry run) this attempt is taken to fail"] }
                var record: [(String, JSONValue)] = [("attempt", .number(Double(attempt)))]
                if case .reply(let reply) = value { record.append(("model", .string(reply.model))) }
                if !stripped.isEmpty {
                    repairs.append(.object([("kind", .string("lenient_parse")), ("attempt", .number(Double(attempt))),
                                            ("stripped", .array(stripped.map { .string($0) }))]))
                    detail["repairs"] = .array(repairs)
                }
                if problems.isEmpty, let json {
                    attempts.append(.object(record + [("outcome", .string("valid"))]))
                    detail["attempts"] = .array(attempts)
                    detail["retries"] = .number(Double(attempt - 1))
                    return Value(json: json, trust: .untrusted)
                }
                attempts.append(.object(record + [("outcome", .string("invalid")), ("errors", .array(problems.map { .string($0) }))]))
                detail["attempts"] = .array(attempts)
                guard attempt <= maxRetries, case .reply(let reply) = value else {
                    let retried = attempt - 1
                    throw RuntimeError(.validation, "`\(name.text)` does not match \(rule.description) after \(retried) retr\(retried == 1 ? "y" : "ies"): "
                                       + problems.joined(separator: "; "), file: frame.file, span: name.span,
                                       notes: [Diagnostic.Note("the last reply was:\n" + value.text)])
                }
                attempt += 1
                // The prompt re-asked, so a trace reader can tell which prompt (version) its calls belong to.
                detail["prompt"] = .string(reply.promptName)
                let repair = ChatMessage(role: "user", content: Self.repairRequest(problems, schema: rule.schema))
                let messages = reply.request.messages + [ChatMessage(role: "assistant", content: reply.text), repair]
                // Against a type, the retry asks for that type; against a schema file, the request
                // keeps its own structured output (a hand-written schema may have no strict form)
                // and the repair message carries the schema.
                var rendered = RenderedPrompt(promptName: reply.promptName, messages: messages, temperature: reply.request.temperature,
                                              maxTokens: reply.request.maxTokens, stop: reply.request.stop,
                                              returns: rule.type ?? reply.returns,
                                              schema: rule.type == nil ? reply.request.responseSchema?.schema : rule.schema)
                rendered.schemaName = reply.request.responseSchema?.name
                rendered.version = reply.promptVersion
                rendered.meta = reply.promptMeta
                var callDetail = JSONDetail()
                value = .reply(try await callModel(retryModel?.text ?? reply.model, rendered, span: retryModel?.span ?? name.span,
                                                   file: frame.file, budget: budget, detail: &callDetail, attempt: attempt))
            }
        }
        frame.slots[slot] = validated
    }

    /// At most this many of a reply's errors are listed when `validate` re-asks.
    static let maxListedErrors = 10
    /// A schema longer than this is cut when `validate` re-asks, so a large type cannot crowd the
    /// conversation out of the model's context.
    static let maxRepairSchemaCharacters = 4000

    /// The message that re-asks for a reply: what was wrong with it, and the schema to match.
    static func repairRequest(_ problems: [String], schema: JSONValue) -> String {
        var listed = problems.prefix(maxListedErrors).map { "- " + $0 }
        if problems.count > maxListedErrors { listed.append("- and \(problems.count - maxListedErrors) more") }
        var schemaText = schema.serialized()
        if schemaText.count > maxRepairSchemaCharacters {
            schemaText = String(schemaText.prefix(maxRepairSchemaCharacters)) + "… (cut: the first \(maxRepairSchemaCharacters) of \(schemaText.count) characters)"
        }
        return "Your reply did not match the required JSON Schema:\n" + listed.joined(separator: "\n")
            + "\nThe schema:\n" + schemaText
            + "\nReply again with only the corrected JSON."
    }

    /// The value as JSON, what is wrong with it for `type`, and what a lenient parse had to strip
    /// from the reply's text to find the JSON (a code fence, a preamble, trailing prose).
    func check(_ value: Value, against type: SluiceType) -> (JSONValue?, [String], stripped: [String]) {
        check(value, against: .type(type))
    }

    func check(_ value: Value, against rule: ValidationRule) -> (JSONValue?, [String], stripped: [String]) {
        let parsed: LenientJSON?
        switch value {
        case .reply(let reply):
            parsed = LenientJSON(reply.text)
            // A guard may have rewritten the reply's JSON: that is the value checked.
            if let json = reply.json { return (json, rule.problems(json), parsed?.stripped ?? []) }
        case .string(let s, _):
            // Text checked against a text type is that text; against anything else (a schema
            // file too), JSON to parse.
            switch rule.type?.nonOptional {
            case .string?, .enumeration?: return (.string(s), rule.problems(.string(s)), [])
            default: parsed = LenientJSON(s)
            }
        default: return (value.json, rule.problems(value.json), [])
        }
        guard let parsed else { return (nil, ["the reply is not valid JSON"], []) }
        return (parsed.value, rule.problems(parsed.value), parsed.stripped)
    }

    // MARK: guard

    func runGuards(_ target: Expr, _ uses: [StageUse], _ frame: inout Frame) async throws {
        var value = try await eval(target, &frame)
        for use in uses {
            let compiled = try compiledGuard(use.name, frame.file)
            var action = compiled.action
            if let arg = use.args.first {
                guard case .name(let word) = arg.value.kind, let chosen = GuardAction(rawValue: word) else {
                    throw RuntimeError(.script, "a guard's action is block, redact or flag", file: frame.file, span: arg.span)
                }
                action = chosen
            }
            value = try await tracer.span("guard", use.name.text) { detail in
                detail["action"] = .string(action.rawValue)
                let outcome = compiled.inspect(value, action: action)
                // What a guard redacts, or blocks as a leak, is kept nowhere from now on; rows
                // already written (the run's inputs, the reply's model call) are scrubbed.
                if action != .flag, !outcome.found.isEmpty {
                    tracer.scrubRecorded(redactions.add(outcome.found.map {
                        Redactions.Replacement(secret: $0.text, replacement: $0.replacement)
                    }))
                }
                detail["verdict"] = .string(outcome.verdict)
                detail["matches"] = .array(outcome.matches.map { .object([("pattern", .string($0.pattern)), ("count", .number(Double($0.count)))]) })
                let spanId = tracer.currentSpan ?? ""
                if outcome.matches.isEmpty {
                    tracer.guardChecked(TraceGuardVerdict(runId: tracer.runId, spanId: spanId, guardName: use.name.text, pattern: nil,
                                                          verdict: "pass", matches: 0))
                }
                for match in outcome.matches {
                    tracer.guardChecked(TraceGuardVerdict(runId: tracer.runId, spanId: spanId, guardName: use.name.text,
                                                          pattern: match.pattern, verdict: outcome.verdict, matches: match.count))
                }
                switch (outcome.effectiveAction, outcome.matches.first) {
                case (_, nil): return value
                case (.block, let match?):
                    let why = match.pattern == CompiledGuard.maxLengthPattern
                        ? "the text is longer than its `max_length` of \(compiled.maxLength ?? 0) characters"
                        : "pattern `\(match.pattern)` matched"
                    throw RuntimeError(.guardBlocked, "blocked by guard `\(use.name.text)`: \(why) in "
                                       + "`\(frame.file.slice(target.span))`", file: frame.file, span: use.span)
                case (.flag, _):
                    addFlags(outcome.matches.map { FlagVerdict(guardName: use.name.text, pattern: $0.pattern) })
                    return value
                case (.redact, _):
                    return outcome.redacted
                }
            }
        }
        // The guarded value replaces what it came from, so every later use sees it redacted.
        try assign(value, to: target, &frame)
    }

    /// Writes `value` back to the place `target` names: a local, or a field or item inside one.
    /// Any other expression has no place to write to.
    func assign(_ value: Value, to target: Expr, _ frame: inout Frame) throws {
        var path: [PathStep] = []
        var node = target
        while true {
            switch node.kind {
            case .name:
                // The place's root is the local its read resolved to.
                guard let slot = readSlot(of: node), frame.slots.indices.contains(slot) else {
                    throw unresolvedLocal("`\(frame.file.slice(node.span))`", node.span, frame.file)
                }
                guard let root = frame.slots[slot] else { return }
                frame.slots[slot] = root.replacing(at: path.reversed(), with: value)
                return
            case .member(let base, let field):
                path.append(.field(field.text))
                node = base
            case .index(let base, let index):
                guard case .number(let n) = index.kind, let i = exactInt(n) else {
                    if case .string(let parts) = index.kind, parts.count == 1, case .text(let key) = parts[0] {
                        path.append(.field(key))
                        node = base
                        continue
                    }
                    return
                }
                path.append(.item(i))
                node = base
            default:
                return
            }
        }
    }

    func compiledGuard(_ name: Name, _ file: SourceFile) throws -> CompiledGuard {
        try interpreter.declarations.guardSet(name.text) {
            guard let declared = program.guards[name.text] else {
                throw RuntimeError(.script, "unknown guard `\(name.text)`", file: file, span: name.span,
                                   help: closestMatch(to: name.text, in: program.guards.keys).map { "did you mean `\($0)`?" })
            }
            return try CompiledGuard(declared) { expr, file in try interpreter.constant(expr, file: file) }
        }
    }

    // MARK: score

    /// Each metric's score is named after the metric, or `NAME.METRIC` under `score … as NAME`
    /// (a name already taken in the run gets `#2`, `#3`, …).
    func runScores(_ target: Expr, _ uses: [StageUse], named scoreName: Name?, sample: ScoreSample?, _ frame: inout Frame) async throws {
        if let sample, !isSampled(sample, frame) {
            // Not sampled: each score is traced as skipped (nothing is computed), never as a 0.
            for use in uses {
                let name = scoreName.map { "\($0.text).\(use.name.text)" } ?? use.name.text
                try await tracer.span("score", name) { detail in
                    detail["skipped"] = .string("not sampled")
                    detail["sample"] = .number(sample.fraction)
                }
            }
            return
        }
        let value = try await eval(target, &frame)
        for use in uses {
            if let condition = use.condition, !(try await eval(condition, &frame).isTruthy) { continue }
            // A built-in metric, else a `metric` declaration (the checker refuses a declaration named like a built-in).
            let builtin = BuiltinMetric(rawValue: use.name.text)
            let declared = program.metrics[use.name.text]
            if builtin == nil, declared == nil { throw unresolved(use.name.text, use.name.span, frame) }
            var scoreFrame = frame
            var attempted = ""
            do {
                try await addScore(scoreName.map { "\($0.text).\(use.name.text)" } ?? use.name.text) { name in
                    attempted = name
                    return try await tracer.span("score", name) { detail in
                        var score = 0.0
                        if let builtin {
                            score = try await self.metric(builtin, value, use, &scoreFrame, detail: &detail)
                        } else if let declared {
                            score = try await self.declaredMetric(declared, value, use, &scoreFrame, detail: &detail)
                        }
                        detail["value"] = .number(score)
                        tracer.scored(TraceScore(runId: tracer.runId, spanId: tracer.currentSpan, name: name, value: score))
                        return score
                    }
                }
            } catch let failure as ScoreFailure {
                // The score span ended as an error with the reason; the run goes on without the score.
                addFailedScore(attempted, failure.message)
            }
        }
    }

    /// Whether this run computes a `score … sample N%` statement: a draw from the injected random
    /// source (every time when the interpreter does not sample); a dry run takes both paths.
    func isSampled(_ sample: ScoreSample, _ frame: Frame) -> Bool {
        if let estimate {
            return estimate.decide("`score … sample` at line \(frame.file.location(of: sample.span.start).line)", ["scored", "not sampled"]) == 0
        }
        guard interpreter.samplesScores else { return true }
        let unit = Double(effects.random.next() >> 11) * 0x1p-53   // uniform in [0, 1)
        return unit < sample.fraction
    }

    /// A `metric` declaration's score of `value`: its lowered pipeline run with `it` and the
    /// arguments. An expression gives the number; a judge's reply is checked against its grade
    /// type and gives its `score`, and its `reasoning` goes into the score span's detail. A
    /// number outside 0..1 is refused, not clamped: it is a mistake in the metric or the judge.
    func declaredMetric(_ declared: Declared<MetricDecl>, _ value: Value, _ use: StageUse, _ frame: inout Frame,
                        detail: inout JSONDetail) async throws -> Double {
        let metric = declared.decl, file = frame.file
        var arguments: [Value?] = [value]
        for arg in use.args { arguments.append(try await eval(arg.value, &frame)) }
        let budget = frame.budget, depth = frame.depth
        let result = try await RunContext.$judging.withValue(true) {
            try await callPipeline(Declared(metric.lowered, in: declared.file), arguments: arguments, budget: budget,
                                   depth: depth, callSite: (file, use.span), spanKind: "metric")
        }
        let score: Double
        switch metric.body {
        case .expression:
            guard case .number(let n) = result else {
                throw RuntimeError(.script, "metric `\(metric.name.text)` gave \(result.json.serialized()), not a number", file: file, span: use.span)
            }
            score = n
        case .judge:
            guard case .reply(let reply) = result, let grade = reply.returns else {
                throw RuntimeError(.script, "internal error: the judge of metric `\(metric.name.text)` gave no typed reply", file: file, span: use.span)
            }
            detail["judge"] = .string(reply.promptName)
            let (json, problems, stripped) = check(result, against: grade)
            if !stripped.isEmpty {
                detail["repairs"] = .array([.object([("kind", .string("lenient_parse")), ("stripped", .array(stripped.map { .string($0) }))])])
            }
            guard problems.isEmpty, case .object(let fields)? = json, case .number(let n)? = fields.first(where: { $0.0 == "score" })?.1 else {
                let message = "the judge of metric `\(metric.name.text)` gave a grade that does not match \(grade)"
                    + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; "))
                detail["failed"] = .string(message)
                detail["judge_reply"] = .string(reply.text)
                throw ScoreFailure(message: message)
            }
            if case .string(let reasoning)? = fields.first(where: { $0.0 == "reasoning" })?.1 { detail["reasoning"] = .string(reasoning) }
            score = n
        }
        guard (0...1).contains(score) else {
            throw RuntimeError(.script, "metric `\(metric.name.text)` gave \(JSONValue.formatNumber(score)); a score is a number in 0..1",
                               file: file, span: use.span)
        }
        return score
    }

    /// `similarity(expected, MODEL)`: the cosine similarity of the two texts' embeddings, in 0...1
    /// (negative similarities count as 0).
    func similarity(_ value: Value, expected: String, _ use: StageUse, file: SourceFile, budget: BudgetScope) async throws -> Double {
        guard use.args.count == 2, case .name(let modelName) = use.args[1].value.kind, program.models[modelName] != nil else {
            throw RuntimeError(.script, "metric `similarity` takes the expected text and an embedding model, as in `similarity(expected, text_embedding_3_small)`",
                               file: file, span: use.span)
        }
        let model = try modelSpec(modelName, span: use.args[1].value.span, file: file)
        let vectors = try await embed([value.text, expected], modelName, model, span: use.span, file: file, budget: budget)
        return max(0, min(1, cosineSimilarity(vectors[0], vectors[1])))
    }
}

/// A score that could not be computed from what a judge said (its reply is not a grade): a
/// failed score, recorded on its span and in `RunResult.failedScores`; the run goes on.
struct ScoreFailure: Error { var message: String }

/// What `validate` checks a value against: a Sluice type, or a JSON Schema file the checker compiled.
enum ValidationRule {
    case type(SluiceType)
    case schemaFile(SchemaFile)

    var type: SluiceType? { if case .type(let t) = self { t } else { nil } }

    /// How the rule is named in errors and in the span's detail: `Reply`, `schema "order.json"`.
    var description: String {
        switch self {
        case .type(let t): "\(t)"
        case .schemaFile(let file): "schema \(JSONValue.string(file.path).serialized())"
        }
    }

    /// How the `validate` span's detail names the rule: `"type": "Reply"`, `"schema": "order.json"`.
    var detail: (key: String, value: String) {
        switch self {
        case .type(let t): ("type", "\(t)")
        case .schemaFile(let file): ("schema", file.path)
        }
    }

    /// The schema a retry is shown.
    var schema: JSONValue {
        switch self {
        case .type(let t): jsonSchema(for: t)
        case .schemaFile(let file): file.validator.schema
        }
    }

    /// One message per problem, each starting with the JSON path of the offending value.
    func problems(_ json: JSONValue) -> [String] {
        switch self {
        case .type(let t): validate(json, against: t)
        case .schemaFile(let file): file.problems(json)
        }
    }
}

/// One step into a value: a record field or a list item.
enum PathStep { case field(String), item(Int) }

extension Value {
    /// The value with the part at `path` replaced (unchanged where the path does not lead).
    func replacing(at path: some Collection<PathStep>, with replacement: Value) -> Value {
        guard let step = path.first else { return replacement }
        let rest = path.dropFirst()
        switch (self, step) {
        case (.record(let members), .field(let name)):
            return .record(members.map { $0.key == name ? ($0.key, $0.value.replacing(at: rest, with: replacement)) : $0 })
        case (.list(var items), .item(let i)):
            let p = i < 0 ? items.count + i : i
            guard p >= 0, p < items.count else { return self }
            items[p] = items[p].replacing(at: rest, with: replacement)
            return .list(items)
        case (.reply(var reply), .field(let name)):
            guard case .object(let members)? = reply.json else { return self }
            let updated = Value.record(members.map { ($0.key, Value(json: $0.value, trust: .untrusted)) })
                .replacing(at: [PathStep.field(name)] + rest, with: replacement)
            reply.json = updated.json
            reply.text = updated.json.serialized()
            return .reply(reply)
        default:
            return self
        }
    }
}

/// The cosine similarity of two vectors (0 when either is all zeros), in -1...1.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
}

/// A document's source relative to the index's source folder, so that traces and replies are the
/// same on every machine.
func displaySource(_ source: String, indexSource: String?) -> String {
    guard let folder = indexSource.map(standardizedPath) else { return source }
    let prefix = folder.hasSuffix("/") ? folder : folder + "/"
    let standardized = standardizedPath(source)
    return standardized.hasPrefix(prefix) ? String(standardized.dropFirst(prefix.count)) : source
}

/// `path` made absolute with `.`, `..` and repeated slashes removed, as Foundation's
/// `standardizedFileURL` does; an absolute path is done here by its components, as every retrieved
/// chunk asks and Foundation's URL is slow at it.
func standardizedPath(_ path: String) -> String {
    guard path.hasPrefix("/") else { return URL(fileURLWithPath: path).standardizedFileURL.path }
    var components: [Substring] = []
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        switch component {
        case ".": continue
        case "..": if !components.isEmpty { components.removeLast() }
        default: components.append(component)
        }
    }
    return "/" + components.joined(separator: "/")
}

/// Resolves `path` against the folder of `file` unless it is absolute.
func resolvePath(_ path: String, relativeTo file: String) -> String {
    if path.hasPrefix("/") { return path }
    let folder = (file as NSString).deletingLastPathComponent
    return ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(path)
}

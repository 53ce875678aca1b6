import Foundation
import SluiceSemantics
import SluiceSyntax

extension Interpreter {
    // MARK: retrieve

    func runRetrieve(_ query: Expr, _ index: Name, _ top: Expr?, _ order: Name?, _ frame: inout Frame) async throws -> Value {
        guard let declared = program.indexes[index.text] else {
            throw RuntimeError(.script, "unknown index `\(index.text)`", file: frame.file, span: index.span)
        }
        let queryText = try await eval(query, &frame).text
        var limit = 5
        if let top {
            guard case .number(let n) = try await eval(top, &frame), n >= 1, n == n.rounded() else {
                throw RuntimeError(.script, "`top` needs a whole number of at least 1", file: frame.file, span: top.span)
            }
            limit = Int(n)
        }
        let spec = try indexSpec(declared)
        let reranker = try declared.decl.fields.first { $0.name.text == "embed" }.map { field -> (name: String, spec: ModelSpec) in
            let name = try constant(field.value, file: declared.file).text
            return (name, try modelSpec(name, span: field.value.span, file: declared.file))
        }
        return try await tracer.span("retrieve", index.text) { detail in
            detail["query"] = .string(queryText)
            detail["top"] = .number(Double(limit))
            var chunks: [RetrievedChunk]
            var fromStatistics = false
            do {
                try effects.retrieval.prepare(spec)
                // With an embedding model, BM25 gathers a wider set that embeddings then rank.
                chunks = try effects.retrieval.search(index: spec.name, query: queryText, limit: reranker == nil ? limit : max(20, limit * 4))
                if let estimator, !estimator.missingInputs.isEmpty, chunks.isEmpty,
                   let statistics = try (effects.retrieval as? EstimationHistory)?.statistics(index: spec.name) {
                    // The query is not known: size the context from the index's average chunk.
                    chunks = placeholderChunks(statistics, limit: limit)
                    fromStatistics = true
                }
            } catch {
                throw RuntimeError(.script, "retrieval from index `\(index.text)` failed: \(error)", file: frame.file, span: index.span)
            }
            if let reranker, estimator == nil, !chunks.isEmpty {
                chunks = try await rerank(queryText, chunks, with: reranker.name, reranker.spec, limit: limit, span: index.span, file: frame.file)
                detail["reranked_by"] = .string(reranker.name)
            }
            let ordered = (order?.text == "edges" ? placeAtEdges(chunks) : chunks).map { chunk in
                var chunk = chunk
                chunk.source = displaySource(chunk.source, indexSource: spec.source)
                return chunk
            }
            detail["results"] = .array(ordered.map { .object([("source", .string($0.source)), ("score", .number($0.score))]) })
            estimator?.record(CostEstimator.Retrieval(
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
            let value = try constant(field.value, file: declared.file)
            switch (field.name.text, value) {
            case ("store", .string(let s, _)): spec.name = s
            case ("source", .string(let s, _)): spec.source = resolvePath(s, relativeTo: declared.file.path)
            case ("chunk", .number(let n)): spec.chunkTokens = Int(n)
            case ("overlap", .number(let n)): spec.overlapTokens = Int(n)
            case ("embed", _): break   // the reranking model, resolved in `runRetrieve`
            default:
                throw RuntimeError(.script, "index field `\(field.name.text)` cannot be \(value.typeName)", file: declared.file, span: field.span)
            }
        }
        return spec
    }

    /// Orders chunks by the cosine similarity of their embeddings to the query's; the score
    /// becomes that similarity.
    func rerank(_ query: String, _ chunks: [RetrievedChunk], with modelName: String, _ model: ModelSpec, limit: Int,
                span: Span, file: SourceFile) async throws -> [RetrievedChunk] {
        let vectors = try await embed([query] + chunks.map(\.text), modelName, model, span: span, file: file)
        let ranked = zip(chunks, vectors.dropFirst()).map { chunk, vector in
            RetrievedChunk(text: chunk.text, source: chunk.source, score: cosine(vectors[0], vector))
        }
        return Array(ranked.sorted { $0.score > $1.score }.prefix(limit))
    }

    /// One embeddings call: reserved against the budget, traced and settled like a chat call.
    func embed(_ texts: [String], _ modelName: String, _ model: ModelSpec, span: Span, file: SourceFile) async throws -> [[Float]] {
        guard let embedder = effects.embeddings else {
            throw RuntimeError(.provider, "this run has no way to embed text (model `\(modelName)`)", file: file, span: span)
        }
        let tokens = texts.reduce(0) { $0 + effects.tokens.count($1, encoding: model.tokenizer) }
        let dollars = Double(tokens) * model.inputPrice
        if let refusal = ledger.reserve(dollars: dollars, tokens: tokens) {
            throw RuntimeError(.budget, "budget exceeded: embedding with `\(modelName)`: \(refusal.message)", file: file, span: span)
        }
        let started = effects.clock.now()
        do {
            let vectors = try await embedder.embed(texts, model: model)
            guard vectors.count == texts.count else {
                throw ProviderError(.malformedReply, "asked for \(texts.count) embeddings, got \(vectors.count)")
            }
            ledger.settle(reservedDollars: dollars, reservedTokens: tokens, actualDollars: dollars, actualTokens: tokens)
            tracer.modelCalled(TraceModelCall(runId: tracer.runId, spanId: tracer.currentSpan ?? "", model: modelName, provider: model.provider,
                                              messages: [ChatMessage(role: "embed", content: "\(texts.count) texts")], reply: nil,
                                              inputTokens: tokens, outputTokens: 0, cachedTokens: 0, cost: dollars,
                                              latencyMs: (effects.clock.now() - started) * 1000, error: nil, attempt: 1))
            return vectors
        } catch {
            ledger.settle(reservedDollars: dollars, reservedTokens: tokens, actualDollars: 0, actualTokens: 0)
            tracer.modelCalled(TraceModelCall(runId: tracer.runId, spanId: tracer.currentSpan ?? "", model: modelName, provider: model.provider,
                                              messages: [ChatMessage(role: "embed", content: "\(texts.count) texts")], reply: nil,
                                              inputTokens: 0, outputTokens: 0, cachedTokens: 0, cost: 0,
                                              latencyMs: (effects.clock.now() - started) * 1000, error: "\(error)", attempt: 1))
            throw RuntimeError(.provider, "embedding with `\(modelName)` failed: \(error)", file: file, span: span)
        }
    }

    func placeholderChunks(_ statistics: IndexStatistics, limit: Int) -> [RetrievedChunk] {
        let words = max(1, Int(statistics.averageTokens.rounded()))
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

    // MARK: cascade

    func runCascade(_ call: Expr, _ steps: [CascadeStep], bindingName: String?, _ frame: inout Frame) async throws -> Value {
        guard case .call(let callee, let args, _) = call.kind, case .name(let promptName) = callee.kind,
              let prompt = program.prompts[promptName] else {
            throw RuntimeError(.script, "`cascade` needs a prompt call such as `cascade answer(question: q) { ... }`",
                               file: frame.file, span: call.span)
        }
        let rendered = try await renderPrompt(prompt, args, &frame)
        return try await tracer.span("cascade", promptName) { detail in
            var attempts: [JSONValue] = []
            defer { detail["attempts"] = .array(attempts) }
            if estimator != nil {
                // A dry run walks every model: the cheapest path is the first, the dearest all of them.
                var last: Reply?
                for (position, step) in steps.enumerated() {
                    estimationPath = .cascadeStep(index: position, of: steps.count)
                    defer { estimationPath = .always }
                    var callDetail = JSONDetail()
                    last = try await callModel(step.model.text, rendered, span: step.model.span, file: frame.file, detail: &callDetail)
                }
                if let last { return .reply(last) }
            }
            for (position, step) in steps.enumerated() {
                let isLast = position == steps.count - 1
                let reply: Reply
                do {
                    var callDetail = JSONDetail()
                    reply = try await callModel(step.model.text, rendered, span: step.model.span, file: frame.file, detail: &callDetail)
                } catch let error as RuntimeError where error.kind == .provider && !isLast {
                    attempts.append(.object([("model", .string(step.model.text)), ("outcome", .string("error")),
                                             ("reason", .string(error.message))]))
                    continue
                }
                if let accept = step.accept {
                    let saved = (bindingName.flatMap { frame.locals[$0] }, frame.locals["it"])
                    if let bindingName { frame.locals[bindingName] = .reply(reply) }
                    frame.locals["it"] = .reply(reply)
                    let accepted = try await eval(accept, &frame).isTruthy
                    if let bindingName { frame.locals[bindingName] = saved.0 }
                    frame.locals["it"] = saved.1
                    if !accepted {
                        let condition = frame.file.slice(accept.span)
                        attempts.append(.object([("model", .string(step.model.text)), ("outcome", .string("rejected")),
                                                 ("reason", .string("accept condition `\(condition)` was false"))]))
                        if isLast {
                            throw RuntimeError(.provider, "no model in the cascade accepted the reply; the last, `\(step.model.text)`, "
                                               + "failed `\(condition)`", file: frame.file, span: accept.span)
                        }
                        continue
                    }
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

    func runValidate(_ name: Name, _ typeRef: TypeRef?, _ retries: Expr?, _ frame: inout Frame) async throws {
        guard var value = frame.locals[name.text] else { throw unknownName(name.text, name.span, frame) }
        var maxRetries = 1
        if let retries {
            guard case .number(let n) = try await eval(retries, &frame), n >= 0, n == n.rounded() else {
                throw RuntimeError(.script, "`retries` needs a whole number", file: frame.file, span: retries.span)
            }
            maxRetries = Int(n)
        }
        let type: SluiceType
        if let typeRef {
            type = resolveType(typeRef)
        } else if case .reply(let reply) = value, let returns = reply.returns {
            type = returns
        } else {
            throw RuntimeError(.script, "`validate \(name.text)` needs a type: `\(name.text)` is not the reply of a prompt that `returns` one",
                               file: frame.file, span: name.span, help: "write `validate \(name.text) as TypeName`")
        }
        let validated: Value = try await tracer.span("validate", name.text) { detail in
            detail["type"] = .string("\(type)")
            var attempt = 0
            while true {
                let (json, problems) = check(value, against: type)
                if problems.isEmpty, let json {
                    if let estimator, case .reply(let reply) = value { estimateRetries(estimator, reply, maxRetries) }
                    detail["retries"] = .number(Double(attempt))
                    return Value(json: json, trust: .untrusted)
                }
                detail["errors"] = .array(problems.map { .string($0) })
                guard attempt < maxRetries, case .reply(let reply) = value else {
                    let raw = value.text
                    throw RuntimeError(.validation, "`\(name.text)` does not match \(type) after \(attempt) retr\(attempt == 1 ? "y" : "ies"): "
                                       + problems.joined(separator: "; "), file: frame.file, span: name.span,
                                       notes: [Diagnostic.Note("the last reply was:\n" + raw)])
                }
                attempt += 1
                let repair = ChatMessage(role: "user", content: "Your reply did not match the required JSON Schema:\n"
                                         + problems.map { "- " + $0 }.joined(separator: "\n")
                                         + "\nReply again with only the corrected JSON.")
                let messages = reply.request.messages + [ChatMessage(role: "assistant", content: reply.text), repair]
                let rendered = RenderedPrompt(promptName: reply.promptName, messages: messages, temperature: reply.request.temperature,
                                              maxTokens: reply.request.maxTokens, stop: reply.request.stop, returns: type,
                                              schema: jsonSchema(for: type))
                var callDetail = JSONDetail()
                value = .reply(try await callModel(reply.model, rendered, span: name.span, file: frame.file, detail: &callDetail,
                                                   attempt: attempt + 1))
            }
        }
        frame.locals[name.text] = validated
    }

    /// A dry run's worst case for `validate`: every retry re-sends the conversation with the
    /// failed reply (at most max_tokens) and a short repair request added.
    func estimateRetries(_ estimator: CostEstimator, _ reply: Reply, _ maxRetries: Int) {
        guard maxRetries > 0 else { return }
        let model = reply.request.model
        let repairTokens = 60
        var input = countTokens(reply.request.messages, model)
        for retry in 1...maxRetries {
            input += reply.request.maxTokens + repairTokens
            let expected = estimator.expectedOutput(prompt: reply.promptName, model: reply.model, maxTokens: reply.request.maxTokens)
            estimator.record(CostEstimator.Call(
                prompt: reply.promptName, model: model, path: .retry(index: retry, of: maxRetries), inputTokens: input,
                contextTokens: 0, maxOutputTokens: reply.request.maxTokens, expectedOutputTokens: expected.tokens,
                expectedFromHistory: expected.fromHistory, exact: false))
        }
    }

    /// The value as JSON and what is wrong with it for `type`.
    func check(_ value: Value, against type: SluiceType) -> (JSONValue?, [String]) {
        let json: JSONValue?
        switch value {
        case .reply(let reply): json = reply.json ?? parseReplyJSON(reply.text)
        case .string(let s, _): json = parseReplyJSON(s)
        default: json = value.json
        }
        guard let json else { return (nil, ["the reply is not valid JSON"]) }
        return (json, validate(json, against: type))
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
                switch (action, outcome.matches.first) {
                case (_, nil): return value
                case (.block, let match?):
                    throw RuntimeError(.guardBlocked, "blocked by guard `\(use.name.text)`: pattern `\(match.pattern)` matched "
                                       + "`\(frame.file.slice(target.span))`", file: frame.file, span: use.span)
                case (.flag, _):
                    flags.append(contentsOf: outcome.matches.map { "\(use.name.text)/\($0.pattern)" })
                    return value
                case (.redact, _):
                    return outcome.redacted
                }
            }
        }
        if case .name(let name) = target.kind { frame.locals[name] = value }
    }

    func compiledGuard(_ name: Name, _ file: SourceFile) throws -> CompiledGuard {
        if let cached = compiledGuards[name.text] { return cached }
        guard let declared = program.guards[name.text] else {
            throw RuntimeError(.script, "unknown guard `\(name.text)`", file: file, span: name.span,
                               help: closestMatch(to: name.text, in: program.guards.keys).map { "did you mean `\($0)`?" })
        }
        let compiled = try CompiledGuard(declared) { expr, file in try self.constant(expr, file: file) }
        compiledGuards[name.text] = compiled
        return compiled
    }

    // MARK: score

    func runScores(_ target: Expr, _ uses: [StageUse], _ frame: inout Frame) async throws {
        let value = try await eval(target, &frame)
        for use in uses {
            if let condition = use.condition, !(try await eval(condition, &frame).isTruthy) { continue }
            var name = use.name.text
            var n = 2
            while scores.contains(where: { $0.name == name }) { name = "\(use.name.text)#\(n)"; n += 1 }
            let score: Double = try await tracer.span("score", name) { detail in
                let score: Double
                if use.name.text == "similarity" {
                    score = try await similarity(value, use, &frame)
                } else {
                    var args: [Value] = []
                    for arg in use.args { args.append(try await eval(arg.value, &frame)) }
                    score = try metric(use.name.text, value, args, span: use.span, file: frame.file)
                }
                detail["value"] = .number(score)
                tracer.scored(TraceScore(runId: tracer.runId, spanId: tracer.currentSpan, name: name, value: score))
                return score
            }
            scores.append((name, score))
        }
    }
}

extension Interpreter {
    /// `similarity(expected, MODEL)`: the cosine similarity of the two texts' embeddings, in 0...1
    /// (negative similarities count as 0).
    func similarity(_ value: Value, _ use: StageUse, _ frame: inout Frame) async throws -> Double {
        guard use.args.count == 2, case .name(let modelName) = use.args[1].value.kind, program.models[modelName] != nil else {
            throw RuntimeError(.script, "metric `similarity` takes the expected text and an embedding model, as in `similarity(expected, text_embedding_3_small)`",
                               file: frame.file, span: use.span)
        }
        let expected = try await eval(use.args[0].value, &frame).text
        let model = try modelSpec(modelName, span: use.args[1].value.span, file: frame.file)
        let vectors = try await embed([value.text, expected], modelName, model, span: use.span, file: frame.file)
        return max(0, min(1, cosine(vectors[0], vectors[1])))
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
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
    guard let folder = indexSource.map({ URL(fileURLWithPath: $0).standardizedFileURL.path }) else { return source }
    let prefix = folder.hasSuffix("/") ? folder : folder + "/"
    let standardized = URL(fileURLWithPath: source).standardizedFileURL.path
    return standardized.hasPrefix(prefix) ? String(standardized.dropFirst(prefix.count)) : source
}

/// Resolves `path` against the folder of `file` unless it is absolute.
func resolvePath(_ path: String, relativeTo file: String) -> String {
    if path.hasPrefix("/") { return path }
    let folder = (file as NSString).deletingLastPathComponent
    return ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(path)
}

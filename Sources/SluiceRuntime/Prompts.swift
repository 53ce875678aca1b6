import Foundation
import SluiceSemantics
import SluiceSyntax

/// A prompt rendered to messages, ready to send to any model.
struct RenderedPrompt {
    var promptName: String
    var messages: [ChatMessage]
    var temperature: Double?
    var maxTokens: Int?
    var stop: [String]
    var returns: SluiceType?
    var schema: JSONValue?
    /// The text of the retrieved documents passed as arguments, for dry-run context figures.
    var documentTexts: [String] = []
    /// Positions in `messages` of the turns spliced in by `history`, oldest first.
    var historyIndices: [Int] = []
    /// What to do when the messages do not fit the model's window.
    var context = ContextStrategy.fail
    /// The declared name of the `returns` type, for the schema sent to the provider.
    var schemaName: String?
    /// The prompt's version and `meta`, recorded on every model call of the trace.
    var version: Int?
    var meta: JSONValue?
}

/// Output tokens reserved for a call whose prompt sets no `max_tokens` (or the model's
/// `max_output` when that is smaller).
public let defaultMaxTokens = 1_000

extension RunContext {
    /// Renders a prompt's messages with the call's arguments. Untrusted values are fenced as data.
    func renderPrompt(_ declared: Declared<PromptDecl>, _ args: [Argument], _ caller: inout Frame) async throws -> RenderedPrompt {
        let prompt = declared.decl
        var frame = Frame(file: declared.file, layout: try layout(of: prompt.name, in: declared.file), budget: caller.budget,
                          depth: caller.depth)
        var documentTexts: [String] = []
        let declaredParams = prompt.params.map { $0.map(\.name.text) } ?? parameterNames(of: prompt)
        for arg in args {
            guard let label = arg.label else {
                throw RuntimeError(.script, "arguments to prompt `\(prompt.name.text)` need names, as in `\(prompt.name.text)(x: ...)`",
                                   file: caller.file, span: arg.span)
            }
            var value = try await eval(arg.value, &caller)
            if let param = prompt.params?.first(where: { $0.name.text == label.text }), param.trusted {
                // A trusted parameter may reach a system message unfenced, so it takes only trusted
                // (or fenced) text: the checker refuses anything else, this is the runtime's half.
                guard value.trust != .untrusted else {
                    throw RuntimeError(.script, "untrusted text passed to the trusted parameter `\(label.text)` of prompt `\(prompt.name.text)`",
                                       file: caller.file, span: arg.span,
                                       help: "vouch for it with `| trusted` if the script author controls it")
                }
                value = value.withTrust(.trusted)
            }
            // The checker resolved the label to its parameter's slot in the prompt.
            guard let slot = siteSlot(of: label, in: caller.file), frame.slots.indices.contains(slot) else {
                throw unresolvedLocal("`\(label.text)` of prompt `\(prompt.name.text)`", label.span, caller.file)
            }
            frame.slots[slot] = value
            if case .list(let items) = value {
                documentTexts += items.compactMap { $0.member("source") != nil ? $0.member("text")?.text : nil }
            }
        }
        // The parameters are the first slots, in order.
        for (slot, param) in (prompt.params ?? []).enumerated() where frame.slots[slot] == nil {
            if let defaultValue = param.defaultValue {
                frame.slots[slot] = try await eval(defaultValue, &frame)
            }
        }
        if let missing = declaredParams.indices.first(where: { frame.slots[$0] == nil }) {
            throw RuntimeError(.script, "missing argument `\(declaredParams[missing])` for prompt `\(prompt.name.text)`", file: caller.file,
                               span: args.last?.span ?? prompt.name.span)
        }

        // The leading system messages come first, then the few-shot examples, then the rest.
        let leadingSystem = prompt.messages.prefix { $0.role == .system && !$0.isHistory }
        var systemMessages: [ChatMessage] = []
        for message in leadingSystem { systemMessages.append(try await renderMessage(message, &frame)) }
        var conversation: [ChatMessage] = []
        let live = liveInputTemplate(prompt)
        for message in prompt.examples.joined() {
            conversation.append(try await renderExample(message, liveInput: live, &frame))
        }
        var historyIndices: [Int] = []
        for message in prompt.messages.dropFirst(leadingSystem.count) {
            if message.isHistory {
                for turn in try await renderHistory(message, &frame) {
                    historyIndices.append(conversation.count)
                    conversation.append(turn)
                }
            } else {
                conversation.append(try await renderMessage(message, &frame))
            }
        }

        var rendered = RenderedPrompt(promptName: prompt.name.text, messages: [], temperature: nil, maxTokens: nil, stop: [],
                                      returns: nil, schema: nil)
        for field in prompt.fields {
            let value = field.name.text == "model" ? Value.null : try interpreter.constant(field.value, file: declared.file)
            switch (field.name.text, value) {
            case ("temperature", .number(let t)): rendered.temperature = t
            case ("max_tokens", .number(let n)):
                guard let tokens = exactInt(n), tokens >= 1 else {
                    throw RuntimeError(.script, "`max_tokens` needs a whole number of at least 1", file: declared.file, span: field.value.span)
                }
                rendered.maxTokens = tokens
            case ("stop", .string(let s, _)): rendered.stop = [s]
            case ("stop", .list(let items)): rendered.stop = items.map(\.text)
            case ("context", .string(let strategy, _)):
                guard let chosen = ContextStrategy(rawValue: strategy) else {
                    throw RuntimeError(.script, "unknown context strategy `\(strategy)`", file: declared.file, span: field.value.span,
                                       help: "strategies: " + Builtins.contextStrategies.joined(separator: ", "))
                }
                rendered.context = chosen
            default: break
            }
        }
        rendered.version = prompt.version
        rendered.meta = try prompt.meta.map { try interpreter.constant($0, file: declared.file).json }
        if let returns = prompt.returns {
            let type = program.resolve(returns)
            let schema = jsonSchema(for: type)
            rendered.returns = type
            rendered.schema = schema
            if case .named(let name) = returns { rendered.schemaName = name.text }
            let instruction = "Reply with one JSON value that matches this JSON Schema, and nothing else:\n" + schema.serialized()
            if systemMessages.isEmpty {
                systemMessages.append(ChatMessage(role: "system", content: instruction))
            } else {
                systemMessages[systemMessages.count - 1].content += "\n\n" + instruction
            }
        }
        rendered.messages = systemMessages + conversation
        rendered.documentTexts = documentTexts
        rendered.historyIndices = historyIndices.map { $0 + systemMessages.count }
        return rendered
    }

    /// A `history EXPR` item: each `{role, content}` record becomes a message of its own. Turns are
    /// whole messages in the user and assistant roles, never spliced into instructions, so they
    /// are not fenced.
    func renderHistory(_ message: PromptMessage, _ frame: inout Frame) async throws -> [ChatMessage] {
        let value = try await eval(message.content, &frame)
        let items: [Value]
        switch value {
        case .list(let list): items = list
        case .null: items = []
        default:
            throw RuntimeError(.script, "`history` needs a list of {role, content} messages, got \(value.typeName)",
                               file: frame.file, span: message.content.span)
        }
        return try items.map { item in
            guard let role = item.member("role")?.text, role == "user" || role == "assistant", let content = item.member("content") else {
                throw RuntimeError(.script, "each `history` message needs a role (user or assistant) and a content",
                                   file: frame.file, span: message.content.span)
            }
            return ChatMessage(role: role, content: content.text)
        }
    }

    func renderMessage(_ message: PromptMessage, _ frame: inout Frame) async throws -> ChatMessage {
        let parts: [StringPart]
        if case .string(let literal) = message.content.kind { parts = literal } else { parts = [.hole(message.content)] }
        var text = ""
        var endedWithFence = false
        for part in parts {
            switch part {
            case .text(var s):
                // Text after a fenced block starts on a line of its own.
                if endedWithFence {
                    s = String(s.drop { $0 == " " || $0 == "\t" })
                    if !s.isEmpty, !s.hasPrefix("\n") { s = "\n" + s }
                }
                text += s
                endedWithFence = false
            case .hole(let hole):
                let value = try await eval(hole, &frame)
                let piece = value.trust == .untrusted ? fence(value.text) : value.text
                // A fenced block starts on a line of its own, whatever the template puts before it.
                if piece.hasPrefix("```") {
                    while text.hasSuffix(" ") || text.hasSuffix("\t") { text.removeLast() }
                    if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
                }
                text += piece
                endedWithFence = piece.hasSuffix("```")
            }
        }
        return ChatMessage(role: message.role.rawValue, content: text)
    }

    /// The live message an example's user turn is rendered through, so the model sees one
    /// format: the prompt's last `user` message when it has exactly one hole and that hole is a
    /// parameter (maybe with filters), like `user "Feedback: {feedback | fenced}"`.
    func liveInputTemplate(_ prompt: PromptDecl) -> (message: PromptMessage, parameter: Expr)? {
        guard !prompt.examples.isEmpty,
              let last = prompt.messages.last(where: { $0.role == .user && !$0.isHistory }),
              case .string(let parts) = last.content.kind else { return nil }
        let holes = parts.compactMap { part -> Expr? in if case .hole(let e) = part { e } else { nil } }
        guard holes.count == 1 else { return nil }
        var node = holes[0]
        while case .filter(let subject, _, _) = node.kind { node = subject }
        guard case .name = node.kind else { return nil }
        return (last, node)
    }

    /// An example's message: a `user` turn written as plain text goes through the live input's
    /// template as that input's value would (fenced as data); everything else is as written.
    func renderExample(_ message: PromptMessage, liveInput: (message: PromptMessage, parameter: Expr)?,
                       _ frame: inout Frame) async throws -> ChatMessage {
        guard message.role == .user, let liveInput, case .string(let parts) = message.content.kind,
              !parts.contains(where: { if case .hole = $0 { true } else { false } }) else {
            return try await renderMessage(message, &frame)
        }
        let text = parts.map { if case .text(let s) = $0 { s } else { "" } }.joined()
        guard let slot = readSlot(of: liveInput.parameter), frame.slots.indices.contains(slot) else {
            throw unresolvedLocal("`\(frame.file.slice(liveInput.parameter.span))`", liveInput.parameter.span, frame.file)
        }
        var exampleFrame = frame
        exampleFrame.slots[slot] = .string(text, .untrusted)
        return try await renderMessage(liveInput.message, &exampleFrame)
    }

    // MARK: Model calls

    func modelSpec(_ name: String, span: Span, file: SourceFile) throws -> ModelSpec {
        try interpreter.declarations.model(name) { try makeModelSpec(name, span: span, file: file) }
    }

    private func makeModelSpec(_ name: String, span: Span, file: SourceFile) throws -> ModelSpec {
        guard let declared = program.models[name] else {
            throw RuntimeError(.script, "unknown model `\(name)`", file: file, span: span,
                               help: closestMatch(to: name, in: program.models.keys).map { "did you mean `\($0)`?" })
        }
        var spec = ModelSpec(name: name)
        for field in declared.decl.fields {
            let value = try interpreter.constant(field.value, file: declared.file)
            func fail() -> RuntimeError {
                RuntimeError(.script, "model field `\(field.name.text)` cannot be \(value.typeName)", file: declared.file, span: field.span)
            }
            func whole(_ n: Double) throws -> Int {
                guard let whole = exactInt(n), whole >= 0 else {
                    throw RuntimeError(.script, "model field `\(field.name.text)` needs a whole number", file: declared.file, span: field.span)
                }
                return whole
            }
            guard let key = ModelField(rawValue: field.name.text) else { throw fail() }
            // Values of the kind `ModelField.kind` names, as the checker made sure.
            func text() throws -> String { if case .string(let s, _) = value { return s }; throw fail() }
            func number() throws -> Double { if case .number(let n) = value { return n }; throw fail() }
            func price() throws -> Double { if case .money(let m) = value { return m }; throw fail() }
            switch key {
            case .provider: spec.provider = try text()
            case .id: spec.id = try text()
            case .context: spec.contextWindow = try whole(try number())
            case .max_output: spec.maxOutput = try whole(try number())
            case .input: spec.inputPrice = try price()
            case .output: spec.outputPrice = try price()
            case .cached: spec.cachedPrice = try price()
            case .cache_write: spec.cacheWritePrice = try price()
            case .tokenizer: spec.tokenizer = try text()
            case .base_url: spec.baseURL = try text()
            case .api_key_env: spec.apiKeyEnv = try text()
            case .temperature: spec.temperature = try number()
            case .timeout: spec.timeout = try number()
            case .retries: spec.reliability.retries = try whole(try number())
            case .backoff: spec.reliability.backoff = try number()
            case .max_backoff: spec.reliability.maxBackoff = try number()
            case .connect_timeout: spec.reliability.connectTimeout = try number()
            case .breaker_failures: spec.reliability.breakerFailures = try whole(try number())
            case .breaker_cooldown: spec.reliability.breakerCooldown = try number()
            case .rpm: spec.reliability.requestsPerMinute = try whole(try number())
            case .tpm: spec.reliability.tokensPerMinute = try whole(try number())
            case .deadline: spec.reliability.deadline = try number()
            }
        }
        return spec
    }

    func countTokens(_ messages: [ChatMessage], _ model: ModelSpec) -> Int {
        effects.tokens.countChat(messages, encoding: model.tokenizer, provider: model.provider)
    }

    /// A call's cost at the model's prices: `input` counts every prompt token, of which `cached`
    /// were read from the provider's prompt cache and `cacheWritten` written to it; reasoning tokens
    /// are part of `output` (providers bill them as output).
    func cost(_ model: ModelSpec, input: Int, cached: Int, cacheWritten: Int = 0, output: Int) -> Double {
        let cached = min(max(0, cached), input), cacheWritten = min(max(0, cacheWritten), input - cached)
        return Double(input - cached - cacheWritten) * model.inputPrice + Double(cached) * model.cachedPrice
            + Double(cacheWritten) * (model.cacheWritePrice ?? model.inputPrice) + Double(output) * model.outputPrice
    }

    /// Output tokens to reserve for a call: the prompt's `max_tokens`, else `defaultMaxTokens`;
    /// never more than the model's `max_output`.
    func maxOutputTokens(_ prompt: RenderedPrompt, _ model: ModelSpec) -> Int {
        min(prompt.maxTokens ?? defaultMaxTokens, model.maxOutput)
    }

    /// One model call: checked against the context window, reserved against the budget, sent,
    /// traced and settled.
    func callModel(_ requestedModel: String, _ prompt: RenderedPrompt, span: Span, file: SourceFile, budget: BudgetScope,
                   detail: inout JSONDetail, attempt: Int = 1) async throws -> Reply {
        let modelName: String, model: ModelSpec
        if let override = interpreter.modelOverride, !RunContext.judging {
            (modelName, model) = (override.name, override)
            detail["model_override"] = .string(override.name)
        } else {
            (modelName, model) = (requestedModel, try modelSpec(requestedModel, span: span, file: file))
        }
        var messages = prompt.messages
        var inputTokens = countTokens(messages, model)
        let maxTokens = maxOutputTokens(prompt, model)
        if inputTokens + maxTokens > model.contextWindow {
            messages = try await fitToWindow(messages, prompt, model, modelName, maxTokens: maxTokens, span: span, file: file,
                                             budget: budget, detail: &detail)
            inputTokens = countTokens(messages, model)
        }
        let worstDollars = cost(model, input: inputTokens, cached: 0, output: maxTokens)
        let reservation: BudgetReservation
        do {
            reservation = try await ledger.reserve(dollars: worstDollars, tokens: inputTokens + maxTokens, in: budget,
                                             leaseSeconds: leaseSeconds(for: model))
        } catch {
            detail["refused"] = .string(error.message)
            throw RuntimeError(.budget, "budget exceeded: calling `\(modelName)` for prompt `\(prompt.promptName)`: \(error.message)",
                               file: file, span: span)
        }
        if let estimate {
            let contextTokens = prompt.documentTexts.reduce(0) { $0 + effects.tokens.count($1, encoding: model.tokenizer) }
            let expected = estimate.expectedOutput(prompt: prompt.promptName, model: modelName, maxTokens: maxTokens)
            estimate.record(EstimationPath.Call(
                prompt: prompt.promptName, model: model, inputTokens: inputTokens, contextTokens: contextTokens,
                maxOutputTokens: maxTokens, maxTokensDeclared: prompt.maxTokens != nil, expectedOutputTokens: expected.tokens, expectedFromHistory: expected.fromHistory,
                exact: !estimate.hasMissingInputs && effects.tokens.isExact(encoding: model.tokenizer)))
        }
        var request = ChatRequest(model: model, messages: messages, temperature: prompt.temperature ?? model.temperature,
                                  maxTokens: maxTokens, stop: prompt.stop,
                                  responseSchema: prompt.schema.map { (name: prompt.schemaName ?? prompt.returns.map { "\($0)" } ?? "reply", schema: $0) },
                                  promptName: prompt.promptName,
                                  onText: streamHandler(for: "\(prompt.promptName) · \(modelName)"))
        request.promptTokens = inputTokens
        let started = effects.clock.now()
        // Recorded before it is sent, so a call whose process dies or is stopped still shows.
        let callId = tracer.nextCallId()
        tracer.modelCallStarted(traceCall(modelName, model, prompt, request, reply: nil, inputTokens: 0, outputTokens: 0,
                                          cachedTokens: 0, cost: 0, latencyMs: 0, error: nil, attempt: attempt, id: callId,
                                          status: .inFlight))
        do {
            let response = try await provider.complete(request)
            let spent = cost(model, input: response.inputTokens, cached: response.cachedTokens, cacheWritten: response.cacheWriteTokens,
                             output: response.outputTokens)
            let overrun = await ledger.settle(reservation, actualDollars: spent, actualTokens: response.inputTokens + response.outputTokens)
            var warnings = response.warnings
            if let overrun {
                detail["overrun"] = overrun.json
                warnings.append(overrunWarning(overrun, reserved: reservation))
            }
            traceFailedAttempts(response.failedAttempts, modelName, model, request, prompt)
            // The answering try's own latency, without the backoff waits before it, when the provider says.
            var call = traceCall(modelName, model, prompt, request, reply: response.text,
                                 inputTokens: response.inputTokens, outputTokens: response.outputTokens,
                                 cachedTokens: response.cachedTokens, cost: spent,
                                 latencyMs: response.latencyMs ?? (effects.clock.now() - started) * 1000, error: nil,
                                 attempt: attempt + response.failedAttempts.count, warnings: warnings, id: callId)
            call.cacheWriteTokens = response.cacheWriteTokens
            call.reasoningTokens = response.reasoningTokens
            call.responseModel = response.model
            call.finishReason = response.finishReason
            tracer.modelCalled(call)
            if let overrun, !overrun.passedLimits.isEmpty { throw overBudget(overrun, file: file, span: span) }
            return Reply(text: response.text, json: prompt.returns == nil ? nil : parseReplyJSON(response.text), model: modelName,
                         promptName: prompt.promptName, request: request, returns: prompt.returns,
                         promptVersion: prompt.version, promptMeta: prompt.meta, cost: spent,
                         latencyMs: (effects.clock.now() - started) * 1000)
        } catch let error as RuntimeError where error.kind == .overBudget {
            throw error
        } catch {
            await ledger.settle(reservation, actualDollars: 0, actualTokens: 0)
            let latencyMs = (effects.clock.now() - started) * 1000
            // A provider error caused by cancellation (a transport that noticed it) is cancellation too.
            if error is CancellationError || Task.isCancelled {
                tracer.modelCalled(traceCall(modelName, model, prompt, request, reply: nil, inputTokens: 0, outputTokens: 0,
                                             cachedTokens: 0, cost: 0, latencyMs: latencyMs,
                                             error: "cancelled: the run was stopped while the call was in flight",
                                             attempt: attempt, id: callId, status: .cancelled))
                // Not a provider failure: no cascade step, `catch` or retry may treat it as one to recover from.
                throw CancellationError()
            }
            if let providerError = error as? ProviderError, let last = providerError.attempts.last {
                traceFailedAttempts(providerError.attempts.dropLast(), modelName, model, request, prompt)
                tracer.modelCalled(traceCall(modelName, model, prompt, request, reply: nil, inputTokens: 0, outputTokens: 0,
                                             cachedTokens: 0, cost: 0, latencyMs: last.latencyMs, error: last.error,
                                             attempt: providerError.attempts.count, id: callId))
            } else {
                tracer.modelCalled(traceCall(modelName, model, prompt, request, reply: nil, inputTokens: 0, outputTokens: 0,
                                             cachedTokens: 0, cost: 0, latencyMs: latencyMs, error: "\(error)", attempt: attempt, id: callId))
            }
            throw RuntimeError(.provider, "model `\(modelName)` failed: \(error)", file: file, span: span)
        }
    }

    /// What the trace says of a call that used more than its reservation.
    func overrunWarning(_ overrun: Overrun, reserved: BudgetReservation) -> String {
        "the provider reported more usage than was reserved (\(formatMoney(reserved.dollars)), \(reserved.tokens) tokens): "
            + "\(formatMoney(overrun.dollars)), \(overrun.tokens) tokens over"
            + (overrun.passedLimits.isEmpty ? "" : "; the real spend passed " + overrun.passedLimits.joined(separator: "; "))
    }

    /// A model call's trace row, with the prompt's version and `meta` and what the request sent.
    func traceCall(_ modelName: String, _ model: ModelSpec, _ prompt: RenderedPrompt, _ request: ChatRequest, reply: String?,
                   inputTokens: Int, outputTokens: Int, cachedTokens: Int, cost: Double, latencyMs: Double, error: String?,
                   attempt: Int, warnings: [String] = [], id: String? = nil, status: TraceModelCall.Status? = nil) -> TraceModelCall {
        var call = TraceModelCall(runId: tracer.runId, spanId: tracer.currentSpan ?? "", model: modelName, provider: model.provider,
                                  messages: request.messages, reply: reply, inputTokens: inputTokens, outputTokens: outputTokens,
                                  cachedTokens: cachedTokens, cost: cost, latencyMs: latencyMs, error: error, attempt: attempt,
                                  promptVersion: prompt.version, promptMeta: prompt.meta, warnings: warnings, id: id, status: status)
        call.requestModel = request.model.id
        call.maxTokens = request.maxTokens
        call.temperature = request.temperature ?? request.model.temperature
        return call
    }

    /// Every failed try of a call gets its own row in the trace, with its error and latency.
    func traceFailedAttempts(_ attempts: some Collection<ProviderAttempt>, _ modelName: String, _ model: ModelSpec, _ request: ChatRequest,
                             _ prompt: RenderedPrompt) {
        for (i, failed) in attempts.enumerated() {
            tracer.modelCalled(traceCall(modelName, model, prompt, request, reply: nil, inputTokens: 0, outputTokens: 0,
                                         cachedTokens: 0, cost: 0, latencyMs: failed.latencyMs, error: failed.error, attempt: i + 1))
        }
    }
}

/// Model replies often wrap JSON in a Markdown code fence; accept that, nothing looser.
func parseReplyJSON(_ text: String) -> JSONValue? {
    var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if body.hasPrefix("```") {
        if let firstBreak = body.firstIndex(of: "\n") { body = String(body[body.index(after: firstBreak)...]) }
        if body.hasSuffix("```") { body = String(body.dropLast(3)) }
    }
    return try? JSONValue.parse(body)
}

/// Wraps untrusted text in a fenced block marked as data. The fence is longer than any run of
/// backticks inside, so the text cannot close it.
public func fence(_ text: String) -> String {
    var longest = 0, run = 0
    for c in text.utf8 {
        if c == UInt8(ascii: "`") { run += 1; longest = max(longest, run) } else { run = 0 }
    }
    let marker = String(repeating: "`", count: max(3, longest + 1))
    return "\(marker)data\n\(text)\n\(marker)"
}

import SluiceSemantics
import SluiceSyntax

/// What a prompt does when its messages and the reserved output do not fit the model's context
/// window (the prompt's `context` setting). Only the turns spliced in by `history` are ever
/// dropped: system messages, examples and the current messages always stay.
enum ContextStrategy: String, Sendable {
    /// Refuse the call with an error that says how far over the window it is.
    case fail
    /// Drop the oldest history turns until the call fits.
    case keep_recent
    /// Keep the first exchange (it often sets the task) and the most recent turns; drop between.
    case drop_middle
    /// As drop_middle, but the dropped turns are replaced by a summary written by the same model.
    case summarize_middle
}

extension RunContext {
    func fitToWindow(_ messages: [ChatMessage], _ prompt: RenderedPrompt, _ model: ModelSpec, _ modelName: String, maxTokens: Int,
                     span: Span, file: SourceFile, budget: BudgetScope, detail: inout JSONDetail) async throws -> [ChatMessage] {
        let window = model.contextWindow
        func overflow(_ messages: [ChatMessage]) -> Int { countTokens(messages, model) + maxTokens - window }
        func refusal(_ messages: [ChatMessage], _ help: String?) -> RuntimeError {
            RuntimeError(.budget, "prompt `\(prompt.promptName)` needs \(countTokens(messages, model)) input tokens plus \(maxTokens) "
                         + "reserved for the reply, more than the \(window)-token window of `\(modelName)`", file: file, span: span, help: help)
        }
        let history = prompt.historyIndices
        guard prompt.context != .fail, !history.isEmpty else {
            throw refusal(messages, prompt.context == .fail
                ? "set `context keep_recent`, `drop_middle` or `summarize_middle` in the prompt to trim its history, or retrieve fewer documents"
                : "only `history` turns can be dropped, and this prompt has none: retrieve fewer documents or shorten the input")
        }
        // Candidates to drop, in the order they go: oldest first, the first exchange last for drop_middle.
        var candidates = history
        if prompt.context != .keep_recent, candidates.count > 2 { candidates = Array(candidates.dropFirst(2)) }
        // A summary of the dropped turns needs room of its own: a small share of the window.
        let summaryTokens = max(32, min(300, window / 8))
        let room = prompt.context == .summarize_middle ? summaryTokens + 16 : 0
        var dropped: Set<Int> = []
        for index in candidates {
            // Leave the most recent turn (the one being answered) in place.
            guard index != history.last else { break }
            dropped.insert(index)
            // Drop whole exchanges, so the history never starts with an assistant turn.
            if messages[index].role == "user", let next = history.first(where: { $0 > index }), messages[next].role == "assistant",
               next != history.last {
                dropped.insert(next)
            }
            if overflow(messages.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)) <= -room { break }
        }
        var fitted = messages.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
        if prompt.context == .summarize_middle, let insertAt = dropped.min() {
            let turns = dropped.sorted().map { (role: messages[$0].role, content: messages[$0].content) }
            let summary = try await summarize(previous: nil, turns: turns, model: modelName, maxTokens: summaryTokens, file: file, span: span,
                                              budget: budget)
            // Where the first dropped turn was, counted among the messages that remain.
            let position = (0..<insertAt).filter { !dropped.contains($0) }.count
            fitted.insert(ChatMessage(role: "user", content: "Summary of earlier turns:\n" + summary), at: position)
            fitted.insert(ChatMessage(role: "assistant", content: "Understood."), at: position + 1)
        }
        detail["context"] = .object([("strategy", .string(prompt.context.rawValue)), ("dropped_turns", .number(Double(dropped.count)))])
        guard overflow(fitted) <= 0 else {
            throw refusal(fitted, "even without \(dropped.count) history turns it does not fit: retrieve fewer documents or shorten the input")
        }
        return fitted
    }
}

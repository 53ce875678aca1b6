/// How a chat API frames messages, for counting the tokens of a whole request.
public enum ChatFormat: String, Sendable, CaseIterable {
    /// OpenAI chat models from gpt-3.5-turbo-0613 on (gpt-4, gpt-4o, gpt-4.1, o-series; cl100k_base
    /// and o200k_base alike): 3 tokens per message (`<|start|>`, `<|message|>`, `<|end|>`), the role
    /// and content encoded, a name costs its text plus 1, and every reply is primed with 3
    /// (`<|start|>assistant<|message|>`). This is OpenAI's documented counting (the cookbook's
    /// `num_tokens_from_messages`) and what the API bills as prompt tokens for plain messages.
    case openAI
    /// gpt-3.5-turbo-0301: 4 tokens per message, a name replaces the role (−1), 3 for the reply.
    case openAILegacy
    /// Anthropic publishes neither its tokenizer nor its framing: an estimate. Content is counted
    /// with the model's encoding (normally "estimate"), plus 4 tokens per message for the role
    /// markers and 3 for the reply, the same shape as OpenAI's. Providers report the real usage,
    /// and budgets settle at that.
    case anthropic

    /// The format of a provider (`ModelSpec.provider`): "anthropic" → `.anthropic`, else `.openAI`.
    public static func of(provider: String) -> ChatFormat { provider == "anthropic" ? .anthropic : .openAI }
}

/// Counts tokens with OpenAI's exact encodings where a model has one, and the calibrated
/// estimate (`TokenEstimate`) otherwise.
///
/// Encodings: "cl100k_base" and "o200k_base" are exact (identical to tiktoken); "estimate" is
/// the calibrated estimate. An unknown encoding is counted with the estimate (use `isKnown` to
/// reject it up front), and so is an exact one whose rank file cannot be loaded (`preload`
/// surfaces that error).
public struct ExactTokenCounter: Sendable {
    public init() {}

    /// The encodings counted exactly.
    public static let exactEncodings = BPETokenizer.encodings
    /// Every encoding name `count` understands.
    public static let knownEncodings = exactEncodings + ["estimate"]

    /// Whether `encoding` is one this counter knows (exact or "estimate").
    public static func isKnown(_ encoding: String) -> Bool { knownEncodings.contains(encoding) }

    /// Whether `encoding` is counted exactly.
    public static func isExact(_ encoding: String) -> Bool { exactEncodings.contains(encoding) }

    /// Loads the rank file of an exact encoding now, so a missing or corrupted file is an error
    /// here rather than a silent fallback to the estimate later. Does nothing for "estimate".
    public static func preload(_ encoding: String) throws(TokenizerError) {
        guard encoding != "estimate" else { return }
        _ = try BPETokenizer.named(encoding)
    }

    public func count(_ text: String, encoding: String) -> Int {
        if Self.isExact(encoding), let tokenizer = try? BPETokenizer.named(encoding) {
            return tokenizer.count(text)
        }
        return TokenEstimate.count(text)
    }

    /// The exact count, or an error for an unknown encoding or an unloadable rank file.
    /// "estimate" gives the estimate.
    public func exactCount(_ text: String, encoding: String) throws(TokenizerError) -> Int {
        if encoding == "estimate" { return TokenEstimate.count(text) }
        return try BPETokenizer.named(encoding).count(text)
    }

    /// The prompt tokens of a chat request of `messages`, as the API bills them (see `ChatFormat`),
    /// with an optional `name` per message.
    public func chatTokens(messages: [(role: String, content: String, name: String?)], encoding: String,
                           family: ChatFormat) -> Int {
        var total = 3   // the reply's priming
        for message in messages {
            switch family {
            case .openAI:
                total += 3 + count(message.role, encoding: encoding) + count(message.content, encoding: encoding)
                if let name = message.name { total += count(name, encoding: encoding) + 1 }
            case .openAILegacy:
                total += 4 + count(message.role, encoding: encoding) + count(message.content, encoding: encoding)
                if let name = message.name { total += count(name, encoding: encoding) - 1 }
            case .anthropic:
                total += 4 + count(message.content, encoding: encoding)
                if let name = message.name { total += count(name, encoding: encoding) }
            }
        }
        return total
    }
}

import SluiceRuntime
import SluiceTokenizers

/// The runtime's token counter: OpenAI's exact encodings where a model has one (identical to
/// tiktoken), the calibrated estimate otherwise, and each provider's chat framing.
public struct ModelTokenCounter: TokenCounter {
    let counter = ExactTokenCounter()

    public init() {}

    public func count(_ text: String, encoding: String) -> Int { counter.count(text, encoding: encoding) }

    public func isExact(encoding: String) -> Bool { ExactTokenCounter.isExact(encoding) }

    public func countChat(_ messages: [ChatMessage], encoding: String, provider: String) -> Int {
        counter.chatTokens(messages: messages.map { ($0.role, $0.content, nil) }, encoding: encoding,
                           family: ChatFormat.of(provider: provider))
    }
}

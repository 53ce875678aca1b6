import SluiceRuntime
import SluiceSemantics

/// How each kind of provider is built for real runs: the one place a new provider is wired in.
/// The switch is exhaustive over `ProviderKind`, the names the checker accepts.
enum ProviderCatalog {
    struct Setting {
        var environment: [String: String]
        var clock: any Clock
        var random: any RandomSource
        var counter: any TokenCounter
        var memory: (any FeatureMemory)?
        /// Where the breakers and rate limits live: shared by the providers of every kind.
        var coordination: any ProviderCoordination
    }

    /// The provider of `kind`, behind retries, backoff, the deadline, the circuit breaker and rate limits; nil for kinds
    /// that only answer when the command is given something (`scripted`: `--replies FILE`).
    static func make(_ kind: ProviderKind, _ s: Setting) -> (any ModelProvider)? {
        switch kind {
        case .openai:
            ReliableProvider(OpenAICompatibleProvider(environment: s.environment, counter: s.counter, clock: s.clock, memory: s.memory),
                             clock: s.clock, random: s.random, counter: s.counter, coordination: s.coordination)
        case .anthropic:
            ReliableProvider(AnthropicProvider(environment: s.environment, counter: s.counter, clock: s.clock, memory: s.memory),
                             clock: s.clock, random: s.random, counter: s.counter, coordination: s.coordination)
        case .scripted:
            nil
        }
    }

    /// What to do when a model's provider is not there.
    static func missingHint(_ kind: ProviderKind) -> String? {
        switch kind {
        case .scripted: "no replies file was given (pass --replies FILE)"
        case .openai, .anthropic: nil
        }
    }
}

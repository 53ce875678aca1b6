import SluiceRuntime
import SluiceSemantics

/// Sends each request to the provider its model declares (`ModelSpec.provider`: "openai",
/// "anthropic", "scripted"), or, in override mode, sends every request to one provider (the CLI's
/// `--replies FILE` makes a scripted provider answer for every model).
public struct RoutingProvider: ModelProvider, EndpointNaming {
    enum Mode: Sendable {
        case byProvider([ProviderKind: any ModelProvider])
        case everyModel(any ModelProvider)
    }

    let mode: Mode

    /// Routes each model to the provider of its kind.
    public init(providers: [ProviderKind: any ModelProvider]) {
        mode = .byProvider(providers)
    }

    /// Routes "openai" models to `openAI`, "anthropic" models to `anthropic` and "scripted" models to `scripted`.
    public init(openAI: any ModelProvider, anthropic: (any ModelProvider)? = nil, scripted: (any ModelProvider)? = nil) {
        var providers: [ProviderKind: any ModelProvider] = [.openai: openAI]
        providers[.anthropic] = anthropic
        providers[.scripted] = scripted
        mode = .byProvider(providers)
    }

    /// Lets `provider` answer for every model, whatever provider the model declares.
    public init(everyModel provider: any ModelProvider) {
        mode = .everyModel(provider)
    }

    /// Real providers configured from `environment` ("openai" and "anthropic" models, each behind a
    /// `ReliableProvider` with the system clock and randomness), or, when `replies` is given, that
    /// scripted provider answering everything (without retries, so scripted failures stay as written).
    public static func standard(environment: [String: String], replies: ScriptedProvider? = nil) -> RoutingProvider {
        if let replies { return RoutingProvider(everyModel: replies) }
        return real(environment: environment, clock: SystemClock(), random: SystemRandom(), counter: EstimatingTokenCounter())
    }

    /// The CLI's wiring with record and replay:
    /// - `replay` (a file `--record` wrote): every model is answered from it; no network, no key.
    ///   It cannot be combined with `replies` or `record`.
    /// - otherwise `replies` (a scripted file) answers every model, or the real providers do
    ///   ("openai" → `OpenAICompatibleProvider`, "anthropic" → `AnthropicProvider`, each wrapped in a
    ///   `ReliableProvider` using `clock`, `random` and `counter`);
    /// - `record`: whatever answers is wrapped in a `RecordingProvider` appending to that file.
    ///
    /// Throws a `.configuration` `ProviderError` for an unreadable or malformed replay file, an
    /// unwritable record file, or a conflicting combination.
    /// - `memory`: where the real providers keep what servers refused (see `FeatureMemory`).
    /// - `coordination`: where their breakers and rate limits live (the store, to share them with
    ///   other processes; default this process alone).
    public static func standard(environment: [String: String], replies: ScriptedProvider? = nil, record: String?, replay: String?,
                                clock: any Clock = SystemClock(), random: any RandomSource = SystemRandom(),
                                counter: any TokenCounter = EstimatingTokenCounter(),
                                memory: (any FeatureMemory)? = nil,
                                coordination: any ProviderCoordination = InProcessCoordination()) throws -> any ModelProvider {
        if let replay {
            if replies != nil {
                throw ProviderError(.configuration, "--replay \(replay) cannot be combined with --replies: both would answer every model")
            }
            if let record {
                throw ProviderError(.configuration, "--replay \(replay) cannot be combined with --record \(record): a replayed run is already recorded")
            }
            return try ReplayProvider(path: replay)
        }
        let provider: any ModelProvider = replies.map { RoutingProvider(everyModel: $0) }
            ?? real(environment: environment, clock: clock, random: random, counter: counter, memory: memory, coordination: coordination)
        guard let record else { return provider }
        return try RecordingProvider(provider, path: record)
    }

    static func real(environment: [String: String], clock: any Clock, random: any RandomSource, counter: any TokenCounter,
                     memory: (any FeatureMemory)? = nil,
                     coordination: any ProviderCoordination = InProcessCoordination()) -> RoutingProvider {
        let setting = ProviderCatalog.Setting(environment: environment, clock: clock, random: random, counter: counter, memory: memory,
                                              coordination: coordination)
        var providers: [ProviderKind: any ModelProvider] = [:]
        for kind in ProviderKind.allCases { providers[kind] = ProviderCatalog.make(kind, setting) }
        return RoutingProvider(providers: providers)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await provider(for: request.model).complete(request)
    }

    public func endpointName(for model: ModelSpec) -> String {
        let routed = try? provider(for: model)
        return (routed as? any EndpointNaming)?.endpointName(for: model) ?? "\(model.provider) \(model.baseURL ?? "(default)") \(model.id)"
    }

    func provider(for model: ModelSpec) throws -> any ModelProvider {
        switch mode {
        case .everyModel(let provider):
            return provider
        case .byProvider(let providers):
            guard let kind = ProviderKind(rawValue: model.provider) else {
                throw ProviderError(.configuration, "model '\(model.name)' names an unknown provider '\(model.provider)' (known: "
                                    + Builtins.providers.joined(separator: ", ") + ")")
            }
            guard let provider = providers[kind] else {
                throw ProviderError(.configuration, "model '\(model.name)' uses the \(kind.rawValue) provider, but "
                                    + (ProviderCatalog.missingHint(kind) ?? "none is configured"))
            }
            return provider
        }
    }
}

extension RoutingProvider: EmbeddingProvider {
    public func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        guard let embedder = try provider(for: model) as? any EmbeddingProvider else {
            throw ProviderError(.configuration, "model '\(model.name)' cannot embed text through its provider '\(model.provider)'")
        }
        return try await embedder.embed(texts, model: model)
    }

    public func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        guard let embedder = try provider(for: model) as? any EmbeddingProvider else {
            throw ProviderError(.configuration, "model '\(model.name)' cannot embed text through its provider '\(model.provider)'")
        }
        return try await embedder.embedWithUsage(texts, model: model)
    }
}

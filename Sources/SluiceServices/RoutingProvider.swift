import SluiceRuntime

/// Sends each request to the provider its model declares (`ModelSpec.provider`), or, in override
/// mode, sends every request to one provider (the CLI's `--replies FILE` makes a scripted provider
/// answer for every model).
public struct RoutingProvider: ModelProvider {
    enum Mode: Sendable {
        case byProvider(openAI: any ModelProvider, scripted: (any ModelProvider)?)
        case everyModel(any ModelProvider)
    }

    let mode: Mode

    /// Routes "openai" models to `openAI` and "scripted" models to `scripted`.
    public init(openAI: any ModelProvider, scripted: (any ModelProvider)? = nil) {
        mode = .byProvider(openAI: openAI, scripted: scripted)
    }

    /// Lets `provider` answer for every model, whatever provider the model declares.
    public init(everyModel provider: any ModelProvider) {
        mode = .everyModel(provider)
    }

    /// The CLI's wiring: real providers configured from `environment`, or, when `replies` is given,
    /// that scripted provider answering everything.
    public static func standard(environment: [String: String], replies: ScriptedProvider? = nil) -> RoutingProvider {
        if let replies { return RoutingProvider(everyModel: replies) }
        return RoutingProvider(openAI: OpenAICompatibleProvider(environment: environment))
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await provider(for: request.model).complete(request)
    }

    func provider(for model: ModelSpec) throws -> any ModelProvider {
        switch mode {
        case .everyModel(let provider):
            return provider
        case .byProvider(let openAI, let scripted):
            switch model.provider {
            case "openai":
                return openAI
            case "scripted":
                guard let scripted else {
                    throw ProviderError(.configuration, "model '\(model.name)' uses the scripted provider, but no replies file was given (pass --replies FILE)")
                }
                return scripted
            case "anthropic":
                throw ProviderError(.configuration, "the anthropic provider is not available yet (model '\(model.name)')")
            default:
                throw ProviderError(.configuration, "model '\(model.name)' names an unknown provider '\(model.provider)' (known: openai, anthropic, scripted)")
            }
        }
    }
}

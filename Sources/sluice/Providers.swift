import Foundation
import SluiceRuntime
import SluiceServices
import SluiceTokenizers

/// The provider a command talks to: every model answered from `--replies`, or each model by its
/// declared provider, configured from the environment.
func makeProvider(replies: String?) throws -> ModelProvider {
    let environment = ProcessInfo.processInfo.environment
    guard let replies else { return RoutingProvider.standard(environment: environment) }
    do {
        return RoutingProvider.standard(environment: environment, replies: try ScriptedProvider(path: replies))
    } catch {
        throw UsageError("cannot use replies file \(replies): \(error)")
    }
}

/// Token counting for every command: exact for OpenAI's encodings, a calibrated estimate for
/// models without a public tokenizer.
func defaultTokenCounter() -> TokenCounter { ExactTokenCounter() }

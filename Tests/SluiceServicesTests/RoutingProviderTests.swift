import SluiceRuntime
@testable import SluiceServices
import XCTest

final class RoutingProviderTests: XCTestCase {
    private struct Fixed: ModelProvider {
        let text: String
        func complete(_ request: ChatRequest) async throws -> ChatResponse {
            ChatResponse(text: text, model: request.model.id, inputTokens: 1, outputTokens: 1)
        }
    }

    private func ask(_ router: RoutingProvider, provider: String) async throws -> String {
        try await router.complete(ChatRequest(model: ModelSpec(name: "m", provider: provider), messages: [], maxTokens: 10)).text
    }

    private func expectConfigurationError(_ router: RoutingProvider, provider: String, containing text: String) async {
        do {
            _ = try await ask(router, provider: provider)
            XCTFail("expected an error")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .configuration)
            XCTAssertTrue(error.message.contains(text), error.message)
        } catch {
            XCTFail("unexpected \(error)")
        }
    }

    func testRoutesByProvider() async throws {
        let router = RoutingProvider(openAI: Fixed(text: "openai"), scripted: Fixed(text: "scripted"))
        let openAI = try await ask(router, provider: "openai")
        XCTAssertEqual(openAI, "openai")
        let scripted = try await ask(router, provider: "scripted")
        XCTAssertEqual(scripted, "scripted")
        await expectConfigurationError(router, provider: "anthropic", containing: "uses the anthropic provider, but none is configured")
        let withAnthropic = RoutingProvider(openAI: Fixed(text: "openai"), anthropic: Fixed(text: "anthropic"))
        let anthropic = try await ask(withAnthropic, provider: "anthropic")
        XCTAssertEqual(anthropic, "anthropic")
        await expectConfigurationError(router, provider: "bedrock", containing: "unknown provider 'bedrock'")
    }

    func testScriptedWithoutRepliesIsAClearError() async {
        await expectConfigurationError(RoutingProvider(openAI: Fixed(text: "x")), provider: "scripted", containing: "--replies FILE")
    }

    func testOverrideAnswersEveryModel() async throws {
        let replies = try ScriptedProvider(jsonl: "{\"content\": \"a\"}\n{\"content\": \"b\"}", origin: "r.jsonl")
        let router = RoutingProvider.standard(environment: [:], replies: replies)
        let first = try await ask(router, provider: "anthropic")
        let second = try await ask(router, provider: "openai")
        XCTAssertEqual([first, second], ["a", "b"])
    }
}

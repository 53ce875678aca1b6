import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// Both wire formats and the embeddings endpoint against a real local model (llama.cpp's
/// `llama-server` as `scripts/local-model start` runs it: chat and embeddings on one server).
/// Skipped unless `SLUICE_LOCAL_LLM` names the server, e.g. `SLUICE_LOCAL_LLM=http://127.0.0.1:PORT`
/// (`scripts/ci-integration` sets it); never run beside a compile on the same cores (the model
/// slows 10–40×).
final class LocalModelTests: XCTestCase {
    private func server() throws -> String {
        guard let root = ProcessInfo.processInfo.environment["SLUICE_LOCAL_LLM"], !root.isEmpty else {
            throw XCTSkip("set SLUICE_LOCAL_LLM=http://127.0.0.1:PORT to run against a local llama-server")
        }
        return root
    }

    private func request(_ model: ModelSpec, schema: Bool = false, onText: (@Sendable (String) -> Void)? = nil) -> ChatRequest {
        let label: JSONValue = .object([
            ("type", .string("object")),
            ("properties", .object([("label", .object([("type", .string("string")), ("enum", .array([.string("bug"), .string("praise")]))]))])),
            ("required", .array([.string("label")])),
            ("additionalProperties", .bool(false)),
        ])
        return ChatRequest(model: model, messages: [
            ChatMessage(role: "system", content: "You label user feedback. Reply with JSON only: {\"label\": \"bug\" or \"praise\"}."),
            ChatMessage(role: "user", content: "The app crashes when I press save."),
        ], temperature: 0, maxTokens: 40, responseSchema: schema ? (name: "Label", schema: label) : nil, promptName: "label", onText: onText)
    }

    func testOpenAIFormatPlainStreamedAndStructured() async throws {
        let model = ModelSpec(name: "local", id: "qwen2.5-coder-0.5b-instruct", baseURL: try server() + "/v1", timeout: 60)
        let provider = ReliableProvider(OpenAICompatibleProvider(environment: [:]))
        let plain = try await provider.complete(request(model))
        XCTAssertFalse(plain.text.isEmpty)
        XCTAssertFalse(plain.usageEstimated)

        let pieces = Pieces()
        let streamed = try await provider.complete(request(model, onText: pieces.onText))
        XCTAssertGreaterThan(pieces.all.count, 1)
        XCTAssertEqual(pieces.joined, streamed.text)
        XCTAssertEqual(streamed.text, plain.text, "temperature 0 is deterministic")
        XCTAssertFalse(streamed.usageEstimated, "include_usage gives real usage")
        XCTAssertEqual(streamed.outputTokens, plain.outputTokens)

        let structured = try await provider.complete(request(model, schema: true))
        let json = try JSONValue.parse(structured.text)
        XCTAssertEqual(json["label"], .string("bug"))
    }

    func testAnthropicFormatPlainStreamedAndStructured() async throws {
        let model = ModelSpec(name: "local", provider: "anthropic", id: "qwen2.5-coder-0.5b-instruct", baseURL: try server(), timeout: 60)
        let provider = ReliableProvider(AnthropicProvider(environment: [:]))
        let plain = try await provider.complete(request(model))
        XCTAssertFalse(plain.text.isEmpty)
        XCTAssertEqual(plain.finishReason, "stop")

        let pieces = Pieces()
        let streamed = try await provider.complete(request(model, onText: pieces.onText))
        XCTAssertGreaterThan(pieces.all.count, 1)
        XCTAssertEqual(pieces.joined, streamed.text)
        XCTAssertEqual(streamed.text, plain.text)

        // llama-server accepts the forced tool but answers in text; the text is the reply.
        let structured = try await provider.complete(request(model, schema: true))
        XCTAssertNotNil(try? JSONValue.parse(structured.text), structured.text)
    }

    func testEmbeddingsComeBackInOrderWithOneDimension() async throws {
        let model = ModelSpec(name: "local_embed", id: "text-embedding-3-small", baseURL: try server() + "/v1", timeout: 60)
        // Two requests of two texts each, so the batching and the reassembly by index are exercised.
        let provider = ReliableProvider(OpenAICompatibleProvider(environment: [:], embeddingBatchSize: 2))
        let texts = ["How do I rotate an API key?", "Webhook deliveries fail with 401.", "Refunds on yearly plans.",
                     "How do I rotate an API key?"]
        let vectors = try await provider.embed(texts, model: model)
        XCTAssertEqual(vectors.count, texts.count)
        let dimensions = try XCTUnwrap(vectors.first?.count)
        XCTAssertGreaterThan(dimensions, 100)
        for vector in vectors {
            XCTAssertEqual(vector.count, dimensions)
            XCTAssertTrue(vector.allSatisfy(\.isFinite))
            XCTAssertTrue(vector.contains { $0 != 0 }, "an all-zero embedding")
        }
        // The same text in the first and the second request: the same vector, so the order held.
        for (a, b) in zip(vectors[0], vectors[3]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertNotEqual(vectors[0], vectors[1])
    }
}

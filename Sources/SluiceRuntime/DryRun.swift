import Foundation
import SluiceSemantics

/// Stands in for every model during `sluice dry-run`: records each request's size and answers
/// with the smallest reply that fits the prompt's type, without calling anything. Replies
/// carry no usage, so nothing is charged; accept conditions on them fail, so a cascade shows
/// its dearest path.
public final class DryRunProvider: ModelProvider, @unchecked Sendable {
    public struct Call: Sendable {
        public var prompt: String
        public var model: ModelSpec
        public var messages: [ChatMessage]
        public var maxTokens: Int
    }

    private var recorded: [Call] = []
    private let lock = NSLock()

    public init() {}

    public var calls: [Call] { lock.withLock { recorded } }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        lock.withLock {
            recorded.append(Call(prompt: request.promptName ?? "?", model: request.model, messages: request.messages,
                                 maxTokens: request.maxTokens))
        }
        let text = request.responseSchema.map { placeholder(for: $0.schema).serialized() } ?? ""
        return ChatResponse(text: text, model: request.model.id, inputTokens: 0, outputTokens: 0)
    }

    /// The smallest JSON value valid for a schema made by `jsonSchema(for:)`.
    private func placeholder(for schema: JSONValue) -> JSONValue {
        if let cases = schema["enum"]?.arrayValue, let first = cases.first { return first }
        if let options = schema["anyOf"]?.arrayValue, let first = options.first { return placeholder(for: first) }
        let type: String? = schema["type"]?.stringValue ?? schema["type"]?.arrayValue?.first?.stringValue
        switch type {
        case "object":
            guard case .object(let properties)? = schema["properties"] else { return .object([]) }
            let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            return .object(properties.filter { required.contains($0.key) }.map { ($0.key, placeholder(for: $0.value)) })
        case "array": return .array([])
        case "string": return .string("")
        case "number", "integer": return .number(0)
        case "boolean": return .bool(false)
        default: return .null
        }
    }
}


import SluiceSemantics

/// Dry-run mode. With an estimator, the interpreter calls no model: each call is recorded with
/// its input tokens (exact when the inputs and the tokenizer are), its retrieved-context tokens,
/// and expected and worst-case output, and answered with the smallest reply of the right type.
/// Every model of a cascade and every retry of a `validate` is recorded, so the estimate covers
/// the cheapest and the dearest path.
public final class CostEstimator {
    public struct Call: Sendable {
        /// Where the call sits on the run's possible paths.
        public enum Path: Sendable, Hashable {
            case always
            case cascadeStep(index: Int, of: Int)
            case retry(index: Int, of: Int)
        }
        public var prompt: String
        public var model: ModelSpec
        public var path: Path
        public var inputTokens: Int
        public var contextTokens: Int
        public var maxOutputTokens: Int
        public var expectedOutputTokens: Int
        public var expectedFromHistory: Bool
        public var exact: Bool

        public var worstCost: Double {
            Double(inputTokens) * model.inputPrice + Double(maxOutputTokens) * model.outputPrice
        }
        public var expectedCost: Double {
            Double(inputTokens) * model.inputPrice + Double(expectedOutputTokens) * model.outputPrice
        }
        /// On the cheapest path: not a later cascade model, not a retry.
        public var onCheapestPath: Bool {
            switch path {
            case .always: true
            case .cascadeStep(let index, _): index == 0
            case .retry: false
            }
        }
    }

    public struct Retrieval: Sendable {
        public var index: String
        public var documents: Int
        public var tokens: Int
        /// True when the query was unknown and the size comes from the index's statistics.
        public var fromStatistics: Bool
    }

    public private(set) var calls: [Call] = []
    public private(set) var retrievals: [Retrieval] = []
    /// Inputs the dry run was not given; counts that depend on them are estimates.
    public private(set) var missingInputs: [String] = []
    let history: EstimationHistory?

    public init(history: EstimationHistory?) { self.history = history }

    func record(_ call: Call) { calls.append(call) }
    func record(_ retrieval: Retrieval) { retrievals.append(retrieval) }
    func missing(_ input: String) { missingInputs.append(input) }

    /// Output tokens to expect: the mean of past calls when the store has some, else a quarter
    /// of the maximum (at least 16), a guess the report labels as such.
    func expectedOutput(prompt: String, model: String, maxTokens: Int) -> (tokens: Int, fromHistory: Bool) {
        if let mean = try? history?.averageOutputTokens(prompt: prompt, model: model) {
            return (min(maxTokens, Int(mean.rounded())), true)
        }
        return (min(maxTokens, max(16, maxTokens / 4)), false)
    }

    /// The smallest JSON value valid for a schema made by `jsonSchema(for:)`.
    static func placeholder(for schema: JSONValue) -> JSONValue {
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

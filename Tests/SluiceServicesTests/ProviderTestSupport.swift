import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

/// A clock that only moves when someone sleeps on it (or a test advances it), and remembers every sleep.
final class FakeClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var time: Double
    private var slept: [Double] = []
    private let advancing: Bool

    /// With `advancing: false`, sleeping is recorded but time stands still.
    init(start: Double = 1_700_000_000, advancing: Bool = true) {
        time = start
        self.advancing = advancing
    }

    func now() -> Double { lock.withLock { time } }
    func sleep(seconds: Double) async throws {
        lock.withLock {
            slept.append(seconds)
            if advancing { time += max(0, seconds) }
        }
    }
    func advance(_ seconds: Double) { lock.withLock { time += seconds } }
    var sleeps: [Double] { lock.withLock { slept } }
}

/// Returns the given numbers in turn (the last one forever); `half` makes every jitter draw 0.5.
struct FixedRandom: RandomSource {
    let values: [UInt64]
    private let index = Counter()
    init(_ values: [UInt64]) { self.values = values }
    static let half = FixedRandom([UInt64(1) << 63])
    func next() -> UInt64 { values[min(index.next(), values.count - 1)] }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
    var count: Int { lock.withLock { value } }
}

/// Collects what a streaming provider passes to `onText`.
final class Pieces: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    var onText: @Sendable (String) -> Void { { [self] piece in lock.withLock { items.append(piece) } } }
    var all: [String] { lock.withLock { items } }
    var joined: String { all.joined() }
}

/// A provider that answers from a list of outcomes, one per call, and can stream some text first.
final class SequenceProvider: ModelProvider, EndpointNaming, @unchecked Sendable {
    enum Outcome {
        case reply(String)
        case fail(ProviderError)
        /// Streams these pieces, then fails.
        case streamThenFail([String], ProviderError)
    }

    private let lock = NSLock()
    private var outcomes: [Outcome]
    private(set) var calls = 0
    let endpoint: String

    init(_ outcomes: [Outcome], endpoint: String = "http://test/v1 m") {
        self.outcomes = outcomes
        self.endpoint = endpoint
    }

    var callCount: Int { lock.withLock { calls } }

    func endpointName(for model: ModelSpec) -> String { endpoint }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let outcome: Outcome = lock.withLock {
            calls += 1
            return outcomes.isEmpty ? .fail(ProviderError(.exhausted, "no outcomes left")) : outcomes.removeFirst()
        }
        switch outcome {
        case .reply(let text):
            request.onText?(text)
            return ChatResponse(text: text, model: request.model.id, inputTokens: 10, outputTokens: 2, finishReason: "stop")
        case .fail(let error):
            throw error
        case .streamThenFail(let pieces, let error):
            for piece in pieces { request.onText?(piece) }
            throw error
        }
    }
}

func expectProviderError<T>(_ body: () async throws -> T, kind: ProviderError.Kind, status: Int? = nil, containing texts: [String] = [],
                            file: StaticString = #filePath, line: UInt = #line) async -> ProviderError? {
    do {
        let value = try await body()
        XCTFail("expected a \(kind) error, got \(value)", file: file, line: line)
        return nil
    } catch let error as ProviderError {
        XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
        if let status { XCTAssertEqual(error.status, status, error.message, file: file, line: line) }
        for text in texts { XCTAssertTrue(error.message.contains(text), "«\(error.message)» lacks «\(text)»", file: file, line: line) }
        return error
    } catch {
        XCTFail("unexpected \(error)", file: file, line: line)
        return nil
    }
}

/// SSE lines for an OpenAI chat completion stream of `pieces`.
func openAIStream(_ pieces: [String], finish: String? = "stop", usage: String? = #"{"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25, "prompt_tokens_details": {"cached_tokens": 8}}"#,
                  done: Bool = true) -> [String] {
    var events = [#"data: {"id":"c1","object":"chat.completion.chunk","model":"local-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"# + "\n\n"]
    for piece in pieces {
        let json = JSONValue.object([("id", .string("c1")), ("object", .string("chat.completion.chunk")), ("model", .string("local-model")),
                                     ("choices", .array([.object([("index", .number(0)), ("delta", .object([("content", .string(piece))])),
                                                                  ("finish_reason", .null)])]))])
        events.append("data: " + json.serialized() + "\n\n")
    }
    if let finish {
        events.append(#"data: {"id":"c1","object":"chat.completion.chunk","model":"local-model","choices":[{"index":0,"delta":{},"finish_reason":""# + finish + "\"}]}\n\n")
    }
    if let usage {
        events.append(#"data: {"id":"c1","object":"chat.completion.chunk","model":"local-model","choices":[],"usage":"# + usage + "}\n\n")
    }
    if done { events.append("data: [DONE]\n\n") }
    return events
}

extension ChatResponse {
    /// The response with its measured latency taken out, to compare with an expected one; the
    /// latency must have been measured.
    var measuredAsUnmeasured: ChatResponse {
        XCTAssertNotNil(latencyMs, "the provider did not measure the answering try's latency")
        var copy = self
        copy.latencyMs = nil
        return copy
    }
}

import Foundation
import SluiceSemantics
import SluiceStdlib
import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// `parallel` blocks and maps, their limits and failure policies, `catch`, and a shared budget.
final class ParallelTests: XCTestCase {
    let models = """
        model m { provider "scripted"  context 8k  max_output 100  input $1 / 1M  output $1 / 1M }
        prompt echo(q: string) { model m  max_tokens 20  user "{q}" }

        """

    func testABlocksBranchesRunAtOnceAndBindTheirNames() async throws {
        let program = try checkedProgram(models + """
            pipeline main(q: string) -> string {
              parallel {
                a = echo(q: q + " one")
                b = echo(q: q + " two")
              }
              return "{a} | {b}"
            }
            """)
        let provider = SlowEcho(delay: 0.05)
        let trace = MemoryTrace()
        let interpreter = Interpreter(program: program, effects: testEffects(provider: provider, trace: trace))
        let result = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")])
        XCTAssertEqual(result.output.text, "hi one | hi two")
        XCTAssertEqual(provider.maxConcurrent, 2, "both branches were in flight at once")
        let spans = trace.spans(of: result.runId)
        XCTAssertEqual(spans.map(\.kind).sorted(), ["branch", "branch", "parallel", "pipeline", "prompt", "prompt"])
        let branches = spans.filter { $0.kind == "branch" }
        let parallel = try XCTUnwrap(spans.first { $0.kind == "parallel" })
        XCTAssertTrue(branches.allSatisfy { $0.parentId == parallel.id })
        let prompts = spans.filter { $0.kind == "prompt" }
        XCTAssertEqual(Set(prompts.compactMap(\.parentId)), Set(branches.map(\.id)), "each call nests under its own branch")
    }

    func testAMapKeepsItsLimitAndTheItemsOrder() async throws {
        let program = try checkedProgram(models + """
            pipeline main(items: [string]) -> [string] {
              return parallel echo(q: item) for item in items limit 2
            }
            """)
        let provider = SlowEcho(delay: 0.03)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: provider, trace: MemoryTrace()))
        let items = (1...7).map { "item \($0)" }
        let result = try await interpreter.run(pipeline: "main", inputs: ["items": .array(items.map(JSONValue.string))])
        XCTAssertEqual(result.output.json, .array(items.map(JSONValue.string)))
        XCTAssertEqual(provider.maxConcurrent, 2)
    }

    func testCatchKeepsOneBadItemFromFailingTheBatch() async throws {
        let program = try checkedProgram(models + """
            pipeline main(items: [string]) -> [string] {
              return parallel (echo(q: item) catch "unavailable") for item in items
            }
            """)
        let provider = SlowEcho(delay: 0, failing: "item 2")
        let trace = MemoryTrace()
        let interpreter = Interpreter(program: program, effects: testEffects(provider: provider, trace: trace))
        let result = try await interpreter.run(pipeline: "main", inputs: ["items": .array(["item 1", "item 2", "item 3"].map(JSONValue.string))])
        XCTAssertEqual(result.output.json, .array(["item 1", "unavailable", "item 3"].map(JSONValue.string)))
        XCTAssertTrue(trace.spans(of: result.runId).contains { $0.kind == "catch" }, "the caught failure is in the trace")
    }

    func testTheFirstFailureCancelsOrLetsTheOthersFinish() async throws {
        for (policy, expectedCalls) in [("cancel", 2), ("finish", 5)] {
            let program = try checkedProgram(models + """
                pipeline main(items: [string]) -> [string] {
                  return parallel echo(q: item) for item in items limit 1 on_failure \(policy)
                }
                """)
            let provider = SlowEcho(delay: 0, failing: "item 2")
            let interpreter = Interpreter(program: program, effects: testEffects(provider: provider, trace: MemoryTrace()))
            do {
                _ = try await interpreter.run(pipeline: "main", inputs: ["items": .array((1...5).map { .string("item \($0)") })])
                XCTFail("a failing item fails the map")
            } catch {
                XCTAssertEqual(error.error.kind, .provider)
            }
            XCTAssertEqual(provider.calls, expectedCalls, "on_failure \(policy)")
        }
    }

    func testBranchesShareOneBudgetThatNoInterleavingPasses() async throws {
        let program = try checkedProgram(models + """
            pipeline main(items: [string]) -> [string] {
              budget tokens 200
              return parallel (echo(q: item) catch "refused") for item in items limit 8
            }
            """)
        let provider = SlowEcho(delay: 0.01)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: provider, trace: MemoryTrace()))
        let result = try await interpreter.run(pipeline: "main", inputs: ["items": .array((1...20).map { .string("item \($0)") })])
        XCTAssertLessThanOrEqual(result.tokens, 200)
        let answered = result.output.json.arrayValue?.filter { $0 != .string("refused") }.count ?? 0
        XCTAssertGreaterThan(answered, 0)
        XCTAssertLessThan(answered, 20, "the budget refused the rest")
        XCTAssertEqual(provider.calls, answered, "no call was made past the budget")
    }

    func testEmptyParallelFormsGiveNothing() async throws {
        let program = try checkedProgram(models + """
            pipeline main(items: [string]) -> [string] {
              parallel {
              }
              return parallel (x | upper) for x in items
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        let result = try await interpreter.run(pipeline: "main", inputs: ["items": .array([])])
        XCTAssertEqual(result.output.json, .array([]))
    }

    func testValuesCannotNestPastTheLimit() async throws {
        let program = try checkedProgram("""
            pipeline main(s: string) -> number {
              acc = []
              for l in s | lines {
                acc = [acc]
              }
              return len(acc)
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["s": .string(String(repeating: "\n", count: 50_000))])
            XCTFail("a value 50,000 levels deep is refused")
        } catch {
            XCTAssertEqual(error.error.kind, .limit)
            XCTAssertTrue(error.error.message.contains("nests deeper than 512"), error.error.message)
        }
    }

    func testADryRunOfAMapCountsEveryItem() async throws {
        let program = try checkedProgram(models + """
            pipeline main(items: [string]) -> [string] {
              return parallel echo(q: item) for item in items limit 3
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: SlowEcho(delay: 0), trace: MemoryTrace()))
        let estimate = try await interpreter.estimate(pipeline: "main", inputs: ["items": .array((1...4).map { .string("item \($0)") })],
                                                      history: nil)
        XCTAssertEqual(estimate.dearest.calls.count, 4)
    }
}

/// Echoes the user message after a delay, counting how many calls are in flight at once.
final class SlowEcho: ModelProvider, @unchecked Sendable {
    let delay: Double
    let failing: String?
    private let lock = NSLock()
    private var inFlight = 0
    private(set) var maxConcurrent = 0
    private(set) var calls = 0

    init(delay: Double, failing: String? = nil) { self.delay = delay; self.failing = failing }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let text = request.messages.last?.content.split(separator: "\n").dropFirst().dropLast().joined(separator: "\n") ?? ""
        lock.withLock { calls += 1 }
        if let failing, text == failing { throw ProviderError(.http, "scripted failure", status: 500) }
        lock.withLock {
            inFlight += 1
            maxConcurrent = max(maxConcurrent, inFlight)
        }
        if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000)) }
        lock.withLock { inFlight -= 1 }
        return ChatResponse(text: text, model: request.model.id, inputTokens: 10, outputTokens: 5)
    }
}

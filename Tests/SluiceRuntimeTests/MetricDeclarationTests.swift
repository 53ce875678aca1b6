import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// A judge metric's model call is part of a dry run's estimate, on the judge's model.
final class MetricDeclarationTests: XCTestCase {
    func testDryRunEstimatesTheJudgeCall() async throws {
        let program = try checkedProgram("""
            use std.judges.{relevance}
            model cheap { provider "scripted"  context 8k  max_output 100  input $1 / 1M  output $1 / 1M }
            model judge_model { provider "scripted"  context 8k  max_output 500  input $5 / 1M  output $15 / 1M }
            prompt answer(q: string) { model cheap  max_tokens 50  user "{q}" }
            metric relevant(question: string) judge relevance(question: question, answer: it) using judge_model
            pipeline main(q: string) {
              a = answer(q: q)
              score a as quality with relevant(q)
              return a
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: EchoProvider(), trace: MemoryTrace()))
        let estimate = try await interpreter.estimate(pipeline: "main", inputs: ["q": .string("hello")], history: nil)
        XCTAssertEqual(estimate.dearest.calls.map(\.prompt), ["answer", "relevance"])
        XCTAssertEqual(estimate.dearest.calls.map(\.model.name), ["cheap", "judge_model"])
    }
}

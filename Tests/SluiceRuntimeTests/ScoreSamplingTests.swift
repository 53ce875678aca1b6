import Foundation
import XCTest
@testable import SluiceRuntime

/// `score … sample N%`: a draw from the injected random source decides; an unsampled score is
/// traced as skipped and is not a 0; `sluice test` (an interpreter that does not sample) scores
/// every run; a dry run counts both paths.
final class ScoreSamplingTests: XCTestCase {
    /// Every draw is `value` but for its lowest bits, which count draws (trace ids are drawn too
    /// and must differ).
    final class NearlyConstantRandom: RandomSource, @unchecked Sendable {
        let value: UInt64
        private var count: UInt64 = 0
        private let lock = NSLock()
        init(value: UInt64) { self.value = value }
        func next() -> UInt64 { lock.withLock { count += 1; return value ^ count } }
    }

    static let source = """
        pipeline main(answer: string) {
          score answer with contains("ok"), length(1, 50) sample 10%
          score answer as always with exact("ok")
          return answer
        }
        """

    func run(random: UInt64, samples: Bool = true) async throws -> (RunResult, String) {
        let program = try checkedProgram(Self.source)
        let trace = RecordingTrace()
        var effects = testEffects(provider: EchoProvider(), trace: trace)
        effects.random = NearlyConstantRandom(value: random)
        let interpreter = Interpreter(program: program, effects: effects, samplesScores: samples)
        let result = try await interpreter.run(pipeline: "main", inputs: ["answer": .string("ok")])
        return (result, trace.outline)
    }

    func testAnUnsampledRunRecordsSkippedScoresNotZeros() async throws {
        let (result, outline) = try await run(random: .max)
        XCTAssertEqual(result.scores.map(\.name), ["always.exact"], "only the unsampled statement's scores are missing")
        XCTAssertTrue(outline.contains(#"score contains → ok {"skipped":"not sampled","sample":0.1}"#), outline)
        XCTAssertTrue(outline.contains(#"score length → ok {"skipped":"not sampled","sample":0.1}"#), outline)
    }

    func testASampledRunComputesTheScores() async throws {
        // A draw below 10% of the range.
        let (result, _) = try await run(random: UInt64.max / 20)
        XCTAssertEqual(result.scores.map(\.name), ["contains", "length", "always.exact"])
        XCTAssertEqual(result.scores.map(\.value), [1, 1, 1])
    }

    func testTheShareFollowsTheDraws() async throws {
        // Draws spread evenly over the range (the middle of each hundredth): 10% fall under the sample.
        var sampled = 0
        for step in 0..<100 {
            let (result, _) = try await run(random: UInt64(step) * (UInt64.max / 100) + UInt64.max / 200)
            if result.scores.contains(where: { $0.name == "contains" }) { sampled += 1 }
        }
        XCTAssertEqual(sampled, 10)
    }

    func testAnInterpreterThatDoesNotSampleScoresEveryRun() async throws {
        let (result, _) = try await run(random: .max, samples: false)
        XCTAssertEqual(result.scores.map(\.name), ["contains", "length", "always.exact"])
    }

    func testADryRunCountsBothPaths() async throws {
        let program = try checkedProgram(Self.source)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: EchoProvider(), trace: MemoryTrace()))
        let estimate = try await interpreter.estimate(pipeline: "main", inputs: ["answer": .string("ok")], history: nil)
        XCTAssertEqual(estimate.paths.count, 2, "scored and not sampled")
    }
}

import SluiceSyntax
import XCTest
@testable import SluiceRuntime

/// `validate`'s lenient parse, its bounded re-ask, and the dry run of retries sent to another model.
/// The full runs, with their traces, are the `validate_*` scripts in `Scripts/`.
final class ValidateRepairTests: XCTestCase {
    func testPlainJSONNeedsNoRepair() throws {
        let parsed = try XCTUnwrap(LenientJSON("  {\"a\": [1, 2]}\n"))
        XCTAssertEqual(parsed.value, .object([("a", .array([.number(1), .number(2)]))]))
        XCTAssertEqual(parsed.stripped, [])
    }

    func testCodeFenceWithPreambleAndTrailingProse() throws {
        let parsed = try XCTUnwrap(LenientJSON("Here is the JSON:\n```json\n{\"label\": \"bug\"}\n```\nHope this helps."))
        XCTAssertEqual(parsed.value, .object([("label", .string("bug"))]))
        XCTAssertEqual(parsed.stripped, ["code fence", "preamble", "trailing text"])
    }

    func testBareFence() throws {
        let parsed = try XCTUnwrap(LenientJSON("```\n[1, 2]\n```"))
        XCTAssertEqual(parsed.value, .array([.number(1), .number(2)]))
        XCTAssertEqual(parsed.stripped, ["code fence"])
    }

    func testValueAmidProseSkipsBracketsThatDoNotParse() throws {
        // `[note]` is not JSON; the object after it is. A `}` inside a string does not close it.
        let parsed = try XCTUnwrap(LenientJSON("Sure [note]: {\"text\": \"a } b\", \"n\": 1} — done"))
        XCTAssertEqual(parsed.value, .object([("text", .string("a } b")), ("n", .number(1))]))
        XCTAssertEqual(parsed.stripped, ["preamble", "trailing text"])
    }

    func testTheLongestValueWinsOverACitation() throws {
        let parsed = try XCTUnwrap(LenientJSON("As the docs say [1], here it is: {\"label\": \"bug\", \"sources\": [1]} [2]"))
        XCTAssertEqual(parsed.value, .object([("label", .string("bug")), ("sources", .array([.number(1)]))]))
        XCTAssertEqual(parsed.stripped, ["preamble", "trailing text"])
    }

    func testProseWithoutJSONIsNotParsed() {
        XCTAssertNil(LenientJSON("Sure! The label is bug."))
        XCTAssertNil(LenientJSON("an unclosed {\"a\": 1"))
        XCTAssertNil(LenientJSON(""))
    }

    func testRepairRequestBoundsTheErrorsAndTheSchema() {
        let problems = (1...25).map { "$.items[\($0)]: expected number" }
        let schema = JSONValue.object([("description", .string(String(repeating: "x", count: 10_000)))])
        let text = RunContext.repairRequest(problems, schema: schema)
        XCTAssertTrue(text.contains("- $.items[10]: expected number"))
        XCTAssertFalse(text.contains("$.items[11]"))
        XCTAssertTrue(text.contains("- and 15 more"))
        XCTAssertTrue(text.contains("(cut: the first 4000 of 10018 characters)"), text.suffix(200).description)
        XCTAssertLessThan(text.count, 5000)
    }

    func testDryRunEstimatesRetriesOnTheModelThatAnswersThem() async throws {
        let program = try checkedProgram("""
            model cheap { provider "scripted"  context 8k  max_output 100  input $1 / 1M  output $1 / 1M }
            model dear { provider "scripted"  context 8k  max_output 100  input $100 / 1M  output $100 / 1M }
            type Out { label: string }
            prompt classify(q: string) { model cheap  max_tokens 10  user "{q}"  returns Out }
            pipeline main(q: string) {
              c = classify(q: q)
              validate c retries 2 using dear
              return c
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: EchoProvider(), trace: MemoryTrace()))
        let estimate = try await interpreter.estimate(pipeline: "main", inputs: ["q": .string("hello")], history: nil)
        XCTAssertEqual(estimate.paths.count, 3, "valid at once, after 1 retry, after 2")
        XCTAssertEqual(estimate.dearest.calls.map(\.model.name), ["cheap", "dear", "dear"])
        XCTAssertEqual(estimate.cheapest.calls.map(\.model.name), ["cheap"])
    }
}

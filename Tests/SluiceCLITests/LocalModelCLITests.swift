import Foundation
import XCTest

/// Integration tests against a real model: the built `sluice` binary, run as a user would, talking
/// to an OpenAI-compatible server (llama.cpp's llama-server with Qwen2.5-Coder-0.5B-Instruct, from
/// `scripts/local-model start`) at temperature 0.
///
/// Skipped unless `SLUICE_LOCAL_MODEL_URL` names the server's base URL (…/v1); `scripts/ci-integration`
/// starts the server, sets it and runs them. Never run them beside a compile on the same cores: the
/// model slows 10–40× and calls time out.
final class LocalModelCLITests: SluiceCLITestCase {
    var baseURL: String!

    override func setUpWithError() throws {
        guard let url = ProcessInfo.processInfo.environment["SLUICE_LOCAL_MODEL_URL"], !url.isEmpty else {
            throw XCTSkip("SLUICE_LOCAL_MODEL_URL is not set (scripts/ci-integration starts a local model and sets it)")
        }
        baseURL = url
        try super.setUpWithError()
    }

    /// Runs `sluice` against the local model (no API key, OPENAI_BASE_URL set), stopping it after `limit` seconds.
    func sluiceOnModel(_ args: [String], limit: TimeInterval = 300, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let result = try sluice(args, stdin: nil, environment: ["OPENAI_BASE_URL": baseURL], timeLimit: limit)
        if result.code == SluiceCLITestCase.stoppedCode {
            XCTFail("sluice was stopped after \(Int(limit)) s (is the machine busy?): \(result.stderr)", file: file, line: line)
        }
        return result
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let value = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(value as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
    }

    /// The highest task id llama-server has handed a slot (its `/slots` endpoint), or nil when the
    /// server does not say; a request that reached the model raises it.
    func lastTaskId() -> Int? {
        var root = baseURL!
        while root.hasSuffix("/") { root.removeLast() }
        if root.hasSuffix("/v1") { root.removeLast(3) }
        guard let url = URL(string: root + "/slots"), let data = try? Data(contentsOf: url),
              let slots = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
        return slots.compactMap { $0["id_task"] as? Int }.max()
    }

    // MARK: - The tests

    /// (a) The README's example, end to end: retrieval, a typed prompt sent with a strict JSON Schema,
    /// validation, scores, a trace.
    func testRAGPipelineAnswersWithValidJSON() throws {
        let run = try sluiceOnModel(["run", "pipelines/rag.sluice", "--db", db, "--json",
                              "--input", "question=How do I rotate an API key?"])
        XCTAssertEqual(run.code, 0, run.stdout + run.stderr)
        let result = try json(run.stdout)
        XCTAssertEqual(result["status"] as? String, "ok", run.stdout)
        let output = try XCTUnwrap(result["output"] as? [String: Any], run.stdout)
        let answer = try XCTUnwrap(output["answer"] as? String, run.stdout)
        XCTAssertFalse(answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, run.stdout)
        XCTAssertNotNil(output["sources"] as? [Any], run.stdout)
        XCTAssertNotNil(output["confidence"] as? NSNumber, run.stdout)
        let scores = try XCTUnwrap(result["scores"] as? [String: Any], run.stdout)
        XCTAssertEqual((scores["json_valid"] as? NSNumber)?.doubleValue, 1, run.stdout)
        XCTAssertGreaterThan((result["tokens"] as? NSNumber)?.intValue ?? 0, 0, run.stdout)

        let runId = try XCTUnwrap(result["run_id"] as? String)
        let show = try sluiceOnModel(["traces", "show", runId, "--db", db])
        XCTAssertEqual(show.code, 0, show.stderr)
        for stage in ["retrieve", "kb_answer", "validate"] {
            XCTAssertTrue(show.stdout.contains(stage), "no \(stage) in the trace:\n\(show.stdout)")
        }
    }

    /// (b) A prompt without `returns`: plain text back.
    func testPromptWithoutReturnsGivesText() throws {
        let script = try write("hello.sluice", """
            use std.models.{qwen_local}

            prompt greet(name: string) {
              model qwen_local
              temperature 0
              max_tokens 40
              system "You write one short, friendly greeting."
              user "Greet {name}."
            }

            pipeline hello(name: string) {
              return greet(name: name)
            }
            """)
        let run = try sluiceOnModel(["run", script, "--db", db, "--input", "name=Ada"])
        XCTAssertEqual(run.code, 0, run.stderr)
        XCTAssertFalse(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no text: \(run.stderr)")

        let again = try sluiceOnModel(["run", script, "--db", db, "--input", "name=Ada", "--json"])
        XCTAssertEqual(again.code, 0, again.stderr)
        let result = try json(again.stdout)
        let text = try XCTUnwrap(result["output"] as? String, again.stdout)
        XCTAssertFalse(text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, again.stdout)
    }

    /// (c) A budget the call's worst case would pass: refused before anything is sent.
    func testBudgetTooSmallIsRefusedBeforeTheCall() throws {
        let script = try write("tight.sluice", """
            use std.models.{gpt_4o_mini}

            prompt ask(question: string) {
              model gpt_4o_mini
              temperature 0
              max_tokens 400
              user "{question}"
            }

            pipeline main(question: string) {
              budget request $0.00001
              return ask(question: question)
            }
            """)
        let before = lastTaskId()
        let run = try sluiceOnModel(["run", script, "--db", db, "--input", "question=What is the refund policy?"])
        XCTAssertEqual(run.code, 1, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("budget exceeded"), run.stderr)
        XCTAssertTrue(run.stderr.contains("would pass the request budget of $0.00001"), run.stderr)
        XCTAssertTrue(run.stderr.contains("0 tokens"), run.stderr)
        if let before, let after = lastTaskId() {
            XCTAssertEqual(after, before, "the model server received a request")
        }
    }

    /// (d) Streaming, when the command line has it.
    func testStreamingRun() throws {
        let help = try sluiceOnModel(["run", "--help"])
        guard help.stdout.contains("--stream") || help.stderr.contains("--stream") else {
            throw XCTSkip("`sluice run` has no --stream option yet")
        }
        let script = try write("stream.sluice", """
            use std.models.{qwen_local}

            prompt count() {
              model qwen_local
              temperature 0
              max_tokens 40
              user "Count from one to five in words, separated by spaces."
            }

            pipeline main() {
              return count()
            }
            """)
        let run = try sluiceOnModel(["run", script, "--db", db, "--stream"])
        XCTAssertEqual(run.code, 0, run.stderr)
        XCTAssertFalse(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, run.stderr)
    }
}

import Foundation
import XCTest

/// Integration tests against a real model: the built `sluice` binary, run as a user would, talking
/// to llama.cpp's llama-server with Qwen2.5-Coder-0.5B-Instruct (`scripts/local-model start`), which
/// answers OpenAI's chat completions and embeddings and Anthropic's Messages API for every model id.
/// Every shipped pipeline runs against it, as the README tells a user without an API key to run them:
/// OPENAI_BASE_URL and ANTHROPIC_BASE_URL pointing at the server, no key.
///
/// The model is small: the tests check the shape of what comes back (types, enums, scores in range,
/// the trace), never what it says. Skipped unless `SLUICE_LOCAL_MODEL_URL` names the server's base
/// URL (…/v1); `scripts/ci-integration` starts the server, sets it and runs them. Never run them
/// beside a compile on the same cores: the model slows 10–40× and calls time out.
final class LocalModelCLITests: SluiceCLITestCase {
    /// The OpenAI-format base URL, http://127.0.0.1:PORT/v1.
    var baseURL: String!
    /// The server's root, which is also the Anthropic-format base URL (Sluice adds /v1/messages).
    var root: String {
        var root = baseURL!
        while root.hasSuffix("/") { root.removeLast() }
        if root.hasSuffix("/v1") { root.removeLast(3) }
        return root
    }

    override func setUpWithError() throws {
        guard let url = ProcessInfo.processInfo.environment["SLUICE_LOCAL_MODEL_URL"], !url.isEmpty else {
            throw XCTSkip("SLUICE_LOCAL_MODEL_URL is not set (scripts/ci-integration starts a local model and sets it)")
        }
        baseURL = url
        try super.setUpWithError()
    }

    /// Runs `sluice` against the local model with the variables `scripts/local-model start` prints
    /// (and no API key), stopping it after `limit` seconds.
    func sluiceOnModel(_ args: [String], limit: TimeInterval = 300, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let result = try sluice(args, stdin: nil, environment: ["OPENAI_BASE_URL": baseURL, "ANTHROPIC_BASE_URL": root], timeLimit: limit)
        if result.code == SluiceCLITestCase.stoppedCode {
            XCTFail("sluice was stopped after \(Int(limit)) s (is the machine busy?): \(result.stderr)", file: file, line: line)
        }
        return result
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let value = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(value as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
    }

    /// Runs `sluice run ARGS --json` on the model and returns the result, failing unless it is ok.
    func runOK(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let run = try sluiceOnModel(["run"] + args + ["--db", db, "--json"], file: file, line: line)
        XCTAssertEqual(run.code, 0, run.stdout + run.stderr, file: file, line: line)
        let result = try json(run.stdout, file: file, line: line)
        XCTAssertEqual(result["status"] as? String, "ok", run.stdout, file: file, line: line)
        XCTAssertGreaterThan((result["tokens"] as? NSNumber)?.intValue ?? 0, 0, run.stdout, file: file, line: line)
        return result
    }

    /// The run's trace (`sluice traces show ID --json`).
    func trace(_ result: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let runId = try XCTUnwrap(result["run_id"] as? String, file: file, line: line)
        let show = try sluiceOnModel(["traces", "show", runId, "--db", db, "--json"], file: file, line: line)
        XCTAssertEqual(show.code, 0, show.stderr, file: file, line: line)
        return try json(show.stdout, file: file, line: line)
    }

    /// One model call of a trace: chat or embeddings.
    struct Call: CustomStringConvertible {
        var model: String
        var provider: String
        var error: String?
        var reply: String?
        var isEmbedding: Bool
        var description: String { "\(model) (\(provider))\(isEmbedding ? " embed" : "")\(error.map { " error: " + $0 } ?? "")" }
    }

    /// The trace's model calls, in order.
    func modelCalls(_ trace: [String: Any]) -> [Call] {
        ((trace["model_calls"] as? [[String: Any]]) ?? []).map { call in
            let firstRole = (call["messages"] as? [[String: Any]])?.first?["role"] as? String
            return Call(model: call["model"] as? String ?? "", provider: call["provider"] as? String ?? "",
                        error: call["error"] as? String, reply: call["reply"] as? String, isEmbedding: firstRole == "embed")
        }
    }

    func scores(_ result: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Double] {
        let scores = try XCTUnwrap(result["scores"] as? [String: Any], "no scores", file: file, line: line)
        return scores.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    func nonEmpty(_ value: Any?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = (value as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        XCTAssertFalse(text.isEmpty, "\(what) is empty or not a string: \(String(describing: value))", file: file, line: line)
    }

    func number(_ value: Any?, in range: ClosedRange<Double>, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let number = (value as? NSNumber)?.doubleValue else {
            return XCTFail("\(what) is not a number: \(String(describing: value))", file: file, line: line)
        }
        XCTAssertTrue(range.contains(number), "\(what) = \(number), outside \(range)", file: file, line: line)
    }

    /// The highest task id llama-server has handed a slot (its `/slots` endpoint), or nil when the
    /// server does not say; a request that reached the model raises it.
    func lastTaskId() -> Int? {
        guard let url = URL(string: root + "/slots"), let data = try? Data(contentsOf: url),
              let slots = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
        return slots.compactMap { $0["id_task"] as? Int }.max()
    }

    // MARK: - Every shipped pipeline

    /// A pipeline added to pipelines/ needs a test here that runs it against the local model.
    func testEveryShippedPipelineRunsInATestHere() throws {
        let folder = Self.repo.appendingPathComponent("pipelines")
        let shipped = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sluice") }.sorted()
        XCTAssertFalse(shipped.isEmpty)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        for name in shipped {
            XCTAssertTrue(source.contains("\"pipelines/\(name)\""), "pipelines/\(name) is not run by any test in LocalModelCLITests")
        }
    }

    /// The README's example, end to end: retrieval, a typed prompt sent with a strict JSON Schema,
    /// validation, scores, a trace.
    func testRAGPipelineAnswersWithValidJSON() throws {
        let result = try runOK(["pipelines/rag.sluice", "--input", "question=How do I rotate an API key?"])
        let output = try XCTUnwrap(result["output"] as? [String: Any], "\(result)")
        nonEmpty(output["answer"], "answer")
        let sources = try XCTUnwrap(output["sources"] as? [String], "\(output)")
        let corpus = try FileManager.default.contentsOfDirectory(atPath: Self.repo.appendingPathComponent("pipelines/corpus").path)
        for source in sources { XCTAssertTrue(corpus.contains(source), "\(source) is not a file of the corpus (the enum keeps it to them)") }
        number(output["confidence"], in: 0...1, "confidence")
        XCTAssertEqual(try scores(result)["json_valid"], 1, "\(result)")

        let trace = try trace(result)
        let spans = ((trace["spans"] as? [[String: Any]]) ?? []).map { "\($0["kind"] as? String ?? "?") \($0["name"] as? String ?? "?")" }
        XCTAssertEqual(spans, ["pipeline rag", "retrieve kb", "prompt kb_answer", "validate reply", "score json_valid"])
        XCTAssertEqual(modelCalls(trace).first?.provider, "openai")
    }

    /// Hybrid retrieval and a similarity score: both embed through /v1/embeddings on the same server.
    func testRerankedRAGEmbedsThroughTheEmbeddingsEndpoint() throws {
        let result = try runOK(["pipelines/rag_reranked.sluice", "--input-file", "pipelines/cases/rag_api_keys.json"])
        let output = try XCTUnwrap(result["output"] as? [String: Any], "\(result)")
        nonEmpty(output["answer"], "answer")
        XCTAssertNotNil(output["sources"] as? [String], "\(output)")
        number(output["confidence"], in: 0...1, "confidence")
        // Cosine similarity of the answer's embedding and the expected phrase's.
        number(try scores(result)["similarity"], in: -1...1, "the similarity score")

        let calls = modelCalls(try trace(result))
        let embeddings = calls.filter(\.isEmbedding)
        XCTAssertEqual(embeddings.count, 2, "one call reranks the candidates, one scores the answer: \(calls)")
        for call in embeddings {
            XCTAssertEqual(call.model, "text_embedding_3_small")
            XCTAssertNil(call.error)
        }
        XCTAssertTrue(calls.contains { !$0.isEmbedding && $0.model == "gpt_4o_mini" && $0.error == nil }, "\(calls)")
    }

    /// Guards, retrieval, a cascade whose accept condition decides whether the Anthropic-format
    /// model is asked, validation, scores.
    func testSupportPipelineEscalatesOnlyWhenTheCheapModelIsUnsure() throws {
        let result = try runOK(["pipelines/support.sluice", "--input-file", "pipelines/cases/support_password.json"])
        let output = try XCTUnwrap(result["output"] as? [String: Any], "\(result)")
        nonEmpty(output["answer"], "answer")
        XCTAssertNotNil(output["sources"] as? [String], "\(output)")
        number(output["confidence"], in: 0...1, "confidence")
        number(try scores(result)["length"], in: 0...1, "the length score")

        let calls = modelCalls(try trace(result)).filter { $0.error == nil }
        let first = try XCTUnwrap(calls.first, "no model call")
        XCTAssertEqual(first.model, "gpt_4o_mini")
        XCTAssertEqual(first.provider, "openai")
        // `gpt_4o_mini accept reply.confidence >= 0.7`: claude_sonnet is called exactly when the
        // first (valid) reply's confidence is below 0.7.
        let firstReply = (first.reply.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any])
        if let confidence = (firstReply?["confidence"] as? NSNumber)?.doubleValue {
            let escalated = calls.contains { $0.model == "claude_sonnet" }
            XCTAssertEqual(escalated, confidence < 0.7, "confidence \(confidence); calls: \(calls.map(\.model))")
            if escalated { XCTAssertEqual(calls.first { $0.model == "claude_sonnet" }?.provider, "anthropic") }
        }
    }

    /// A cascade that always escalates: the strong step goes out in Anthropic's wire format
    /// (llama-server's /v1/messages). The prompt returns text: for a typed prompt Sluice forces a
    /// tool call, which llama-server passes to this model as an instruction it does not follow
    /// (it writes the call as plain text, and the grammar then allows no end until max_tokens).
    func testCascadeEscalatesToAnAnthropicFormatModel() throws {
        let script = try write("escalate.sluice", """
            use std.models.{gpt_4o_mini, claude_sonnet}

            prompt answer(question: string) {
              temperature 0
              max_tokens 60
              system "Answer in one short sentence."
              user "{question | fenced}"
            }

            pipeline main(question: string) {
              # The cheap model's reply is never accepted, so every run asks the strong one.
              reply = cascade answer(question: question) {
                gpt_4o_mini accept false
                claude_sonnet
              }
              return reply
            }
            """)
        let result = try runOK([script, "--input", "question=What is an API key?"])
        nonEmpty(result["output"], "the strong model's answer")

        let calls = modelCalls(try trace(result))
        XCTAssertEqual(calls.map(\.model), ["gpt_4o_mini", "claude_sonnet"], "\(calls)")
        XCTAssertEqual(calls.map(\.provider), ["openai", "anthropic"], "\(calls)")
        XCTAssertEqual(calls.compactMap(\.error), [], "\(calls)")
        XCTAssertEqual(calls.last?.reply.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) },
                       (result["output"] as? String).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) },
                       "the run returns the strong model's reply")
    }

    /// Zero-shot, few-shot and chain-of-thought classification: the label keeps to the enum and the
    /// case's expected label is scored 0 or 1.
    func testFeedbackClassifiersKeepToTheirLabels() throws {
        let labels: Set<String> = ["bug", "feature_request", "praise", "complaint", "question"]
        for (file, caseFile) in [("pipelines/feedback_zero_shot.sluice", "pipelines/cases/feedback_bug.json"),
                                 ("pipelines/feedback_few_shot.sluice", "pipelines/cases/feedback_feature.json"),
                                 ("pipelines/feedback_cot.sluice", "pipelines/cases/feedback_sarcasm.json")] {
            let result = try runOK([file, "--input-file", caseFile])
            let output = try XCTUnwrap(result["output"] as? [String: Any], "\(file): \(result)")
            let label = try XCTUnwrap(output["label"] as? String, "\(file): \(output)")
            XCTAssertTrue(labels.contains(label), "\(file): label \(label)")
            number(output["confidence"], in: 0...1, "\(file): confidence")
            if file.hasSuffix("cot.sluice") { nonEmpty(output["reasoning"], "\(file): reasoning") }
            let exact = try XCTUnwrap(try scores(result)["exact"], "\(file): no exact score in \(result)")
            XCTAssertTrue(exact == 0 || exact == 1, "\(file): exact = \(exact)")
        }
    }

    /// An answer graded by a second model: the judge's grade and verdict keep to their types.
    func testJudgedQAGradesTheAnswer() throws {
        let result = try runOK(["pipelines/qa_judged.sluice", "--input-file", "pipelines/cases/qa_judged_refund.json"])
        let output = try XCTUnwrap(result["output"] as? [String: Any], "\(result)")
        nonEmpty(output["answer"], "answer")
        XCTAssertNotNil(output["sources"] as? [String], "\(output)")
        let grade = try XCTUnwrap(output["grade"] as? NSNumber, "\(output)").doubleValue
        XCTAssertEqual(grade, grade.rounded(), "grade is an int")
        XCTAssertTrue(["pass", "fail"].contains(output["verdict"] as? String ?? ""), "\(output)")
        let scores = try scores(result)
        XCTAssertEqual(scores["json_valid"], 1, "\(result)")
        let exact = try XCTUnwrap(scores["exact"], "\(result)")
        XCTAssertTrue(exact == 0 || exact == 1, "exact = \(exact)")
        XCTAssertEqual(Set(modelCalls(try trace(result)).filter { $0.error == nil }.map(\.model)), ["gpt_4o_mini", "gpt_4_1"])
    }

    /// A conversation over two runs: the second sees the first (the session keeps both turns).
    func testChatKeepsTheConversationAcrossRuns() throws {
        let first = try runOK(["pipelines/chat.sluice", "--new-session", "--input", "message=My webhook deliveries fail with 401."])
        nonEmpty(first["output"], "the first reply")
        let session = try XCTUnwrap(first["session"] as? String, "no session id in \(first)")
        let second = try runOK(["pipelines/chat.sluice", "--session", session, "--input", "message=Which header should I check?"])
        nonEmpty(second["output"], "the second reply")

        let shown = try sluiceOnModel(["sessions", "show", session, "--db", db])
        XCTAssertEqual(shown.code, 0, shown.stderr)
        for message in ["My webhook deliveries fail with 401.", "Which header should I check?"] {
            XCTAssertTrue(shown.stdout.contains(message), "the session lacks '\(message)':\n\(shown.stdout)")
        }
        // The second call's messages carry the first exchange (history), so it has more than system + user.
        let calls = (try trace(second)["model_calls"] as? [[String: Any]]) ?? []
        let messages = (calls.last?["messages"] as? [[String: Any]]) ?? []
        XCTAssertGreaterThan(messages.count, 2, "the second turn was sent without the history: \(messages)")
    }

    // MARK: - The README's first pipeline, and the runtime's promises

    /// "Your first pipeline" exactly as the README shows it, run the way it says a user without a
    /// key runs it (`eval "$(scripts/local-model start)"`, then `sluice run hello.sluice --input name=Ada`).
    func testTheREADMEsFirstPipeline() throws {
        let readme = try String(contentsOf: Self.repo.appendingPathComponent("README.md"), encoding: .utf8)
        let after = try XCTUnwrap(readme.range(of: "Save this as `hello.sluice`"), "the README no longer says 'Save this as `hello.sluice`'")
        let rest = readme[after.upperBound...]
        let open = try XCTUnwrap(rest.range(of: "```\n"))
        let close = try XCTUnwrap(rest[open.upperBound...].range(of: "```"))
        let script = try write("hello.sluice", String(rest[open.upperBound..<close.lowerBound]))

        let check = try sluiceOnModel(["check", script])
        XCTAssertEqual(check.code, 0, check.stdout + check.stderr)
        let run = try sluiceOnModel(["run", script, "--db", db, "--input", "name=Ada"])
        XCTAssertEqual(run.code, 0, run.stderr)
        XCTAssertFalse(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no text: \(run.stderr)")

        let again = try sluiceOnModel(["run", script, "--db", db, "--input", "name=Ada", "--json"])
        XCTAssertEqual(again.code, 0, again.stderr)
        nonEmpty(try json(again.stdout)["output"], "the greeting")
    }

    /// A budget the call's worst case would pass: refused before anything is sent.
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

    /// `--stream` in both wire formats: text arrives and is printed.
    func testStreamingInBothWireFormats() throws {
        for model in ["gpt_4o_mini", "claude_sonnet"] {
            let script = try write("stream-\(model).sluice", """
                use std.models.{\(model)}

                prompt count() {
                  model \(model)
                  temperature 0
                  max_tokens 40
                  user "Count from one to five in words, separated by spaces."
                }

                pipeline main() {
                  return count()
                }
                """)
            let run = try sluiceOnModel(["run", script, "--db", db, "--stream"])
            XCTAssertEqual(run.code, 0, "\(model): \(run.stderr)")
            XCTAssertFalse(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(model): \(run.stderr)")
        }
    }
}

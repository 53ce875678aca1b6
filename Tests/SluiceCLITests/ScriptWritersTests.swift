import Foundation
import XCTest

/// What users writing scripts from the docs alone ran into, end to end through the built binary.
final class ScriptWritersTests: SluiceCLITestCase {
    private func write(_ text: String, to relative: String) throws -> URL {
        let url = scratch.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    // MARK: check

    func testCheckOfAFolderSkipsTheStoreAndHiddenFolders() throws {
        _ = try write("pipeline hello(name: string) {\n  return name\n}\n", to: "hello.sluice")
        _ = try write("pipeline nested(x: string) {\n  return x\n}\n", to: "flows/nested.sluice")
        _ = try write("this is not sluice", to: ".hidden/broken.sluice")
        try FileManager.default.createDirectory(at: scratch.appendingPathComponent("odd.sluice"), withIntermediateDirectories: true)
        // A run creates the store in .sluice/ beside the scripts.
        let run = try sluice(["run", "hello.sluice", "--input", "name=Ada"], in: scratch)
        XCTAssertEqual(run.code, 0, run.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.appendingPathComponent(".sluice/sluice.db").path))

        let check = try sluice(["check", "."], in: scratch)
        XCTAssertEqual(check.code, 0, check.stderr)
        XCTAssertTrue(check.stderr.contains("checked 2 files: no errors"), check.stderr)
        let listed = try sluice(["check", ".", "--json"], in: scratch)
        XCTAssertEqual(try json(listed.stdout)["files"] as? Int, 2, listed.stdout)

        _ = try write("pipeline broken( {\n", to: "flows/broken.sluice")
        let broken = try sluice(["check", "./"], in: scratch)
        XCTAssertEqual(broken.code, 1)
        XCTAssertTrue(broken.stderr.contains("flows/broken.sluice:1:"), broken.stderr)
        XCTAssertFalse(broken.stderr.contains("./"), "paths print without ./: \(broken.stderr)")
    }

    // MARK: inputs and output

    func testStreamWithJSONKeepsStandardOutputOneDocument() throws {
        let run = try sluice(["run", "pipelines/rag.sluice", "--replies", "pipelines/replies/rag.jsonl", "--db", db,
                              "--input-file", "pipelines/cases/rag_api_keys.json", "--json", "--stream"])
        XCTAssertEqual(run.code, 0, run.stderr)
        let report = try json(run.stdout)
        XCTAssertEqual(report["status"] as? String, "ok")
        XCTAssertTrue(run.stderr.contains("Rotate API keys"), "the streamed text goes to standard error: \(run.stderr)")
    }

    func testMoneyAndScoresPrintWithoutFloatNoise() throws {
        let script = try write("""
            model tiny { provider "scripted"  id "tiny"  input $0.15 / 1M  output $0.60 / 1M }
            prompt echo(text: string) {
              model tiny
              max_tokens 20
              user "Repeat {text}."
            }
            pipeline p(text: string) {
              reply = echo(text: text)
              score reply with contains("o")
              return reply
            }
            """, to: "money.sluice")
        // 7 input and 6 output tokens: 7 × 0.15e-6 + 6 × 0.6e-6 is 4.6499999999999995e-06 in binary floating point.
        let replies = try write(#"{"content": "hello", "usage": {"input": 7, "output": 6}}"# + "\n", to: "money.jsonl")
        let human = try sluice(["run", script.path, "--replies", replies.path, "--db", db, "--input", "text=hello"])
        XCTAssertEqual(human.code, 0, human.stderr)
        XCTAssertTrue(human.stderr.contains("$0.00000465"), human.stderr)
        XCTAssertTrue(human.stderr.contains("contains=1"), human.stderr)
        let machine = try sluice(["run", script.path, "--replies", replies.path, "--db", db, "--input", "text=hello", "--json"])
        XCTAssertTrue(machine.stdout.contains("\"cost\": 4.65e-06"), machine.stdout)
        XCTAssertFalse(machine.stdout.contains("4.6499999"), machine.stdout)
        let runId = try XCTUnwrap(try json(machine.stdout)["run_id"] as? String)
        let list = try sluice(["traces", "list", "--db", db])
        XCTAssertTrue(list.stdout.contains("$0.00000465"), list.stdout)
        let show = try sluice(["traces", "show", runId, "--db", db])
        XCTAssertTrue(show.stdout.contains("$0.00000465"), show.stdout)
        let shown = try sluice(["traces", "show", runId, "--db", db, "--json"])
        XCTAssertFalse(shown.stdout.contains("4.6499999"), shown.stdout)
    }

    // MARK: sessions

    func testTheChatDemoTakesTheNextReplyOnEachTurn() throws {
        let first = try sluice(["run", "pipelines/chat.sluice", "--new-session", "--replies", "pipelines/replies/chat.jsonl",
                                "--db", db, "--json", "--input", "message=My webhook deliveries fail with 401."])
        XCTAssertEqual(first.code, 0, first.stderr)
        let opening = try json(first.stdout)
        let session = try XCTUnwrap(opening["session"] as? String)
        XCTAssertTrue((opening["output"] as? String)?.hasPrefix("A 401 means") ?? false, first.stdout)

        let second = try sluice(["run", "pipelines/chat.sluice", "--session", session, "--replies", "pipelines/replies/chat.jsonl",
                                 "--db", db, "--json", "--input", "message=Which header should I check?"])
        XCTAssertEqual(second.code, 0, second.stderr)
        XCTAssertTrue((try json(second.stdout)["output"] as? String)?.hasPrefix("Check the X-Acme-Signature header") ?? false, second.stdout)

        // The file has two replies, both used by this conversation now.
        let third = try sluice(["run", "pipelines/chat.sluice", "--session", session, "--replies", "pipelines/replies/chat.jsonl",
                                "--db", db, "--input", "message=Thanks!"])
        XCTAssertEqual(third.code, 1)
        XCTAssertTrue(third.stderr.contains("scripted replies exhausted"), third.stderr)
        XCTAssertTrue(third.stderr.contains("earlier runs of this conversation"), third.stderr)

        // Another conversation starts from the top of the file.
        let other = try sluice(["run", "pipelines/chat.sluice", "--new-session", "--replies", "pipelines/replies/chat.jsonl",
                                "--db", db, "--json", "--input", "message=My webhook deliveries fail with 401."])
        XCTAssertTrue((try json(other.stdout)["output"] as? String)?.hasPrefix("A 401 means") ?? false, other.stdout)
    }

    // MARK: indexes

    func testIndexesFollowTheirSourceAndCanBeRebuiltAndRemoved() throws {
        _ = try write("Llamas live in the Andes.", to: "kb/llamas.md")
        let script = try write("""
            index kb { source "kb/"  chunk 50  overlap 5 }
            pipeline find(q: string) {
              docs = retrieve q from kb top 3
              return docs
            }
            """, to: "find.sluice")
        func sources(_ query: String) throws -> [String] {
            let run = try sluice(["run", script.path, "--db", db, "--input", "q=\(query)", "--json"])
            XCTAssertEqual(run.code, 0, run.stderr)
            return (try json(run.stdout)["output"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
        }
        XCTAssertEqual(try sources("llamas"), ["llamas.md"])
        _ = try write("Alpacas live in the Andes too.", to: "kb/alpacas.md")
        XCTAssertEqual(try sources("alpacas"), ["alpacas.md"], "an added file is indexed on the next run")
        _ = try write("Llamas moved to the Alps.", to: "kb/llamas.md")
        XCTAssertEqual(try sources("Alps"), ["llamas.md"], "a changed file is indexed again")
        try FileManager.default.removeItem(at: scratch.appendingPathComponent("kb/alpacas.md"))
        XCTAssertEqual(try sources("alpacas"), [], "a removed file leaves the index")

        let list = try sluice(["index", "list", "--db", db])
        XCTAssertTrue(list.stdout.contains("kb  1 files"), list.stdout)
        XCTAssertTrue(list.stdout.contains("chunk 50 overlap 5"), list.stdout)

        // Another script whose `index kb` reads another folder does not share it silently.
        _ = try write("Other text.", to: "other/o.md")
        let other = try write("index kb { source \"other/\" }\npipeline p(q: string) {\n  return retrieve q from kb\n}\n", to: "other.sluice")
        let clash = try sluice(["run", other.path, "--db", db, "--input", "q=text"])
        XCTAssertEqual(clash.code, 1)
        XCTAssertTrue(clash.stderr.contains("was built from \(scratch.appendingPathComponent("kb").standardizedFileURL.path)"), clash.stderr)
        XCTAssertTrue(clash.stderr.contains("this script's index reads \(scratch.appendingPathComponent("other").standardizedFileURL.path)"),
                      clash.stderr)

        let rebuilt = try sluice(["index", "rebuild", "kb", "--chunk", "30", "--overlap", "3", "--db", db])
        XCTAssertEqual(rebuilt.code, 0, rebuilt.stderr)
        XCTAssertTrue(rebuilt.stdout.contains("rebuilt `kb`: 1 file"), rebuilt.stdout)
        XCTAssertTrue(try sluice(["index", "list", "--db", db]).stdout.contains("chunk 30 overlap 3"))

        let missing = try sluice(["index", "add", "other", "no/such/folder", "--db", db])
        XCTAssertEqual(missing.code, 2)
        XCTAssertTrue(missing.stderr.contains("no such file or folder: no/such/folder"), missing.stderr)

        let typo = try sluice(["index", "remove", "kbb", "--db", db])
        XCTAssertEqual(typo.code, 2)
        XCTAssertTrue(typo.stderr.contains("(did you mean `kb`?)"), typo.stderr)
        let removed = try sluice(["index", "remove", "kb", "--db", db])
        XCTAssertEqual(removed.code, 0, removed.stderr)
        XCTAssertTrue(try sluice(["index", "list", "--db", db]).stdout.contains("no indexes"))
        XCTAssertEqual(try sluice(["run", other.path, "--db", db, "--input", "q=text"]).code, 0, "the name is free again")
    }

    // MARK: record and replay

    func testARunThatEmbedsReplaysFromItsRecording() throws {
        let recording = scratch.appendingPathComponent("run.jsonl").path
        let recorded = try sluice(["run", "pipelines/rag_reranked.sluice", "--replies", "pipelines/replies/rag.jsonl", "--db", db,
                                   "--input-file", "pipelines/cases/rag_api_keys.json", "--json", "--record", recording])
        XCTAssertEqual(recorded.code, 0, recorded.stderr)
        let file = try String(contentsOfFile: recording, encoding: .utf8)
        XCTAssertTrue(file.contains("\"embeddings\":{\"input_tokens\""), "embeddings are recorded: \(file.prefix(300))")
        let replayed = try sluice(["run", "pipelines/rag_reranked.sluice", "--replay", recording, "--db", db,
                                   "--input-file", "pipelines/cases/rag_api_keys.json", "--json"])
        XCTAssertEqual(replayed.code, 0, replayed.stderr)
        var first = try json(recorded.stdout), second = try json(replayed.stdout)
        first["run_id"] = nil
        second["run_id"] = nil
        XCTAssertEqual(NSDictionary(dictionary: first), NSDictionary(dictionary: second))
    }

    /// A warning a provider attaches to a reply (here one replayed from a recording) goes to
    /// standard error, and standard output stays the result.
    func testProviderWarningsGoToStandardError() throws {
        let recording = scratch.appendingPathComponent("run.jsonl")
        let recorded = try sluice(["run", "pipelines/rag.sluice", "--replies", "pipelines/replies/rag.jsonl", "--db", db,
                                   "--input-file", "pipelines/cases/rag_api_keys.json", "--json", "--record", recording.path])
        XCTAssertEqual(recorded.code, 0, recorded.stderr)
        let text = try String(contentsOf: recording, encoding: .utf8)
        XCTAssertTrue(text.contains(#""warnings":[]"#))
        try text.replacingOccurrences(of: #""warnings":[]"#, with: #""warnings":["the server ignored the schema"]"#)
            .write(to: recording, atomically: true, encoding: .utf8)
        let replayed = try sluice(["run", "pipelines/rag.sluice", "--replay", recording.path, "--db", db,
                                   "--input-file", "pipelines/cases/rag_api_keys.json", "--json"])
        XCTAssertEqual(replayed.code, 0, replayed.stderr)
        XCTAssertTrue(replayed.stderr.contains("warning: the server ignored the schema"), replayed.stderr)
        XCTAssertEqual(replayed.stderr.components(separatedBy: "the server ignored the schema").count, 2, "said once: \(replayed.stderr)")
        XCTAssertEqual(try json(replayed.stdout)["status"] as? String, "ok")
    }
}

import Foundation
import SluiceRuntime
@testable import SluiceServices
import XCTest

final class ScriptedProviderTests: XCTestCase {
    private func request(_ model: String = "gpt_4o_mini", id: String? = nil, prompt: String? = nil, _ text: String = "Hello there") -> ChatRequest {
        ChatRequest(model: ModelSpec(name: model, id: id), messages: [ChatMessage(role: "user", content: text)], maxTokens: 100, promptName: prompt)
    }

    func testRepliesInOrderWithUsage() async throws {
        let provider = try ScriptedProvider(jsonl: """
            {"content": "one", "usage": {"input": 12, "output": 30, "cached": 4}}

            {"content": "two"}
            """, origin: "replies.jsonl")
        let first = try await provider.complete(request())
        XCTAssertEqual(first, ChatResponse(text: "one", model: "gpt_4o_mini", inputTokens: 12, outputTokens: 30, cachedTokens: 4, finishReason: "stop"))
        let second = try await provider.complete(request(id: "gpt-4o-mini", "12345678"))
        XCTAssertEqual(second.text, "two")
        XCTAssertEqual(second.model, "gpt-4o-mini")
        XCTAssertEqual(second.inputTokens, 2, "counted: 8 bytes")
        XCTAssertEqual(second.outputTokens, 1)
        do {
            _ = try await provider.complete(request())
            XCTFail("expected exhaustion")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .exhausted)
            XCTAssertEqual(error.message, "scripted replies exhausted after 2 replies (replies.jsonl: 2 replies)")
        }
    }

    func testFiltersByModelNameOrIdAndPrompt() async throws {
        let provider = try ScriptedProvider(jsonl: """
            {"content": "strong", "model": "claude_sonnet"}
            {"content": "for answer", "prompt": "answer"}
            {"content": "mini by id", "model": "gpt-4o-mini"}
            {"content": "anything"}
            """, origin: "r.jsonl")
        let answer = try await provider.complete(request(prompt: "answer"))
        XCTAssertEqual(answer.text, "for answer")
        let byId = try await provider.complete(request(id: "gpt-4o-mini"))
        XCTAssertEqual(byId.text, "mini by id")
        let other = try await provider.complete(request())
        XCTAssertEqual(other.text, "anything")
        let sonnet = try await provider.complete(request("claude_sonnet"))
        XCTAssertEqual(sonnet.text, "strong")
    }

    func testNoMatchingReplyNamesTheRequest() async throws {
        let provider = try ScriptedProvider(jsonl: #"{"content": "x", "model": "other"}"#, origin: "r.jsonl")
        do {
            _ = try await provider.complete(request(prompt: "answer"))
            XCTFail("expected an error")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .exhausted)
            XCTAssertTrue(error.message.contains("none of the 1 unused replies matches model 'gpt_4o_mini' and prompt 'answer'"), error.message)
        }
    }

    func testScriptedErrors() async throws {
        let provider = try ScriptedProvider(jsonl: """
            {"error": {"kind": "http", "status": 500, "message": "upstream exploded"}}
            {"error": {"kind": "transport"}}
            {"content": "recovered"}
            """, origin: "r.jsonl")
        do {
            _ = try await provider.complete(request())
            XCTFail("expected an error")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .http)
            XCTAssertEqual(error.status, 500)
            XCTAssertEqual(error.message, "upstream exploded")
        }
        do {
            _ = try await provider.complete(request())
            XCTFail("expected an error")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .transport)
        }
        let reply = try await provider.complete(request())
        XCTAssertEqual(reply.text, "recovered")
    }

    func testMalformedLinesNameFileAndLine() {
        let cases: [(String, String)] = [
            ("{\"content\": \"ok\"}\n{\"content\": ", "r.jsonl:2: not valid JSON"),
            ("[1]", "r.jsonl:1: a reply must be a JSON object"),
            ("{\"contnet\": \"x\"}", "r.jsonl:1: unknown key 'contnet'"),
            ("{\"model\": \"m\"}", "r.jsonl:1: a reply needs 'content'"),
            ("{\"content\": 3}", "r.jsonl:1: 'content' must be a string"),
            ("{\"content\": \"x\", \"usage\": {\"input\": -1, \"output\": 2}}", "r.jsonl:1: 'usage.input' must be a whole number"),
            ("{\"content\": \"x\", \"usage\": {\"input\": 1}}", "r.jsonl:1: 'usage' needs both"),
            ("{\"error\": {\"kind\": \"boom\"}}", "r.jsonl:1: unknown error kind 'boom'"),
            ("{\"error\": {\"kind\": \"http\", \"status\": 9000}}", "r.jsonl:1: 'error.status' must be an HTTP status code"),
        ]
        for (jsonl, expected) in cases {
            XCTAssertThrowsError(try ScriptedProvider(jsonl: jsonl, origin: "r.jsonl")) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error) should start with \(expected)")
            }
        }
    }

    func testReadsAFile() async throws {
        let path = try temporaryFolder(self) + "/replies.jsonl"
        try write("{\"content\": \"from file\"}\n", to: path)
        let reply = try await ScriptedProvider(path: path).complete(request())
        XCTAssertEqual(reply.text, "from file")
        XCTAssertThrowsError(try ScriptedProvider(path: path + ".missing")) {
            XCTAssertTrue("\($0)".contains("replies.jsonl.missing"), "\($0)")
        }
    }

    func testConcurrentRequestsEachGetOneReply() async throws {
        let lines = (0..<100).map { "{\"content\": \"r\($0)\"}" }.joined(separator: "\n")
        let provider = try ScriptedProvider(jsonl: lines, origin: "r.jsonl")
        let question = request()
        let texts = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 { group.addTask { try await provider.complete(question).text } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        XCTAssertEqual(Set(texts).count, 100)
        XCTAssertEqual(provider.usedCount, 100)
    }
}

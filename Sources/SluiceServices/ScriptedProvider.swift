import Foundation
import SluiceRuntime
import SluiceTokenizers

/// Answers from a JSONL file of replies, for tests and offline demos. One reply per line:
///
///     {"content": "...", "model": "gpt_4o_mini", "prompt": "answer",
///      "usage": {"input": 12, "output": 30, "cached": 0},
///      "error": {"kind": "http", "status": 500, "message": "..."}}
///
/// A request takes the first unused line whose `model` (a model name or id) and `prompt` filters,
/// when present, match it. A line with `error` throws that error; without `usage`, tokens are
/// counted with the injected counter. Blank lines are skipped. When the request streams (`onText`),
/// the whole reply is passed to it in one piece.
///
/// With a `ReplyLedger` (the CLI passes the session's when a run continues a conversation), lines
/// used by earlier runs of the conversation count as used, and each line taken is recorded, so a
/// conversation run one process per turn goes through the file once, in order.
public final class ScriptedProvider: ModelProvider, @unchecked Sendable {
    struct Reply {
        var line: Int
        var content: String
        var model: String?
        var prompt: String?
        var usage: (input: Int, output: Int, cached: Int)?
        var error: ProviderError?
        var finishReason: String?
    }

    /// The file (or other origin) the replies came from, for messages.
    public let origin: String
    let replies: [Reply]
    /// The SHA-256 of the file's content: how a ledger knows the file.
    public let contentHash: String
    private let counter: any TokenCounter
    private let ledger: (any ReplyLedger)?
    private let lock = NSLock()
    private var used: [Bool]

    public convenience init(path: String, counter: any TokenCounter = EstimatingTokenCounter(), ledger: (any ReplyLedger)? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data() else {
            throw ProviderError(.configuration, "cannot read the scripted replies file \(path): no such readable file")
        }
        try self.init(jsonl: String(decoding: data, as: UTF8.self), origin: path, counter: counter, ledger: ledger)
    }

    public init(jsonl: String, origin: String, counter: any TokenCounter = EstimatingTokenCounter(), ledger: (any ReplyLedger)? = nil) throws {
        self.origin = origin
        self.counter = counter
        self.ledger = ledger
        contentHash = SHA256.hex(SHA256.digest(Array(jsonl.utf8)))
        var replies: [Reply] = []
        for (index, line) in jsonl.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            replies.append(try Self.parse(text, line: index + 1, origin: origin))
        }
        self.replies = replies
        let earlier: Set<Int>
        do { earlier = try ledger?.usedLines(replies: contentHash) ?? [] } catch {
            throw ProviderError(.configuration, "cannot read which replies of \(origin) this conversation has used: \(error)")
        }
        used = replies.map { earlier.contains($0.line) }
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let reply = try take(for: request)
        if let error = reply.error { throw error }
        let encoding = request.model.tokenizer
        let usage = reply.usage ?? (
            input: request.messages.reduce(0) { $0 + counter.count($1.content, encoding: encoding) },
            output: counter.count(reply.content, encoding: encoding),
            cached: 0)
        if let onText = request.onText, !reply.content.isEmpty { onText(reply.content) }
        return ChatResponse(text: reply.content, model: request.model.id, inputTokens: usage.input, outputTokens: usage.output,
                            cachedTokens: usage.cached, finishReason: reply.finishReason ?? "stop")
    }

    /// How many replies have been given so far.
    public var usedCount: Int { lock.withLock { used.filter { $0 }.count } }

    private func take(for request: ChatRequest) throws -> Reply {
        try lock.withLock {
            let match = replies.indices.first { index in
                let reply = replies[index]
                return !used[index]
                    && (reply.model.map { $0 == request.model.name || $0 == request.model.id } ?? true)
                    && (reply.prompt.map { $0 == request.promptName } ?? true)
            }
            guard let match else {
                let given = used.filter { $0 }.count
                var message = "scripted replies exhausted after \(given) replies (\(origin): \(replies.count) replies"
                    + (ledger == nil ? ")" : ", counting those earlier runs of this conversation used)")
                if given < replies.count {
                    message += ": none of the \(replies.count - given) unused replies matches model '\(request.model.name)'"
                    if let prompt = request.promptName { message += " and prompt '\(prompt)'" }
                }
                throw ProviderError(.exhausted, message)
            }
            if let ledger {
                do { try ledger.markUsed(replies: contentHash, line: replies[match].line) } catch {
                    throw ProviderError(.configuration, "cannot record that reply \(origin):\(replies[match].line) was used: \(error)")
                }
            }
            used[match] = true
            return replies[match]
        }
    }

    // MARK: Parsing

    private static let keys: Set<String> = ["content", "model", "prompt", "usage", "error", "finish_reason"]

    static func parse(_ text: String, line: Int, origin: String) throws -> Reply {
        func fail(_ problem: String) -> ProviderError {
            ProviderError(.configuration, "\(origin):\(line): \(problem)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw fail("not valid JSON: \(error)") }
        guard case .object(let members) = json else { throw fail("a reply must be a JSON object") }
        if let unknown = members.first(where: { !keys.contains($0.key) }) {
            throw fail("unknown key '\(unknown.key)' (expected \(keys.sorted().joined(separator: ", ")))")
        }
        func optionalString(_ key: String) throws -> String? {
            guard let value = json[key], value != .null else { return nil }
            guard let string = value.stringValue else { throw fail("'\(key)' must be a string") }
            return string
        }
        func count(_ value: JSONValue?, _ name: String) throws -> Int? {
            guard let value else { return nil }
            guard let number = value.numberValue, number >= 0, number == number.rounded(), number < 1e15 else {
                throw fail("'\(name)' must be a whole number of tokens, at least 0")
            }
            return Int(number)
        }

        var reply = Reply(line: line, content: "", model: try optionalString("model"), prompt: try optionalString("prompt"),
                          finishReason: try optionalString("finish_reason"))
        if let usage = json["usage"] {
            guard case .object = usage else { throw fail("'usage' must be an object like {\"input\": 12, \"output\": 30}") }
            guard let input = try count(usage["input"], "usage.input"), let output = try count(usage["output"], "usage.output") else {
                throw fail("'usage' needs both 'input' and 'output'")
            }
            reply.usage = (input, output, try count(usage["cached"], "usage.cached") ?? 0)
        }
        if let error = json["error"] {
            reply.error = try parseError(error, fail: fail)
        } else {
            guard let content = try optionalString("content") else { throw fail("a reply needs 'content' (or 'error')") }
            reply.content = content
        }
        return reply
    }

    private static func parseError(_ error: JSONValue, fail: (String) -> ProviderError) throws -> ProviderError {
        let kinds = "transport, http, malformedReply, configuration, exhausted"
        guard case .object = error, let kindName = error["kind"]?.stringValue else {
            throw fail("'error' must be an object with a 'kind' (\(kinds))")
        }
        guard let kind = ProviderError.Kind(rawValue: kindName) else { throw fail("unknown error kind '\(kindName)' (expected \(kinds))") }
        var status: Int?
        if let value = error["status"] {
            guard let number = value.numberValue, number == number.rounded(), (100...599).contains(number) else {
                throw fail("'error.status' must be an HTTP status code")
            }
            status = Int(number)
        }
        let message = error["message"]?.stringValue ?? "scripted \(kindName) error" + (status.map { " (HTTP \($0))" } ?? "")
        return ProviderError(kind, message, status: status)
    }
}

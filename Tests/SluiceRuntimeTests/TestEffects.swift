import Foundation
@testable import SluiceRuntime

/// Replies given in order, each optionally only for one model; an `error:` reply fails the call.
final class QueuedProvider: ModelProvider, @unchecked Sendable {
    struct Scripted {
        var model: String?
        var text: String?
        var error: String?
    }
    private var queue: [Scripted]
    private let lock = NSLock()
    private(set) var requests: [ChatRequest] = []

    init(_ replies: [Scripted]) { queue = replies }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try lock.withLock {
            requests.append(request)
            guard let index = queue.firstIndex(where: { $0.model == nil || $0.model == request.model.name }) else {
                throw ProviderError(.exhausted, "no scripted reply left for model \(request.model.name)")
            }
            let reply = queue.remove(at: index)
            if let error = reply.error { throw ProviderError(.http, error, status: 500) }
            let text = reply.text ?? ""
            let input = request.messages.reduce(0) { $0 + ($1.content.utf8.count + 3) / 4 }
            return ChatResponse(text: text, model: request.model.id, inputTokens: input, outputTokens: (text.utf8.count + 3) / 4)
        }
    }
}

/// Documents in memory, ranked by how many query words they share.
struct MemoryRetrieval: RetrievalStore {
    var documents: [String: [(source: String, text: String)]]

    func prepare(_ spec: IndexSpec) throws {
        guard documents[spec.name] != nil else { throw ProviderError(.configuration, "index \(spec.name) is empty") }
    }

    func search(index: String, query: String, limit: Int) throws -> [RetrievedChunk] {
        let words = Set(query.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
        var ranked: [RetrievedChunk] = []
        for doc in documents[index] ?? [] {
            let docWords = Set(doc.text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
            let shared = Double(docWords.intersection(words).count)
            if shared > 0 { ranked.append(RetrievedChunk(text: doc.text, source: doc.source, score: shared)) }
        }
        ranked.sort { $0.score != $1.score ? $0.score > $1.score : $0.source < $1.source }
        return Array(ranked.prefix(limit))
    }
}

/// Keeps the trace in memory and prints it as an indented outline for golden files.
final class RecordingTrace: TraceSink, @unchecked Sendable {
    private let lock = NSLock()
    private var spans: [(id: String, parent: String?, line: String)] = []
    private var ends: [String: String] = [:]
    private var calls: [String: [String]] = [:]

    func runStarted(_ run: TraceRun) throws {}
    func spanStarted(_ span: TraceSpan) throws {
        lock.withLock { spans.append((span.id, span.parentId, "\(span.kind) \(span.name)")) }
    }
    func spanEnded(_ end: TraceSpanEnd) throws {
        lock.withLock { ends[end.id] = "\(end.status) \(end.detail.serialized())" }
    }
    func modelCallStarted(_ call: TraceModelCall) throws {}
    func modelCalled(_ call: TraceModelCall) throws {
        let line = "call \(call.model) attempt \(call.attempt): " + (call.error.map { "error \($0)" } ?? "\(call.inputTokens)+\(call.outputTokens) tokens")
        lock.withLock { calls[call.spanId, default: []].append(line) }
    }
    func guardChecked(_ verdict: TraceGuardVerdict) throws {}
    func scored(_ score: TraceScore) throws {}
    func runEnded(_ end: TraceRunEnd) throws {}
    func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws {}

    var outline: String {
        lock.withLock {
            var depth: [String: Int] = [:]
            var lines: [String] = []
            for span in spans {
                let level = span.parent.flatMap { depth[$0] }.map { $0 + 1 } ?? 0
                depth[span.id] = level
                let pad = String(repeating: "  ", count: level)
                lines.append(pad + span.line + " → " + (ends[span.id] ?? "open"))
                for call in calls[span.id] ?? [] { lines.append(pad + "  " + call) }
            }
            return lines.joined(separator: "\n")
        }
    }
}

struct FixedClock: Clock {
    func now() -> Double { 1_700_000_000 }
    func sleep(seconds: Double) async throws {}
}

final class CountingRandom: RandomSource, @unchecked Sendable {
    private var state: UInt64 = 0
    func next() -> UInt64 { state += 1; return state }
}

/// Conversations in memory.
final class MemorySessions: SessionStore, @unchecked Sendable {
    private let lock = NSLock()
    private var states: [String: SessionState] = [:]
    private var all: [String: [SessionTurn]] = [:]

    func createSession(_ id: String, at time: Double) throws {
        lock.withLock {
            states[id] = SessionState(id: id, summary: nil, summaryThrough: 0, turns: [])
            all[id] = []
        }
    }

    func loadSession(_ id: String) throws -> SessionState? { lock.withLock { states[id] } }

    func appendTurns(_ id: String, _ turns: [(role: String, content: String)], at time: Double) throws -> [SessionTurn] {
        lock.withLock {
            var stored: [SessionTurn] = []
            for turn in turns {
                let next = SessionTurn(seq: (all[id]?.count ?? 0) + 1, role: turn.role, content: turn.content)
                all[id, default: []].append(next)
                states[id]?.turns.append(next)
                stored.append(next)
            }
            return stored
        }
    }

    func saveSummary(_ id: String, summary: String, through: Int, at time: Double) throws {
        lock.withLock {
            states[id]?.summary = summary
            states[id]?.summaryThrough = through
            states[id]?.turns.removeAll { $0.seq <= through }
        }
    }

    /// The stored state, for the transcript.
    func describe(_ id: String) -> String {
        lock.withLock {
            guard let state = states[id] else { return "no session \(id)" }
            var lines = ["session \(id): summary through \(state.summaryThrough): \(state.summary ?? "(none)")"]
            lines += state.turns.map { "  [\($0.seq)] \($0.role): \($0.content)" }
            return lines.joined(separator: "\n")
        }
    }
}

/// Embeds text as counts of its letters a to z: texts with similar letters come out close.
struct LetterEmbedder: EmbeddingProvider {
    func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        texts.map { text in
            var vector = [Float](repeating: 0, count: 26)
            for byte in text.lowercased().utf8 where byte >= 97 && byte <= 122 { vector[Int(byte - 97)] += 1 }
            return vector
        }
    }
}

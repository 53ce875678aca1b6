import Foundation
import SluiceRuntime

/// One wire format's reading of a streamed reply: its events in, the text pieces they carry out.
protocol StreamDecoder: Sendable {
    var url: String { get }
    /// Set once the reply's end has come; later events are ignored.
    var done: Bool { get }
    /// Reads one event whose payload (whitespace trimmed) is not empty, adding the text it carries to `pieces`.
    mutating func handle(_ event: SSEEvent, payload: String, pieces: inout [String]) throws
    /// The complete response once the body has ended; a clear error when the stream was cut off.
    /// `onText` gets any text not yet passed on as pieces.
    func response(request: ChatRequest, counter: any TokenCounter, onText: (String) -> Void) throws -> ChatResponse
}

extension StreamDecoder {
    func eventJSON(_ payload: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(payload)
        } catch {
            throw ProviderError(.malformedReply, "an event in the stream from \(url) is not JSON (\(error)): \(ProviderSupport.snippet(payload))")
        }
    }
}

/// A streamed reply: SSE events in, parsed and decoded under a lock; text pieces out to `onText`,
/// outside it.
final class ReplyStream<Decoder: StreamDecoder>: @unchecked Sendable {
    private let onText: @Sendable (String) -> Void
    private let lock = NSLock()
    private var parser = SSEParser()
    private var decoder: Decoder

    init(_ decoder: Decoder, onText: @escaping @Sendable (String) -> Void) {
        self.decoder = decoder
        self.onText = onText
    }

    func feed(_ data: Data) throws {
        var pieces: [String] = []
        try lock.withLock {
            try parser.feed(data) { try handle($0, pieces: &pieces) }
        }
        for piece in pieces { onText(piece) }
    }

    func finish(request: ChatRequest, counter: any TokenCounter) throws -> ChatResponse {
        var pieces: [String] = []
        let decoder = try lock.withLock {
            try parser.finish { try handle($0, pieces: &pieces) }
            return self.decoder
        }
        for piece in pieces { onText(piece) }
        return try decoder.response(request: request, counter: counter, onText: onText)
    }

    private func handle(_ event: SSEEvent, pieces: inout [String]) throws {
        if decoder.done { return }
        let payload = event.data.trimmingCharacters(in: .whitespaces)
        if payload.isEmpty { return }
        try decoder.handle(event, payload: payload, pieces: &pieces)
    }
}

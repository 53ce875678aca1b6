/// One server-sent event: the `event:` name (empty when the server gave none) and its `data:`
/// lines joined with newlines.
struct SSEEvent: Sendable, Hashable {
    var event: String
    var data: String
}

/// An incremental parser for `text/event-stream` bodies, as the WHATWG HTML standard defines them:
/// bytes arrive in arbitrary chunks (a line, even a UTF-8 sequence, may be split between two);
/// lines end in LF, CRLF or CR (a CR at the end of one chunk and an LF at the start of the next are
/// one line break); `:` starts a comment; several `data:` lines make one multi-line value; a blank
/// line dispatches the event; `id:` and `retry:` are accepted and ignored. A line the stream ends
/// in the middle of is discarded, since it was cut off.
struct SSEParser {
    private var buffer: [UInt8] = []
    /// The previous chunk ended in CR, so an LF starting this one belongs to that line break.
    private var skipLineFeed = false
    private var eventName = ""
    private var data = ""
    private var hasData = false

    /// Feeds the next bytes of the body; `emit` receives each complete event in order.
    mutating func feed(_ bytes: some Sequence<UInt8>, emit: (SSEEvent) throws -> Void) rethrows {
        buffer.append(contentsOf: bytes)
        var start = 0
        var index = 0
        if skipLineFeed, !buffer.isEmpty {
            skipLineFeed = false
            if buffer[0] == 10 { start = 1; index = 1 }
        }
        while index < buffer.count {
            let byte = buffer[index]
            if byte == 10 || byte == 13 {
                let line = String(decoding: buffer[start..<index], as: UTF8.self)
                if byte == 13 {
                    if index + 1 < buffer.count {
                        if buffer[index + 1] == 10 { index += 1 }
                    } else {
                        skipLineFeed = true
                    }
                }
                index += 1
                start = index
                try process(line, emit: emit)
            } else {
                index += 1
            }
        }
        buffer.removeFirst(start)
    }

    /// The body ended: dispatches an event whose lines all arrived but whose closing blank line did
    /// not (some servers close right after the last `data:` line); a partial last line is dropped.
    /// Returns true when a partial line was dropped, meaning the stream was cut mid-line.
    @discardableResult
    mutating func finish(emit: (SSEEvent) throws -> Void) rethrows -> Bool {
        let cut = !buffer.isEmpty
        buffer.removeAll()
        if hasData { try dispatch(emit: emit) }
        return cut
    }

    private mutating func process(_ line: String, emit: (SSEEvent) throws -> Void) rethrows {
        if line.isEmpty {
            if hasData { try dispatch(emit: emit) } else { eventName = "" }
            return
        }
        if line.hasPrefix(":") { return }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = Substring(line)
            value = ""
        }
        switch field {
        case "event":
            eventName = String(value)
        case "data":
            if hasData { data += "\n" }
            data += value
            hasData = true
        default:
            break   // id, retry, and unknown fields
        }
    }

    private mutating func dispatch(emit: (SSEEvent) throws -> Void) rethrows {
        let event = SSEEvent(event: eventName, data: data)
        eventName = ""
        data = ""
        hasData = false
        try emit(event)
    }
}

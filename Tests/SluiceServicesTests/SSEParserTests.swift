@testable import SluiceServices
import XCTest

final class SSEParserTests: XCTestCase {
    /// Feeds `chunks` one by one and returns the events and whether the end cut a line.
    private func parse(_ chunks: [[UInt8]]) -> ([SSEEvent], Bool) {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for chunk in chunks { parser.feed(chunk) { events.append($0) } }
        let cut = parser.finish { events.append($0) }
        return (events, cut)
    }

    private func parse(_ text: String, splitEvery size: Int? = nil) -> [SSEEvent] {
        let bytes = Array(text.utf8)
        guard let size else { return parse([bytes]).0 }
        return parse(stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }).0
    }

    func testEventsDataCommentsAndMultiLineData() {
        let text = ": keep-alive comment\n\nevent: message_start\ndata: {\"a\":1}\n\ndata: first\ndata:second\ndata\nid: 7\nretry: 100\n\nevent: ping\n\n"
        let expected = [SSEEvent(event: "message_start", data: "{\"a\":1}"), SSEEvent(event: "", data: "first\nsecond\n")]
        XCTAssertEqual(parse(text), expected, "an event with no data is not dispatched; its name does not leak into the next")
        // Byte by byte, and in every chunk size, the same events come out.
        for size in 1...9 { XCTAssertEqual(parse(text, splitEvery: size), expected, "chunks of \(size)") }
    }

    func testLineEndingsCRLFAndCR() {
        let expected = [SSEEvent(event: "e", data: "x"), SSEEvent(event: "", data: "y")]
        XCTAssertEqual(parse("event: e\r\ndata: x\r\n\r\ndata: y\r\n\r\n"), expected)
        XCTAssertEqual(parse("event: e\rdata: x\r\rdata: y\r\r"), expected)
        // A CR ending one chunk and the LF starting the next are one line break, not two.
        let (events, _) = parse([Array("data: x\r".utf8), Array("\ndata: more\r".utf8), Array("\n\r".utf8), Array("\n".utf8)])
        XCTAssertEqual(events, [SSEEvent(event: "", data: "x\nmore")])
    }

    func testUTF8SplitAcrossChunks() {
        let bytes = Array("data: héllo — ✓\n\n".utf8)
        for cut in 1..<bytes.count {
            let (events, _) = parse([Array(bytes[..<cut]), Array(bytes[cut...])])
            XCTAssertEqual(events, [SSEEvent(event: "", data: "héllo — ✓")], "split at \(cut)")
        }
    }

    func testEndOfStream() {
        // Complete lines without the closing blank line still make an event (servers that close right away)...
        XCTAssertEqual(parse([Array("data: [DONE]\n".utf8)]).0, [SSEEvent(event: "", data: "[DONE]")])
        // ...but a line cut in the middle is dropped, and reported.
        let (events, cut) = parse([Array("data: {\"a\":1}\n\ndata: {\"choi".utf8)])
        XCTAssertEqual(events, [SSEEvent(event: "", data: "{\"a\":1}")])
        XCTAssertTrue(cut)
        XCTAssertFalse(parse([Array("data: x\n\n".utf8)]).1)
    }
}

import SluiceRuntime
@testable import SluiceServices
import XCTest

final class ChunkerTests: XCTestCase {
    private let counter = EstimatingTokenCounter()

    private func chunker(_ size: Int, _ overlap: Int) throws -> Chunker {
        try Chunker(maxTokens: size, overlapTokens: overlap, counter: counter)
    }

    private var prose: String {
        (1...40).map { paragraph in
            (1...5).map { "Sentence \($0) of paragraph \(paragraph) says something useful about topic \(paragraph * $0)." }
                .joined(separator: " ")
        }.joined(separator: "\n\n")
    }

    func testSizesRespectedNoEmptyChunksAndAllTextCovered() throws {
        for (size, overlap) in [(8, 0), (16, 4), (32, 8), (64, 16), (200, 40)] {
            let chunks = try chunker(size, overlap).chunks(of: prose)
            XCTAssertFalse(chunks.isEmpty)
            for chunk in chunks {
                XCTAssertLessThanOrEqual(counter.count(chunk, encoding: "o200k_base"), size)
                XCTAssertFalse(chunk.isEmpty)
                XCTAssertEqual(chunk, chunk.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            // Every word of the text appears, in order, across the chunks.
            let words = prose.split(whereSeparator: \.isWhitespace)
            let covered = Set(chunks.flatMap { $0.split(whereSeparator: \.isWhitespace) })
            XCTAssertTrue(words.allSatisfy(covered.contains))
            XCTAssertTrue(prose.hasPrefix(chunks[0]))
            XCTAssertTrue(prose.hasSuffix(chunks[chunks.count - 1]))
        }
    }

    func testOverlapIsPresentAndBounded() throws {
        let chunks = try chunker(32, 8).chunks(of: prose)
        XCTAssertGreaterThan(chunks.count, 10)
        for (previous, next) in zip(chunks, chunks.dropFirst()) {
            let nextWords = next.split(whereSeparator: \.isWhitespace)
            let previousWords = previous.split(whereSeparator: \.isWhitespace)
            // The next chunk starts with words that end the previous one.
            let shared = (1...min(nextWords.count, previousWords.count)).last { n in
                Array(previousWords.suffix(n)) == Array(nextWords.prefix(n))
            }
            let overlap = try XCTUnwrap(shared, "no overlap between \(previous.debugDescription) and \(next.debugDescription)")
            XCTAssertLessThanOrEqual(counter.count(nextWords.prefix(overlap).joined(separator: " "), encoding: ""), 8)
        }
    }

    func testNoOverlapWhenZero() throws {
        let chunks = try chunker(32, 0).chunks(of: prose)
        XCTAssertEqual(chunks.joined(separator: " ").split(whereSeparator: \.isWhitespace), prose.split(whereSeparator: \.isWhitespace))
    }

    func testPrefersParagraphThenSentenceBoundaries() throws {
        let text = "Short first paragraph here.\n\nSecond paragraph is a bit longer. It has two sentences in it."
        // A cut may go back to a better boundary as long as the chunk keeps at least half its size.
        let chunks = try chunker(16, 0).chunks(of: text)
        XCTAssertEqual(chunks.first, "Short first paragraph here.")
        XCTAssertEqual(try chunker(20, 0).chunks(of: text).first, "Short first paragraph here.\n\nSecond paragraph is a bit longer.")
        let sentences = try chunker(12, 0).chunks(of: "One sentence goes here. Another sentence follows it now. And a third.")
        XCTAssertEqual(sentences.first, "One sentence goes here.")
    }

    func testDeterministic() throws {
        XCTAssertEqual(try chunker(24, 6).chunks(of: prose), try chunker(24, 6).chunks(of: prose))
    }

    func testBlankTextHasNoChunks() throws {
        XCTAssertEqual(try chunker(10, 2).chunks(of: ""), [])
        XCTAssertEqual(try chunker(10, 2).chunks(of: " \n\n\t "), [])
        XCTAssertEqual(try chunker(10, 2).chunks(of: "  hello  "), ["hello"])
    }

    func testLongWordsAndUnicodeAreSplitOnCharacterBoundaries() throws {
        let word = String(repeating: "日本語🙂👨‍👩‍👧é", count: 200)
        let chunks = try chunker(10, 2).chunks(of: "start " + word + " end")
        for chunk in chunks {
            XCTAssertLessThanOrEqual(counter.count(chunk, encoding: ""), 10)
            XCTAssertFalse(chunk.isEmpty)
        }
        let rebuilt = chunks.joined()
        XCTAssertTrue(rebuilt.contains("👨‍👩‍👧"), "grapheme clusters survive")
        XCTAssertFalse(rebuilt.unicodeScalars.contains("\u{FFFD}"))
        let huge = String(repeating: "x", count: 200_000)
        XCTAssertEqual(try chunker(256, 0).chunks(of: huge).count, 200_000 / 1024 + 1)
    }

    func testBadSettingsAreRefused() {
        XCTAssertThrowsError(try chunker(0, 0))
        XCTAssertThrowsError(try chunker(10, 10)) { XCTAssertTrue("\($0)".contains("smaller than the chunk size"), "\($0)") }
        XCTAssertThrowsError(try chunker(10, -1))
    }
}

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

/// `chunk` and `overlap` are sizes in tokens of the exact tokenizer, as documented.
final class ExactChunkSizeTests: XCTestCase {
    private let counter = ModelTokenCounter()

    /// Plain words separated by single spaces: BPE folds each space into the word after it, so a
    /// piece counted as "word" plus " " would count double and fill chunks only half.
    func testSpaceSeparatedWordsFillChunksToTheirTokenSize() throws {
        let words = (1...3000).map { ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "north"][$0 % 8] }
        let text = words.joined(separator: " ")
        for (size, overlap) in [(50, 0), (200, 40), (256, 32)] {
            let chunks = try Chunker(maxTokens: size, overlapTokens: overlap, counter: counter).chunks(of: text)
            let sizes = chunks.map { counter.count($0, encoding: "o200k_base") }
            XCTAssertTrue(sizes.allSatisfy { $0 <= size }, "\(size): \(sizes)")
            // Every chunk but the last is within two tokens of the size.
            XCTAssertTrue(sizes.dropLast().allSatisfy { $0 >= size - 2 }, "\(size): \(sizes)")
        }
    }

    func testProseChunksStayWithinTheirSizeAndNearIt() throws {
        let prose = (1...60).map { paragraph in
            (1...6).map { "Sentence \($0) of paragraph \(paragraph) explains how the service rotates keys, bills usage and retries webhooks." }
                .joined(separator: " ")
        }.joined(separator: "\n\n")
        for (size, overlap) in [(64, 8), (200, 40)] {
            let chunks = try Chunker(maxTokens: size, overlapTokens: overlap, counter: counter).chunks(of: prose)
            let sizes = chunks.map { counter.count($0, encoding: "o200k_base") }
            XCTAssertTrue(sizes.allSatisfy { $0 <= size }, "\(size): \(sizes)")
            // Cut at sentence or paragraph ends (the paragraphs here are about 150 tokens), so under
            // the size, never about half of it.
            let full = sizes.dropLast()
            let mean = Double(full.reduce(0, +)) / Double(full.count)
            XCTAssertGreaterThan(mean, Double(size) * 0.7, "\(size): \(sizes)")
        }
    }

    func testOverlapIsMeasuredInTokensToo() throws {
        let text = (1...2000).map { "word\($0 % 50)" }.joined(separator: " ")
        let chunks = try Chunker(maxTokens: 100, overlapTokens: 20, counter: counter).chunks(of: text)
        for (previous, next) in zip(chunks, chunks.dropFirst()) {
            let nextWords = next.split(separator: " ")
            let previousWords = previous.split(separator: " ")
            // The longest tail of `previous` that starts `next` is the overlap.
            let shared = (0...min(nextWords.count, previousWords.count)).last { n in
                n == 0 || Array(previousWords.suffix(n)) == Array(nextWords.prefix(n))
            } ?? 0
            let overlap = counter.count(nextWords.prefix(shared).joined(separator: " "), encoding: "o200k_base")
            XCTAssertLessThanOrEqual(overlap, 20)
            XCTAssertGreaterThanOrEqual(overlap, 10, "the overlap is close to its size, not half of it")
        }
    }
}

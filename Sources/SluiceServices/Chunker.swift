import SluiceRuntime

/// Splits text into chunks of at most `maxTokens` tokens, each sharing up to `overlapTokens` tokens with
/// the one before, cutting at paragraph, then sentence, then word boundaries where it can (and inside
/// a word only when a single word is longer than a chunk). Deterministic; works on grapheme clusters,
/// so no character is ever cut in half.
public struct Chunker: Sendable {
    public let maxTokens: Int
    public let overlapTokens: Int
    public let counter: any TokenCounter
    /// The encoding passed to `counter`.
    public let encoding: String

    public init(maxTokens: Int, overlapTokens: Int, counter: any TokenCounter, encoding: String = "o200k_base") throws {
        guard maxTokens >= 1 else { throw ChunkingError("chunk size must be at least 1 token, not \(maxTokens)") }
        guard overlapTokens >= 0, overlapTokens < maxTokens else {
            throw ChunkingError("overlap must be at least 0 and smaller than the chunk size (\(maxTokens) tokens), not \(overlapTokens)")
        }
        self.maxTokens = maxTokens; self.overlapTokens = overlapTokens; self.counter = counter; self.encoding = encoding
    }

    /// The chunks, trimmed of surrounding whitespace; none for blank text.
    public func chunks(of text: String) -> [String] {
        let pieces = split(text)
        var chunks: [String] = []
        var start = 0
        var previousEnd = 0
        while start < pieces.count {
            let end = cut(pieces, from: start, after: previousEnd)
            previousEnd = end
            let chunk = joined(pieces[start..<end]).trimmingWhitespace()
            if !chunk.isEmpty { chunks.append(chunk) }
            if end == pieces.count { break }
            start = overlapStart(pieces, chunkStart: start, chunkEnd: end)
        }
        return chunks
    }

    // MARK: Pieces

    /// How strongly a chunk may end after a piece: the higher, the better the place to cut.
    enum Boundary: Int, Comparable {
        case insideWord = 0, word, sentence, paragraph
        static func < (a: Boundary, b: Boundary) -> Bool { a.rawValue < b.rawValue }
    }

    struct Piece {
        var text: Substring
        /// The piece's tokens as it reads inside a chunk: the word with the whitespace before it
        /// (BPE encodings fold a space into the word after it: " word" is one token, while "word"
        /// and " " would count two), its own trailing whitespace left to the next piece.
        var tokens: Int
        /// The boundary after this piece.
        var boundary: Boundary
    }

    /// Words with their trailing whitespace (leading whitespace joins the first word); a word longer
    /// than a chunk is split into runs of characters that fit.
    func split(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var wordStart = text.startIndex
        var index = text.startIndex
        while index < text.endIndex, text[index].isWhitespace { index = text.index(after: index) }
        var before: Substring = ""
        while index < text.endIndex {
            let start = index
            while index < text.endIndex, !text[index].isWhitespace { index = text.index(after: index) }
            let wordEnd = index
            var newlines = 0
            while index < text.endIndex, text[index].isWhitespace {
                newlines += text[index].isNewline ? 1 : 0
                index = text.index(after: index)
            }
            let word = text[start..<wordEnd]
            let boundary: Boundary = newlines >= 2 ? .paragraph : (newlines == 1 || Self.endsSentence(word)) ? .sentence : .word
            appendPieces(of: text[wordStart..<wordEnd], trailing: text[wordEnd..<index], before: before, boundary: boundary, to: &pieces)
            before = text[wordEnd..<index]
            wordStart = index
        }
        return pieces
    }

    private static func endsSentence(_ word: Substring) -> Bool {
        let closing: Set<Character> = ["\"", "'", ")", "]", "»", "”", "’"]
        guard let last = word.last(where: { !closing.contains($0) }) else { return false }
        return [".", "!", "?", "。", "！", "？", "…"].contains(last)
    }

    /// `word` (with any leading whitespace of the text) followed by `trailing` whitespace, counted
    /// with the whitespace `before` it.
    private func appendPieces(of word: Substring, trailing: Substring, before: Substring, boundary: Boundary, to pieces: inout [Piece]) {
        let whole = word.base[word.startIndex..<trailing.endIndex]
        let tokens = count(before + word)
        if tokens <= maxTokens {
            pieces.append(Piece(text: whole, tokens: tokens, boundary: boundary))
            return
        }
        var rest = word
        var lead = before
        while !rest.isEmpty {
            let length = longestFittingPrefix(of: rest)
            let part = rest.prefix(length)
            rest = rest.dropFirst(length)
            let text = rest.isEmpty ? word.base[part.startIndex..<trailing.endIndex] : part
            pieces.append(Piece(text: text, tokens: count(lead + part), boundary: rest.isEmpty ? boundary : .insideWord))
            lead = ""
        }
    }

    /// The number of leading characters of `text` that fit in a chunk (at least one, so splitting always advances).
    private func longestFittingPrefix(of text: Substring) -> Int {
        let total = text.count
        if count(text) <= maxTokens { return total }
        // Gallop up from the size of a chunk, then bisect, so a huge word costs O(n log n) counting.
        var fits = 1
        var probe = maxTokens
        while probe < total, count(text.prefix(probe)) <= maxTokens { fits = probe; probe *= 2 }
        var tooLong = min(probe, total)
        while tooLong - fits > 1 {
            let middle = (fits + tooLong) / 2
            if count(text.prefix(middle)) <= maxTokens { fits = middle } else { tooLong = middle }
        }
        return fits
    }

    private func count(_ text: some StringProtocol) -> Int { counter.count(String(text), encoding: encoding) }

    // MARK: Packing

    /// Where the chunk starting at `start` ends (exclusive): as many pieces as fit, then back to the
    /// strongest boundary in the chunk's second half that still passes `previousEnd` (so every chunk
    /// brings new text).
    func cut(_ pieces: [Piece], from start: Int, after previousEnd: Int) -> Int {
        var limit = pieces.count
        while true {
            var end = start
            var tokens = 0
            while end < limit, tokens + pieces[end].tokens <= maxTokens { tokens += pieces[end].tokens; end += 1 }
            end = max(end, start + 1)
            if end < pieces.count {
                var best = end
                var running = tokens
                var position = end
                while position > max(start, previousEnd) + 1 {
                    running -= pieces[position - 1].tokens
                    position -= 1
                    if running * 2 < maxTokens { break }
                    if pieces[position - 1].boundary > pieces[best - 1].boundary { best = position }
                }
                end = best
            }
            // Token counts need not add up exactly (BPE merges across pieces): check the chunk as stored and shrink if needed.
            if end == start + 1 || count(joined(pieces[start..<end]).trimmingWhitespace()) <= maxTokens { return end }
            limit = end - 1
        }
    }

    /// Where the next chunk starts so that it repeats at most `overlapTokens` tokens of the chunk
    /// `[chunkStart, chunkEnd)`, preferring to start after a strong boundary; always after `chunkStart`.
    func overlapStart(_ pieces: [Piece], chunkStart: Int, chunkEnd: Int) -> Int {
        var earliest = chunkEnd
        var tokens = 0
        while earliest - 1 > chunkStart, tokens + pieces[earliest - 1].tokens <= overlapTokens {
            tokens += pieces[earliest - 1].tokens
            earliest -= 1
        }
        var best = earliest
        var running = tokens
        var position = earliest
        while position < chunkEnd, running * 2 >= overlapTokens, running > 0 {
            if pieces[position - 1].boundary > pieces[best - 1].boundary { best = position }
            running -= pieces[position].tokens
            position += 1
        }
        return best
    }

    private func joined(_ pieces: ArraySlice<Piece>) -> String { pieces.map(\.text).joined() }
}

/// Chunk settings that cannot work.
public struct ChunkingError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}

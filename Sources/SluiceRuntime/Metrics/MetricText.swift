/// Text as the reference metric implementations (Python) see it: a sequence of Unicode code
/// points. Swift's `String` compares by canonical equivalence ("é" equals "e\u{301}") and splits
/// into grapheme clusters ("\r\n" is one `Character`), and either would change a score, so the
/// metrics work on code points throughout.
typealias CodePoints = [UInt32]

extension String {
    var codePoints: CodePoints { unicodeScalars.map(\.value) }
}

enum PythonText {
    /// Python's `str.isspace()`, which `str.split()` and `str.strip()` use: the code points of
    /// bidirectional class WS, B or S, or of category Zs.
    static func isSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// `text.split()`: the runs of non-space code points.
    static func split(_ text: CodePoints) -> [CodePoints] {
        var words: [CodePoints] = []
        var word: CodePoints = []
        for c in text {
            if isSpace(c) {
                if !word.isEmpty { words.append(word); word.removeAll(keepingCapacity: true) }
            } else {
                word.append(c)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    /// `text.rstrip()`.
    static func stripTrailingSpace(_ text: CodePoints) -> CodePoints {
        var end = text.count
        while end > 0, isSpace(text[end - 1]) { end -= 1 }
        return Array(text[..<end])
    }

    /// `text.replace(old, new)`: every non-overlapping occurrence, left to right.
    static func replace(_ old: String, with new: String, in text: CodePoints) -> CodePoints {
        let old = old.codePoints, new = new.codePoints
        precondition(!old.isEmpty, "replace needs a non-empty pattern")
        guard text.count >= old.count else { return text }
        var result: CodePoints = []
        result.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + old.count <= text.count, text[i] == old[0], text[i..<(i + old.count)].elementsEqual(old) {
                result += new
                i += old.count
            } else {
                result.append(text[i])
                i += 1
            }
        }
        return result
    }
}

/// Counts of the n-grams of one order in a sequence (of words or of characters), as Python's
/// `Counter` of tuples or substrings. Keys are slices of the sequence: no copies.
struct NGramCounts<Element: Hashable> {
    private(set) var counts: [ArraySlice<Element>: Int] = [:]
    private(set) var total = 0

    init(_ sequence: [Element], order: Int) {
        guard sequence.count >= order else { return }
        counts.reserveCapacity(sequence.count - order + 1)
        for start in 0...(sequence.count - order) {
            counts[sequence[start..<(start + order)], default: 0] += 1
        }
        total = sequence.count - order + 1
    }

    var isEmpty: Bool { total == 0 }

    /// The clipped matches: each n-gram of `self` counts at most as often as it occurs in `other`.
    func matches(in other: NGramCounts) -> Int {
        var matched = 0
        for (gram, count) in counts {
            if let theirs = other.counts[gram] { matched += min(count, theirs) }
        }
        return matched
    }
}

/// Interns tokens as small integers, so that n-grams of words hash and compare as integers.
struct TokenIDs {
    private var ids: [CodePoints: Int32] = [:]

    mutating func ids(of tokens: [CodePoints]) -> [Int32] {
        tokens.map { token in
            if let id = ids[token] { return id }
            let id = Int32(ids.count)
            ids[token] = id
            return id
        }
    }
}

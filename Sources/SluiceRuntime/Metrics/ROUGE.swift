/// ROUGE exactly as Google's rouge-score 0.1.2 (`rouge_scorer.RougeScorer`) computes it with its
/// default tokenizer: lowercase, every run of characters other than a–z and 0–9 a separator,
/// optionally nltk's Porter stemmer on tokens longer than three letters.
public enum ROUGE {
    public enum Kind: String, CaseIterable, Sendable {
        /// Unigram and bigram overlap.
        case rouge1, rouge2
        /// The longest common subsequence of the two texts' tokens.
        case rougeL
        /// Summary-level LCS: each text is split into sentences at "\n" and each reference
        /// sentence is matched against the union of its LCSs with every predicted sentence.
        case rougeLsum
    }

    public struct Score: Sendable, Equatable {
        public var precision: Double
        public var recall: Double
        public var fmeasure: Double

        public static let zero = Score(precision: 0, recall: 0, fmeasure: 0)

        init(precision: Double, recall: Double) {
            self.precision = precision
            self.recall = recall
            fmeasure = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        }

        public init(precision: Double, recall: Double, fmeasure: Double) {
            self.precision = precision; self.recall = recall; self.fmeasure = fmeasure
        }
    }

    /// `RougeScorer([kind], use_stemmer: stemming).score(reference, prediction)[kind]`.
    public static func score(_ kind: Kind, reference: String, prediction: String, stemming: Bool = false) -> Score {
        var vocabulary = TokenIDs()
        switch kind {
        case .rouge1, .rouge2:
            let order = kind == .rouge1 ? 1 : 2
            let target = NGramCounts(vocabulary.ids(of: tokens(reference, stemming: stemming)), order: order)
            let predicted = NGramCounts(vocabulary.ids(of: tokens(prediction, stemming: stemming)), order: order)
            let overlap = target.matches(in: predicted)
            return Score(precision: Double(overlap) / Double(max(predicted.total, 1)), recall: Double(overlap) / Double(max(target.total, 1)))
        case .rougeL:
            let target = vocabulary.ids(of: tokens(reference, stemming: stemming))
            let predicted = vocabulary.ids(of: tokens(prediction, stemming: stemming))
            guard !target.isEmpty, !predicted.isEmpty else { return .zero }
            let length = Double(lcsLength(target, predicted))
            return Score(precision: length / Double(predicted.count), recall: length / Double(target.count))
        case .rougeLsum:
            let target = sentences(reference).map { vocabulary.ids(of: tokens($0, stemming: stemming)) }
            let predicted = sentences(prediction).map { vocabulary.ids(of: tokens($0, stemming: stemming)) }
            return summaryLevelLCS(target, predicted)
        }
    }

    /// Over a file, as rouge-score is used on one: each of precision, recall and F the mean of
    /// the per-pair values. No pairs scores zero.
    public static func mean(_ kind: Kind, _ pairs: [(reference: String, prediction: String)], stemming: Bool = false) -> Score {
        guard !pairs.isEmpty else { return .zero }
        var precision = 0.0, recall = 0.0, fmeasure = 0.0
        for pair in pairs {
            let score = score(kind, reference: pair.reference, prediction: pair.prediction, stemming: stemming)
            precision += score.precision
            recall += score.recall
            fmeasure += score.fmeasure
        }
        let count = Double(pairs.count)
        return Score(precision: precision / count, recall: recall / count, fmeasure: fmeasure / count)
    }

    // MARK: tokens

    /// rouge-score's `tokenize`: `text.lower()`, runs of [a-z0-9] (Python lowercases İ to "i̇"
    /// and the Kelvin sign to "k", so those letters count), stemmed when longer than 3.
    static func tokens(_ text: String, stemming: Bool) -> [CodePoints] {
        var tokens: [[UInt8]] = []
        var token: [UInt8] = []
        func append(_ c: UInt32) {
            if (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) {
                token.append(UInt8(c))
            } else if !token.isEmpty {
                tokens.append(token)
                token.removeAll(keepingCapacity: true)
            }
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                append((0x41...0x5A).contains(scalar.value) ? scalar.value + 0x20 : scalar.value)
            } else {
                for lower in scalar.properties.lowercaseMapping.unicodeScalars { append(lower.value) }
            }
        }
        if !token.isEmpty { tokens.append(token) }
        return tokens.map { word in
            (stemming && word.count > 3 ? PorterStemmer.stem(word) : word).map(UInt32.init)
        }
    }

    /// `text.split("\n")` without the empty strings (a line of spaces is a sentence with no tokens).
    static func sentences(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true).map { String(String.UnicodeScalarView($0)) }
    }

    // MARK: longest common subsequence

    /// The length of the longest common subsequence, in memory linear in the shorter text (the
    /// whole table of `LCSTable` for two long replies would take gigabytes).
    static func lcsLength(_ a: [Int32], _ b: [Int32]) -> Int {
        let (long, short) = a.count >= b.count ? (a, b) : (b, a)
        var previous = [Int32](repeating: 0, count: short.count + 1)
        var current = previous
        for token in long {
            for j in 1..<(short.count + 1) {
                current[j] = token == short[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1])
            }
            swap(&previous, &current)
        }
        return Int(previous[short.count])
    }

    /// The LCS table of rouge-score's `_lcs_table`, kept whole for the backtrack (rougeLsum's
    /// tables are per pair of sentences).
    struct LCSTable {
        let reference: [Int32], candidate: [Int32]
        private var cells: [Int32]

        init(_ reference: [Int32], _ candidate: [Int32]) {
            self.reference = reference
            self.candidate = candidate
            let columns = candidate.count + 1
            cells = [Int32](repeating: 0, count: (reference.count + 1) * columns)
            for i in 1..<(reference.count + 1) {
                for j in 1..<columns {
                    cells[i * columns + j] = reference[i - 1] == candidate[j - 1]
                        ? cells[(i - 1) * columns + j - 1] + 1
                        : max(cells[(i - 1) * columns + j], cells[i * columns + j - 1])
                }
            }
        }

        subscript(i: Int, j: Int) -> Int32 { cells[i * (candidate.count + 1) + j] }

        /// `_backtrack_norec`: the reference indices of one LCS, chosen with rouge-score's tie rule.
        var referenceIndices: [Int] {
            var i = reference.count, j = candidate.count
            var indices: [Int] = []
            while i > 0 && j > 0 {
                if reference[i - 1] == candidate[j - 1] {
                    indices.append(i - 1)
                    i -= 1; j -= 1
                } else if self[i, j - 1] > self[i - 1, j] {
                    j -= 1
                } else {
                    i -= 1
                }
            }
            return indices.reversed()
        }
    }

    /// `_summary_level_lcs` (ROUGE paper, section 3.2): union-LCS hits, each token counted at most
    /// as often as it occurs on both sides.
    static func summaryLevelLCS(_ reference: [[Int32]], _ candidate: [[Int32]]) -> Score {
        guard !reference.isEmpty, !candidate.isEmpty else { return .zero }
        let referenceLength = reference.reduce(0) { $0 + $1.count }
        let candidateLength = candidate.reduce(0) { $0 + $1.count }
        guard referenceLength > 0, candidateLength > 0 else { return .zero }
        var referenceCounts: [Int32: Int] = [:], candidateCounts: [Int32: Int] = [:]
        for sentence in reference { for token in sentence { referenceCounts[token, default: 0] += 1 } }
        for sentence in candidate { for token in sentence { candidateCounts[token, default: 0] += 1 } }
        var hits = 0
        for sentence in reference {
            var union = Set<Int>()
            for other in candidate { union.formUnion(LCSTable(sentence, other).referenceIndices) }
            for index in union.sorted() {
                let token = sentence[index]
                if candidateCounts[token, default: 0] > 0 && referenceCounts[token, default: 0] > 0 {
                    hits += 1
                    candidateCounts[token, default: 0] -= 1
                    referenceCounts[token, default: 0] -= 1
                }
            }
        }
        return Score(precision: Double(hits) / Double(candidateLength), recall: Double(hits) / Double(referenceLength))
    }
}

import Foundation

/// BLEU as sacrebleu 2.4 computes it with its defaults: the `13a` tokenizer (mteval-v13a, as
/// WMT uses), n-grams up to 4, `exp` smoothing, one reference per prediction. Scores are on
/// sacrebleu's 0–100 scale.
public enum BLEU {
    static let maxOrder = 4

    /// The counts a score is computed from; a corpus's statistics are the sums of its segments'.
    public struct Statistics: Sendable, Equatable {
        public var predictionLength = 0
        public var referenceLength = 0
        /// Per order 1...4: the prediction's n-grams found in the reference (clipped), and all of them.
        public var matches = [Int](repeating: 0, count: BLEU.maxOrder)
        public var totals = [Int](repeating: 0, count: BLEU.maxOrder)

        public init() {}

        public static func + (a: Statistics, b: Statistics) -> Statistics {
            var sum = a
            sum.predictionLength += b.predictionLength
            sum.referenceLength += b.referenceLength
            for n in 0..<BLEU.maxOrder {
                sum.matches[n] += b.matches[n]
                sum.totals[n] += b.totals[n]
            }
            return sum
        }
    }

    /// `sacrebleu.sentence_bleu(prediction, [reference])`: with effective order (orders with no
    /// n-gram at all do not count), as sacrebleu recommends for single sentences.
    public static func sentence(reference: String, prediction: String) -> Double {
        score(statistics(reference: reference, prediction: prediction), effectiveOrder: true)
    }

    /// `sacrebleu.corpus_bleu(predictions, [references])`: the statistics of all segments summed,
    /// then scored once.
    public static func corpus(_ pairs: [(reference: String, prediction: String)]) -> Double {
        let total = pairs.reduce(Statistics()) { $0 + statistics(reference: $1.reference, prediction: $1.prediction) }
        return score(total, effectiveOrder: false)
    }

    public static func statistics(reference: String, prediction: String) -> Statistics {
        var vocabulary = TokenIDs()
        let predictionTokens = vocabulary.ids(of: Tokenizer13a.tokens(prediction))
        let referenceTokens = vocabulary.ids(of: Tokenizer13a.tokens(reference))
        var stats = Statistics()
        stats.predictionLength = predictionTokens.count
        stats.referenceLength = referenceTokens.count
        for n in 1...maxOrder {
            let predicted = NGramCounts(predictionTokens, order: n)
            stats.totals[n - 1] = predicted.total
            stats.matches[n - 1] = predicted.matches(in: NGramCounts(referenceTokens, order: n))
        }
        return stats
    }

    /// sacrebleu's `compute_bleu` with `exp` smoothing: an order with no match counts as a
    /// precision of 100 / (2^k · total), k counting such orders so far.
    public static func score(_ stats: Statistics, effectiveOrder: Bool) -> Double {
        let (hypothesis, reference) = (stats.predictionLength, stats.referenceLength)
        let brevityPenalty = hypothesis < reference ? (hypothesis > 0 ? exp(1 - Double(reference) / Double(hypothesis)) : 0) : 1
        guard stats.matches.contains(where: { $0 != 0 }) else { return 0 }
        var precisions = [Double](repeating: 0, count: maxOrder)
        var smoothing = 1.0
        var order = maxOrder
        for n in 1...maxOrder {
            let total = Double(stats.totals[n - 1])
            if total == 0 { break }
            if effectiveOrder { order = n }
            if stats.matches[n - 1] == 0 {
                smoothing *= 2
                precisions[n - 1] = 100 / (smoothing * total)
            } else {
                precisions[n - 1] = 100 * Double(stats.matches[n - 1]) / total
            }
        }
        // sacrebleu floors log(0) at -9999999999 (an order cut short by `break` keeps precision 0).
        let logSum = precisions[..<order].reduce(0.0) { $0 + ($1 == 0 ? -9_999_999_999 : log($1)) }
        return brevityPenalty * exp(logSum / Double(order))
    }
}

/// sacrebleu's `13a` tokenizer: mteval-v13a's rules, which split punctuation off words but keep
/// decimal points and thousands separators between digits.
enum Tokenizer13a {
    static func tokens(_ text: String) -> [CodePoints] {
        // BLEU strips the segment's trailing space before tokenizing.
        var line = PythonText.stripTrailingSpace(text.codePoints)
        line = PythonText.replace("<skipped>", with: "", in: line)
        line = PythonText.replace("-\n", with: "", in: line)
        line = PythonText.replace("\n", with: " ", in: line)
        if line.contains(0x26) {   // &
            for (entity, character) in [("&quot;", "\""), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")] {
                line = PythonText.replace(entity, with: character, in: line)
            }
        }
        line = [0x20] + line + [0x20]
        // The four regular expressions of sacrebleu's TokenizerRegexp, applied in turn, each as
        // `re.sub` does: left to right, a match consuming its characters.
        line = line.flatMap { isSplitPunctuation($0) ? [0x20, $0, 0x20] : [$0] }
        line = substitutePairs(line, { !isDigit($0) }, isPointOrComma) { [$0, 0x20, $1, 0x20] }   // ([^0-9])([\.,]) -> \1 \2
        line = substitutePairs(line, isPointOrComma, { !isDigit($0) }) { [0x20, $0, 0x20, $1] }   // ([\.,])([^0-9]) -> ' \1 \2'
        line = substitutePairs(line, isDigit, { $0 == 0x2D }) { [$0, 0x20, $1, 0x20] }           // ([0-9])(-) -> \1 \2
        return PythonText.split(line)
    }

    /// `[\{-\~\[-\` -\&\(-\+\:-\@\/]`: ASCII symbols other than `'`, `-`, `.` and `,` (and space).
    static func isSplitPunctuation(_ c: UInt32) -> Bool {
        switch c {
        case 0x7B...0x7E, 0x5B...0x60, 0x20...0x26, 0x28...0x2B, 0x3A...0x40, 0x2F: true
        default: false
        }
    }

    static func isDigit(_ c: UInt32) -> Bool { (0x30...0x39).contains(c) }
    static func isPointOrComma(_ c: UInt32) -> Bool { c == 0x2E || c == 0x2C }

    /// `re.sub` of a two-character pattern `(A)(B)`.
    static func substitutePairs(_ text: CodePoints, _ first: (UInt32) -> Bool, _ second: (UInt32) -> Bool,
                                _ replacement: (UInt32, UInt32) -> CodePoints) -> CodePoints {
        var result: CodePoints = []
        result.reserveCapacity(text.count + text.count / 4)
        var i = 0
        while i < text.count {
            if i + 1 < text.count, first(text[i]), second(text[i + 1]) {
                result += replacement(text[i], text[i + 1])
                i += 2
            } else {
                result.append(text[i])
                i += 1
            }
        }
        return result
    }
}

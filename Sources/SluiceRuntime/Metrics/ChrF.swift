/// chrF as sacrebleu 2.4 computes it with its defaults: character n-grams of orders 1...6 with
/// whitespace removed, no word n-grams, β = 2, case-sensitive, one reference per prediction.
/// Scores are on sacrebleu's 0–100 scale.
public enum ChrF {
    static let charOrder = 6
    static let beta = 2.0

    /// Per order: the prediction's n-grams (0 when the reference has none), the reference's, and
    /// the clipped matches. A corpus's statistics are the sums of its segments'.
    public struct Statistics: Sendable, Equatable {
        public var prediction = [Int](repeating: 0, count: ChrF.charOrder)
        public var reference = [Int](repeating: 0, count: ChrF.charOrder)
        public var matches = [Int](repeating: 0, count: ChrF.charOrder)

        public init() {}

        public static func + (a: Statistics, b: Statistics) -> Statistics {
            var sum = a
            for n in 0..<ChrF.charOrder {
                sum.prediction[n] += b.prediction[n]
                sum.reference[n] += b.reference[n]
                sum.matches[n] += b.matches[n]
            }
            return sum
        }
    }

    /// `sacrebleu.sentence_chrf(prediction, [reference])`.
    public static func sentence(reference: String, prediction: String) -> Double {
        score(statistics(reference: reference, prediction: prediction))
    }

    /// `sacrebleu.corpus_chrf(predictions, [references])`: statistics summed, then scored once.
    public static func corpus(_ pairs: [(reference: String, prediction: String)]) -> Double {
        score(pairs.reduce(Statistics()) { $0 + statistics(reference: $1.reference, prediction: $1.prediction) })
    }

    public static func statistics(reference: String, prediction: String) -> Statistics {
        let predictionCharacters = prediction.codePoints.filter { !PythonText.isSpace($0) }
        let referenceCharacters = reference.codePoints.filter { !PythonText.isSpace($0) }
        var stats = Statistics()
        for n in 1...charOrder {
            let predicted = NGramCounts(predictionCharacters, order: n)
            let expected = NGramCounts(referenceCharacters, order: n)
            stats.prediction[n - 1] = expected.isEmpty ? 0 : predicted.total
            stats.reference[n - 1] = expected.total
            stats.matches[n - 1] = predicted.matches(in: expected)
        }
        return stats
    }

    /// sacrebleu's `_compute_f_score` without epsilon smoothing: the F-β of the precision and
    /// recall averaged over the orders where both sides have n-grams.
    public static func score(_ stats: Statistics) -> Double {
        let factor = beta * beta
        var averagePrecision = 0.0, averageRecall = 0.0
        var effectiveOrder = 0
        for n in 0..<charOrder where stats.prediction[n] > 0 && stats.reference[n] > 0 {
            averagePrecision += Double(stats.matches[n]) / Double(stats.prediction[n])
            averageRecall += Double(stats.matches[n]) / Double(stats.reference[n])
            effectiveOrder += 1
        }
        guard effectiveOrder > 0 else { return 0 }
        averagePrecision /= Double(effectiveOrder)
        averageRecall /= Double(effectiveOrder)
        guard averagePrecision + averageRecall != 0 else { return 0 }
        return 100 * ((1 + factor) * averagePrecision * averageRecall / (factor * averagePrecision + averageRecall))
    }
}

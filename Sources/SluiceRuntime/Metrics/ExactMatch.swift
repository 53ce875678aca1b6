import Foundation

/// Exact match: 1 when the prediction equals the reference once leading and trailing whitespace
/// is trimmed from both, else 0 (the `exact` metric of `score`, and `sluice metric exact`).
public enum ExactMatch {
    public static func score(reference: String, prediction: String) -> Double {
        prediction.trimmingCharacters(in: .whitespacesAndNewlines) == reference.trimmingCharacters(in: .whitespacesAndNewlines) ? 1 : 0
    }

    /// The fraction of pairs that match. No pairs scores zero.
    public static func mean(_ pairs: [(reference: String, prediction: String)]) -> Double {
        pairs.isEmpty ? 0 : pairs.reduce(0.0) { $0 + score(reference: $1.reference, prediction: $1.prediction) } / Double(pairs.count)
    }
}

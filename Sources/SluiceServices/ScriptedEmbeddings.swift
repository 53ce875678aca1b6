import SluiceRuntime

/// Offline stand-in for an embedding model, so that `--replies` runs of pipelines that rerank
/// with embeddings or score similarity still work without a server: each text becomes a
/// normalised bag of its lowercased words, hashed into 256 dimensions (FNV-1a). Texts that share
/// words are close; it knows nothing of meaning.
extension ScriptedProvider: EmbeddingProvider {
    static let embeddingDimensions = 256

    public func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]] {
        texts.map(Self.hashedEmbedding)
    }

    static func hashedEmbedding(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: embeddingDimensions)
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            vector[Int(hash % UInt64(embeddingDimensions))] += 1
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }
}

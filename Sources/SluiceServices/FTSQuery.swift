/// Turns arbitrary user text into a safe FTS5 MATCH expression: every word becomes a quoted string,
/// joined with OR, so operators (`AND`, `NEAR(`, `*`, `"`, `^`, column filters) are searched as plain
/// words and user text can never cause an FTS syntax error. English stop words are left out of the
/// match, unless the text has nothing else: then all its words are searched.
enum FTSQuery {
    /// More words than this add little to BM25 ranking and only slow the query.
    static let maxTerms = 64

    /// The MATCH expression, or nil when the text has no words to search for.
    static func matchExpression(for text: String) -> String? {
        var contentTerms: [String] = []
        var stopTerms: [String] = []
        var seen: Set<String> = []
        var word = String.UnicodeScalarView()
        var hasLetterOrDigit = false

        func finishWord() {
            defer { word = String.UnicodeScalarView(); hasLetterOrDigit = false }
            guard hasLetterOrDigit else { return }
            let term = String(word)
            let folded = term.lowercased()
            guard seen.insert(folded).inserted else { return }
            if englishStopWords.contains(folded) {
                if stopTerms.count < maxTerms { stopTerms.append(term) }
            } else if contentTerms.count < maxTerms {
                contentTerms.append(term)
            }
        }

        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber, .privateUse:
                word.append(scalar)
                hasLetterOrDigit = true
            case .nonspacingMark, .spacingMark, .enclosingMark:
                word.append(scalar)
            default:
                finishWord()
            }
            if contentTerms.count == maxTerms { break }
        }
        finishWord()
        let terms = contentTerms.isEmpty ? stopTerms : contentTerms
        // A word holds only letters, digits and marks, never a quote, so quoting it is enough.
        return terms.isEmpty ? nil : terms.map { "\"\($0)\"" }.joined(separator: " OR ")
    }

    /// NLTK's English stop-word list (the 179-word one), without its contractions: words are split
    /// at the apostrophe, and the pieces ("don", "t", "ll", "ve", ...) are on the list themselves.
    /// Compared with the word lowercased.
    static let englishStopWords: Set<String> = [
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself", "yourselves",
        "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself",
        "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "these", "those",
        "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing",
        "a", "an", "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for", "with",
        "about", "against", "between", "into", "through", "during", "before", "after", "above", "below", "to", "from",
        "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "then", "once", "here", "there",
        "when", "where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such",
        "no", "nor", "not", "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don",
        "should", "now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren", "couldn", "didn", "doesn", "hadn", "hasn",
        "haven", "isn", "ma", "mightn", "mustn", "needn", "shan", "shouldn", "wasn", "weren", "won", "wouldn",
    ]
}

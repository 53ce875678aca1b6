/// Turns arbitrary user text into a safe FTS5 MATCH expression: every word becomes a quoted string,
/// joined with OR, so operators (`AND`, `NEAR(`, `*`, `"`, `^`, column filters) are searched as plain
/// words and user text can never cause an FTS syntax error.
enum FTSQuery {
    /// More words than this add little to BM25 ranking and only slow the query.
    static let maxTerms = 64

    /// The MATCH expression, or nil when the text has no words to search for.
    static func matchExpression(for text: String) -> String? {
        var terms: [String] = []
        var seen: Set<String> = []
        var word = String.UnicodeScalarView()
        var hasLetterOrDigit = false

        func finishWord() {
            defer { word = String.UnicodeScalarView(); hasLetterOrDigit = false }
            guard hasLetterOrDigit, terms.count < maxTerms else { return }
            let term = String(word)
            if seen.insert(term.lowercased()).inserted { terms.append(term) }
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
        }
        finishWord()
        // A word holds only letters, digits and marks, never a quote, so quoting it is enough.
        return terms.isEmpty ? nil : terms.map { "\"\($0)\"" }.joined(separator: " OR ")
    }
}

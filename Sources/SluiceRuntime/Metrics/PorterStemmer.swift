/// The Porter stemmer exactly as nltk 3.x's `PorterStemmer()` runs it by default (mode
/// `NLTK_EXTENSIONS`), which is what Google's rouge-score applies with `use_stemmer=True`.
/// nltk's extensions to Porter's 1980 algorithm: a table of irregular forms, words of one or two
/// letters left alone, and the rule changes marked below. Words are lowercase ASCII, as the
/// ROUGE tokenizer produces them.
public enum PorterStemmer {
    typealias Word = [UInt8]

    public static func stem(_ word: String) -> String {
        String(decoding: stem(Array(word.lowercased().utf8)), as: UTF8.self)
    }

    static func stem(_ word: Word) -> Word {
        if let irregular = irregularForms[word] { return irregular }
        if word.count <= 2 { return word }
        var stem = step1a(word)
        stem = step1b(stem)
        stem = step1c(stem)
        stem = step2(stem)
        stem = step3(stem)
        stem = step4(stem)
        stem = step5a(stem)
        return step5b(stem)
    }

    static let irregularForms: [Word: Word] = {
        let forms: [String: [String]] = [
            "sky": ["sky", "skies"], "die": ["dying"], "lie": ["lying"], "tie": ["tying"], "news": ["news"],
            "inning": ["innings", "inning"], "outing": ["outings", "outing"], "canning": ["cannings", "canning"],
            "howe": ["howe"], "proceed": ["proceed"], "exceed": ["exceed"], "succeed": ["succeed"],
        ]
        var table: [Word: Word] = [:]
        for (stem, words) in forms { for word in words { table[Array(word.utf8)] = Array(stem.utf8) } }
        return table
    }()

    // MARK: consonants and measure

    static func isVowelLetter(_ c: UInt8) -> Bool { c == 0x61 || c == 0x65 || c == 0x69 || c == 0x6F || c == 0x75 }

    /// Whether each letter is a consonant: `y` is one at the start or after a vowel.
    static func consonantFlags(_ word: ArraySlice<UInt8>) -> [Bool] {
        var flags: [Bool] = []
        flags.reserveCapacity(word.count)
        for c in word {
            if isVowelLetter(c) { flags.append(false) }
            else if c == 0x79 { flags.append(flags.last.map { !$0 } ?? true) }
            else { flags.append(true) }
        }
        return flags
    }

    static func isConsonant(_ word: ArraySlice<UInt8>, _ i: Int) -> Bool { consonantFlags(word[word.startIndex...(word.startIndex + i)]).last! }

    /// m in [C](VC)^m[V]: the number of vowel–consonant boundaries.
    static func measure(_ stem: ArraySlice<UInt8>) -> Int {
        let flags = consonantFlags(stem)
        var count = 0
        for i in flags.indices.dropFirst() where !flags[i - 1] && flags[i] { count += 1 }
        return count
    }

    static func containsVowel(_ stem: ArraySlice<UInt8>) -> Bool { consonantFlags(stem).contains(false) }

    static func endsDoubleConsonant(_ word: ArraySlice<UInt8>) -> Bool {
        word.count >= 2 && word[word.endIndex - 1] == word[word.endIndex - 2] && isConsonant(word, word.count - 1)
    }

    /// *o: consonant–vowel–consonant, the last not w, x or y; nltk also counts a two-letter
    /// vowel–consonant word.
    static func endsCVC(_ word: ArraySlice<UInt8>) -> Bool {
        let n = word.count
        if n >= 3 {
            let flags = consonantFlags(word)
            if flags[n - 3] && !flags[n - 2] && flags[n - 1] && ![0x77, 0x78, 0x79].contains(word[word.endIndex - 1]) { return true }
        }
        if n == 2 {
            let flags = consonantFlags(word)
            return !flags[0] && flags[1]
        }
        return false
    }

    // MARK: rules

    /// A rule: a suffix (`*d` for a double consonant), its replacement, and a condition on the stem.
    struct Rule {
        var suffix: String
        var replacement: String
        var condition: ((ArraySlice<UInt8>) -> Bool)?
        init(_ suffix: String, _ replacement: String, _ condition: ((ArraySlice<UInt8>) -> Bool)? = nil) {
            self.suffix = suffix; self.replacement = replacement; self.condition = condition
        }
    }

    static let doubleConsonant = "*d"

    static func ends(_ word: Word, _ suffix: String) -> Bool {
        let s = Array(suffix.utf8)
        return word.count >= s.count && word[(word.count - s.count)...].elementsEqual(s)
    }

    /// The first rule whose suffix the word ends with decides: the word with the suffix replaced
    /// when the condition holds, else the word unchanged.
    static func applyFirst(_ word: Word, _ rules: [Rule]) -> Word {
        for rule in rules {
            if rule.suffix == doubleConsonant, endsDoubleConsonant(word[...]) {
                let stem = word[..<(word.count - 2)]
                return rule.condition.map { $0(stem) } ?? true ? Array(stem) + Array(rule.replacement.utf8) : word
            }
            if ends(word, rule.suffix) {
                let stem = word[..<(word.count - rule.suffix.utf8.count)]
                return rule.condition.map { $0(stem) } ?? true ? Array(stem) + Array(rule.replacement.utf8) : word
            }
        }
        return word
    }

    static func replacingSuffix(_ word: Word, _ count: Int, _ replacement: String) -> Word {
        Array(word[..<(word.count - count)]) + Array(replacement.utf8)
    }

    static func positiveMeasure(_ stem: ArraySlice<UInt8>) -> Bool { measure(stem) > 0 }
    static func measureAboveOne(_ stem: ArraySlice<UInt8>) -> Bool { measure(stem) > 1 }

    static func step1a(_ word: Word) -> Word {
        // nltk: "ties" → "tie", not "ti".
        if ends(word, "ies") && word.count == 4 { return replacingSuffix(word, 3, "ie") }
        return applyFirst(word, [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")])
    }

    static func step1b(_ word: Word) -> Word {
        // nltk: "died" → "die", "spied" → "spi".
        if ends(word, "ied") { return replacingSuffix(word, 3, word.count == 4 ? "ie" : "i") }
        if ends(word, "eed") {
            let stem = word[..<(word.count - 3)]
            return measure(stem) > 0 ? Array(stem) + Array("ee".utf8) : word
        }
        var intermediate: Word?
        for suffix in ["ed", "ing"] where ends(word, suffix) {
            let stem = word[..<(word.count - suffix.utf8.count)]
            if containsVowel(stem) { intermediate = Array(stem); break }
        }
        guard let stem = intermediate else { return word }
        let last = stem.last.map { String(UnicodeScalar($0)) } ?? ""
        return applyFirst(stem, [
            Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize"),
            Rule(doubleConsonant, last) { _ in !["l", "s", "z"].contains(last) },
            Rule("", "e") { measure($0) == 1 && endsCVC($0) },
        ])
    }

    static func step1c(_ word: Word) -> Word {
        // nltk: y → i only after a consonant that is not the first letter ("cry" → "cri", "say" stays).
        applyFirst(word, [Rule("y", "i") { $0.count > 1 && isConsonant($0, $0.count - 1) }])
    }

    static func step2(_ word: Word) -> Word {
        // nltk: "alli" → "al", then step 2 again.
        if ends(word, "alli"), measure(word[..<(word.count - 4)]) > 0 {
            return step2(replacingSuffix(word, 4, "al"))
        }
        let m: (ArraySlice<UInt8>) -> Bool = positiveMeasure
        return applyFirst(word, [
            Rule("ational", "ate", m), Rule("tional", "tion", m), Rule("enci", "ence", m), Rule("anci", "ance", m),
            Rule("izer", "ize", m), Rule("bli", "ble", m), Rule("alli", "al", m), Rule("entli", "ent", m),
            Rule("eli", "e", m), Rule("ousli", "ous", m), Rule("ization", "ize", m), Rule("ation", "ate", m),
            Rule("ator", "ate", m), Rule("alism", "al", m), Rule("iveness", "ive", m), Rule("fulness", "ful", m),
            Rule("ousness", "ous", m), Rule("aliti", "al", m), Rule("iviti", "ive", m), Rule("biliti", "ble", m),
            // nltk's additions; `logi` tests the measure of the word less "ogi", as nltk does.
            Rule("fulli", "ful", m), Rule("logi", "log") { _ in measure(word[..<(word.count - 3)]) > 0 },
        ])
    }

    static func step3(_ word: Word) -> Word {
        let m: (ArraySlice<UInt8>) -> Bool = positiveMeasure
        return applyFirst(word, [
            Rule("icate", "ic", m), Rule("ative", "", m), Rule("alize", "al", m), Rule("iciti", "ic", m),
            Rule("ical", "ic", m), Rule("ful", "", m), Rule("ness", "", m),
        ])
    }

    static func step4(_ word: Word) -> Word {
        let m: (ArraySlice<UInt8>) -> Bool = measureAboveOne
        return applyFirst(word, [
            Rule("al", "", m), Rule("ance", "", m), Rule("ence", "", m), Rule("er", "", m), Rule("ic", "", m),
            Rule("able", "", m), Rule("ible", "", m), Rule("ant", "", m), Rule("ement", "", m), Rule("ment", "", m),
            Rule("ent", "", m), Rule("ion", "") { measure($0) > 1 && ($0.last == 0x73 || $0.last == 0x74) },
            Rule("ou", "", m), Rule("ism", "", m), Rule("ate", "", m), Rule("iti", "", m), Rule("ous", "", m),
            Rule("ive", "", m), Rule("ize", "", m),
        ])
    }

    static func step5a(_ word: Word) -> Word {
        guard word.last == 0x65 else { return word }   // e
        let stem = word.dropLast()
        let m = measure(stem)
        return m > 1 || (m == 1 && !endsCVC(stem)) ? Array(stem) : word
    }

    static func step5b(_ word: Word) -> Word {
        applyFirst(word, [Rule("ll", "l") { _ in measure(word.dropLast()) > 1 }])
    }
}

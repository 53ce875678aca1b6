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

    /// A rule: a suffix, its replacement, and a condition on the stem (the word less the suffix)
    /// and the whole word. The tables are built once.
    struct Rule: Sendable {
        var suffix: Word
        var replacement: Word
        var condition: @Sendable (_ stem: ArraySlice<UInt8>, _ word: Word) -> Bool
        init(_ suffix: String, _ replacement: String, _ condition: @escaping @Sendable (_ stem: ArraySlice<UInt8>, _ word: Word) -> Bool = { _, _ in true }) {
            self.suffix = Array(suffix.utf8); self.replacement = Array(replacement.utf8); self.condition = condition
        }
        init(_ suffix: String, _ replacement: String, stem condition: @escaping @Sendable (ArraySlice<UInt8>) -> Bool) {
            self.init(suffix, replacement) { stem, _ in condition(stem) }
        }
    }

    static func ends(_ word: Word, _ suffix: String) -> Bool { ends(word, Array(suffix.utf8)) }

    static func ends(_ word: Word, _ suffix: Word) -> Bool {
        word.count >= suffix.count && word[(word.count - suffix.count)...].elementsEqual(suffix)
    }

    /// The first rule whose suffix the word ends with decides: the word with the suffix replaced
    /// when the condition holds, else the word unchanged.
    static func applyFirst(_ word: Word, _ rules: [Rule]) -> Word {
        for rule in rules where ends(word, rule.suffix) {
            let stem = word[..<(word.count - rule.suffix.count)]
            return rule.condition(stem, word) ? Array(stem) + rule.replacement : word
        }
        return word
    }

    static func replacingSuffix(_ word: Word, _ count: Int, _ replacement: String) -> Word {
        Array(word[..<(word.count - count)]) + Array(replacement.utf8)
    }

    @Sendable static func positiveMeasure(_ stem: ArraySlice<UInt8>) -> Bool { measure(stem) > 0 }
    @Sendable static func measureAboveOne(_ stem: ArraySlice<UInt8>) -> Bool { measure(stem) > 1 }

    static let step1aRules = [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")]

    static func step1a(_ word: Word) -> Word {
        // nltk: "ties" → "tie", not "ti".
        if ends(word, "ies") && word.count == 4 { return replacingSuffix(word, 3, "ie") }
        return applyFirst(word, step1aRules)
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
        for rule in step1bRules where ends(stem, rule.suffix) { return Array(stem.dropLast(rule.suffix.count)) + rule.replacement }
        // A double consonant other than l, s or z loses its last letter ("hopp" → "hop").
        if endsDoubleConsonant(stem[...]) {
            return ![0x6C, 0x73, 0x7A].contains(stem.last!) ? Array(stem.dropLast()) : stem
        }
        return measure(stem[...]) == 1 && endsCVC(stem[...]) ? stem + [0x65] : stem
    }

    static let step1bRules = [Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize")]

    // nltk: y → i only after a consonant that is not the first letter ("cry" → "cri", "say" stays).
    static let step1cRules = [Rule("y", "i", stem: { $0.count > 1 && isConsonant($0, $0.count - 1) })]

    static func step1c(_ word: Word) -> Word { applyFirst(word, step1cRules) }

    static func step2(_ word: Word) -> Word {
        // nltk: "alli" → "al", then step 2 again.
        if ends(word, "alli"), measure(word[..<(word.count - 4)]) > 0 {
            return step2(replacingSuffix(word, 4, "al"))
        }
        return applyFirst(word, step2Rules)
    }

    static let step2Rules: [Rule] = {
        let m = positiveMeasure
        return [
            Rule("ational", "ate", stem: m), Rule("tional", "tion", stem: m), Rule("enci", "ence", stem: m), Rule("anci", "ance", stem: m),
            Rule("izer", "ize", stem: m), Rule("bli", "ble", stem: m), Rule("alli", "al", stem: m), Rule("entli", "ent", stem: m),
            Rule("eli", "e", stem: m), Rule("ousli", "ous", stem: m), Rule("ization", "ize", stem: m), Rule("ation", "ate", stem: m),
            Rule("ator", "ate", stem: m), Rule("alism", "al", stem: m), Rule("iveness", "ive", stem: m), Rule("fulness", "ful", stem: m),
            Rule("ousness", "ous", stem: m), Rule("aliti", "al", stem: m), Rule("iviti", "ive", stem: m), Rule("biliti", "ble", stem: m),
            // nltk's additions; `logi` tests the measure of the word less "ogi", as nltk does.
            Rule("fulli", "ful", stem: m), Rule("logi", "log") { _, word in measure(word[..<(word.count - 3)]) > 0 },
        ]
    }()

    static let step3Rules: [Rule] = {
        let m = positiveMeasure
        return [
            Rule("icate", "ic", stem: m), Rule("ative", "", stem: m), Rule("alize", "al", stem: m), Rule("iciti", "ic", stem: m),
            Rule("ical", "ic", stem: m), Rule("ful", "", stem: m), Rule("ness", "", stem: m),
        ]
    }()

    static func step3(_ word: Word) -> Word { applyFirst(word, step3Rules) }

    static let step4Rules: [Rule] = {
        let m = measureAboveOne
        return [
            Rule("al", "", stem: m), Rule("ance", "", stem: m), Rule("ence", "", stem: m), Rule("er", "", stem: m), Rule("ic", "", stem: m),
            Rule("able", "", stem: m), Rule("ible", "", stem: m), Rule("ant", "", stem: m), Rule("ement", "", stem: m),
            Rule("ment", "", stem: m), Rule("ent", "", stem: m),
            Rule("ion", "", stem: { measure($0) > 1 && ($0.last == 0x73 || $0.last == 0x74) }),
            Rule("ou", "", stem: m), Rule("ism", "", stem: m), Rule("ate", "", stem: m), Rule("iti", "", stem: m), Rule("ous", "", stem: m),
            Rule("ive", "", stem: m), Rule("ize", "", stem: m),
        ]
    }()

    static func step4(_ word: Word) -> Word { applyFirst(word, step4Rules) }

    static func step5a(_ word: Word) -> Word {
        guard word.last == 0x65 else { return word }   // e
        let stem = word.dropLast()
        let m = measure(stem)
        return m > 1 || (m == 1 && !endsCVC(stem)) ? Array(stem) : word
    }

    static let step5bRules = [Rule("ll", "l") { _, word in measure(word.dropLast()) > 1 }]

    static func step5b(_ word: Word) -> Word { applyFirst(word, step5bRules) }
}

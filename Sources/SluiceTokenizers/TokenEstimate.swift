/// A calibrated token estimate for models without a public tokenizer (Anthropic's, local models).
///
/// It is an estimate and says so: the `"estimate"` encoding. One pass over the UTF-8 bytes sorts
/// every scalar into a class and charges each class a fixed number of tokens:
///
/// | class | what | tokens |
/// | --- | --- | --- |
/// | ASCII word | each run of ASCII letters | 0.1698 per run |
/// | ASCII letter | a-z, A-Z | 0.2066 per byte |
/// | ASCII digit | 0-9 | 0.5906 per byte |
/// | punctuation run | each run of ASCII punctuation | 0.5001 per run |
/// | ASCII punctuation | the rest of printable ASCII | 0.1264 per byte |
/// | whitespace run | each run of two or more whitespace scalars | 1.7810 per run |
/// | CJK | Han, kana, Hangul, CJK punctuation, full-width forms | 0.2508 per byte |
/// | Cyrillic | U+0400–U+052F | 0.1502 per byte |
/// | other 2-byte | Latin accents, Greek, Hebrew, Arabic, ... | 0.2104 per byte |
/// | other 3-byte | Indic, Thai, ... | 0.1433 per byte |
/// | symbols | emoji, pictographs, arrows, ZWJ, variation selectors | 0.4407 per byte |
///
/// The estimate is the sum, rounded up. The rates were fitted (non-negative least squares on the
/// relative error) to o200k_base counts of 640 samples from Benchmarks/tokenizer/corpus.py:
/// English prose, code, tables, emoji, and twelve other languages; `Benchmarks/tokenizer/calibrate.py`
/// repeats the fit and prints the error. Measured against o200k_base, the mean absolute error
/// is 1–7% for English prose, code, tables, emoji, CJK, Russian, Greek, French and Vietnamese
/// (bias within ±7%), 9–17% for German, Hindi, Thai, Arabic and Hebrew; on held-out text
/// (this repository's documentation, Swift sources and Sluice pipelines, in 4 KB pieces)
/// 3.9–8.9%, and on the 1 MB mixed benchmark corpus 2.8% (worst piece +10%). Models whose
/// tokenizer is not o200k_base (Claude, Llama, ...) differ from o200k_base by a margin of their
/// own that is not measured here: budgets reserve against this estimate and settle at the usage
/// the provider reports.
public enum TokenEstimate {
    /// Tokens charged per unit of each feature (see the table above).
    static let rates: [Double] = [0.1698, 0.2066, 0.5906, 0.5001, 0.1264, 1.7810, 0.0, 0.2508, 0.1502, 0.2104, 0.1433, 0.4407]

    /// The estimated token count of `text`.
    public static func count(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { count(utf8: $0) }
    }

    /// The estimated token count of UTF-8 bytes (invalid sequences count as other 2-byte text).
    public static func count(utf8: UnsafeBufferPointer<UInt8>) -> Int {
        let f = features(utf8)
        var total = 0.0
        for i in 0..<rates.count { total += rates[i] * Double(f[i]) }
        return Int(total.rounded(.up))
    }

    private enum Kind { case letter, punct, space, other }

    /// ascii_word, ascii_letter, ascii_digit, punct_run, ascii_punct, space_run, newline, cjk,
    /// cyrillic, other2, other3, symbol (the order of calibrate.py's CLASSES).
    static func features(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var f = [Int](repeating: 0, count: 12)
        var previous = Kind.other
        var spaceRun = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            var kind = Kind.other
            if b < 0x80 {
                switch b {
                case 0x41...0x5A, 0x61...0x7A:
                    kind = .letter
                    f[1] += 1
                    if previous != .letter { f[0] += 1 }
                case 0x30...0x39:
                    f[2] += 1
                case 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C:
                    kind = .space
                    if b == 0x0A { f[6] += 1 }
                default:
                    kind = .punct
                    f[4] += 1
                    if previous != .punct { f[3] += 1 }
                }
                i += 1
            } else {
                let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                var cp = UInt32(b) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
                var k = 1
                while k < length, i + k < n { cp = cp << 6 | UInt32(bytes[i + k] & 0x3F); k += 1 }
                if isCJK(cp) { f[7] += length }
                else if isSymbol(cp) { f[11] += length }
                else if cp >= 0x0400 && cp <= 0x052F { f[8] += length }
                else if length == 2 { f[9] += length }
                else { f[10] += length }
                i += length
            }
            if kind == .space {
                spaceRun += 1
                if spaceRun == 2 { f[5] += 1 }
            } else {
                spaceRun = 0
            }
            previous = kind
        }
        return f
    }

    @inline(__always) static func isCJK(_ cp: UInt32) -> Bool {
        (0x1100...0x11FF).contains(cp) || (0x2E80...0x9FFF).contains(cp) || (0xA960...0xA97F).contains(cp)
            || (0xAC00...0xD7FF).contains(cp) || (0xF900...0xFAFF).contains(cp) || (0xFE30...0xFE4F).contains(cp)
            || (0xFF00...0xFFEF).contains(cp) || (0x20000...0x3FFFF).contains(cp)
    }

    @inline(__always) static func isSymbol(_ cp: UInt32) -> Bool {
        cp >= 0x1F000 || (0x2190...0x2BFF).contains(cp) || cp == 0x200D || cp == 0xFE0F
    }
}

// The character classes of tiktoken's pre-tokenization patterns, for every Unicode scalar,
// in a two-stage lookup table generated into UnicodeClasses.swift.

/// Bits of a scalar's class mask (the same bits as make-unicode-classes.py writes).
enum CharClass {
    static let letter: UInt8 = 1        // \p{L}
    static let number: UInt8 = 2        // \p{N}
    static let space: UInt8 = 4         // \s
    static let upper: UInt8 = 8         // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]   (o200k)
    static let lower: UInt8 = 16        // [\p{Ll}\p{Lm}\p{Lo}\p{M}]          (o200k)
    static let newline: UInt8 = 32      // \r or \n
}

/// Scalar → class mask. Stage 1 maps each block of 256 scalars to a block in stage 2;
/// identical blocks are shared, so the table is small (~36 KB). Both stages are generated
/// (UnicodeClasses.swift); starting only turns their hexadecimal digits into bytes.
final class CharClassTable: @unchecked Sendable {
    static let shared = CharClassTable()

    /// Allocated once and never freed (the table lives as long as the process); read-only after init.
    let stage1: UnsafeMutablePointer<UInt8>
    let stage2: UnsafeMutablePointer<UInt8>
    /// The block of stage 2 that holds scalars 0..<256 (so ASCII is one load).
    let latin: UnsafeMutablePointer<UInt8>

    private init() {
        stage1 = Self.bytes(ofHexDigits: unicodeClassStage1)
        stage2 = Self.bytes(ofHexDigits: unicodeClassStage2)
        latin = stage2 + Int(stage1[0]) << 8
    }

    /// The bytes that `digits` (pairs of hexadecimal digits, line breaks between pairs) spell.
    private static func bytes(ofHexDigits digits: String) -> UnsafeMutablePointer<UInt8> {
        var digits = digits
        return digits.withUTF8 { utf8 in
            let out = UnsafeMutablePointer<UInt8>.allocate(capacity: utf8.count / 2)
            var count = 0, high: UInt8? = nil
            for digit in utf8 where digit != 0x0A {
                let value = digit <= 0x39 ? digit &- 0x30 : digit &- 0x41 &+ 10
                if let first = high {
                    out[count] = first << 4 | value
                    count += 1
                    high = nil
                } else {
                    high = value
                }
            }
            return out
        }
    }

    @inline(__always) func mask(_ scalar: UInt32) -> UInt8 {
        stage2[Int(stage1[Int(scalar >> 8)]) << 8 | Int(scalar & 0xFF)]
    }
}

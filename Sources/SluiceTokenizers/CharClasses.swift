// The character classes of tiktoken's pre-tokenization patterns, for every Unicode scalar,
// in a two-stage lookup table built once from the generated runs in UnicodeClasses.swift.

/// Bits of a scalar's class mask (the same bits as `unicodeClassRuns`).
enum CharClass {
    static let letter: UInt8 = 1        // \p{L}
    static let number: UInt8 = 2        // \p{N}
    static let space: UInt8 = 4         // \s
    static let upper: UInt8 = 8         // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]   (o200k)
    static let lower: UInt8 = 16        // [\p{Ll}\p{Lm}\p{Lo}\p{M}]          (o200k)
    static let newline: UInt8 = 32      // \r or \n (not in the generated runs; added here)
}

/// Scalar → class mask. Stage 1 maps each block of 256 scalars to a block in stage 2;
/// identical blocks are shared, so the table is small (~60 KB).
final class CharClassTable: @unchecked Sendable {
    static let shared = CharClassTable()

    /// Allocated once and never freed (the table lives as long as the process); read-only after init.
    let stage1: UnsafeMutablePointer<UInt16>
    let stage2: UnsafeMutablePointer<UInt8>
    /// The block of stage 2 that holds scalars 0..<256 (so ASCII is one load).
    let latin: UnsafeMutablePointer<UInt8>

    private init() {
        var flat = [UInt8](repeating: 0, count: 0x110000)
        var runs: [(start: Int, mask: UInt8)] = []
        for item in unicodeClassRuns.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = item.split(separator: ":")
            runs.append((Int(parts[0], radix: 16)!, UInt8(parts[1])!))
        }
        for (i, run) in runs.enumerated() {
            let end = i + 1 < runs.count ? runs[i + 1].start : 0x110000
            if run.mask != 0 { for cp in run.start..<end { flat[cp] = run.mask } }
        }
        flat[0x0A] |= CharClass.newline
        flat[0x0D] |= CharClass.newline
        var blocks: [ArraySlice<UInt8>: UInt16] = [:]
        var stage1 = [UInt16](repeating: 0, count: 0x110000 >> 8)
        var stage2: [UInt8] = []
        for b in 0..<(0x110000 >> 8) {
            let block = flat[(b << 8)..<((b + 1) << 8)]
            if let index = blocks[block] {
                stage1[b] = index
            } else {
                let index = UInt16(stage2.count >> 8)
                blocks[block] = index
                stage1[b] = index
                stage2.append(contentsOf: block)
            }
        }
        self.stage1 = .allocate(capacity: stage1.count)
        self.stage1.initialize(from: stage1, count: stage1.count)
        self.stage2 = .allocate(capacity: stage2.count)
        self.stage2.initialize(from: stage2, count: stage2.count)
        self.latin = self.stage2 + Int(stage1[0]) << 8
    }

    @inline(__always) func mask(_ scalar: UInt32) -> UInt8 {
        stage2[Int(stage1[Int(scalar >> 8)]) << 8 | Int(scalar & 0xFF)]
    }
}

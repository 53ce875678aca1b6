// The mergeable ranks of an encoding (token bytes → rank, which is also the token id), with a
// lookup by byte slice tuned for the BPE loop, and tiktoken's merge algorithm over it.

/// A rank file parsed into a hash table keyed by byte slices. Immutable after init; the buffers
/// are allocated once and freed with the table.
final class RankTable: @unchecked Sendable {
    static let none = UInt32.max

    private struct Slot {
        var head: UInt64     // the first min(8, length) bytes, little-endian, zero-padded
        var length: UInt32   // 0 marks an empty slot
        var rank: UInt32
    }

    /// All token bytes, concatenated in rank order; `offsets[r]..<offsets[r + 1]` are rank r's.
    let bytes: UnsafeMutablePointer<UInt8>
    let offsets: UnsafeMutablePointer<UInt32>
    let count: Int
    private let slots: UnsafeMutablePointer<Slot>
    private let slotShift: UInt64
    private let slotMask: Int
    /// Ranks of every two-byte sequence (or `none`): the first and most frequent lookups of BPE.
    private let pairs: UnsafeMutablePointer<UInt32>
    /// Ranks of single bytes (every byte is a token in a byte-level BPE).
    private let singles: UnsafeMutablePointer<UInt32>

    /// Parses tiktoken's format: one `BASE64 RANK` line per token. Ranks must be 0..<count, each
    /// once, and every single byte must be a token.
    init(parsing data: [UInt8], path: String) throws(TokenizerError) {
        var tokens: [(start: Int, end: Int, rank: Int)] = []
        var decoded: [UInt8] = []
        decoded.reserveCapacity(data.count)
        tokens.reserveCapacity(data.count / 12)
        var line = 1, i = 0
        while i < data.count {
            var j = i
            while j < data.count, data[j] != 0x0A { j += 1 }
            var space = i
            while space < j, data[space] != 0x20 { space += 1 }
            if j > i {
                guard space < j else { throw .malformed(path: path, line: line, reason: "expected `BASE64 RANK`") }
                let start = decoded.count
                guard Base64.decode(data[i..<space], into: &decoded), decoded.count > start else {
                    throw .malformed(path: path, line: line, reason: "invalid base64")
                }
                var rank = 0
                var k = space + 1
                guard k < j else { throw .malformed(path: path, line: line, reason: "missing rank") }
                while k < j {
                    let d = data[k]
                    if d == 0x0D, k == j - 1 { break }
                    guard d >= 0x30, d <= 0x39, rank < 1 << 31 else { throw .malformed(path: path, line: line, reason: "invalid rank") }
                    rank = rank * 10 + Int(d - 0x30)
                    k += 1
                }
                tokens.append((start, decoded.count, rank))
            }
            i = j + 1
            line += 1
        }
        // Ranks are token ids: they must be exactly 0..<count.
        var byRank = [Int](repeating: -1, count: tokens.count)
        for (index, token) in tokens.enumerated() {
            guard token.rank < tokens.count, byRank[token.rank] < 0 else {
                throw .malformed(path: path, line: index + 1, reason: "rank \(token.rank) repeated or out of range 0..<\(tokens.count)")
            }
            byRank[token.rank] = index
        }
        let count = tokens.count
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(decoded.count, 1))
        let offsets = UnsafeMutablePointer<UInt32>.allocate(capacity: count + 1)
        var offset = 0
        decoded.withUnsafeBufferPointer { source in
            for rank in 0..<count {
                let token = tokens[byRank[rank]]
                offsets[rank] = UInt32(offset)
                for b in token.start..<token.end { bytes[offset] = source[b]; offset += 1 }
            }
        }
        offsets[count] = UInt32(offset)
        self.count = count
        self.bytes = bytes
        self.offsets = offsets

        var bits: UInt64 = 4
        while (1 << bits) < count * 2 { bits += 1 }   // load factor below one half
        slotShift = 64 - bits
        slotMask = (1 << Int(bits)) - 1
        slots = .allocate(capacity: 1 << Int(bits))
        slots.initialize(repeating: Slot(head: 0, length: 0, rank: 0), count: 1 << Int(bits))
        pairs = .allocate(capacity: 65536)
        pairs.initialize(repeating: Self.none, count: 65536)
        singles = .allocate(capacity: 256)
        singles.initialize(repeating: Self.none, count: 256)

        for rank in 0..<count {
            let start = Int(offsets[rank]), length = Int(offsets[rank + 1]) - start
            let p = UnsafePointer(bytes + start)
            if length == 1 { singles[Int(p[0])] = UInt32(rank) }
            if length == 2 { pairs[Int(p[0]) << 8 | Int(p[1])] = UInt32(rank) }
            let head = Self.head(p, length)
            var slot = Int(Self.hash(head, p, length) >> slotShift)
            while slots[slot].length != 0 {
                if slots[slot].length == UInt32(length), slots[slot].head == head,
                   Self.tailsEqual(p, UnsafePointer(bytes + Int(offsets[Int(slots[slot].rank)])), length) {
                    throw .malformed(path: path, line: byRank[rank] + 1, reason: "token bytes repeated")
                }
                slot = (slot + 1) & slotMask
            }
            slots[slot] = Slot(head: head, length: UInt32(length), rank: UInt32(rank))
        }
        for b in 0..<256 where singles[b] == Self.none {
            throw .malformed(path: path, line: 0, reason: "byte \(b) is not a token")
        }
    }

    deinit {
        bytes.deallocate(); offsets.deallocate(); slots.deallocate(); pairs.deallocate(); singles.deallocate()
    }

    /// The first up-to-8 bytes at `p`, little-endian.
    @inline(__always) private static func head(_ p: UnsafePointer<UInt8>, _ length: Int) -> UInt64 {
        if length >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: UInt64.self).littleEndian }
        var v: UInt64 = 0
        for k in 0..<length { v |= UInt64(p[k]) << UInt64(k * 8) }
        return v
    }

    @inline(__always) private static func hash(_ head: UInt64, _ p: UnsafePointer<UInt8>, _ length: Int) -> UInt64 {
        var h = head ^ (UInt64(length) &* 0x9E37_79B9_7F4A_7C15)
        if length > 8 {
            h ^= UnsafeRawPointer(p + length - 8).loadUnaligned(as: UInt64.self).littleEndian &* 0xC2B2_AE3D_27D4_EB4F
        }
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 29)
    }

    @inline(__always) private static func tailsEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var k = 8
        while k + 8 <= length {
            if UnsafeRawPointer(a + k).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + k).loadUnaligned(as: UInt64.self) { return false }
            k += 8
        }
        while k < length {
            if a[k] != b[k] { return false }
            k += 1
        }
        return true
    }

    /// The rank of the token `p[0..<length]`, or `none`.
    @inline(__always) func rank(_ p: UnsafePointer<UInt8>, _ length: Int) -> UInt32 {
        if length <= 2 { return length == 2 ? pairs[Int(p[0]) << 8 | Int(p[1])] : singles[Int(p[0])] }
        let head = Self.head(p, length)
        var slot = Int(Self.hash(head, p, length) >> slotShift)
        while true {
            let s = slots[slot]
            if s.length == 0 { return Self.none }
            if s.length == UInt32(length), s.head == head {
                if length <= 8 || Self.tailsEqual(p, UnsafePointer(bytes + Int(offsets[Int(s.rank)])), length) { return s.rank }
            }
            slot = (slot + 1) & slotMask
        }
    }

    /// The bytes of token `rank`.
    @inline(__always) func token(_ rank: Int) -> UnsafeBufferPointer<UInt8> {
        let start = Int(offsets[rank])
        return UnsafeBufferPointer(start: bytes + start, count: Int(offsets[rank + 1]) - start)
    }

    // MARK: - Byte-pair merging

    /// Pieces longer than this are merged with a heap (O(n log n)) instead of tiktoken's
    /// O(n·m) scan; both pick the lowest-ranked adjacent pair, leftmost on ties, so the result is
    /// the same.
    static let heapThreshold = 256

    /// tiktoken's `byte_pair_encode` of `p[0..<n]` (n ≥ 2), calling `emit` with each token in order.
    @inline(__always) func merge(_ p: UnsafePointer<UInt8>, _ n: Int, _ emit: (UInt32) -> Void) {
        if n > Self.heapThreshold { return mergeLong(p, n, emit) }
        mergeShort(p, n, emit)
    }

    /// tiktoken's algorithm: a vector of parts, scanned for the lowest-ranked pair after each merge.
    @inline(__always) private func mergeShort(_ p: UnsafePointer<UInt8>, _ n: Int, _ emit: (UInt32) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 3 * (n + 1)) { buffer in
            let base = buffer.baseAddress!
            // Parts: starts[i] (byte offset), pairRank[i] (rank of part i joined with part i + 1),
            // token[i] (the rank of part i itself).
            let starts = base, pairRank = base + (n + 1), token = base + 2 * (n + 1)
            var minRank = Self.none, minIndex = 0
            for i in 0..<(n - 1) {
                let r = pairs[Int(p[i]) << 8 | Int(p[i + 1])]
                starts[i] = UInt32(i); pairRank[i] = r; token[i] = singles[Int(p[i])]
                if r < minRank { minRank = r; minIndex = i }
            }
            starts[n - 1] = UInt32(n - 1); pairRank[n - 1] = Self.none; token[n - 1] = singles[Int(p[n - 1])]
            starts[n] = UInt32(n); pairRank[n] = Self.none
            var parts = n + 1   // including the end sentinel

            while minRank != Self.none {
                let i = minIndex
                // Part i joined with part i + 1, before part i + 1 is removed (hence + 3). (Inline,
                // not a local function: one capturing `parts` would cost exclusivity checks.)
                if i > 0 {
                    let s = Int(starts[i - 1])
                    pairRank[i - 1] = i + 2 < parts ? rank(p + s, Int(starts[i + 2]) - s) : Self.none
                }
                let s = Int(starts[i])
                pairRank[i] = i + 3 < parts ? rank(p + s, Int(starts[i + 3]) - s) : Self.none
                token[i] = minRank
                // Remove part i + 1.
                let moved = parts - (i + 2)
                (starts + i + 1).update(from: starts + i + 2, count: moved)
                (pairRank + i + 1).update(from: pairRank + i + 2, count: moved)
                (token + i + 1).update(from: token + i + 2, count: moved)
                parts -= 1
                minRank = Self.none
                for k in 0..<(parts - 1) where pairRank[k] < minRank { minRank = pairRank[k]; minIndex = k }
            }
            for k in 0..<(parts - 1) { emit(token[k]) }
        }
    }

    /// `merge` forced onto one of its two algorithms (tests compare them).
    func mergeForTesting(_ p: UnsafePointer<UInt8>, _ n: Int, long: Bool, _ emit: (UInt32) -> Void) {
        if long { mergeLong(p, n, emit) } else { mergeShort(p, n, emit) }
    }

    /// The same merges for long pieces, with a linked list of parts and a binary heap of pairs
    /// keyed by (rank, start). A pair's bytes only ever grow, so a heap entry is current exactly
    /// when its part is alive and still has that pair rank.
    private func mergeLong(_ p: UnsafePointer<UInt8>, _ n: Int, _ emit: (UInt32) -> Void) {
        var next = [Int32](repeating: 0, count: n + 1)
        var prev = [Int32](repeating: 0, count: n + 1)
        var pairRank = [UInt32](repeating: Self.none, count: n + 1)
        var token = [UInt32](repeating: Self.none, count: n)
        var alive = [Bool](repeating: true, count: n + 1)
        var heap: [UInt64] = []
        heap.reserveCapacity(n)

        func push(_ key: UInt64) {
            heap.append(key)
            var c = heap.count - 1
            while c > 0 {
                let parent = (c - 1) / 2
                if heap[parent] <= heap[c] { break }
                heap.swapAt(parent, c); c = parent
            }
        }
        func pop() -> UInt64 {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var c = 0
                while true {
                    let l = 2 * c + 1, r = l + 1
                    var m = c
                    if l < heap.count, heap[l] < heap[m] { m = l }
                    if r < heap.count, heap[r] < heap[m] { m = r }
                    if m == c { break }
                    heap.swapAt(m, c); c = m
                }
            }
            return top
        }
        for i in 0..<n {
            next[i] = Int32(i + 1); prev[i] = Int32(i - 1); token[i] = singles[Int(p[i])]
            if i + 1 < n {
                let r = pairs[Int(p[i]) << 8 | Int(p[i + 1])]
                pairRank[i] = r
                if r != Self.none { push(UInt64(r) << 32 | UInt64(i)) }
            }
        }
        next[n] = Int32(n); prev[n] = Int32(n - 1)
        func pairRankOf(_ i: Int) -> UInt32 {
            let j = Int(next[i])
            guard j < n else { return Self.none }
            let k = Int(next[j])
            return rank(p + i, k - i)
        }
        while !heap.isEmpty {
            let key = pop()
            let r = UInt32(key >> 32), i = Int(key & 0xFFFF_FFFF)
            guard alive[i], pairRank[i] == r else { continue }
            // Merge part i with the next part.
            let j = Int(next[i])
            alive[j] = false
            let k = Int(next[j])
            next[i] = Int32(k)
            if k <= n { prev[k] = Int32(i) }
            token[i] = r
            let newRank = pairRankOf(i)
            pairRank[i] = newRank
            if newRank != Self.none { push(UInt64(newRank) << 32 | UInt64(i)) }
            let before = Int(prev[i])
            if before >= 0 {
                let r2 = pairRankOf(before)
                pairRank[before] = r2
                if r2 != Self.none { push(UInt64(r2) << 32 | UInt64(before)) }
            }
        }
        var i = 0
        while i < n { emit(token[i]); i = Int(next[i]) }
    }
}

/// Base64 (standard alphabet, with padding) as in the rank files.
enum Base64 {
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Appends the decoded bytes of `text` to `out`; false if it is not valid base64.
    static func decode(_ text: ArraySlice<UInt8>, into out: inout [UInt8]) -> Bool {
        var end = text.endIndex
        var padding = 0
        while end > text.startIndex, text[end - 1] == 0x3D, padding < 2 { end -= 1; padding += 1 }
        guard (end - text.startIndex + padding) % 4 == 0 else { return false }
        var acc: UInt32 = 0, bits = 0
        for i in text.startIndex..<end {
            let v = values[Int(text[i])]
            guard v != 0xFF else { return false }
            acc = acc << 6 | UInt32(v); bits += 6
            if bits >= 8 { bits -= 8; out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
        }
        return true
    }
}

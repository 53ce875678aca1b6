// The mergeable ranks of an encoding (token bytes → rank, which is also the token id), with a
// lookup by byte slice tuned for the BPE loop, and tiktoken's merge algorithm over it.


#if _endian(big)
#error("compiled rank tables are little-endian; this platform would need a byte-swapping loader")
#endif
import Foundation

/// The merge ranks of an encoding in the compiled form `Resources/<encoding>.ranks` holds: built
/// from tiktoken's rank file by `RankTable.compile` (which checks nothing is repeated or missing),
/// then mapped into memory as it is, so starting a tokenizer costs a file mapping and one pass of
/// bounds checks instead of hashing, base64 decoding and hash-table building. Layout, little-endian:
///
///     header (64 bytes): "SLUICERK", format version, token count, token-byte count, slot bits
///                        (UInt32 each), SHA-256 of the source rank file (32 bytes), 4 zero bytes
///     offsets: (count + 1) × UInt32   token r is bytes[offsets[r] ..< offsets[r + 1]]
///     slots: (1 << slot bits) × UInt32 token bytes → rank, open addressing with linear probing:
///                                      rank | tag << 20 (tag: 12 more bits of the hash, so a probe
///                                      rarely reads token bytes in vain), or `emptySlot`
///     bytes: token bytes concatenated in rank order, then 8 zero bytes (so an 8-byte load at any
///            token stays inside the image)
///
/// Immutable after init; the image (mapped or owned) and the derived tables are freed with it.
final class RankTable: @unchecked Sendable {
    static let none = UInt32.max

    static let magic: [UInt8] = Array("SLUICERK".utf8)
    static let formatVersion: UInt32 = 1
    static let headerSize = 64
    static let rankBits: UInt32 = 20
    static let rankMask: UInt32 = (1 << rankBits) - 1
    static let emptySlot = UInt32.max
    /// Ranks must stay below the mask, which (with every tag bit set) is the empty slot.
    static let maxTokens = Int(rankMask)

    /// Where the image lives and how it is given back.
    private enum Storage {
        case mapped(UnsafeRawPointer, length: Int)
        case owned(UnsafeMutableRawPointer)
    }

    private let storage: Storage
    /// All token bytes, concatenated in rank order; `offsets[r]..<offsets[r + 1]` are rank r's.
    let bytes: UnsafePointer<UInt8>
    let offsets: UnsafePointer<UInt32>
    let count: Int
    /// The SHA-256 (hex) of the rank file the table was compiled from.
    let sourceSHA256: String
    private let slots: UnsafePointer<UInt32>
    private let slotShift: UInt64
    private let slotMask: Int
    /// Ranks of every two-byte sequence (or `none`): the first and most frequent lookups of BPE.
    private let pairs: UnsafeMutablePointer<UInt32>
    /// Ranks of single bytes (every byte is a token in a byte-level BPE).
    private let singles: UnsafeMutablePointer<UInt32>

    /// Maps the compiled table at `path`. Only the layout is checked (every offset and rank in
    /// bounds, the table not full), which makes every lookup memory-safe; the content was checked
    /// when it was compiled, and the tests compile the shipped files again and compare.
    convenience init(mapping path: String) throws(TokenizerError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        let length = Int(info.st_size)
        guard length >= Self.headerSize else {
            throw .invalidCompiledTable(path: path, reason: "\(length) bytes, shorter than its header")
        }
        guard let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        do throws(TokenizerError) {
            try self.init(image: .mapped(UnsafeRawPointer(address), length: length), length: length, path: path)
        } catch {
            munmap(address, length)
            throw error
        }
    }

    /// A table over an image `compile` made (for a rank file that is not shipped compiled).
    convenience init(image: [UInt8], path: String) throws(TokenizerError) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(image.count, 1), alignment: 16)
        image.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: image.count) }
        do throws(TokenizerError) {
            try self.init(image: .owned(buffer), length: image.count, path: path)
        } catch {
            buffer.deallocate()
            throw error
        }
    }

    private init(image storage: Storage, length: Int, path: String) throws(TokenizerError) {
        let base: UnsafeRawPointer
        switch storage {
        case .mapped(let address, _): base = address
        case .owned(let buffer): base = UnsafeRawPointer(buffer)
        }
        func invalid(_ reason: String) -> TokenizerError { .invalidCompiledTable(path: path, reason: reason) }
        guard length >= Self.headerSize, Self.magic.indices.allSatisfy({ base.load(fromByteOffset: $0, as: UInt8.self) == Self.magic[$0] }) else {
            throw invalid("not a compiled rank table (no SLUICERK header)")
        }
        func word(_ index: Int) -> Int { Int(base.load(fromByteOffset: 8 + 4 * index, as: UInt32.self)) }
        guard word(0) == Self.formatVersion else { throw invalid("format version \(word(0)), this Sluice reads \(Self.formatVersion)") }
        let count = word(1), byteCount = word(2), slotBits = word(3)
        guard count > 0, count <= Self.maxTokens, (1...30).contains(slotBits), count < 1 << slotBits else {
            throw invalid("\(count) tokens in \(slotBits)-bit slots is not a valid table")
        }
        let slotCount = 1 << slotBits
        let offsetsStart = Self.headerSize, slotsStart = offsetsStart + 4 * (count + 1)
        let bytesStart = slotsStart + 4 * slotCount
        guard length == bytesStart + byteCount + 8 else {
            throw invalid("\(length) bytes, expected \(bytesStart + byteCount + 8) for its header (truncated?)")
        }
        let offsets = (base + offsetsStart).assumingMemoryBound(to: UInt32.self)
        let slots = (base + slotsStart).assumingMemoryBound(to: UInt32.self)
        guard offsets[0] == 0, Int(offsets[count]) == byteCount else { throw invalid("offsets do not span the token bytes") }
        // Branch-free passes (the compiler vectorises them): this runs on every start.
        var used = 0, outOfRange: UInt32 = 0
        for slot in 0..<slotCount {
            let entry = slots[slot]
            let isUsed: UInt32 = entry != Self.emptySlot ? 1 : 0
            used &+= Int(isUsed)
            outOfRange |= isUsed & (entry & Self.rankMask >= UInt32(count) ? 1 : 0)
        }
        guard outOfRange == 0 else { throw invalid("a slot holds a rank out of range") }
        guard used == count else { throw invalid("\(used) slots in use for \(count) tokens") }
        let bytes = (base + bytesStart).assumingMemoryBound(to: UInt8.self)
        let pairs = UnsafeMutablePointer<UInt32>.allocate(capacity: 65536)
        pairs.initialize(repeating: Self.none, count: 65536)
        let singles = UnsafeMutablePointer<UInt32>.allocate(capacity: 256)
        singles.initialize(repeating: Self.none, count: 256)
        var disorder: UInt32 = 0
        for rank in 0..<count {
            let start = offsets[rank], end = offsets[rank + 1]
            disorder |= end <= start ? 1 : 0
            // `end` in bounds (checked below, after the loop) would put `start` in bounds too.
            if end == start &+ 1, Int(end) <= byteCount { singles[Int(bytes[Int(start)])] = UInt32(rank) }
            if end == start &+ 2, Int(end) <= byteCount { pairs[Int(bytes[Int(start)]) << 8 | Int(bytes[Int(start) + 1])] = UInt32(rank) }
        }
        let missing = (0..<256).first { singles[$0] == Self.none }
        guard disorder == 0, missing == nil else {
            pairs.deallocate(); singles.deallocate()
            throw invalid(disorder != 0 ? "a token is empty or out of order" : "byte \(missing!) is not a token")
        }

        self.storage = storage
        self.count = count
        self.offsets = offsets
        self.slots = slots
        self.bytes = bytes
        self.pairs = pairs
        self.singles = singles
        self.sourceSHA256 = SHA256.hexDigits(UnsafeRawBufferPointer(start: base + 24, count: 32))
        slotShift = UInt64(64 - slotBits)
        slotMask = slotCount - 1
    }

    deinit {
        switch storage {
        case .mapped(let address, let length): munmap(UnsafeMutableRawPointer(mutating: address), length)
        case .owned(let buffer): buffer.deallocate()
        }
        pairs.deallocate(); singles.deallocate()
    }

    // MARK: - Compiling

    /// Compiles tiktoken's format (one `BASE64 RANK` line per token; ranks exactly 0..<count, each
    /// once; no token repeated; every single byte a token) into the image `init(mapping:)` reads.
    /// `sha256` is the source file's, recorded in the header.
    static func compile(_ data: [UInt8], sha256: [UInt8], path: String) throws(TokenizerError) -> [UInt8] {
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
        let count = tokens.count
        guard count <= maxTokens else { throw .malformed(path: path, line: line, reason: "more than \(maxTokens) tokens") }
        // Ranks are token ids: they must be exactly 0..<count.
        var byRank = [Int](repeating: -1, count: count)
        for (index, token) in tokens.enumerated() {
            guard token.rank < count, byRank[token.rank] < 0 else {
                throw .malformed(path: path, line: index + 1, reason: "rank \(token.rank) repeated or out of range 0..<\(count)")
            }
            byRank[token.rank] = index
        }
        var slotBits = 4
        while (1 << slotBits) * 4 < count * 5 { slotBits += 1 }   // load factor at most 0.8
        let slotCount = 1 << slotBits
        let offsetsStart = headerSize, slotsStart = offsetsStart + 4 * (count + 1), bytesStart = slotsStart + 4 * slotCount
        var image = [UInt8](repeating: 0, count: bytesStart + decoded.count + 8)
        // The rank of a token whose bytes an earlier token already has, if any.
        let repeated: Int? = image.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            base.copyMemory(from: magic, byteCount: magic.count)
            for (index, value) in [formatVersion, UInt32(count), UInt32(decoded.count), UInt32(slotBits)].enumerated() {
                base.storeBytes(of: value, toByteOffset: 8 + 4 * index, as: UInt32.self)
            }
            base.advanced(by: 24).copyMemory(from: sha256, byteCount: 32)
            let offsets = (base + offsetsStart).bindMemory(to: UInt32.self, capacity: count + 1)
            let slots = (base + slotsStart).bindMemory(to: UInt32.self, capacity: slotCount)
            let bytes = (base + bytesStart).bindMemory(to: UInt8.self, capacity: decoded.count + 8)
            var offset = 0
            for rank in 0..<count {
                let token = tokens[byRank[rank]]
                offsets[rank] = UInt32(offset)
                for b in token.start..<token.end { bytes[offset] = decoded[b]; offset += 1 }
            }
            offsets[count] = UInt32(offset)
            slots.initialize(repeating: emptySlot, count: slotCount)
            let shift = UInt64(64 - slotBits)
            for rank in 0..<count {
                let start = Int(offsets[rank]), length = Int(offsets[rank + 1]) - start
                let p = UnsafePointer(bytes + start)
                let h = hash(head(p, length), p, length)
                var slot = Int(h >> shift)
                while slots[slot] != emptySlot {
                    let other = Int(slots[slot] & rankMask), otherStart = Int(offsets[other])
                    if Int(offsets[other + 1]) - otherStart == length, memcmp(p, bytes + otherStart, length) == 0 { return rank }
                    slot = (slot + 1) & (slotCount - 1)
                }
                slots[slot] = UInt32(rank) | tag(h)
            }
            return nil
        }
        if let repeated { throw .malformed(path: path, line: byRank[repeated] + 1, reason: "token bytes repeated") }
        return image
    }

    // MARK: - Lookup

    /// The bits of a slot besides the rank, from hash bits the slot index does not use.
    @inline(__always) private static func tag(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash & 0xFFF) << rankBits }

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
        let h = Self.hash(head, p, length)
        let tag = Self.tag(h)
        // The token's first 8 bytes as a load would give them, for tokens shorter than 8.
        let headMask: UInt64 = length >= 8 ? ~0 : (1 << UInt64(length * 8)) - 1
        var slot = Int(h >> slotShift)
        while true {
            let entry = slots[slot]
            if entry == Self.emptySlot { return Self.none }
            if entry & ~Self.rankMask == tag {
                let rank = Int(entry & Self.rankMask)
                let start = Int(offsets[rank])
                if Int(offsets[rank + 1]) - start == length {
                    let token = bytes + start
                    if UnsafeRawPointer(token).loadUnaligned(as: UInt64.self).littleEndian & headMask == head,
                       length <= 8 || Self.tailsEqual(p, token, length) {
                        return UInt32(rank)
                    }
                }
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

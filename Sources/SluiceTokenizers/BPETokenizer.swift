import Foundation

/// Why a tokenizer could not be loaded or used.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownEncoding(String)
    /// No rank file at any of the places looked in (in the order they were tried).
    case fileMissing(encoding: String, searched: [String])
    case unreadable(path: String, reason: String)
    /// The file is not the one tiktoken publishes (corrupted, truncated or replaced).
    case hashMismatch(path: String, expected: String, actual: String)
    case malformed(path: String, line: Int, reason: String)
    /// A compiled table (`.ranks`) that is damaged, of another format version, or not made from
    /// the published rank file.
    case invalidCompiledTable(path: String, reason: String)
    /// A token id that is not in the encoding (when decoding).
    case unknownToken(Int)

    public var description: String {
        switch self {
        case .unknownEncoding(let name):
            "unknown encoding `\(name)` (known: \(BPETokenizer.encodings.joined(separator: ", ")))"
        case .fileMissing(let encoding, let searched):
            "the rank file for \(encoding) was not found; looked in: \(searched.joined(separator: ", "))"
                + " (set SLUICE_TOKENIZER_DIR to a folder holding \(encoding).tiktoken)"
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .hashMismatch(let path, let expected, let actual):
            "\(path) is not the published rank file: its SHA-256 is \(actual), expected \(expected)"
        case .malformed(let path, let line, let reason):
            "\(path):\(line): \(reason)"
        case .invalidCompiledTable(let path, let reason):
            "\(path) is not a usable compiled rank table: \(reason)"
                + " (set SLUICE_TOKENIZER_DIR to a folder holding tiktoken's rank files to bypass it)"
        case .unknownToken(let id):
            "token id \(id) is not in the encoding"
        }
    }
}

/// One of OpenAI's byte-pair encodings, giving exactly the token ids tiktoken gives.
///
/// `encode` splits text the way the encoding's regular expression does (a hand-written scanner,
/// see PreTokenizer.swift) and byte-pair encodes each piece with the encoding's merge ranks.
/// Special tokens follow tiktoken: their text is ordinary text unless it is allowed, in which
/// case it becomes the special token's id. (tiktoken's Python `encode` raises by default when
/// special-token text appears; here the default is `encode(text, disallowed_special=())`.)
///
/// Instances are immutable and safe to share between threads; `named(_:)` loads each encoding's
/// rank file once per process.
public final class BPETokenizer: Sendable {
    /// The encodings with a rank file shipped in the package.
    public static let encodings = ["cl100k_base", "o200k_base"]

    struct Spec: Sendable {
        var pattern: SplitPattern
        var specialTokens: [String: Int]
        var sha256: String
    }

    static let specs: [String: Spec] = [
        "cl100k_base": Spec(
            pattern: .cl100k,
            specialTokens: ["<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                            "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276],
            sha256: "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
        "o200k_base": Spec(
            pattern: .o200k,
            specialTokens: ["<|endoftext|>": 199999, "<|endofprompt|>": 200018],
            sha256: "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
    ]

    public let name: String
    /// Special token text → id.
    public let specialTokens: [String: Int]
    let ranks: RankTable
    let pattern: SplitPattern
    private let specialsById: [Int: [UInt8]]
    private let specialsByBytes: [(bytes: [UInt8], id: Int)]

    init(name: String, ranks: RankTable, spec: Spec) {
        self.name = name
        self.ranks = ranks
        self.pattern = spec.pattern
        self.specialTokens = spec.specialTokens
        self.specialsById = Dictionary(uniqueKeysWithValues: spec.specialTokens.map { ($0.value, Array($0.key.utf8)) })
        self.specialsByBytes = spec.specialTokens.map { (Array($0.key.utf8), $0.value) }.sorted { $0.id < $1.id }
    }

    /// The number of ordinary (mergeable) tokens; special tokens have ids above them.
    public var ordinaryTokenCount: Int { ranks.count }

    // MARK: Loading

    /// The tokenizer for `name`, loaded from its rank file on first use and cached for the process.
    public static func named(_ name: String) throws(TokenizerError) -> BPETokenizer {
        guard specs[name] != nil else { throw .unknownEncoding(name) }
        return try cache.get(name)
    }

    /// Loads `name` from `path` (not cached): a compiled table (`.ranks`, as shipped) is mapped
    /// and must say it was compiled from the published rank file; tiktoken's own file (any other
    /// name, as in `SLUICE_TOKENIZER_DIR`) has its SHA-256 checked and is compiled in memory.
    public static func load(_ name: String, path: String) throws(TokenizerError) -> BPETokenizer {
        guard let spec = specs[name] else { throw .unknownEncoding(name) }
        if path.hasSuffix(".ranks") {
            let ranks = try RankTable(mapping: path)
            guard ranks.sourceSHA256 == spec.sha256 else {
                throw .invalidCompiledTable(path: path, reason: "compiled from a rank file whose SHA-256 is \(ranks.sourceSHA256), expected \(spec.sha256)")
            }
            return BPETokenizer(name: name, ranks: ranks, spec: spec)
        }
        return BPETokenizer(name: name, ranks: try RankTable(image: try compile(name, rankFile: path), path: path), spec: spec)
    }

    /// The compiled table of tiktoken's rank file for `name` at `path`, after checking the file's
    /// SHA-256 against the published one: what `Resources/<name>.ranks` must hold.
    static func compile(_ name: String, rankFile path: String) throws(TokenizerError) -> [UInt8] {
        guard let spec = specs[name] else { throw .unknownEncoding(name) }
        let data: [UInt8]
        do {
            data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        let digest = SHA256.digest(data)
        let actual = SHA256.hexDigits(digest)
        guard actual == spec.sha256 else { throw .hashMismatch(path: path, expected: spec.sha256, actual: actual) }
        return try RankTable.compile(data, sha256: digest, path: path)
    }

    /// Where the table for `name` is looked for, in order: tiktoken's rank file
    /// `$SLUICE_TOKENIZER_DIR/<name>.tiktoken` alone when that is set; otherwise the compiled
    /// `<name>.ranks` in the package's resource bundle beside the executable, then in the source tree.
    public static func searchPaths(for name: String) -> [String] {
        if let dir = ProcessInfo.processInfo.environment["SLUICE_TOKENIZER_DIR"], !dir.isEmpty {
            return [URL(fileURLWithPath: dir).appendingPathComponent("\(name).tiktoken").path]
        }
        let file = "\(name).ranks"
        var paths: [String] = []
        // SwiftPM's resource bundle beside the executable, where `Bundle.module` looks first (its
        // layout spelled out here: asking `Bundle.module` costs a bundle scan on every start).
        let main = Bundle.main.bundleURL
        for bundleName in ["Sluice_SluiceTokenizers.resources", "Sluice_SluiceTokenizers.bundle"] {
            let candidate = main.appendingPathComponent(bundleName)
            paths.append(candidate.appendingPathComponent("Resources").appendingPathComponent(file).path)
            paths.append(candidate.appendingPathComponent("Contents/Resources/Resources").appendingPathComponent(file).path)
        }
        // A build run from a checkout.
        paths.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources").appendingPathComponent(file).path)
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    static func locate(_ name: String) throws(TokenizerError) -> String {
        let paths = searchPaths(for: name)
        if let found = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw .fileMissing(encoding: name, searched: paths)
    }

    private static let cache = Cache()

    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var loaded: [String: Result<BPETokenizer, TokenizerError>] = [:]

        func get(_ name: String) throws(TokenizerError) -> BPETokenizer {
            lock.lock()
            defer { lock.unlock() }
            if let result = loaded[name] { return try result.get() }
            let result: Result<BPETokenizer, TokenizerError>
            do throws(TokenizerError) {
                result = .success(try BPETokenizer.load(name, path: try BPETokenizer.locate(name)))
            } catch {
                result = .failure(error)
            }
            loaded[name] = result
            return try result.get()
        }
    }

    // MARK: Encoding

    /// The token ids of `text`. Text of a special token in `allowedSpecial` becomes that token;
    /// all other text, special-token text included, is encoded as ordinary text.
    public func encode(_ text: String, allowedSpecial: Set<String> = []) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3)
        var text = text
        text.withUTF8 { buffer in
            walk(buffer, allowedSpecial: allowedSpecial, ordinary: { out.append(Int($0)) }, special: { out.append($0) })
        }
        return out
    }

    /// tiktoken's `encode_ordinary`: special-token text is ordinary text.
    public func encodeOrdinary(_ text: String) -> [Int] { encode(text) }

    /// The number of tokens `encode(text, allowedSpecial:)` would give, without building the array.
    public func count(_ text: String, allowedSpecial: Set<String> = []) -> Int {
        var n = 0
        var text = text
        text.withUTF8 { buffer in
            walk(buffer, allowedSpecial: allowedSpecial, ordinary: { _ in n += 1 }, special: { _ in n += 1 })
        }
        return n
    }

    /// Splits at allowed special tokens (leftmost first, as tiktoken's loop does) and encodes
    /// the text between them on its own.
    @inline(__always)
    private func walk(_ buffer: UnsafeBufferPointer<UInt8>, allowedSpecial: Set<String>,
                      ordinary: (UInt32) -> Void, special: (Int) -> Void) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        if allowedSpecial.isEmpty {
            encodeOrdinary(base, 0, buffer.count, ordinary)
            return
        }
        let allowed = specialsByBytes.filter { allowedSpecial.contains(String(decoding: $0.bytes, as: UTF8.self)) }
        if allowed.isEmpty {
            encodeOrdinary(base, 0, buffer.count, ordinary)
            return
        }
        var start = 0
        var i = 0
        let n = buffer.count
        while i < n {
            if base[i] == 0x3C {   // '<': every special token here starts with it
                var matched: (length: Int, id: Int)?
                for token in allowed where token.bytes.count <= n - i {
                    if token.bytes.withUnsafeBufferPointer({ memcmp(base + i, $0.baseAddress!, $0.count) == 0 }) {
                        if matched == nil || token.bytes.count > matched!.length { matched = (token.bytes.count, token.id) }
                    }
                }
                if let matched {
                    encodeOrdinary(base, start, i, ordinary)
                    special(matched.id)
                    i += matched.length
                    start = i
                    continue
                }
            }
            i += 1
        }
        encodeOrdinary(base, start, n, ordinary)
    }

    /// Encodes `base[start..<end]` as ordinary text.
    @inline(__always)
    private func encodeOrdinary(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ emit: (UInt32) -> Void) {
        guard start < end else { return }
        var scanner = PieceScanner(base: base, start: start, end: end)
        var pieceStart = start
        let ranks = self.ranks
        switch pattern {
        case .cl100k:
            while pieceStart < end {
                let pieceEnd = scanner.next(.cl100k)
                Self.encodePiece(ranks, base + pieceStart, pieceEnd - pieceStart, emit)
                pieceStart = pieceEnd
            }
        case .o200k:
            while pieceStart < end {
                let pieceEnd = scanner.next(.o200k)
                Self.encodePiece(ranks, base + pieceStart, pieceEnd - pieceStart, emit)
                pieceStart = pieceEnd
            }
        }
    }

    @inline(__always)
    private static func encodePiece(_ ranks: RankTable, _ p: UnsafePointer<UInt8>, _ n: Int, _ emit: (UInt32) -> Void) {
        let whole = ranks.rank(p, n)
        if whole != RankTable.none { emit(whole); return }
        ranks.merge(p, n, emit)
    }

    /// The pieces `text` is split into before byte-pair encoding (for tests and tools).
    public func pieces(_ text: String) -> [String] {
        var out: [String] = []
        var text = text
        let pattern = self.pattern
        text.withUTF8 { buffer in
            guard let base = buffer.baseAddress else { return }
            var scanner = PieceScanner(base: base, start: 0, end: buffer.count)
            var start = 0
            while start < buffer.count {
                let end = scanner.next(pattern)
                out.append(String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self))
                start = end
            }
        }
        return out
    }

    // MARK: Decoding

    /// The bytes of `ids`, concatenated.
    public func decodeBytes(_ ids: [Int]) throws(TokenizerError) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            if id >= 0, id < ranks.count {
                out.append(contentsOf: ranks.token(id))
            } else if let special = specialsById[id] {
                out.append(contentsOf: special)
            } else {
                throw .unknownToken(id)
            }
        }
        return out
    }

    /// The text of `ids`; invalid UTF-8 (a sequence cut inside a character) becomes U+FFFD,
    /// as with tiktoken's `decode(errors="replace")`.
    public func decode(_ ids: [Int]) throws(TokenizerError) -> String {
        String(decoding: try decodeBytes(ids), as: UTF8.self)
    }
}

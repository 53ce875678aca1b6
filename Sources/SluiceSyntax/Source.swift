/// A source file held as UTF-8 bytes. Positions everywhere are byte offsets into `bytes`;
/// line and column are computed only when a diagnostic is rendered.
public final class SourceFile: Sendable {
    public let path: String
    public let bytes: [UInt8]
    /// Byte offset at which each line starts. Computed once, up front, so that a file shared
    /// by concurrent runs is never written to.
    private let lineStarts: [Int]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == 0x0A { starts.append(i + 1) }
        self.lineStarts = starts
    }

    public convenience init(path: String, text: String) {
        self.init(path: path, bytes: Array(text.utf8))
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public func slice(_ span: Span) -> String {
        let lo = max(0, min(span.start, bytes.count)), hi = max(lo, min(span.end, bytes.count))
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }

    /// 1-based line and column (column counted in Unicode scalars, for display).
    public func location(of offset: Int) -> (line: Int, column: Int) {
        let line = line(of: offset)
        let lineStart = lineStarts[line - 1]
        let end = max(lineStart, min(offset, bytes.count))
        let column = bytes[lineStart..<end].reduce(0) { $0 + (($1 & 0xC0) == 0x80 ? 0 : 1) }
        return (line, column + 1)
    }

    /// The 1-based line of `offset`, by binary search: no scan of the line itself.
    public func line(of offset: Int) -> Int {
        let starts = lineStarts
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo + 1
    }

    /// The text of the 1-based line `line`, without its line break.
    public func lineText(_ line: Int) -> String {
        let starts = lineStarts
        guard line >= 1, line <= starts.count else { return "" }
        let start = starts[line - 1]
        var end = line < starts.count ? starts[line] - 1 : bytes.count
        if end > start, bytes[end - 1] == 0x0D { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }
}

/// A half-open byte range `start..<end` in one source file.
public struct Span: Hashable, Sendable, CustomStringConvertible {
    public var start: Int
    public var end: Int
    public init(_ start: Int, _ end: Int) { self.start = start; self.end = end }
    public static let none = Span(0, 0)
    public func to(_ other: Span) -> Span { Span(min(start, other.start), max(end, other.end)) }
    public var description: String { "\(start)..<\(end)" }
}

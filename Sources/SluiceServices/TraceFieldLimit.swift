import Foundation
import SluiceRuntime
import SluiceTokenizers

/// The most bytes one stored text field of a trace may take (inputs, output, messages, reply,
/// error, span detail), so a 50 MB input does not add 100 MB to the store per run. A longer text
/// keeps its beginning and ends with a marker that gives the whole text's length and SHA-256:
/// `…[cut: 52428800 bytes in all, sha256 9f86…]`. JSON fields stay JSON: each long string inside
/// is cut first, and only a value still too long as a whole is cut as text.
public struct TraceFieldLimit: Sendable, Hashable {
    /// 256 KB.
    public static let defaultBytes = 256 * 1024
    /// The marker alone takes about 110 bytes; a limit must leave room for some of the text too.
    public static let minimumBytes = 256

    public let bytes: Int

    public init(bytes: Int = TraceFieldLimit.defaultBytes) { self.bytes = max(TraceFieldLimit.minimumBytes, bytes) }

    /// `text` when it fits, else its longest prefix (on a character boundary) that fits with the marker.
    public func bound(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.count > bytes else { return text }
        let marker = "…[cut: \(utf8.count) bytes in all, sha256 \(SHA256.hex(SHA256.digest(Array(utf8))))]"
        var keep = max(0, bytes - marker.utf8.count)
        let stored = Array(utf8.prefix(keep))
        // Back off to the start of a UTF-8 sequence, so no character is split.
        while keep > 0, keep < utf8.count, stored[keep] & 0b1100_0000 == 0b1000_0000 { keep -= 1 }
        return String(decoding: stored[..<keep], as: UTF8.self) + marker
    }

    /// The serialized JSON of `value`, bounded.
    public func bound(_ value: JSONValue) -> String {
        let whole = value.serialized()
        guard whole.utf8.count > bytes else { return whole }
        // Each long string gets half the limit, so one value with a few of them usually stays whole JSON.
        let half = TraceFieldLimit(bytes: bytes / 2)
        let shortened = value.mappingStrings(half.bound).serialized()
        return shortened.utf8.count > bytes ? bound(shortened) : shortened
    }
}

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
        guard text.utf8.count > bytes else { return text }
        let whole = Array(text.utf8)
        let marker = "…[cut: \(whole.count) bytes in all, sha256 \(SHA256.hex(SHA256.digest(whole)))]"
        var keep = max(0, bytes - marker.utf8.count)
        // Back off to the start of a UTF-8 sequence, so no character is split (keep < whole.count: the text is longer than the limit).
        while keep > 0, whole[keep] & 0b1100_0000 == 0b1000_0000 { keep -= 1 }
        return String(decoding: whole[..<keep], as: UTF8.self) + marker
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

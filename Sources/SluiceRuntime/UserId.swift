/// The id of whom a run is for (`--user`, `SLUICE_USER`, later a serving key's user): per-user
/// budgets, trace filters and statistics are kept by it, so it must read back exactly as given.
public enum UserId {
    /// The longest id accepted, in bytes.
    public static let maximumBytes = 256

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Refuses an empty id, one longer than `maximumBytes`, and one with control characters or
    /// leading or trailing spaces (which would make two ids that print alike).
    public static func validate(_ id: String, source: String) throws(Invalid) {
        if id.isEmpty { throw Invalid(description: "\(source) needs a user id, got an empty one") }
        if id.utf8.count > maximumBytes {
            throw Invalid(description: "\(source) is \(id.utf8.count) bytes long; a user id has at most \(maximumBytes)")
        }
        if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Invalid(description: "\(source) contains a control character; a user id is printable text")
        }
        if id.first?.isWhitespace == true || id.last?.isWhitespace == true {
            throw Invalid(description: "\(source) '\(id)' begins or ends with a space")
        }
    }
}

/// How far the text of a value may be trusted. The checker computes it for every expression
/// (see "Instructions and data are kept apart" in grammar/LANGUAGE.md); the runtime tracks the
/// same level on every value.
public enum TrustLevel: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Written by the script author (literals), vouched for with `| trusted`, or a parameter
    /// declared `trusted`.
    case trusted
    /// Untrusted text wrapped whole by a fencing filter (`fenced`, `json`) as the last step,
    /// possibly joined with trusted text: safe to place anywhere as data.
    case fenced
    /// Pipeline inputs, prompt parameters, documents, replies, and whatever is computed from
    /// untrusted or fenced text.
    case untrusted

    public static func < (a: TrustLevel, b: TrustLevel) -> Bool { a.rawValue < b.rawValue }

    /// Text made of two parts (concatenation, holes, lists, records, `??`, branches): the worse wins.
    public func combined(with other: TrustLevel) -> TrustLevel { max(self, other) }

    /// Text computed from this one by any other operation (a function or filter other than the
    /// fencing ones and `trusted`, indexing, member access): a piece of fenced text is not fenced.
    public var derived: TrustLevel { self == .trusted ? .trusted : .untrusted }

    /// What a fencing filter (`fenced`, `json`) makes of a value of this trust.
    public var fencedResult: TrustLevel { self == .trusted ? .trusted : .fenced }

    /// May stand in a `system` message, or be passed for a parameter declared `trusted`.
    public var isSafeAsInstructions: Bool { self != .untrusted }

    public var description: String {
        switch self {
        case .trusted: "trusted"
        case .fenced: "fenced"
        case .untrusted: "untrusted"
        }
    }
}

extension SluiceType {
    /// Whether a value of this type can hold text. Numbers, money, bools and null cannot, nor
    /// lists, records and optionals made only of them: such values are always trusted.
    public var carriesText: Bool {
        switch self {
        case .number, .int, .money, .bool, .null: false
        case .string, .enumeration, .any, .reply: true
        case .list(let element), .optional(let element): element.carriesText
        case .record(_, let fields): fields.contains { $0.type.carriesText }
        }
    }
}

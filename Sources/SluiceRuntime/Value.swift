import Foundation
import SluiceSemantics

/// Where a piece of text came from, which decides how it may enter a prompt.
public enum Trust: Sendable, Hashable {
    /// Written by the script author (literals) or explicitly vouched for with `| trusted`.
    case trusted
    /// Pipeline inputs, retrieved documents, model replies: data, never instructions.
    case untrusted
    /// Untrusted text already wrapped by a fencing filter: safe to place in a prompt as data.
    case fenced

    /// The trust of text built from two pieces.
    func combined(with other: Trust) -> Trust {
        switch (self, other) {
        case (.untrusted, _), (_, .untrusted): .untrusted
        case (.fenced, _), (_, .fenced): .fenced
        default: .trusted
        }
    }
}

/// A model's answer, kept with the request that produced it so that `validate` can re-ask.
public struct Reply: Sendable {
    public var text: String
    /// The reply parsed as JSON when the prompt `returns` a type and the text is JSON.
    public var json: JSONValue?
    /// The declared name of the model that answered.
    public var model: String
    public var promptName: String
    public var request: ChatRequest
    public var returns: SluiceType?
    /// The prompt's declared version and `meta`, recorded on every call made for it.
    public var promptVersion: Int? = nil
    public var promptMeta: JSONValue? = nil
    /// What the call cost, in dollars, and how long it took, retries and waits included, in
    /// milliseconds: what `cost(...)` and `latency(...)` bound when they score a reply.
    public var cost: Double = 0
    public var latencyMs: Double = 0
}

extension Value {
    var isReply: Bool { if case .reply = self { true } else { false } }
}

/// A runtime value.
public indirect enum Value: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case money(Double)
    case string(String, Trust)
    case list([Value])
    case record([(key: String, value: Value)])
    case reply(Reply)

    public static func text(_ s: String) -> Value { .string(s, .trusted) }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .money: "money"
        case .string: "string"
        case .list: "list"
        case .record: "record"
        case .reply: "reply"
        }
    }

    /// The trust of the text this value renders to.
    public var trust: Trust {
        switch self {
        case .null, .bool, .number, .money: .trusted
        case .string(_, let t): t
        case .list(let items): items.reduce(.trusted) { $0.combined(with: $1.trust) }
        case .record(let members): members.reduce(.trusted) { $0.combined(with: $1.value.trust) }
        case .reply: .untrusted
        }
    }

    /// Truthiness for `if`, `and`, `or`, `when`: null, false, 0, "" and [] are false.
    public var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .number(let n), .money(let n): n != 0
        case .string(let s, _): !s.isEmpty
        case .list(let items): !items.isEmpty
        case .record(let members): !members.isEmpty
        case .reply(let r): !r.text.isEmpty
        }
    }

    /// The value as text: strings as they are, numbers without a needless `.0`, money as `$0.0123`,
    /// documents by their text, lists one item per paragraph, records and replies as JSON.
    public var text: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return JSONValue.formatNumber(n)
        case .money(let m): return formatMoney(m)
        case .string(let s, _): return s
        case .list(let items): return items.map { $0.text }.joined(separator: "\n\n")
        case .record:
            if let docText = self.member("text"), self.member("source") != nil { return docText.text }
            return json.serialized()
        case .reply(let r): return r.text
        }
    }

    public func member(_ name: String) -> Value? {
        switch self {
        case .record(let members): return members.last(where: { $0.key == name })?.value
        case .reply(let r):
            guard let json = r.json else { return nil }
            return json[name].map { Value(json: $0, trust: .untrusted) }
        default: return nil
        }
    }

    /// The value as JSON (money as a number of dollars; a reply as its JSON, else its text).
    public var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .number(let n), .money(let n): .number(n)
        case .string(let s, _): .string(s)
        case .list(let items): .array(items.map(\.json))
        case .record(let members): .object(members.map { ($0.key, $0.value.json) })
        case .reply(let r): r.json ?? .string(r.text)
        }
    }

    public init(json: JSONValue, trust: Trust) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n): self = .number(n)
        case .string(let s): self = .string(s, trust)
        case .array(let items): self = .list(items.map { Value(json: $0, trust: trust) })
        case .object(let members): self = .record(members.map { ($0.key, Value(json: $0.value, trust: trust)) })
        }
    }
}

extension Value {
    /// How deep lists and records may nest at run time (as deep as JSON may, when parsed).
    static let maximumDepth = 512

    /// Whether the value has more than `limit` levels of lists and records (stops looking there).
    func nests(deeperThan limit: Int) -> Bool {
        guard limit >= 0 else { return true }
        switch self {
        case .list(let items): return items.contains { $0.nests(deeperThan: limit - 1) }
        case .record(let members): return members.contains { $0.value.nests(deeperThan: limit - 1) }
        default: return false
        }
    }

    /// The value with fenced text marked untrusted again: what a function makes of a fenced
    /// block (a line, a prefix, an upper-cased copy) is no longer a whole fenced block.
    var demotingFenced: Value {
        switch self {
        case .string(let s, .fenced): .string(s, .untrusted)
        case .list(let items): .list(items.map(\.demotingFenced))
        case .record(let members): .record(members.map { ($0.key, $0.value.demotingFenced) })
        default: self
        }
    }

    /// The same value with every piece of text marked `trust` (a reply becomes its text).
    func withTrust(_ trust: Trust) -> Value {
        switch self {
        case .string(let s, _): .string(s, trust)
        case .list(let items): .list(items.map { $0.withTrust(trust) })
        case .record(let members): .record(members.map { ($0.key, $0.value.withTrust(trust)) })
        case .reply(let r): trust == .untrusted ? self : .string(r.text, trust)
        default: self
        }
    }
}

public func formatMoney(_ dollars: Double) -> String {
    if dollars == 0 { return "$0" }
    if abs(dollars) >= 0.01 { return "$" + trimmedDecimal(dollars, places: 4) }
    return "$" + trimmedDecimal(dollars, places: 8)
}

func trimmedDecimal(_ value: Double, places: Int) -> String {
    var s = String(format: "%.\(places)f", value)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

import SluiceSyntax

/// One way a value breaks a schema: where (`path`, e.g. `$.sources[2]`), which rule
/// (`keyword`, e.g. `maxItems`) and what is wrong, in words (`message`).
public struct JSONSchemaViolation: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var keyword: String
    public var message: String

    public init(path: String, keyword: String, message: String) {
        self.path = path
        self.keyword = keyword
        self.message = message
    }

    /// `$.sources: expected at most 3 items, got 4 (maxItems)`.
    public var description: String { "\(path): \(message) (\(keyword))" }
}

/// A schema that cannot be used: a keyword with a value of the wrong kind, a pattern that is not
/// a regular expression, a `$ref` that leads nowhere, a keyword this validator does not
/// implement. `location` is the JSON pointer of the offending keyword in the schema (`#/properties/age/minimum`).
public struct JSONSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: String
    public var message: String

    public init(location: String, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "invalid schema at \(location): \(message)" }
}

/// Where the value being checked is, as a list of steps from the root; written as a JSON path
/// only when a violation is reported.
enum InstanceStep {
    case key(String)
    case index(Int)
}

func formatJSONPath(_ steps: [InstanceStep]) -> String {
    var path = "$"
    for step in steps {
        switch step {
        case .key(let key): path = jsonPath(path, key)
        case .index(let i): path += "[\(i)]"
        }
    }
    return path
}

/// Collects violations up to a limit; evaluation stops adding (and working) once full. A
/// sink that only wants a verdict (`detailed` false) writes no message at all: a branch of
/// anyOf, or an item tried against `contains`, costs no string building.
struct ViolationSink {
    private(set) var violations: [JSONSchemaViolation] = []
    private(set) var failed = false
    let limit: Int
    let detailed: Bool

    init(limit: Int) {
        self.limit = limit
        detailed = true
    }

    private init(verdictOnly: ()) {
        limit = 1
        detailed = false
    }

    /// A sink that records only whether the value failed.
    static func verdict() -> ViolationSink { ViolationSink(verdictOnly: ()) }

    var isFull: Bool { detailed ? violations.count >= limit : failed }

    mutating func add(_ violation: () -> JSONSchemaViolation) {
        failed = true
        if detailed, violations.count < limit { violations.append(violation()) }
    }
}

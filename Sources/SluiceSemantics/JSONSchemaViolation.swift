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

/// Collects violations up to a limit; evaluation stops adding (and can stop working) once full.
struct ViolationSink {
    var violations: [JSONSchemaViolation] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    var isFull: Bool { violations.count >= limit }

    mutating func add(_ violation: JSONSchemaViolation) {
        if !isFull { violations.append(violation) }
    }
}

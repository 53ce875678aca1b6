import SluiceSyntax

/// The JSON Schema (draft 2020-12) of a Sluice type. Records are closed
/// (`additionalProperties: false`) and list their properties in declaration order; every field
/// not marked `field?:` is required (a field of type `T?` is required but may be null). Named
/// types are inlined: types cannot be recursive, so no `$ref` is needed. What is sent to a model
/// as structured output is `StructuredOutputSchema`, made from this one.
public func jsonSchema(for type: SluiceType) -> JSONValue {
    switch type {
    case .string: return .object([("type", .string("string"))])
    case .number, .money: return .object([("type", .string("number"))])
    case .int: return .object([("type", .string("integer"))])
    case .bool: return .object([("type", .string("boolean"))])
    case .null: return .object([("type", .string("null"))])
    case .any: return .object([])
    case .reply(let inner): return jsonSchema(for: inner ?? .string)
    case .enumeration(let cases):
        return .object([("type", .string("string")), ("enum", .array(cases.map { .string($0) }))])
    case .list(let element):
        return .object([("type", .string("array")), ("items", jsonSchema(for: element))])
    case .record(_, let fields):
        let properties = fields.map { (key: $0.name, value: jsonSchema(for: $0.type)) }
        let required = fields.filter { !$0.optional }.map { JSONValue.string($0.name) }
        return .object([
            ("type", .string("object")),
            ("properties", .object(properties)),
            ("required", .array(required)),
            ("additionalProperties", .bool(false)),
        ])
    case .optional(let inner):
        let inner = inner.nonOptional
        if inner == .any || inner == .null { return jsonSchema(for: inner) }
        let schema = jsonSchema(for: inner)
        guard case .object(var members) = schema else { return schema }
        // `{"type": "string"}` → `{"type": ["string", "null"]}`; an enum also lists null.
        if let i = members.firstIndex(where: { $0.key == "type" }), case .string(let name) = members[i].value {
            let simple = members.allSatisfy { ["type", "enum", "items"].contains($0.key) }
            if simple {
                members[i].value = .array([.string(name), .string("null")])
                if let e = members.firstIndex(where: { $0.key == "enum" }), case .array(let cases) = members[e].value {
                    members[e].value = .array(cases + [.null])
                }
                return .object(members)
            }
        }
        return .object([("anyOf", .array([schema, .object([("type", .string("null"))])]))])
    }
}

/// Checks a JSON value against a Sluice type. Returns one human-readable message per problem,
/// each starting with the JSON path of the offending value (`$.sources[1]: expected string, got
/// number`); an empty list means the value is valid. Agrees with `jsonSchema(for:)`.
public func validate(_ value: JSONValue, against type: SluiceType) -> [String] {
    var problems: [String] = []
    validate(value, type, path: "$", into: &problems)
    return problems
}

/// The JSON type name of a value, as used in messages.
public func jsonTypeName(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool: "boolean"
    case .number: "number"
    case .string: "string"
    case .array: "array"
    case .object: "object"
    }
}

private func validate(_ value: JSONValue, _ type: SluiceType, path: String, into problems: inout [String]) {
    func mismatch(_ expected: String) { problems.append("\(path): expected \(expected), got \(jsonTypeName(value))") }
    switch type {
    case .any: return
    case .reply(let inner): validate(value, inner ?? .string, path: path, into: &problems)
    case .string: if case .string = value {} else { mismatch("string") }
    case .number, .money: if case .number = value {} else { mismatch("number") }
    case .int:
        guard case .number(let n) = value else { return mismatch("integer") }
        if n != n.rounded() || !n.isFinite { problems.append("\(path): expected integer, got \(JSONValue.formatNumber(n))") }
    case .bool: if case .bool = value {} else { mismatch("boolean") }
    case .null: if case .null = value {} else { mismatch("null") }
    case .optional(let inner):
        if case .null = value { return }
        validate(value, inner, path: path, into: &problems)
    case .enumeration(let cases):
        let list = cases.map { "\"\($0)\"" }.joined(separator: ", ")
        guard case .string(let s) = value else { return mismatch("one of \(list)") }
        if !cases.contains(s) {
            problems.append("\(path): \(quoted(s)) is not one of \(list)")
        }
    case .list(let element):
        guard case .array(let items) = value else { return mismatch("array") }
        for (i, item) in items.enumerated() { validate(item, element, path: "\(path)[\(i)]", into: &problems) }
    case .record(_, let fields):
        guard case .object(let members) = value else { return mismatch("object") }
        for field in fields {
            if let member = members.last(where: { $0.key == field.name }) {
                // A `field?:` may be absent or null: strict structured output sends every field, null when it has no value.
                if field.optional, member.value == .null { continue }
                validate(member.value, field.type, path: jsonPath(path, field.name), into: &problems)
            } else if !field.optional {
                problems.append("\(path): missing required field \(quoted(field.name))")
            }
        }
        let known = Set(fields.map(\.name))
        var seen: Set<String> = []
        for member in members where !known.contains(member.key) && seen.insert(member.key).inserted {
            problems.append("\(jsonPath(path, member.key)): unexpected field \(quoted(member.key))")
        }
    }
}

private func quoted(_ s: String) -> String { JSONValue.string(s).serialized() }

/// `$.name` for identifier-like keys, `$["odd key"]` otherwise.
func jsonPath(_ base: String, _ key: String) -> String {
    let identifier = !key.isEmpty && key.unicodeScalars.enumerated().allSatisfy { i, c in
        c == "_" || (c.isASCII && (c.properties.isAlphabetic || (i > 0 && ("0"..."9").contains(c))))
    }
    return identifier ? "\(base).\(key)" : "\(base)[\(quoted(key))]"
}

// MARK: - Structured output

/// The schema sent to a model for structured output (OpenAI's `response_format` json_schema,
/// Anthropic's forced tool `input_schema`), made from a schema `jsonSchema(for:)` wrote:
///
/// - The root is always an object, as both APIs require: a type whose schema is not an object
///   (an enum, a list, a string...) is wrapped as `{"value": <schema>}` (`wrapped`), and
///   `unwrap` takes the value back out of the reply.
/// - In OpenAI's strict form (`strict`): every object lists all its properties in `required`
///   and has `additionalProperties: false`; a field that may be left out (`field?:`) may be
///   null instead (`["string", "null"]`, or `anyOf` with `{"type": "null"}`); `validate`
///   accepts null for such a field.
/// - A type with a value of any type (`any`, the empty schema `{}`) has no strict form: the
///   schema is sent as it is, not strict, and `strictProblem` says why.
/// - `name` is the declared type's name made fit for both APIs (`^[a-zA-Z0-9_-]{1,64}$`).
public struct StructuredOutputSchema: Sendable, Hashable {
    public var name: String
    public var schema: JSONValue
    public var wrapped: Bool
    /// Why the schema cannot be sent strict; nil when it is strict.
    public var strictProblem: String?
    public var strict: Bool { strictProblem == nil }

    public init(name: String, schema declared: JSONValue) {
        self.name = Self.identifier(name)
        wrapped = !Self.isObjectSchema(declared)
        let rooted: JSONValue = wrapped ? .object([
            ("type", .string("object")),
            ("properties", .object([("value", declared)])),
            ("required", .array([.string("value")])),
            ("additionalProperties", .bool(false)),
        ]) : declared
        if let strictForm = Self.strictForm(rooted) {
            schema = strictForm
            strictProblem = nil
        } else {
            schema = rooted
            strictProblem = "the type \(name) has a value of any type (`any`), which strict structured output cannot express"
        }
    }

    /// The reply's text with the wrapping taken off: the `value` of `{"value": ...}` (a Markdown
    /// code fence around it allowed). Text that is not such an object is returned as it is, for
    /// `validate` to judge.
    public func unwrap(_ text: String) -> String {
        guard wrapped else { return text }
        var body = Substring(text).drop(while: \.isWhitespace)
        while body.last?.isWhitespace == true { body.removeLast() }
        if body.hasPrefix("```") {
            if let firstBreak = body.firstIndex(of: "\n") { body = body[body.index(after: firstBreak)...] }
            if body.hasSuffix("```") { body = body.dropLast(3) }
        }
        guard let json = try? JSONValue.parse(String(body)), case .object(let members) = json, members.count == 1,
              let value = json["value"] else { return text }
        return value.serialized()
    }

    /// A name of ASCII letters, digits, `_` and `-`, 1 to 64 long: other characters become `_`,
    /// runs of `_` are folded, and `_` at either end is dropped (`"a" | "b"` becomes `a_b`).
    public static func identifier(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            let allowed = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-")
            let character: Character = allowed ? Character(scalar) : "_"
            if character == "_", out.hasSuffix("_") { continue }
            out.append(character)
        }
        while out.hasPrefix("_") { out.removeFirst() }
        while out.hasSuffix("_") { out.removeLast() }
        return out.isEmpty ? "reply" : String(out.prefix(64))
    }

    static func isObjectSchema(_ schema: JSONValue) -> Bool { schema["type"] == .string("object") }

    /// The strict form of a schema, or nil when some part of it accepts any value.
    static func strictForm(_ schema: JSONValue) -> JSONValue? {
        guard case .object(let members) = schema, !members.isEmpty else { return nil }
        var result: [(key: String, value: JSONValue)] = []
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        for member in members {
            switch member.key {
            case "properties":
                guard case .object(let properties) = member.value else { return nil }
                var strictProperties: [(key: String, value: JSONValue)] = []
                for property in properties {
                    guard let inner = strictForm(property.value) else { return nil }
                    strictProperties.append((property.key, required.contains(property.key) ? inner : nullable(inner)))
                }
                result.append(("properties", .object(strictProperties)))
                result.append(("required", .array(properties.map { .string($0.key) })))
            case "required", "additionalProperties":
                continue
            case "items":
                guard let inner = strictForm(member.value) else { return nil }
                result.append(("items", inner))
            case "anyOf":
                guard let branches = member.value.arrayValue else { return nil }
                var strictBranches: [JSONValue] = []
                for branch in branches {
                    guard let inner = strictForm(branch) else { return nil }
                    strictBranches.append(inner)
                }
                result.append(("anyOf", .array(strictBranches)))
            default:
                result.append(member)
            }
        }
        if schema["properties"] != nil || isObjectSchema(schema) {
            if schema["properties"] == nil { result += [("properties", .object([])), ("required", .array([]))] }
            result.append(("additionalProperties", .bool(false)))
        }
        return .object(result)
    }

    /// The schema, also accepting null.
    static func nullable(_ schema: JSONValue) -> JSONValue {
        guard case .object(var members) = schema else { return schema }
        func allowNullInEnum() {
            if let e = members.firstIndex(where: { $0.key == "enum" }), case .array(let cases) = members[e].value, !cases.contains(.null) {
                members[e].value = .array(cases + [.null])
            }
        }
        if let t = members.firstIndex(where: { $0.key == "type" }) {
            switch members[t].value {
            case .string("null"):
                return schema
            case .string(let name):
                members[t].value = .array([.string(name), .string("null")])
                allowNullInEnum()
                return .object(members)
            case .array(let names):
                if !names.contains(.string("null")) { members[t].value = .array(names + [.string("null")]) }
                allowNullInEnum()
                return .object(members)
            default:
                break
            }
        }
        let null = JSONValue.object([("type", .string("null"))])
        if let a = members.firstIndex(where: { $0.key == "anyOf" }), case .array(let branches) = members[a].value {
            if !branches.contains(null) { members[a].value = .array(branches + [null]) }
            return .object(members)
        }
        return .object([("anyOf", .array([schema, null]))])
    }
}

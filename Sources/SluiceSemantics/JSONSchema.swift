import SluiceSyntax

/// The JSON Schema (draft 2020-12) of a Sluice type. Records are closed
/// (`additionalProperties: false`) and list their properties in declaration order; every field
/// not marked `field?:` is required (a field of type `T?` is required but may be null). Named
/// types are inlined: types cannot be recursive, so no `$ref` is needed.
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

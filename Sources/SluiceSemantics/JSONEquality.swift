import SluiceSyntax

/// JSON Schema's equality (for enum, const and uniqueItems): numbers by value (1.0 equals 1),
/// objects regardless of member order, arrays element by element; a boolean never equals a number.
/// Strings are equal when their code points are (Swift's `==` would also equate canonically
/// equivalent strings, such as "é" and "e" followed by a combining accent).
func jsonSchemaEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case let (.object(x), .object(y)):
        guard x.count == y.count else { return false }
        return x.allSatisfy { member in
            guard let other = memberValue(b, member.key) else { return false }
            return jsonSchemaEqual(member.value, other)
        }
    case let (.array(x), .array(y)):
        return x.count == y.count && zip(x, y).allSatisfy { jsonSchemaEqual($0, $1) }
    case let (.string(x), .string(y)):
        return x.utf8.elementsEqual(y.utf8)
    default:
        return a == b
    }
}

/// The value of the (last) member named exactly `name`, code point by code point.
func memberValue(_ object: JSONValue, _ name: String) -> JSONValue? {
    guard case .object(let members) = object else { return nil }
    return members.last(where: { $0.key.utf8.elementsEqual(name.utf8) })?.value
}

/// A hash agreeing with `jsonSchemaEqual` (member order ignored), so uniqueItems is linear.
func jsonSchemaHash(_ value: JSONValue, into hasher: inout Hasher) {
    switch value {
    case .null: hasher.combine(0)
    case .bool(let b): hasher.combine(1); hasher.combine(b)
    case .number(let n): hasher.combine(2); hasher.combine(n == 0 ? 0 : n)
    case .string(let s): hasher.combine(3); hasher.combine(s)
    case .array(let items):
        hasher.combine(4)
        hasher.combine(items.count)
        for item in items { jsonSchemaHash(item, into: &hasher) }
    case .object(let members):
        hasher.combine(5)
        // Order-independent: the members' hashes are summed.
        var sum = 0
        for member in members {
            var h = Hasher()
            h.combine(member.key)
            jsonSchemaHash(member.value, into: &h)
            sum = sum &+ h.finalize()
        }
        hasher.combine(sum)
    }
}

/// A JSON value compared and hashed by JSON Schema's equality.
struct SchemaEqualValue: Hashable {
    let value: JSONValue
    static func == (a: Self, b: Self) -> Bool { jsonSchemaEqual(a.value, b.value) }
    func hash(into hasher: inout Hasher) { jsonSchemaHash(value, into: &hasher) }
}

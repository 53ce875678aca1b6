import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

final class JSONSchemaTests: XCTestCase {
    static let reply = SluiceType.record(name: "Reply", fields: [
        .init(name: "answer", type: .string, optional: false),
        .init(name: "confidence", type: .number, optional: false),
        .init(name: "sources", type: .list(.string), optional: false),
        .init(name: "category", type: .enumeration(["billing", "bug", "other"]), optional: true),
        .init(name: "note", type: .optional(.string), optional: false),
    ])

    // MARK: Schema output

    func testRecordSchema() {
        XCTAssertEqual(jsonSchema(for: Self.reply).serialized(), """
        {"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"},\
        "sources":{"type":"array","items":{"type":"string"}},"category":{"type":"string","enum":["billing","bug","other"]},\
        "note":{"type":["string","null"]}},"required":["answer","confidence","sources","note"],"additionalProperties":false}
        """)
    }

    func testScalarAndWrapperSchemas() {
        XCTAssertEqual(jsonSchema(for: .int).serialized(), #"{"type":"integer"}"#)
        XCTAssertEqual(jsonSchema(for: .money).serialized(), #"{"type":"number"}"#)
        XCTAssertEqual(jsonSchema(for: .bool).serialized(), #"{"type":"boolean"}"#)
        XCTAssertEqual(jsonSchema(for: .any).serialized(), "{}")
        XCTAssertEqual(jsonSchema(for: .optional(.any)).serialized(), "{}")
        XCTAssertEqual(jsonSchema(for: .list(.int)).serialized(), #"{"type":"array","items":{"type":"integer"}}"#)
        XCTAssertEqual(jsonSchema(for: .optional(.enumeration(["a", "b"]))).serialized(),
                       #"{"type":["string","null"],"enum":["a","b",null]}"#)
        XCTAssertEqual(jsonSchema(for: .optional(.list(.string))).serialized(),
                       #"{"type":["array","null"],"items":{"type":"string"}}"#)
        XCTAssertEqual(jsonSchema(for: .optional(.record(name: "P", fields: [.init(name: "x", type: .int, optional: false)]))).serialized(),
                       #"{"anyOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false},{"type":"null"}]}"#)
        XCTAssertEqual(jsonSchema(for: .reply(nil)).serialized(), #"{"type":"string"}"#)
        XCTAssertEqual(jsonSchema(for: .reply(.list(.bool))).serialized(), #"{"type":"array","items":{"type":"boolean"}}"#)
    }

    // MARK: Validation messages

    func testValidationMessages() throws {
        let value = try JSONValue.parse("""
        {"answer": "hi", "sources": ["a", 2], "category": "x", "note": 5, "extra": true}
        """)
        XCTAssertEqual(validate(value, against: Self.reply), [
            "$: missing required field \"confidence\"",
            "$.sources[1]: expected string, got number",
            "$.category: \"x\" is not one of \"billing\", \"bug\", \"other\"",
            "$.note: expected string, got number",
            "$.extra: unexpected field \"extra\"",
        ])
        XCTAssertEqual(validate(try JSONValue.parse(#"{"answer":"a","confidence":0.5,"sources":[],"note":null}"#), against: Self.reply), [])
        XCTAssertEqual(validate(.number(1.5), against: .int), ["$: expected integer, got 1.5"])
        XCTAssertEqual(validate(.array([]), against: Self.reply), ["$: expected object, got array"])
        XCTAssertEqual(validate(try JSONValue.parse(#"{"odd key": 1}"#), against: .record(name: nil, fields: [])),
                       [#"$["odd key"]: unexpected field "odd key""#])
        XCTAssertEqual(validate(.null, against: .optional(.string)), [])
        XCTAssertEqual(validate(.string("x"), against: .reply(nil)), [])
    }

    // MARK: Agreement with a generic JSON Schema validator

    /// The generic validator is first held to the official test suite (the keywords it
    /// supports), then `validate` must agree with it on the schemas `jsonSchema` produces.
    func testGenericValidatorPassesConformanceSuite() throws {
        let suite = Paths.repository.deletingLastPathComponent().appendingPathComponent("shared/conformance/json-schema-draft2020-12")
        guard FileManager.default.fileExists(atPath: suite.path) else { throw XCTSkip("no conformance suite at \(suite.path)") }
        var cases = 0
        for name in ["type", "properties", "required", "additionalProperties", "items", "enum", "anyOf"] {
            let data = try Data(contentsOf: suite.appendingPathComponent("\(name).json"))
            guard case .array(let groups) = try JSONValue.parse(bytes: Array(data)) else { return XCTFail("bad suite file \(name)") }
            for group in groups {
                guard let schema = group["schema"], GenericValidator.supports(schema), case .array(let tests)? = group["tests"] else { continue }
                for test in tests {
                    guard let instance = test["data"], case .bool(let valid)? = test["valid"] else { continue }
                    XCTAssertEqual(GenericValidator.isValid(instance, schema), valid,
                                   "\(name): \(group["description"]?.stringValue ?? "") / \(test["description"]?.stringValue ?? "")")
                    cases += 1
                }
            }
        }
        XCTAssertGreaterThan(cases, 50)
    }

    func testValidateAgreesWithGenericValidator() throws {
        let types: [SluiceType] = [
            Self.reply, .string, .number, .int, .bool, .any, .money, .list(.int), .list(.optional(.string)),
            .optional(.enumeration(["a", "b"])), .optional(Self.reply), .list(SluiceType.doc),
            .record(name: nil, fields: [.init(name: "n", type: .list(.list(.number)), optional: true)]),
        ]
        var generator = RandomJSON(seed: 42)
        for type in types {
            let schema = jsonSchema(for: type)
            var instances = [generator.conforming(to: type)]
            for _ in 0..<60 { instances.append(generator.near(type)) }
            for value in instances {
                let problems = validate(value, against: type)
                XCTAssertEqual(problems.isEmpty, GenericValidator.isValid(value, schema),
                               "\(type) vs \(value.serialized()): \(problems)")
            }
            XCTAssertEqual(validate(instances[0], against: type), [], "\(type) should accept \(instances[0].serialized())")
        }
    }
}

/// A small JSON Schema validator for the keywords `jsonSchema(for:)` emits.
enum GenericValidator {
    static let keywords: Set<String> = ["$schema", "description", "type", "properties", "required", "additionalProperties",
                                        "items", "enum", "anyOf"]

    static func supports(_ schema: JSONValue) -> Bool {
        switch schema {
        case .bool: return true
        case .object(let members):
            for (key, value) in members {
                guard keywords.contains(key) else { return false }
                switch key {
                case "properties":
                    guard case .object(let props) = value, props.allSatisfy({ supports($0.value) }) else { return false }
                case "items", "additionalProperties":
                    if !supports(value) { return false }
                case "anyOf":
                    guard case .array(let items) = value, items.allSatisfy(supports) else { return false }
                default: break
                }
            }
            return true
        default: return false
        }
    }

    static func isValid(_ value: JSONValue, _ schema: JSONValue) -> Bool {
        if case .bool(let b) = schema { return b }
        guard case .object = schema else { return false }
        if let type = schema["type"] {
            let names: [String] = switch type {
            case .string(let s): [s]
            case .array(let a): a.compactMap(\.stringValue)
            default: []
            }
            if !names.contains(where: { matches(value, $0) }) { return false }
        }
        if case .array(let cases)? = schema["enum"], !cases.contains(where: { equal($0, value) }) { return false }
        if case .array(let options)? = schema["anyOf"], !options.contains(where: { isValid(value, $0) }) { return false }
        if case .object(let members) = value {
            let properties: [(key: String, value: JSONValue)] = if case .object(let p)? = schema["properties"] { p } else { [] }
            if case .array(let required)? = schema["required"] {
                for r in required { if let key = r.stringValue, !members.contains(where: { $0.key == key }) { return false } }
            }
            for member in members {
                if let property = properties.first(where: { $0.key == member.key }) {
                    if !isValid(member.value, property.value) { return false }
                } else if let additional = schema["additionalProperties"], !isValid(member.value, additional) {
                    return false
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            if !items.allSatisfy({ isValid($0, itemSchema) }) { return false }
        }
        return true
    }

    static func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (value, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"), (.number, "number"): true
        case (.number(let n), "integer"): n == n.rounded() && n.isFinite
        default: false
        }
    }

    /// JSON equality where 1 and 1.0 are equal and object key order does not matter.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            x.count == y.count && x.allSatisfy { m in y.contains { $0.key == m.key && equal($0.value, m.value) } }
        case let (.array(x), .array(y)): x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        default: a == b
        }
    }
}

/// Deterministic random JSON values that conform to a type or nearly do.
struct RandomJSON {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next(_ n: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(n))
    }

    mutating func anyValue(depth: Int = 0) -> JSONValue {
        switch next(depth > 1 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(next(2) == 0)
        case 2: return .number(next(2) == 0 ? Double(next(10)) : 1.5)
        case 3: return .string(["a", "b", "x", ""][next(4)])
        case 4: return .number(-2)
        case 5: return .array((0..<next(3)).map { _ in anyValue(depth: depth + 1) })
        default: return .object((0..<next(3)).map { i in ("k\(i)", anyValue(depth: depth + 1)) })
        }
    }

    mutating func conforming(to type: SluiceType) -> JSONValue {
        switch type {
        case .string: return .string("s")
        case .number, .money: return .number(0.5)
        case .int: return .number(3)
        case .bool: return .bool(true)
        case .null: return .null
        case .any: return anyValue()
        case .reply(let inner): return conforming(to: inner ?? .string)
        case .optional(let inner): return next(3) == 0 ? .null : conforming(to: inner)
        case .enumeration(let cases): return .string(cases[next(cases.count)])
        case .list(let element): return .array((0..<next(3)).map { _ in conforming(to: element) })
        case .record(_, let fields):
            return .object(fields.filter { !$0.optional || next(2) == 0 }.map { ($0.name, conforming(to: $0.type)) })
        }
    }

    /// A conforming value with a random mutation somewhere (or none).
    mutating func near(_ type: SluiceType) -> JSONValue {
        switch next(4) {
        case 0: return anyValue()
        case 1: return conforming(to: type)
        default:
            switch type {
            case .list(let element):
                var items = (0..<next(3)).map { _ in conforming(to: element) }
                items.append(near(element))
                return .array(items)
            case .optional(let inner): return near(inner)
            case .record(_, let fields):
                var members = fields.filter { !$0.optional || next(2) == 0 }.map { (key: $0.name, value: conforming(to: $0.type)) }
                switch next(3) {
                case 0 where !members.isEmpty: members.remove(at: next(members.count))
                case 1: members.append((key: "extra", value: anyValue()))
                default:
                    if !members.isEmpty {
                        let i = next(members.count)
                        let field = fields.first { $0.name == members[i].key }!
                        members[i].value = near(field.type)
                    }
                }
                return .object(members)
            case .enumeration(let cases): return .string(next(2) == 0 ? cases[0] : "zzz")
            case .int: return .number(next(2) == 0 ? 2 : 2.5)
            default: return anyValue()
            }
        }
    }

}

extension JSONSchemaTests {
    // MARK: Structured output: OpenAI's strict mode

    func testTheStrictFormAcceptsWhatTheTypeAccepts() throws {
        // A value valid for the type, wrapped when the root is not an object, passes the strict
        // schema's required/nullable rules once absent optional fields are sent as null.
        let structured = StructuredOutputSchema(name: "Reply", schema: jsonSchema(for: Self.reply))
        XCTAssertFalse(structured.wrapped)
        XCTAssertEqual(structured.schema["required"], .array(["answer", "confidence", "sources", "category", "note"].map(JSONValue.string)))
        XCTAssertEqual(structured.schema["properties"]?["category"],
                       .object([("type", .array([.string("string"), .string("null")])), ("enum", .array([.string("billing"), .string("bug"), .string("other"), .null]))]))
        // What a strict model sends for a reply without a category, which `validate` accepts.
        let sent = try JSONValue.parse(#"{"answer": "a", "confidence": 1, "sources": [], "category": null, "note": null}"#)
        XCTAssertEqual(validate(sent, against: Self.reply), [])
        // A required field is still required, and null is still wrong for a field that is not optional.
        XCTAssertEqual(validate(try JSONValue.parse(#"{"answer": null, "confidence": 1, "sources": [], "note": null}"#), against: Self.reply),
                       ["$.answer: expected string, got null"])
    }

    func testNonObjectTypesAreWrappedAndUnwrapped() {
        let label = StructuredOutputSchema(name: #""bug" | "praise""#, schema: jsonSchema(for: .enumeration(["bug", "praise"])))
        XCTAssertTrue(label.wrapped)
        XCTAssertEqual(label.name, "bug_praise")
        XCTAssertEqual(label.schema.serialized(),
                       #"{"type":"object","properties":{"value":{"type":"string","enum":["bug","praise"]}},"required":["value"],"additionalProperties":false}"#)
        XCTAssertEqual(label.unwrap(#"{"value": "bug"}"#), #""bug""#)
        XCTAssertEqual(label.unwrap("```json\n{\"value\": [1, 2]}\n```"), "[1,2]")
        XCTAssertEqual(label.unwrap("not json"), "not json", "left for validate to judge")
        XCTAssertEqual(label.unwrap(#"{"value": 1, "other": 2}"#), #"{"value": 1, "other": 2}"#)
        let record = StructuredOutputSchema(name: "Reply", schema: jsonSchema(for: Self.reply))
        XCTAssertEqual(record.unwrap(#"{"value": 1}"#), #"{"value": 1}"#, "an object type is never unwrapped")
    }

    func testSchemaNamesAreSanitized() {
        XCTAssertEqual(StructuredOutputSchema.identifier("Reply"), "Reply")
        XCTAssertEqual(StructuredOutputSchema.identifier("[Doc]"), "Doc")
        XCTAssertEqual(StructuredOutputSchema.identifier("Réponse finale"), "R_ponse_finale")
        XCTAssertEqual(StructuredOutputSchema.identifier("***"), "reply")
        XCTAssertEqual(StructuredOutputSchema.identifier(String(repeating: "a", count: 100)).count, 64)
        XCTAssertEqual(StructuredOutputSchema.identifier("my-type_2"), "my-type_2")
    }

    func testAnyHasNoStrictFormAndIsSentAsItIs() {
        for type: SluiceType in [.any, .list(.any), .record(name: "Loose", fields: [.init(name: "data", type: .any, optional: false)])] {
            let structured = StructuredOutputSchema(name: "Loose", schema: jsonSchema(for: type))
            XCTAssertFalse(structured.strict, "\(type)")
            XCTAssertTrue(structured.strictProblem?.contains("`any`") ?? false)
            XCTAssertEqual(structured.schema["type"], .string("object"), "still an object root")
        }
    }
}

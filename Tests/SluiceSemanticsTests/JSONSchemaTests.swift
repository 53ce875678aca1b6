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

    // MARK: Agreement with the JSON Schema validator

    /// `validate(_:against:)` and `JSONSchemaValidator` on `jsonSchema(for:)` judge the same
    /// values alike, with one deliberate difference: `validate` also accepts null for a field
    /// that may be left out (`field?:`), which strict structured output sends instead of leaving
    /// it out, so such members are dropped before the schema is asked.
    func testValidateAgreesWithTheSchemaValidator() throws {
        let types: [SluiceType] = [
            Self.reply, .string, .number, .int, .bool, .null, .any, .money, .list(.int), .list(.optional(.string)),
            .optional(.enumeration(["a", "b"])), .optional(Self.reply), .list(SluiceType.doc), .reply(nil), .reply(.list(.bool)),
            .record(name: nil, fields: [.init(name: "n", type: .list(.list(.number)), optional: true)]),
            .record(name: "Nested", fields: [
                .init(name: "inner", type: Self.reply, optional: false),
                .init(name: "tags", type: .list(.enumeration(["x", "y"])), optional: true),
                .init(name: "maybe", type: .optional(.record(name: "P", fields: [.init(name: "x", type: .int, optional: false)])), optional: false),
            ]),
        ]
        var generator = RandomJSON(seed: 42)
        var judged = (valid: 0, invalid: 0)
        for type in types {
            let validator = try JSONSchemaValidator(schema: jsonSchema(for: type))
            var instances = [generator.conforming(to: type)]
            for _ in 0..<200 { instances.append(generator.near(type)) }
            for value in instances {
                let problems = validate(value, against: type)
                let violations = validator.validate(withoutNullOptionalFields(value, type))
                XCTAssertEqual(problems.isEmpty, violations.isEmpty, "\(type) vs \(value.serialized()): \(problems) / \(violations)")
                if problems.isEmpty { judged.valid += 1 } else { judged.invalid += 1 }
            }
            XCTAssertEqual(validate(instances[0], against: type), [], "\(type) should accept \(instances[0].serialized())")
        }
        // Both sides were exercised.
        XCTAssertGreaterThan(judged.valid, 300)
        XCTAssertGreaterThan(judged.invalid, 300)
    }

    func testANullOptionalFieldIsTheOneDifference() throws {
        let record = SluiceType.record(name: "R", fields: [.init(name: "note", type: .string, optional: true)])
        let sent = try JSONValue.parse(#"{"note": null}"#)
        XCTAssertEqual(validate(sent, against: record), [])
        XCTAssertEqual(try JSONSchemaValidator(schema: jsonSchema(for: record)).validate(sent).map(\.description),
                       ["$.note: expected string, got null (type)"])
        // The strict form sent to models allows it.
        let strict = StructuredOutputSchema(name: "R", schema: jsonSchema(for: record))
        XCTAssertEqual(try JSONSchemaValidator(schema: strict.schema).validate(sent), [])
    }

    /// The value with the null members of `field?:` fields left out, throughout.
    private func withoutNullOptionalFields(_ value: JSONValue, _ type: SluiceType) -> JSONValue {
        switch (type, value) {
        case (.reply(let inner), _): return withoutNullOptionalFields(value, inner ?? .string)
        case (.optional(let inner), _): return withoutNullOptionalFields(value, inner)
        case (.list(let element), .array(let items)): return .array(items.map { withoutNullOptionalFields($0, element) })
        case (.record(_, let fields), .object(let members)):
            return .object(members.compactMap { member in
                guard let field = fields.first(where: { $0.name == member.key }) else { return member }
                if field.optional, member.value == .null { return nil }
                return (member.key, withoutNullOptionalFields(member.value, field.type))
            })
        default: return value
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
                switch next(4) {
                case 0 where !members.isEmpty: members.remove(at: next(members.count))
                case 1: members.append((key: "extra", value: anyValue()))
                case 2:
                    // A field left out sent as null, as strict structured output does.
                    if let field = fields.first(where: \.optional) {
                        members.removeAll { $0.key == field.name }
                        members.append((key: field.name, value: .null))
                    }
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

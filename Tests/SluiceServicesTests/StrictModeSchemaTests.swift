import SluiceSemantics
import SluiceSyntax
import XCTest

/// OpenAI's strict mode for structured output, checked rule by rule, against the schema sent for
/// every shape of type.
final class StrictModeSchemaTests: XCTestCase {
    static let replyType = SluiceType.record(name: "Reply", fields: [
        .init(name: "answer", type: .string, optional: false),
        .init(name: "confidence", type: .number, optional: false),
        .init(name: "sources", type: .list(.string), optional: false),
        .init(name: "category", type: .enumeration(["billing", "bug", "other"]), optional: true),
        .init(name: "note", type: .optional(.string), optional: false),
    ])

    /// OpenAI's strict-mode rules for a structured-output schema, as documented: the root is an
    /// object; every object lists all its properties in `required` and has
    /// `additionalProperties: false`; every schema says its type (or is an `anyOf` of schemas
    /// that do); only the supported keywords appear; the name matches `^[a-zA-Z0-9_-]{1,64}$`.
    /// Returns every broken rule with its JSON path.
    static func strictModeProblems(name: String, schema: JSONValue) -> [String] {
        var problems: [String] = []
        let nameOK = (1...64).contains(name.count) && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
        }
        if !nameOK { problems.append("name \(name.debugDescription) does not match ^[a-zA-Z0-9_-]{1,64}$") }
        if schema["type"] != .string("object") { problems.append("$: the root must be an object, not \(schema.serialized())") }
        let keywords: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "enum", "anyOf", "const", "description"]
        let types: Set<String> = ["string", "number", "integer", "boolean", "object", "array", "null"]
        func check(_ schema: JSONValue, _ path: String) {
            guard case .object(let members) = schema, !members.isEmpty else {
                return problems.append("\(path): an empty schema (any value) is not allowed")
            }
            for member in members where !keywords.contains(member.key) { problems.append("\(path): unsupported keyword \(member.key)") }
            if let branches = schema["anyOf"] {
                for (i, branch) in (branches.arrayValue ?? []).enumerated() { check(branch, "\(path).anyOf[\(i)]") }
                return
            }
            let named: [String]
            switch schema["type"] {
            case .string(let t)?: named = [t]
            case .array(let list)?: named = list.compactMap(\.stringValue)
            default: return problems.append("\(path): no type")
            }
            for t in named where !types.contains(t) { problems.append("\(path): unknown type \(t)") }
            if named.contains("object") {
                let properties = schema["properties"]
                guard case .object(let fields)? = properties else { return problems.append("\(path): an object needs properties") }
                let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
                if required != Set(fields.map(\.key)) || schema["required"]?.arrayValue?.count != fields.count {
                    problems.append("\(path): required \(required.sorted()) must list every property \(fields.map(\.key))")
                }
                if schema["additionalProperties"] != .bool(false) { problems.append("\(path): additionalProperties must be false") }
                for field in fields { check(field.value, "\(path).\(field.key)") }
            }
            if named.contains("array") {
                guard let items = schema["items"] else { return problems.append("\(path): an array needs items") }
                check(items, "\(path)[]")
            }
        }
        check(schema, "$")
        return problems
    }

    /// Every shape of type a prompt can return, alone, inside a record (required and `field?:`), in a list and optional.
    static var everyShape: [(String, SluiceType)] {
        let point = SluiceType.record(name: "Point", fields: [.init(name: "x", type: .int, optional: false),
                                                              .init(name: "label", type: .string, optional: true)])
        let scalars: [(String, SluiceType)] = [
            ("string", .string), ("number", .number), ("int", .int), ("bool", .bool), ("money", .money), ("null", .null),
            ("enum", .enumeration(["bug", "praise"])), ("record", point), ("empty record", .record(name: "Empty", fields: [])),
            ("Reply", replyType),
        ]
        var shapes = scalars
        for (name, type) in scalars {
            shapes.append(("[\(name)]", .list(type)))
            shapes.append(("\(name)?", .optional(type)))
            shapes.append(("[\(name)?]", .list(.optional(type))))
            shapes.append(("record of \(name)", .record(name: "Holder", fields: [
                .init(name: "required", type: type, optional: false),
                .init(name: "maybe", type: type, optional: true),
                .init(name: "nullable", type: .optional(type), optional: false),
                .init(name: "list", type: .list(type), optional: true),
            ])))
        }
        shapes.append(("nested", .record(name: "Outer", fields: [.init(name: "inner", type: .list(point), optional: true)])))
        return shapes
    }

    func testTheCheckerCatchesWhatStrictModeRefuses() {
        // The declared schemas themselves break the rules: an optional field left out of
        // `required`, a non-object root, an empty schema for `any`.
        XCTAssertEqual(Self.strictModeProblems(name: "Reply", schema: jsonSchema(for: Self.replyType)),
                       [#"$: required ["answer", "confidence", "note", "sources"] must list every property ["answer", "confidence", "sources", "category", "note"]"#])
        XCTAssertEqual(Self.strictModeProblems(name: "Label", schema: jsonSchema(for: .enumeration(["a"]))).first,
                       #"$: the root must be an object, not {"type":"string","enum":["a"]}"#)
        XCTAssertTrue(Self.strictModeProblems(name: "a b", schema: jsonSchema(for: .list(.any))).contains("$[]: an empty schema (any value) is not allowed"))
        XCTAssertTrue(Self.strictModeProblems(name: "a b", schema: .object([])).contains(#"name "a b" does not match ^[a-zA-Z0-9_-]{1,64}$"#))
    }

    func testEveryTypeShapeIsSentAsAStrictModeSchema() {
        for (label, type) in Self.everyShape {
            let structured = StructuredOutputSchema(name: label, schema: jsonSchema(for: type))
            XCTAssertTrue(structured.strict, label)
            XCTAssertEqual(Self.strictModeProblems(name: structured.name, schema: structured.schema), [], "\(label): \(structured.schema.serialized())")
        }
    }
}

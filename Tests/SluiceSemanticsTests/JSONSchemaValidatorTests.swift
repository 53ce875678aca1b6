import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

final class JSONSchemaValidatorTests: XCTestCase {
    private func validator(_ schema: String, assertFormats: Bool = false, maxViolations: Int = 100) throws -> JSONSchemaValidator {
        try JSONSchemaValidator(schema: try JSONValue.parse(schema), options: .init(assertFormats: assertFormats, maxViolations: maxViolations))
    }

    private func problems(_ schema: String, _ value: String, assertFormats: Bool = false) throws -> [String] {
        try validator(schema, assertFormats: assertFormats).validate(try JSONValue.parse(value)).map(\.description)
    }

    private func schemaError(_ schema: String) throws -> String? {
        do {
            _ = try validator(schema)
            return nil
        } catch let error as JSONSchemaError {
            return error.description
        }
    }

    // MARK: Messages

    func testEveryProblemOfADocumentIsReportedWithPathAndRule() throws {
        let schema = #"""
        {"type": "object", "required": ["answer", "sources"], "additionalProperties": false,
         "properties": {
           "answer": {"type": "string", "minLength": 1},
           "sources": {"type": "array", "maxItems": 2, "uniqueItems": true,
                       "items": {"type": "string", "format": "uri", "pattern": "^https://"}},
           "score": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
           "kind": {"enum": ["billing", "bug"]},
           "odd key": {"const": 3}}}
        """#
        let value = #"""
        {"answer": "", "sources": ["https://a", "ftp://b", "https://a", 4], "score": 1, "kind": "x", "odd key": 3.0, "extra": null}
        """#
        XCTAssertEqual(try problems(schema, value), [
            #"$.extra: unexpected property "extra" (additionalProperties)"#,
            "$.answer: expected at least 1 character, got 0 (minLength)",
            "$.sources: expected at most 2 items, got 4 (maxItems)",
            "$.sources: items 0 and 2 are equal; the items must be unique (uniqueItems)",
            #"$.sources[1]: "ftp://b" does not match the pattern "^https://" (pattern)"#,
            "$.sources[3]: expected string, got number (type)",
            "$.score: 1 is not less than 1 (exclusiveMaximum)",
            #"$.kind: "x" is not one of "billing", "bug" (enum)"#,
        ], "in the order of the schema's keywords")
        XCTAssertEqual(try problems(schema, #"{"sources": []}"#), [#"$: missing required property "answer" (required)"#])
    }

    func testTheNumberOfReportedProblemsIsBounded() throws {
        let many = JSONValue.array((0..<1000).map { _ in .string("x") })
        let bounded = try validator(#"{"items": {"type": "integer"}}"#, maxViolations: 5)
        XCTAssertEqual(bounded.validate(many).map(\.path), ["$[0]", "$[1]", "$[2]", "$[3]", "$[4]"])
        XCTAssertEqual(try validator(#"{"items": {"type": "integer"}}"#).validate(many).count, 100, "100 by default")
        XCTAssertFalse(bounded.isValid(many))
    }

    func testApplicatorMessagesSayWhyEachAlternativeFailed() throws {
        XCTAssertEqual(try problems(#"{"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]}"#, "2"), [
            "$: matches none of the 2 schemas of anyOf: (1) $: expected string, got number (type); (2) $: 2 is less than the minimum 5 (minimum) (anyOf)",
        ])
        XCTAssertEqual(try problems(#"{"oneOf": [{"type": "number"}, {"type": "integer"}]}"#, "2"),
                       ["$: matches schemas 1 and 2 of oneOf; exactly one must match (oneOf)"])
        XCTAssertEqual(try problems(#"{"not": {"type": "null"}}"#, "null"), ["$: must not match the schema of `not` (#/not) (not)"])
        XCTAssertEqual(try problems(#"{"properties": {"a": false}}"#, #"{"a": 1}"#), ["$.a: no value is allowed here (the schema is `false`) (false)"])
        XCTAssertEqual(try problems(#"{"propertyNames": {"maxLength": 2}}"#, #"{"abc": 1}"#),
                       [#"$: the property name "abc" is not allowed: expected at most 2 characters, got 3 (maxLength) (propertyNames)"#])
        XCTAssertEqual(try problems(#"{"contains": {"type": "string"}, "maxContains": 1}"#, #"["a", "b"]"#),
                       ["$: expected at most 1 item matching the `contains` schema, got 2 (maxContains)"])
        XCTAssertEqual(try problems(#"{"type": ["string", "null"]}"#, "1.5"), ["$: expected string or null, got number 1.5 (type)"])
    }

    // MARK: Numbers and strings

    func testNumbersCompareByValueAndBigIntegersDoNotTrap() throws {
        XCTAssertEqual(try problems(#"{"type": "integer", "const": 1}"#, "1.0"), [])
        XCTAssertEqual(try problems(#"{"enum": [[1, {"a": 2}]]}"#, #"[1.0, {"a": 2.0}]"#), [])
        XCTAssertEqual(try problems(#"{"type": "integer"}"#, "123456789012345678901234567890123456789012345678901234567890"), [])
        XCTAssertEqual(try problems(#"{"maximum": 18446744073709551615}"#, "18446744073709551616"), [], "both are the same Double")
        XCTAssertEqual(try problems(#"{"maxLength": 1e300, "maxItems": 99999999999999999999}"#, #""abc""#), [])
        XCTAssertEqual(try problems(#"{"multipleOf": 0.0001}"#, "0.0075"), [], "decimal, not binary, division")
        XCTAssertEqual(try problems(#"{"multipleOf": 0.01}"#, "19.99"), [])
        XCTAssertEqual(try problems(#"{"multipleOf": 0.01}"#, "0.075"), ["$: 0.075 is not a multiple of 0.01 (multipleOf)"])
        XCTAssertEqual(try problems(#"{"multipleOf": 0.5}"#, "1e308"), [])
    }

    func testLengthsAreInCodePointsAndStringsCompareByCodePoint() throws {
        XCTAssertEqual(try problems(#"{"maxLength": 2}"#, #""💩💩""#), [], "two code points, four UTF-16 units")
        XCTAssertEqual(try problems(#"{"minLength": 2}"#, #""é""#), ["$: expected at least 2 characters, got 1 (minLength)"])
        XCTAssertEqual(try problems(#"{"minLength": 2}"#, #""e\u0301""#), [], "e and a combining accent are two code points")
        XCTAssertFalse(try validator(#"{"const": "\u00e9"}"#).isValid(.string("e\u{301}")), "canonically equivalent is not equal")
        XCTAssertFalse(try validator(#"{"required": ["\u00e9"]}"#).isValid(.object([("e\u{301}", .null)])))
    }

    // MARK: Patterns

    func testPatternsMeanWhatECMAScriptMeans() throws {
        let check = { (pattern: String, text: String) throws -> Bool in
            try JSONSchemaValidator(schema: .object([("pattern", .string(pattern))])).isValid(.string(text))
        }
        XCTAssertFalse(try check(#"^\d$"#, "৪"), #"\d is ASCII"#)
        XCTAssertTrue(try check(#"^\D$"#, "৪"))
        XCTAssertFalse(try check(#"^\w$"#, "é"), #"\w is ASCII"#)
        XCTAssertTrue(try check(#"^[\w]$"#, "_"))
        XCTAssertTrue(try check(#"^\s$"#, "\u{FEFF}"), #"\s includes the BOM"#)
        XCTAssertTrue(try check(#"^\s$"#, "\u{0B}"))
        XCTAssertFalse(try check(#"^abc$"#, "abc\n"), "$ is the very end")
        XCTAssertTrue(try check(#"^.$"#, "\u{85}"), ". matches NEL")
        XCTAssertFalse(try check(#"^.$"#, "\u{2028}"))
        XCTAssertTrue(try check(#"\bé"#, "aé"), #"\b sees é as a non-word character"#)
        XCTAssertTrue(try check(#"^\u{1F600}$"#, "😀"))
        XCTAssertTrue(try check(#"^[^]$"#, "\n"))
        XCTAssertFalse(try check(#"[]"#, "a"))
        XCTAssertTrue(try check(#"^\p{Letter}+$"#, "πa"))
        XCTAssertTrue(try check(#"^[a&&b]+$"#, "a&b"), "&& is literal in a class")
        XCTAssertTrue(try check(#"^[[x]+$"#, "[x["), "[ is literal in a class")
        XCTAssertTrue(try check("b", "abc"), "not anchored")
        XCTAssertTrue(try check(#"^[\Da]$"#, "x"))
        XCTAssertFalse(try check(#"^[\Da]$"#, "1"))
        XCTAssertNotNil(try schemaError(#"{"pattern": "(?<=a+)b"}"#), "ICU needs a bounded look-behind")
        XCTAssertEqual(try schemaError(#"{"properties": {"a": {"pattern": "(ab"}}}"#),
                       #"invalid schema at #/properties/a/pattern: "(ab" is not a valid regular expression: `(` is never closed"#)
    }

    // MARK: Formats

    func testFormatsAreAnnotationsUnlessAsserted() throws {
        let schema = #"{"properties": {"at": {"format": "date-time"}, "id": {"format": "uuid"}, "mail": {"format": "email"}, "link": {"format": "uri"}, "other": {"format": "hostname"}}}"#
        let value = #"{"at": "2026-02-30T10:00:00Z", "id": "123", "mail": "a@@b", "link": "/relative", "other": "-x-"}"#
        XCTAssertEqual(try problems(schema, value), [])
        XCTAssertEqual(try problems(schema, value, assertFormats: true), [
            #"$.at: "2026-02-30T10:00:00Z" is not a valid date-time (RFC 3339 date-time, e.g. 2026-12-01T18:30:00Z) (format)"#,
            #"$.id: "123" is not a valid uuid (RFC 4122 UUID, e.g. 123e4567-e89b-12d3-a456-426614174000) (format)"#,
            #"$.mail: "a@@b" is not a valid email (RFC 5321 mailbox, e.g. name@example.com) (format)"#,
            #"$.link: "/relative" is not a valid uri (RFC 3986 absolute URI, e.g. https://example.com/page) (format)"#,
        ])
        XCTAssertEqual(try problems(schema, #"{"at": "2024-02-29T23:59:60Z", "link": "urn:isbn:0451450523", "mail": "\"a b\"@[IPv6:::1]"}"#, assertFormats: true), [])
    }

    // MARK: References

    func testReferencesResolveWithinTheDocument() throws {
        let tree = #"""
        {"$id": "https://example.com/tree", "$ref": "#/$defs/node",
         "$defs": {"node": {"type": "object", "required": ["value"],
                            "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}},
                   "a~b/c%": {"$anchor": "leaf", "type": "string"}},
         "properties": {"by pointer": {"$ref": "#/$defs/a~0b~1c%25"}, "by anchor": {"$ref": "#leaf"}, "by id": {"$ref": "tree#/$defs/a~0b~1c%25"}}}
        """#
        XCTAssertEqual(try problems(tree, #"{"value": 1, "children": [{"value": 2, "children": [{"value": "x"}, {}]}]}"#), [
            "$.children[0].children[0].value: expected integer, got string (type)",
            #"$.children[0].children[1]: missing required property "value" (required)"#,
        ])
        XCTAssertEqual(try problems(tree, #"{"value": 1, "by pointer": 1, "by anchor": 2, "by id": 3}"#), [
            #"$["by pointer"]: expected string, got number (type)"#,
            #"$["by anchor"]: expected string, got number (type)"#,
            #"$["by id"]: expected string, got number (type)"#,
        ])
        // A recursive schema over a deep value ends: each reference goes one level into the value.
        var deep = JSONValue.object([("value", .number(0))])
        for i in 1..<200 { deep = .object([("value", .number(Double(i))), ("children", .array([deep]))]) }
        XCTAssertTrue(try validator(tree).isValid(deep))
    }

    func testCyclesAndDanglingReferencesAreSchemaErrors() throws {
        XCTAssertEqual(try schemaError(##"{"$ref": "#"}"##),
                       "invalid schema at #: the schema refers back to itself without going into the value, so it could be evaluated forever: # → #")
        XCTAssertEqual(try schemaError(##"{"$defs": {"a": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}}}"##),
                       "invalid schema at #/$defs/a: the schema refers back to itself without going into the value, so it could be evaluated forever: #/$defs/a → #/$defs/a/anyOf/1 → #/$defs/b → #/$defs/b/not → #/$defs/a")
        XCTAssertNil(try schemaError(##"{"items": {"$ref": "#"}, "properties": {"a": {"$ref": "#"}}}"##), "going into the value is fine")
        XCTAssertEqual(try schemaError(##"{"$ref": "#/$defs/missing"}"##), ##"invalid schema at #/$ref: $ref "#/$defs/missing" points at nothing in this schema"##)
        XCTAssertEqual(try schemaError(##"{"$ref": "#nowhere"}"##), ##"invalid schema at #/$ref: $ref "#nowhere" names no $anchor in this schema"##)
        XCTAssertEqual(try schemaError(#"{"$ref": "other.json"}"#),
                       #"invalid schema at #/$ref: $ref "other.json" refers to another document; only references within the schema are supported"#)
    }

    // MARK: Bad schemas

    func testBadSchemasAreRefusedWithTheKeywordAndItsPlace() throws {
        XCTAssertEqual(try schemaError(#"{"type": "float"}"#),
                       #"invalid schema at #/type: "float" is not a JSON Schema type (one of array, boolean, integer, null, number, object, string)"#)
        XCTAssertEqual(try schemaError(#"{"properties": {"n": {"minLength": -1}}}"#), "invalid schema at #/properties/n/minLength: minLength must be a non-negative integer")
        XCTAssertEqual(try schemaError(#"{"maxItems": "3"}"#), "invalid schema at #/maxItems: maxItems must be a non-negative integer")
        XCTAssertEqual(try schemaError(#"{"multipleOf": 0}"#), "invalid schema at #/multipleOf: multipleOf must be greater than 0")
        XCTAssertEqual(try schemaError(#"{"anyOf": []}"#), "invalid schema at #/anyOf: anyOf must be a non-empty array of schemas")
        XCTAssertEqual(try schemaError(#"{"items": [{"type": "string"}]}"#),
                       "invalid schema at #/items: items must be a schema; a tuple is written with prefixItems in draft 2020-12")
        XCTAssertEqual(try schemaError(#"{"required": "a"}"#), "invalid schema at #/required: required must be an array of strings")
        XCTAssertEqual(try schemaError(#"{"properties": {"a": 3}}"#), "invalid schema at #/properties/a: a schema must be an object or a boolean, not number")
        XCTAssertEqual(try schemaError("[]"), "invalid schema at #: a schema must be an object or a boolean, not array")
        // Known keywords this validator does not implement are refused, never silently ignored.
        XCTAssertEqual(try schemaError(#"{"properties": {"a": {"unevaluatedProperties": false}}}"#),
                       "invalid schema at #/properties/a/unevaluatedProperties: unevaluatedProperties is not supported; use additionalProperties")
        XCTAssertEqual(try schemaError(##"{"$dynamicRef": "#meta"}"##), "invalid schema at #/$dynamicRef: dynamic references are not supported; use $ref")
        XCTAssertEqual(try schemaError(#"{"$schema": "https://example.com/my-meta"}"#),
                       #"invalid schema at #/$schema: the metaschema "https://example.com/my-meta" is not supported; use https://json-schema.org/draft/2020-12/schema"#)
        XCTAssertNil(try schemaError(##"{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"a": {}}, "dependencies": {"a": ["b"]}}"##))
        // Annotations and unknown keywords are ignored, as the specification says.
        XCTAssertNil(try schemaError(#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "T", "x-vendor": {"type": 3}}"#))
    }
}

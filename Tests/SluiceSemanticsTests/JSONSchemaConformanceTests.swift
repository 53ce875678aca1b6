import Foundation
import XCTest
import SluiceSemantics
import SluiceSyntax

/// Runs the official JSON-Schema-Test-Suite (draft 2020-12, the copy in
/// `../shared/conformance/json-schema-draft2020-12` beside the repository) through
/// `JSONSchemaValidator`: one failure per case that disagrees, naming file, group and case.
/// What is not run is listed below with the reason, and the lists are checked against the
/// suite, so the scope cannot drift silently.
final class JSONSchemaConformanceTests: XCTestCase {
    static let suite = Paths.repository.deletingLastPathComponent().appendingPathComponent("shared/conformance/json-schema-draft2020-12")

    /// Files run with formats as annotations (the specification's default).
    static let files = [
        "additionalProperties", "allOf", "anchor", "anyOf", "boolean_schema", "const", "contains", "content", "default",
        "defs", "dependentRequired", "dependentSchemas", "enum", "exclusiveMaximum", "exclusiveMinimum", "format",
        "if-then-else", "infinite-loop-detection", "items", "maxContains", "maxItems", "maxLength", "maxProperties",
        "maximum", "minContains", "minItems", "minLength", "minProperties", "minimum", "multipleOf", "not", "oneOf",
        "pattern", "patternProperties", "prefixItems", "properties", "propertyNames", "ref", "required", "type",
        "uniqueItems",
        "optional/bignum", "optional/dependencies-compatibility", "optional/ecmascript-regex", "optional/float-overflow", "optional/non-bmp-regex",
    ].map { $0 + ".json" }

    /// Files run with formats as assertions.
    static let formatFiles = ["date-time", "date", "time", "email", "uri", "uuid"].map { "optional/format/\($0).json" }

    /// Whole files not run, and why.
    static let outOfScopeFiles: [String: String] = [
        "dynamicRef.json": "$dynamicRef / $dynamicAnchor are not supported (refused at compile time)",
        "unevaluatedItems.json": "unevaluatedItems is not supported (refused at compile time)",
        "unevaluatedProperties.json": "unevaluatedProperties is not supported (refused at compile time)",
        "refRemote.json": "references to other documents (remote refs) are not supported",
        "vocabulary.json": "custom metaschemas with $vocabulary are not supported (refused: $schema must be a standard draft)",
        "optional/anchor.json": "anchors with non-standard URI forms (optional)",
        "optional/cross-draft.json": "references to schemas of other drafts (remote)",
        "optional/dynamicRef.json": "$dynamicRef is not supported",
        "optional/format-assertion.json": "the format-assertion vocabulary of a custom metaschema (refused); formats are asserted by an option",
        "optional/id.json": "$id in enum/const values and unknown keywords (optional)",
        "optional/no-schema.json": "schemas without $schema default to 2020-12 here; the file is about that default",
        "optional/refOfUnknownKeyword.json": "references into unknown keywords (optional)",
        "optional/unknownKeyword.json": "$id inside unknown keywords (optional)",
        "optional/format/duration.json": "format duration is an annotation only",
        "optional/format/ecmascript-regex.json": "format regex is an annotation only",
        "optional/format/hostname.json": "format hostname is an annotation only",
        "optional/format/idn-email.json": "format idn-email is an annotation only",
        "optional/format/idn-hostname.json": "format idn-hostname is an annotation only",
        "optional/format/ipv4.json": "format ipv4 is an annotation only",
        "optional/format/ipv6.json": "format ipv6 is an annotation only",
        "optional/format/iri-reference.json": "format iri-reference is an annotation only",
        "optional/format/iri.json": "format iri is an annotation only",
        "optional/format/json-pointer.json": "format json-pointer is an annotation only",
        "optional/format/regex.json": "format regex is an annotation only",
        "optional/format/relative-json-pointer.json": "format relative-json-pointer is an annotation only",
        "optional/format/unknown.json": "unknown formats are annotations",
        "optional/format/uri-reference.json": "format uri-reference is an annotation only",
        "optional/format/uri-template.json": "format uri-template is an annotation only",
    ]

    /// Groups of the files run that are not, and why ("file: group description").
    static let outOfScopeGroups: [String: String] = [
        "defs.json: validate definition against metaschema": "refers to the draft 2020-12 metaschema, another document",
        "ref.json: remote ref, containing refs itself": "refers to the draft 2020-12 metaschema, another document",
        "not.json: collect annotations inside a 'not', even if collection is disabled": "uses unevaluatedProperties",
        "ref.json: ref creates new scope when adjacent to keywords": "uses unevaluatedProperties",
    ]

    func testEverySuiteFileIsRunOrListedOutOfScope() throws {
        let root = Self.suite
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return XCTFail("no conformance suite at \(root.path)") }
        let present = Set(walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".json") })
        let listed = Set(Self.files + Self.formatFiles).union(Self.outOfScopeFiles.keys)
        XCTAssertEqual(present.subtracting(listed).sorted(), [], "suite files neither run nor listed out of scope")
        XCTAssertEqual(listed.subtracting(present).sorted(), [], "listed files missing from the suite")
    }

    /// What is out of scope is refused with an error, or answered right, never answered wrong:
    /// a schema using an unsupported keyword does not silently validate as if it were absent.
    func testOutOfScopeSchemasAreRefusedOrRightNeverWrong() throws {
        var refused = 0
        for file in Self.outOfScopeFiles.keys.sorted() where !file.hasPrefix("optional/format/") {
            let data = try Data(contentsOf: Self.suite.appendingPathComponent(file))
            guard case .array(let groups) = try JSONValue.parse(bytes: Array(data)) else { XCTFail("\(file): not an array of groups"); continue }
            for group in groups {
                guard let schema = group["schema"], case .array(let tests)? = group["tests"] else { continue }
                guard let validator = try? JSONSchemaValidator(schema: schema) else { refused += 1; continue }
                for test in tests {
                    guard let instance = test["data"], case .bool(let expected)? = test["valid"] else { continue }
                    XCTAssertEqual(validator.isValid(instance), expected,
                                   "\(file): \(group["description"]?.stringValue ?? "?") / \(test["description"]?.stringValue ?? "?") is answered wrong instead of refused")
                }
            }
        }
        XCTAssertGreaterThan(refused, 50)
    }

    func testSuiteCases() throws {
        var listedGroupsSeen: Set<String> = []
        var cases = 0
        for (file, assertFormats) in Self.files.map({ ($0, false) }) + Self.formatFiles.map({ ($0, true) }) {
            let data = try Data(contentsOf: Self.suite.appendingPathComponent(file))
            guard case .array(let groups) = try JSONValue.parse(bytes: Array(data)) else { XCTFail("\(file): not an array of groups"); continue }
            for group in groups {
                let title = group["description"]?.stringValue ?? "?"
                let key = "\(file): \(title)"
                if Self.outOfScopeGroups[key] != nil { listedGroupsSeen.insert(key); continue }
                guard let schema = group["schema"], case .array(let tests)? = group["tests"] else { XCTFail("\(key): malformed group"); continue }
                let validator: JSONSchemaValidator
                do {
                    validator = try JSONSchemaValidator(schema: schema, options: .init(assertFormats: assertFormats))
                } catch {
                    XCTFail("\(key): the schema is refused: \(error)")
                    continue
                }
                for test in tests {
                    guard let instance = test["data"], case .bool(let expected)? = test["valid"] else { XCTFail("\(key): malformed case"); continue }
                    let violations = validator.validate(instance)
                    cases += 1
                    if violations.isEmpty != expected {
                        XCTFail("\(key) / \(test["description"]?.stringValue ?? "?"): expected \(expected ? "valid" : "invalid"), got \(violations.isEmpty ? "valid" : violations.map(\.description).joined(separator: "; "))")
                    }
                    XCTAssertEqual(validator.isValid(instance), violations.isEmpty, "\(key): isValid agrees with validate")
                }
            }
        }
        XCTAssertEqual(Set(Self.outOfScopeGroups.keys).subtracting(listedGroupsSeen).sorted(), [], "listed groups missing from the suite")
        XCTAssertGreaterThan(cases, 1000)
    }
}

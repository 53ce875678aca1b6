import SluiceSyntax

/// A validator of JSON Schema (draft 2020-12) documents, written by hand or made by
/// `jsonSchema(for:)`. The schema is checked and compiled once (`init` throws a
/// `JSONSchemaError` naming the bad keyword and where it is); `validate` then reports every
/// problem of a value, up to `Options.maxViolations`, each naming the JSON path of the failing
/// value and the rule (`$.sources: expected at most 3 items, got 4 (maxItems)`).
///
/// Supported: boolean schemas; type, enum, const; multipleOf, minimum, maximum,
/// exclusiveMinimum, exclusiveMaximum; minLength, maxLength (Unicode code points), pattern;
/// items, prefixItems, contains, minContains, maxContains, minItems, maxItems, uniqueItems;
/// properties, patternProperties, additionalProperties, propertyNames, required,
/// dependentRequired, dependentSchemas, minProperties, maxProperties; allOf, anyOf, oneOf, not,
/// if/then/else, draft 7's dependencies; $ref to the same document (`#`, `#/$defs/name`, any JSON pointer, `$anchor`
/// names, embedded `$id` resources); format as an annotation, or as an assertion for
/// date-time, date, time, email, uri and uuid when `Options.assertFormats` is set.
/// Not supported, refused at `init` rather than silently ignored: $dynamicRef, $recursiveRef,
/// unevaluatedItems, unevaluatedProperties, references to other documents, and a `$schema`
/// other than a standard draft's (a custom metaschema).
///
/// Numbers are Doubles (as `JSONValue` holds them): 1.0 equals 1, an integer is any finite
/// number without a fractional part, and integers beyond 2^53 are compared as their nearest
/// Double (they never trap). `pattern` is an ECMA-262 regular expression run by ICU; see
/// `ECMARegex` for the differences.
public struct JSONSchemaValidator: Sendable {
    public struct Options: Sendable, Hashable {
        /// Whether `format` is an assertion (a value of a known format that does not conform is
        /// invalid) rather than an annotation, as the specification has it by default.
        public var assertFormats: Bool
        /// The most problems one `validate` call reports.
        public var maxViolations: Int

        public init(assertFormats: Bool = false, maxViolations: Int = 100) {
            self.assertFormats = assertFormats
            self.maxViolations = max(1, maxViolations)
        }
    }

    public let schema: JSONValue
    public let options: Options
    let compiled: CompiledSchema

    public init(schema: JSONValue, options: Options = Options()) throws(JSONSchemaError) {
        self.schema = schema
        self.options = options
        compiled = try CompiledSchema(schema)
    }

    /// Every problem of `value` (up to `options.maxViolations`), in the order of the schema's
    /// keywords, depth first; empty when the value is valid.
    public func validate(_ value: JSONValue) -> [JSONSchemaViolation] {
        var evaluation = SchemaEvaluation(schema: compiled, assertFormats: options.assertFormats)
        var sink = ViolationSink(limit: options.maxViolations)
        evaluation.evaluate(value, node: compiled.root, into: &sink)
        return sink.violations
    }

    public func isValid(_ value: JSONValue) -> Bool {
        var evaluation = SchemaEvaluation(schema: compiled, assertFormats: options.assertFormats)
        var verdict = ViolationSink.verdict()
        evaluation.evaluate(value, node: compiled.root, into: &verdict)
        return !verdict.failed
    }
}

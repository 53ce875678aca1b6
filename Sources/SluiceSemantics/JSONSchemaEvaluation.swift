import Foundation
import SluiceSyntax

/// One walk of a value through a compiled schema. The instance path is kept as a stack of
/// steps and written out only for a violation.
struct SchemaEvaluation {
    let schema: CompiledSchema
    let assertFormats: Bool
    var path: [InstanceStep] = []

    init(schema: CompiledSchema, assertFormats: Bool) {
        self.schema = schema
        self.assertFormats = assertFormats
    }

    mutating func evaluate(_ value: JSONValue, node index: Int, into sink: inout ViolationSink) {
        let node = schema.nodes[index]
        let path = self.path
        func report(_ keyword: String, _ message: @autoclosure () -> String) {
            sink.add { JSONSchemaViolation(path: formatJSONPath(path), keyword: keyword, message: message()) }
        }
        if node.rejectsEverything { return report("false", "no value is allowed here (the schema is `false`)") }
        for keyword in node.keywords {
            if sink.isFull { return }
            switch keyword {
            case .type(let names):
                if !names.contains(where: { Self.hasType(value, $0) }) {
                    report("type", "expected \(names.joined(separator: " or ")), got \(Self.describeType(value))")
                }
            case .enumeration(let cases):
                if !cases.contains(where: { jsonSchemaEqual($0, value) }) {
                    report("enum", "\(Self.show(value)) is not one of \(Self.list(cases))")
                }
            case .constant(let expected):
                if !jsonSchemaEqual(expected, value) { report("const", "expected \(Self.show(expected)), got \(Self.show(value))") }
            case .multipleOf(let divisor):
                if case .number(let n) = value, !Self.isMultiple(n, of: divisor) {
                    report("multipleOf", "\(JSONValue.formatNumber(n)) is not a multiple of \(JSONValue.formatNumber(divisor))")
                }
            case .minimum(let bound):
                if case .number(let n) = value, n < bound { report("minimum", "\(JSONValue.formatNumber(n)) is less than the minimum \(JSONValue.formatNumber(bound))") }
            case .maximum(let bound):
                if case .number(let n) = value, n > bound { report("maximum", "\(JSONValue.formatNumber(n)) is greater than the maximum \(JSONValue.formatNumber(bound))") }
            case .exclusiveMinimum(let bound):
                if case .number(let n) = value, n <= bound { report("exclusiveMinimum", "\(JSONValue.formatNumber(n)) is not greater than \(JSONValue.formatNumber(bound))") }
            case .exclusiveMaximum(let bound):
                if case .number(let n) = value, n >= bound { report("exclusiveMaximum", "\(JSONValue.formatNumber(n)) is not less than \(JSONValue.formatNumber(bound))") }
            case .minLength(let bound):
                if case .string(let s) = value, s.unicodeScalars.count < bound {
                    report("minLength", "expected at least \(Self.count(bound, "character")), got \(s.unicodeScalars.count)")
                }
            case .maxLength(let bound):
                if case .string(let s) = value, s.unicodeScalars.count > bound {
                    report("maxLength", "expected at most \(Self.count(bound, "character")), got \(s.unicodeScalars.count)")
                }
            case .pattern(let regex):
                if case .string(let s) = value, !regex.matches(s) {
                    report("pattern", "\(Self.show(value)) does not match the pattern \(JSONValue.string(regex.source).serialized())")
                }
            case .format(let name):
                if assertFormats, case .string(let s) = value, let check = StringFormat(rawValue: name), !check.accepts(s) {
                    report("format", "\(Self.show(value)) is not a valid \(name) (\(check.standard))")
                }
            case .minItems(let bound):
                if case .array(let items) = value, items.count < bound { report("minItems", "expected at least \(Self.count(bound, "item")), got \(items.count)") }
            case .maxItems(let bound):
                if case .array(let items) = value, items.count > bound { report("maxItems", "expected at most \(Self.count(bound, "item")), got \(items.count)") }
            case .uniqueItems:
                guard case .array(let items) = value else { continue }
                var firstIndex: [SchemaEqualValue: Int] = [:]
                for (i, item) in items.enumerated() {
                    if let earlier = firstIndex[SchemaEqualValue(value: item)] {
                        report("uniqueItems", "items \(earlier) and \(i) are equal; the items must be unique")
                        break
                    }
                    firstIndex[SchemaEqualValue(value: item)] = i
                }
            case .prefixItems(let nodes):
                guard case .array(let items) = value else { continue }
                for (i, (item, child)) in zip(items, nodes).enumerated() { descend(item, .index(i), child, &sink) }
            case .items(let child, let start):
                guard case .array(let items) = value, items.count > start else { continue }
                for i in start..<items.count {
                    descend(items[i], .index(i), child, &sink)
                    if sink.isFull { return }
                }
            case .contains(let child, let minimum, let maximum):
                guard case .array(let items) = value else { continue }
                var matching = 0
                for (i, item) in items.enumerated() where passes(item, .index(i), child) { matching += 1 }
                if matching < minimum {
                    report(minimum == 1 ? "contains" : "minContains",
                           "expected at least \(Self.count(minimum, "item")) matching the `contains` schema, got \(matching)")
                } else if let maximum, matching > maximum {
                    report("maxContains", "expected at most \(Self.count(maximum, "item")) matching the `contains` schema, got \(matching)")
                }
            case .properties(let properties):
                guard case .object = value else { continue }
                for property in properties {
                    if let member = memberValue(value, property.name) { descend(member, .key(property.name), property.node, &sink) }
                }
            case .patternProperties(let patterns):
                guard case .object(let members) = value else { continue }
                for member in members {
                    for pattern in patterns where pattern.regex.matches(member.key) { descend(member.value, .key(member.key), pattern.node, &sink) }
                }
            case .additionalProperties(let child, let known, let patterns):
                guard case .object(let members) = value else { continue }
                for member in members where !known.contains(Array(member.key.utf8)) && !patterns.contains(where: { $0.matches(member.key) }) {
                    if schema.nodes[child].rejectsEverything {
                        sink.add {
                            JSONSchemaViolation(path: formatJSONPath(path + [.key(member.key)]), keyword: "additionalProperties",
                                                message: "unexpected property \(Self.show(.string(member.key)))")
                        }
                    } else {
                        descend(member.value, .key(member.key), child, &sink)
                    }
                }
            case .propertyNames(let child):
                guard case .object(let members) = value else { continue }
                for member in members where !matches(.string(member.key), child) {
                    let problem = sink.detailed ? firstViolation(.string(member.key), child) : nil
                    report("propertyNames", "the property name \(Self.show(.string(member.key))) is not allowed"
                        + (problem.map { ": \($0.message) (\($0.keyword))" } ?? ""))
                }
            case .required(let names):
                guard case .object = value else { continue }
                for name in names where memberValue(value, name) == nil { report("required", "missing required property \(Self.show(.string(name)))") }
            case .dependentRequired(let dependencies):
                guard case .object = value else { continue }
                for dependency in dependencies where memberValue(value, dependency.name) != nil {
                    for name in dependency.required where memberValue(value, name) == nil {
                        report("dependentRequired", "missing property \(Self.show(.string(name))), required when \(Self.show(.string(dependency.name))) is present")
                    }
                }
            case .dependentSchemas(let dependencies):
                guard case .object = value else { continue }
                for dependency in dependencies where memberValue(value, dependency.name) != nil { evaluate(value, node: dependency.node, into: &sink) }
            case .minProperties(let bound):
                if case .object(let members) = value, members.count < bound { report("minProperties", "expected at least \(Self.count(bound, "property")), got \(members.count)") }
            case .maxProperties(let bound):
                if case .object(let members) = value, members.count > bound { report("maxProperties", "expected at most \(Self.count(bound, "property")), got \(members.count)") }
            case .allOf(let nodes):
                for child in nodes { evaluate(value, node: child, into: &sink) }
            case .anyOf(let nodes):
                var matched = false
                for child in nodes where matches(value, child) { matched = true; break }
                if !matched {
                    let reasons = sink.detailed ? reasonsForNoMatch(value, nodes) : []
                    report("anyOf", "matches none of the \(nodes.count) schemas of anyOf: \(Self.numbered(reasons))")
                }
            case .oneOf(let nodes):
                var matching: [Int] = []
                for (i, child) in nodes.enumerated() where matches(value, child) {
                    matching.append(i + 1)
                    if matching.count > 1 { break }
                }
                if matching.isEmpty {
                    let reasons = sink.detailed ? reasonsForNoMatch(value, nodes) : []
                    report("oneOf", "matches none of the \(nodes.count) schemas of oneOf: \(Self.numbered(reasons))")
                } else if matching.count > 1 {
                    report("oneOf", "matches schemas \(matching[0]) and \(matching[1]) of oneOf; exactly one must match")
                }
            case .not(let child):
                if matches(value, child) { report("not", "must not match the schema of `not` (\(schema.nodes[child].location))") }
            case .conditional(let condition, let then, let otherwise):
                if matches(value, condition) {
                    if let then { evaluate(value, node: then, into: &sink) }
                } else if let otherwise {
                    evaluate(value, node: otherwise, into: &sink)
                }
            case .ref(let target):
                // Terminates: `CompiledSchema` refuses references that come back without going into the value.
                evaluate(value, node: target, into: &sink)
            }
        }
    }

    private mutating func descend(_ value: JSONValue, _ step: InstanceStep, _ node: Int, _ sink: inout ViolationSink) {
        path.append(step)
        evaluate(value, node: node, into: &sink)
        path.removeLast()
    }

    private mutating func passes(_ value: JSONValue, _ step: InstanceStep, _ node: Int) -> Bool {
        var verdict = ViolationSink.verdict()
        descend(value, step, node, &verdict)
        return !verdict.failed
    }

    private mutating func matches(_ value: JSONValue, _ node: Int) -> Bool {
        var verdict = ViolationSink.verdict()
        evaluate(value, node: node, into: &verdict)
        return !verdict.failed
    }

    /// The first violation of `node` by `value`, or nil when it matches.
    private mutating func firstViolation(_ value: JSONValue, _ node: Int) -> JSONSchemaViolation? {
        var inner = ViolationSink(limit: 1)
        evaluate(value, node: node, into: &inner)
        return inner.violations.first
    }

    /// Why each alternative failed, for a message: evaluated again, in detail, only when reported.
    private mutating func reasonsForNoMatch(_ value: JSONValue, _ nodes: [Int]) -> [JSONSchemaViolation] {
        var reasons: [JSONSchemaViolation] = []
        for node in nodes { if let reason = firstViolation(value, node) { reasons.append(reason) } }
        return reasons
    }

    static func hasType(_ value: JSONValue, _ name: String) -> Bool {
        switch (value, name) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"), (.number, "number"): true
        case (.number(let n), "integer"): n.isFinite && n == n.rounded(.towardZero)
        default: false
        }
    }

    static func describeType(_ value: JSONValue) -> String {
        if case .number(let n) = value, !hasType(value, "integer") { return "number \(JSONValue.formatNumber(n))" }
        return jsonTypeName(value)
    }

    /// Whether `n` is an integer multiple of `divisor`, computed in decimal when both fit
    /// (0.0075 is a multiple of 0.0001, which binary division gets wrong), in binary otherwise.
    static func isMultiple(_ n: Double, of divisor: Double) -> Bool {
        if n == 0 { return true }
        // Decimal keeps 38 digits: with a quotient below 1e30, a fraction is never rounded away.
        let inDecimalRange = { (x: Double) in abs(x) > 1e-60 && abs(x) < 1e60 }
        if inDecimalRange(n), inDecimalRange(divisor), abs(n / divisor) < 1e30,
           let a = Decimal(string: "\(n)"), let b = Decimal(string: "\(divisor)") {
            var quotient = a / b
            var whole = Decimal()
            NSDecimalRound(&whole, &quotient, 0, .down)
            return whole == quotient
        }
        let quotient = n / divisor
        if quotient.isFinite { return quotient == quotient.rounded(.towardZero) }
        return n.truncatingRemainder(dividingBy: divisor) == 0
    }

    /// A value as it appears in a message, cut short when long.
    static func show(_ value: JSONValue) -> String {
        let text = value.serialized()
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }

    static func list(_ values: [JSONValue]) -> String {
        if values.isEmpty { return "an empty enum (nothing is allowed)" }
        let shown = values.prefix(10).map(show).joined(separator: ", ")
        return values.count > 10 ? "\(shown), ... (\(values.count) values)" : shown
    }

    static func count(_ n: Int, _ noun: String) -> String {
        if n == 1 { return "1 \(noun)" }
        return "\(n) " + (noun == "property" ? "properties" : noun + "s")
    }

    /// The first problem with each alternative, written out only when it is reported.
    static func numbered(_ reasons: [JSONSchemaViolation]) -> String {
        reasons.enumerated().map { "(\($0.offset + 1)) \($0.element)" }.joined(separator: "; ")
    }
}

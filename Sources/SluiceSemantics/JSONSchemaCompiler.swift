import Foundation
import SluiceSyntax

/// A schema checked and turned into nodes, one per subschema, whose keywords hold their
/// arguments in the form evaluation needs (patterns compiled, `$ref` resolved to a node).
struct CompiledSchema: Sendable {
    var nodes: [SchemaNode] = []
    var root = 0

    init(_ schema: JSONValue) throws(JSONSchemaError) {
        var compiler = SchemaCompiler(document: schema)
        root = try compiler.compile(schema, pointer: [], base: SchemaCompiler.defaultBase)
        try compiler.resolvePendingReferences()
        nodes = compiler.nodes
        try rejectCycles()
    }

    /// The subschemas a node applies to the same value (not to a part of it).
    static func inPlace(_ keyword: SchemaKeyword) -> [Int] {
        switch keyword {
        case .allOf(let nodes), .anyOf(let nodes), .oneOf(let nodes): nodes
        case .not(let node), .ref(let node): [node]
        case .conditional(let condition, let then, let otherwise): [condition] + [then, otherwise].compactMap { $0 }
        case .dependentSchemas(let dependencies): dependencies.map(\.node)
        default: []
        }
    }

    /// A schema that reaches itself through references and in-place applicators, without going
    /// into a part of the value (`{"$defs": {"a": {"$ref": "#/$defs/a"}}}`), would be evaluated
    /// forever on some value: it is refused here, so evaluation always terminates.
    private func rejectCycles() throws(JSONSchemaError) {
        enum Mark { case unvisited, onPath, done }
        var marks = Array(repeating: Mark.unvisited, count: nodes.count)
        var path: [Int] = []
        func visit(_ node: Int) throws(JSONSchemaError) {
            marks[node] = .onPath
            path.append(node)
            for keyword in nodes[node].keywords {
                for next in Self.inPlace(keyword) {
                    switch marks[next] {
                    case .onPath:
                        let cycle = path[path.firstIndex(of: next)!...].map { nodes[$0].location } + [nodes[next].location]
                        throw JSONSchemaError(location: nodes[next].location,
                                              message: "the schema refers back to itself without going into the value, so it could be evaluated forever: \(cycle.joined(separator: " → "))")
                    case .unvisited: try visit(next)
                    case .done: break
                    }
                }
            }
            path.removeLast()
            marks[node] = .done
        }
        for node in nodes.indices where marks[node] == .unvisited { try visit(node) }
    }
}

struct SchemaNode: Sendable {
    /// Where the subschema is, as a URI fragment (`#/properties/a`), for messages.
    var location: String
    /// The `false` schema: nothing is valid.
    var rejectsEverything = false
    var keywords: [SchemaKeyword] = []
}

enum SchemaKeyword: Sendable {
    case type([String])
    case enumeration([JSONValue])
    case constant(JSONValue)
    case multipleOf(Double)
    case minimum(Double)
    case maximum(Double)
    case exclusiveMinimum(Double)
    case exclusiveMaximum(Double)
    case minLength(Int)
    case maxLength(Int)
    case pattern(ECMARegex)
    case format(String)
    case minItems(Int)
    case maxItems(Int)
    case uniqueItems
    case prefixItems([Int])
    /// `items` applies to the elements after the `prefixItems` ones.
    case items(Int, from: Int)
    case contains(Int, min: Int, max: Int?)
    case properties([(name: String, node: Int)])
    case patternProperties([(regex: ECMARegex, node: Int)])
    /// `additionalProperties` applies to members matched by neither `properties` nor
    /// `patternProperties`; names are compared as UTF-8, code point by code point.
    case additionalProperties(Int, known: Set<[UInt8]>, patterns: [ECMARegex])
    case propertyNames(Int)
    case required([String])
    case dependentRequired([(name: String, required: [String])])
    case dependentSchemas([(name: String, node: Int)])
    case minProperties(Int)
    case maxProperties(Int)
    case allOf([Int])
    case anyOf([Int])
    case oneOf([Int])
    case not(Int)
    case conditional(if: Int, then: Int?, else: Int?)
    /// The node is patched in once every reference is resolved.
    case ref(Int)
}

/// A JSON pointer as its unescaped tokens.
typealias PointerTokens = [String]

func escapePointerToken(_ token: String) -> String {
    token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
}

func fragment(of pointer: PointerTokens) -> String {
    "#" + pointer.map { "/" + escapePointerToken($0) }.joined()
}

private struct SchemaCompiler {
    /// The base URI of a schema without `$id`: references that leave the document resolve to
    /// URIs no resource has, and are reported as such.
    static let defaultBase = "urn:sluice:schema"

    let document: JSONValue
    var nodes: [SchemaNode] = []
    /// Nodes by the pointer of their subschema in the document, so each is compiled once.
    var nodeAtPointer: [PointerTokens: Int] = [:]
    /// Schema resources (the document, and subschemas with `$id`) by absolute URI.
    var resources: [String: PointerTokens] = [:]
    /// `$anchor` (and `$dynamicAnchor`) names, as absolute URIs with a fragment.
    var anchors: [String: PointerTokens] = [:]
    var pendingReferences: [(node: Int, keyword: Int, written: String, base: String, pointer: PointerTokens)] = []
    /// The base URI in force at each compiled pointer, for references compiled on demand.
    var baseAtPointer: [PointerTokens: String] = [:]

    init(document: JSONValue) {
        self.document = document
        resources[Self.defaultBase] = []
    }

    static let unsupported: [String: String] = [
        "$dynamicRef": "dynamic references are not supported; use $ref",
        "$recursiveRef": "$recursiveRef (draft 2019-09) is not supported; use $ref",
        "unevaluatedProperties": "unevaluatedProperties is not supported; use additionalProperties",
        "unevaluatedItems": "unevaluatedItems is not supported; use items",
    ]

    mutating func compile(_ schema: JSONValue, pointer: PointerTokens, base inherited: String) throws(JSONSchemaError) -> Int {
        if let existing = nodeAtPointer[pointer] { return existing }
        let index = nodes.count
        nodes.append(SchemaNode(location: fragment(of: pointer)))
        nodeAtPointer[pointer] = index
        func fail(_ keyword: String, _ message: String) -> JSONSchemaError {
            JSONSchemaError(location: fragment(of: pointer + [keyword]), message: message)
        }
        switch schema {
        case .bool(let accepts):
            nodes[index].rejectsEverything = !accepts
            return index
        case .object:
            break
        default:
            throw JSONSchemaError(location: fragment(of: pointer), message: "a schema must be an object or a boolean, not \(jsonTypeName(schema))")
        }
        guard case .object(let members) = schema else { return index }
        var base = inherited
        if let id = schema["$id"] {
            guard case .string(let written) = id else { throw fail("$id", "$id must be a string") }
            if !written.hasPrefix("#") {
                base = splitFragment(resolveURIReference(written, against: inherited)).uri
                resources[base] = pointer
            }
        }
        baseAtPointer[pointer] = base
        for anchorKeyword in ["$anchor", "$dynamicAnchor"] {
            guard let anchor = schema[anchorKeyword] else { continue }
            guard case .string(let name) = anchor, !name.isEmpty else { throw fail(anchorKeyword, "\(anchorKeyword) must be a non-empty string") }
            anchors[base + "#" + name] = pointer
        }

        var keywords: [SchemaKeyword] = []
        func sub(_ keyword: String, _ value: JSONValue) throws(JSONSchemaError) -> Int {
            try compile(value, pointer: pointer + [keyword], base: base)
        }
        func subList(_ keyword: String, _ value: JSONValue) throws(JSONSchemaError) -> [Int] {
            guard case .array(let items) = value, !items.isEmpty else { throw fail(keyword, "\(keyword) must be a non-empty array of schemas") }
            var result: [Int] = []
            for (i, item) in items.enumerated() { result.append(try compile(item, pointer: pointer + [keyword, String(i)], base: base)) }
            return result
        }
        func subMap(_ keyword: String, _ value: JSONValue) throws(JSONSchemaError) -> [(name: String, node: Int)] {
            guard case .object(let entries) = value else { throw fail(keyword, "\(keyword) must be an object of schemas") }
            var result: [(name: String, node: Int)] = []
            for entry in entries { result.append((entry.key, try compile(entry.value, pointer: pointer + [keyword, entry.key], base: base))) }
            return result
        }
        func number(_ keyword: String, _ value: JSONValue) throws(JSONSchemaError) -> Double {
            guard case .number(let n) = value, n.isFinite else { throw fail(keyword, "\(keyword) must be a number") }
            return n
        }
        func count(_ keyword: String, _ value: JSONValue) throws(JSONSchemaError) -> Int {
            guard case .number(let n) = value, n >= 0, n == n.rounded(.towardZero) else {
                throw fail(keyword, "\(keyword) must be a non-negative integer")
            }
            // Counts past any real size are clamped rather than converted (which would trap).
            return n >= 1e15 ? 1_000_000_000_000_000 : Int(n)
        }
        func strings(_ keyword: String, _ value: JSONValue) throws(JSONSchemaError) -> [String] {
            guard case .array(let items) = value else { throw fail(keyword, "\(keyword) must be an array of strings") }
            var result: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw fail(keyword, "\(keyword) must be an array of strings") }
                result.append(s)
            }
            return result
        }
        func regex(_ keyword: String, _ source: String) throws(JSONSchemaError) -> ECMARegex {
            do { return try ECMARegex(source) } catch { throw fail(keyword, "\(JSONValue.string(source).serialized()) is not a valid regular expression: \(error.message)") }
        }

        let prefixCount = schema["prefixItems"]?.arrayValue?.count ?? 0
        for (key, value) in members {
            if let reason = Self.unsupported[key] { throw fail(key, reason) }
            switch key {
            case "type":
                let names: [String]
                switch value {
                case .string(let name): names = [name]
                case .array: names = try strings(key, value)
                default: throw fail(key, "type must be a type name or an array of them")
                }
                for name in names where !Self.typeNames.contains(name) {
                    throw fail(key, "\(JSONValue.string(name).serialized()) is not a JSON Schema type (one of \(Self.typeNames.sorted().joined(separator: ", ")))")
                }
                keywords.append(.type(names))
            case "enum":
                guard case .array(let cases) = value else { throw fail(key, "enum must be an array") }
                keywords.append(.enumeration(cases))
            case "const": keywords.append(.constant(value))
            case "multipleOf":
                let n = try number(key, value)
                if n <= 0 { throw fail(key, "multipleOf must be greater than 0") }
                keywords.append(.multipleOf(n))
            case "minimum": keywords.append(.minimum(try number(key, value)))
            case "maximum": keywords.append(.maximum(try number(key, value)))
            case "exclusiveMinimum": keywords.append(.exclusiveMinimum(try number(key, value)))
            case "exclusiveMaximum": keywords.append(.exclusiveMaximum(try number(key, value)))
            case "minLength": keywords.append(.minLength(try count(key, value)))
            case "maxLength": keywords.append(.maxLength(try count(key, value)))
            case "pattern":
                guard case .string(let source) = value else { throw fail(key, "pattern must be a string") }
                keywords.append(.pattern(try regex(key, source)))
            case "format":
                guard case .string(let name) = value else { throw fail(key, "format must be a string") }
                keywords.append(.format(name))
            case "minItems": keywords.append(.minItems(try count(key, value)))
            case "maxItems": keywords.append(.maxItems(try count(key, value)))
            case "uniqueItems":
                guard case .bool(let unique) = value else { throw fail(key, "uniqueItems must be true or false") }
                if unique { keywords.append(.uniqueItems) }
            case "prefixItems": keywords.append(.prefixItems(try subList(key, value)))
            case "items":
                if case .array = value { throw fail(key, "items must be a schema; a tuple is written with prefixItems in draft 2020-12") }
                keywords.append(.items(try sub(key, value), from: prefixCount))
            case "contains":
                let minimum = try schema["minContains"].map { v throws(JSONSchemaError) in try count("minContains", v) } ?? 1
                let maximum = try schema["maxContains"].map { v throws(JSONSchemaError) in try count("maxContains", v) }
                keywords.append(.contains(try sub(key, value), min: minimum, max: maximum))
            case "properties": keywords.append(.properties(try subMap(key, value)))
            case "patternProperties":
                var compiled: [(regex: ECMARegex, node: Int)] = []
                for entry in try subMap(key, value) { compiled.append((try regex(key, entry.name), entry.node)) }
                keywords.append(.patternProperties(compiled))
            case "additionalProperties":
                let known = Set(schema["properties"].flatMap { v -> [[UInt8]]? in
                    if case .object(let entries) = v { entries.map { Array($0.key.utf8) } } else { nil }
                } ?? [])
                var patterns: [ECMARegex] = []
                if case .object(let entries)? = schema["patternProperties"] {
                    for entry in entries { patterns.append(try regex("patternProperties", entry.key)) }
                }
                keywords.append(.additionalProperties(try sub(key, value), known: known, patterns: patterns))
            case "propertyNames": keywords.append(.propertyNames(try sub(key, value)))
            case "required": keywords.append(.required(try strings(key, value)))
            case "dependentRequired":
                guard case .object(let entries) = value else { throw fail(key, "dependentRequired must be an object of string arrays") }
                var result: [(name: String, required: [String])] = []
                for entry in entries { result.append((entry.key, try strings(key, entry.value))) }
                keywords.append(.dependentRequired(result))
            case "dependentSchemas": keywords.append(.dependentSchemas(try subMap(key, value)))
            case "minProperties": keywords.append(.minProperties(try count(key, value)))
            case "maxProperties": keywords.append(.maxProperties(try count(key, value)))
            case "allOf": keywords.append(.allOf(try subList(key, value)))
            case "anyOf": keywords.append(.anyOf(try subList(key, value)))
            case "oneOf": keywords.append(.oneOf(try subList(key, value)))
            case "not": keywords.append(.not(try sub(key, value)))
            case "if":
                let then = try schema["then"].map { v throws(JSONSchemaError) in try sub("then", v) }
                let otherwise = try schema["else"].map { v throws(JSONSchemaError) in try sub("else", v) }
                keywords.append(.conditional(if: try sub(key, value), then: then, else: otherwise))
            case "then", "else":
                // Without `if` they do nothing, but their references must still resolve.
                if schema["if"] == nil { _ = try sub(key, value) }
            case "dependencies":
                // Draft 7's form of dependentRequired (an array) and dependentSchemas (a schema).
                guard case .object(let entries) = value else { throw fail(key, "dependencies must be an object") }
                var required: [(name: String, required: [String])] = []
                var schemas: [(name: String, node: Int)] = []
                for entry in entries {
                    if case .array = entry.value {
                        required.append((entry.key, try strings(key, entry.value)))
                    } else {
                        schemas.append((entry.key, try compile(entry.value, pointer: pointer + [key, entry.key], base: base)))
                    }
                }
                keywords.append(.dependentRequired(required))
                keywords.append(.dependentSchemas(schemas))
            case "$schema":
                guard case .string(let dialect) = value else { throw fail(key, "$schema must be a string") }
                let known = Self.knownDialects.contains(dialect.hasSuffix("#") ? String(dialect.dropLast()) : dialect)
                if !known { throw fail(key, "the metaschema \(JSONValue.string(dialect).serialized()) is not supported; use https://json-schema.org/draft/2020-12/schema") }
            case "$defs", "definitions":
                _ = try subMap(key, value)
            case "$ref":
                guard case .string(let written) = value else { throw fail(key, "$ref must be a string") }
                pendingReferences.append((index, keywords.count, written, base, pointer + [key]))
                keywords.append(.ref(-1))
            default:
                // Annotations ($schema, $comment, title, description, default, examples, ...)
                // and unknown keywords, which the specification says to ignore.
                break
            }
        }
        nodes[index].keywords = keywords
        return index
    }

    /// The standard dialects; schemas of the older drafts are read as 2020-12 (a draft 7 tuple
    /// `items` is refused, `definitions` and `dependencies` are understood).
    static let knownDialects: Set<String> = [
        "https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2019-09/schema",
        "http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-06/schema", "http://json-schema.org/draft-04/schema",
    ]

    static let typeNames: Set<String> = ["null", "boolean", "object", "array", "number", "string", "integer"]

    mutating func resolvePendingReferences() throws(JSONSchemaError) {
        // Compiling a reference's target may add references of its own.
        while let reference = pendingReferences.popLast() {
            let target = try resolve(reference.written, base: reference.base, at: reference.pointer)
            nodes[reference.node].keywords[reference.keyword] = .ref(target)
        }
    }

    private mutating func resolve(_ written: String, base: String, at pointer: PointerTokens) throws(JSONSchemaError) -> Int {
        let location = fragment(of: pointer)
        let (uri, fragmentPart) = splitFragment(resolveURIReference(written, against: base))
        var target: PointerTokens
        if let fragmentPart, !fragmentPart.isEmpty, !fragmentPart.hasPrefix("/") {
            guard let anchored = anchors[uri + "#" + fragmentPart] else {
                throw JSONSchemaError(location: location, message: "$ref \(JSONValue.string(written).serialized()) names no $anchor in this schema")
            }
            target = anchored
        } else {
            guard let resource = resources[uri] else {
                throw JSONSchemaError(location: location, message: "$ref \(JSONValue.string(written).serialized()) refers to another document; only references within the schema are supported")
            }
            target = resource
            if let fragmentPart, !fragmentPart.isEmpty {
                let decoded = fragmentPart.removingPercentEncoding ?? fragmentPart
                target += decoded.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
                    $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                }
            }
        }
        if let node = nodeAtPointer[target] { return node }
        guard let value = value(at: target) else {
            throw JSONSchemaError(location: location, message: "$ref \(JSONValue.string(written).serialized()) points at nothing in this schema")
        }
        // A subschema under a keyword the compiler does not walk: compile it now, with the base
        // URI of the nearest enclosing compiled schema.
        var enclosing = target
        var enclosingBase = Self.defaultBase
        while true {
            if let known = baseAtPointer[enclosing] { enclosingBase = known; break }
            if enclosing.isEmpty { break }
            enclosing.removeLast()
        }
        return try compile(value, pointer: target, base: enclosingBase)
    }

    private func value(at pointer: PointerTokens) -> JSONValue? {
        var current = document
        for token in pointer {
            switch current {
            case .object: guard let next = current[token] else { return nil }; current = next
            case .array(let items):
                guard let i = Int(token), i >= 0, i < items.count, token == String(i) else { return nil }
                current = items[i]
            default: return nil
            }
        }
        return current
    }
}

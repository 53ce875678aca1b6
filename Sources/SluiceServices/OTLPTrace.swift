import Foundation
import SluiceRuntime

/// An OTLP `ExportTraceServiceRequest` (opentelemetry-proto, collector/trace/v1): one resource,
/// one instrumentation scope, its spans. Encoded by hand in both wire formats OTLP/HTTP takes:
/// protobuf (`application/x-protobuf`) and the OTLP JSON mapping (`application/json`).
struct OTLPTraceRequest: Sendable, Hashable {
    var resource: [OTLPAttribute]
    var scopeName: String
    var spans: [OTLPSpan]
}

/// An attribute value (`common.v1.AnyValue`).
indirect enum OTLPValue: Sendable, Hashable {
    case string(String), bool(Bool), int(Int64), double(Double), array([OTLPValue])
}

struct OTLPAttribute: Sendable, Hashable {
    var key: String
    var value: OTLPValue
    init(_ key: String, _ value: OTLPValue) { self.key = key; self.value = value }
}

struct OTLPSpan: Sendable, Hashable {
    /// `Span.SpanKind`.
    enum Kind: Int64 { case `internal` = 1, client = 3 }
    /// `Status.StatusCode`.
    enum StatusCode: Int64 { case unset = 0, ok = 1, error = 2 }

    struct Event: Sendable, Hashable {
        var timeUnixNano: UInt64
        var name: String
        var attributes: [OTLPAttribute]
    }

    var traceId: [UInt8]
    var spanId: [UInt8]
    /// Empty for the root span.
    var parentSpanId: [UInt8]
    var name: String
    var kind: Kind
    var startTimeUnixNano: UInt64
    var endTimeUnixNano: UInt64
    var attributes: [OTLPAttribute]
    var events: [Event]
    var statusCode: StatusCode
    var statusMessage: String
}

// MARK: - Protobuf

/// Field numbers from opentelemetry-proto (read from the `opentelemetry-proto` package's descriptors).
extension OTLPTraceRequest {
    func protobuf() -> Data {
        var request = ProtobufWriter()
        // ExportTraceServiceRequest.resource_spans = 1
        request.message(1) { resourceSpans in
            // ResourceSpans.resource = 1; Resource.attributes = 1
            resourceSpans.message(1) { resource in
                for attribute in self.resource { resource.message(1) { $0.keyValue(attribute) } }
            }
            // ResourceSpans.scope_spans = 2
            resourceSpans.message(2) { scopeSpans in
                // ScopeSpans.scope = 1; InstrumentationScope.name = 1
                scopeSpans.message(1) { $0.string(1, scopeName) }
                // ScopeSpans.spans = 2
                for span in spans { scopeSpans.message(2) { $0.span(span) } }
            }
        }
        return Data(request.bytes)
    }
}

extension ProtobufWriter {
    /// `trace.v1.Span`.
    mutating func span(_ span: OTLPSpan) {
        data(1, span.traceId)                       // trace_id (bytes)
        data(2, span.spanId)                        // span_id (bytes)
        data(4, span.parentSpanId)                  // parent_span_id (bytes)
        string(5, span.name)                        // name
        int(6, span.kind.rawValue)                  // kind (enum)
        fixed64(7, span.startTimeUnixNano)          // start_time_unix_nano (fixed64)
        fixed64(8, span.endTimeUnixNano)            // end_time_unix_nano (fixed64)
        for attribute in span.attributes { message(9) { $0.keyValue(attribute) } }  // attributes
        for event in span.events {                  // events: Span.Event
            message(11) { writer in
                writer.fixed64(1, event.timeUnixNano)   // time_unix_nano
                writer.string(2, event.name)            // name
                for attribute in event.attributes { writer.message(3) { $0.keyValue(attribute) } }
            }
        }
        message(15) { status in                     // status: Status
            status.string(2, span.statusMessage)        // message
            status.int(3, span.statusCode.rawValue)     // code (enum)
        }
    }

    /// `common.v1.KeyValue`: key = 1, value = 2.
    mutating func keyValue(_ attribute: OTLPAttribute) {
        string(1, attribute.key)
        message(2) { $0.anyValue(attribute.value) }
    }

    /// `common.v1.AnyValue`, a oneof: the one field set is written even at its default value.
    mutating func anyValue(_ value: OTLPValue) {
        switch value {
        case .string(let text): string(1, text, always: true)         // string_value
        case .bool(let flag): bool(2, flag, always: true)             // bool_value
        case .int(let number): int(3, number, always: true)           // int_value (int64)
        case .double(let number): double(4, number, always: true)     // double_value
        case .array(let values):                                      // array_value: ArrayValue.values = 1
            message(5) { array in
                for value in values { array.message(1) { $0.anyValue(value) } }
            }
        }
    }
}

// MARK: - JSON

/// The OTLP JSON mapping: protobuf's JSON with two exceptions OTLP makes, ids as lowercase hex
/// (not base64) and enums as integers; 64-bit integers as decimal strings, as protobuf's mapping has them.
extension OTLPTraceRequest {
    func json() -> JSONValue {
        .object([("resourceSpans", .array([.object([
            ("resource", .object([("attributes", .array(resource.map(\.json)))])),
            ("scopeSpans", .array([.object([
                ("scope", .object([("name", .string(scopeName))])),
                ("spans", .array(spans.map(\.json))),
            ])])),
        ])]))])
    }
}

extension OTLPSpan {
    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("traceId", .string(hexString(traceId))), ("spanId", .string(hexString(spanId))),
        ]
        if !parentSpanId.isEmpty { members.append(("parentSpanId", .string(hexString(parentSpanId)))) }
        members += [
            ("name", .string(name)), ("kind", .number(Double(kind.rawValue))),
            ("startTimeUnixNano", .string(String(startTimeUnixNano))), ("endTimeUnixNano", .string(String(endTimeUnixNano))),
            ("attributes", .array(attributes.map(\.json))),
        ]
        if !events.isEmpty {
            members.append(("events", .array(events.map { event in
                .object([("timeUnixNano", .string(String(event.timeUnixNano))), ("name", .string(event.name)),
                         ("attributes", .array(event.attributes.map(\.json)))])
            })))
        }
        var status: [(key: String, value: JSONValue)] = []
        if !statusMessage.isEmpty { status.append(("message", .string(statusMessage))) }
        if statusCode != .unset { status.append(("code", .number(Double(statusCode.rawValue)))) }
        members.append(("status", .object(status)))
        return .object(members)
    }
}

/// Lowercase hex, two digits a byte.
private func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}

extension OTLPAttribute {
    var json: JSONValue { .object([("key", .string(key)), ("value", value.json)]) }
}

extension OTLPValue {
    var json: JSONValue {
        switch self {
        case .string(let text): .object([("stringValue", .string(text))])
        case .bool(let flag): .object([("boolValue", .bool(flag))])
        case .int(let number): .object([("intValue", .string(String(number)))])
        case .double(let number): .object([("doubleValue", .number(number))])
        case .array(let values): .object([("arrayValue", .object([("values", .array(values.map(\.json)))]))])
        }
    }
}

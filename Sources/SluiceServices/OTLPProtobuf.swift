import Foundation

/// The protobuf wire format, as far as OTLP's trace messages need it (proto3: a field at its
/// default value is left out). https://protobuf.dev/programming-guides/encoding/
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2
    }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func tag(_ field: Int, _ wire: WireType) { varint(UInt64(field) << 3 | UInt64(wire.rawValue)) }

    /// An `int64` (two's complement, so a negative number takes ten bytes) or `enum` field. `always`
    /// writes the default value too: a field of a `oneof` (`AnyValue`) is present even at 0.
    mutating func int(_ field: Int, _ value: Int64, always: Bool = false) {
        guard always || value != 0 else { return }
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func bool(_ field: Int, _ value: Bool, always: Bool = false) { int(field, value ? 1 : 0, always: always) }

    /// A `fixed64` field, little-endian.
    mutating func fixed64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .fixed64)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
    }

    /// A `double` field: its IEEE 754 bits as a little-endian fixed64.
    mutating func double(_ field: Int, _ value: Double, always: Bool = false) {
        guard always || value != 0 else { return }
        tag(field, .fixed64)
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8((bits >> UInt64(shift)) & 0xFF)) }
    }

    mutating func data(_ field: Int, _ value: [UInt8], always: Bool = false) {
        guard always || !value.isEmpty else { return }
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String, always: Bool = false) { data(field, Array(value.utf8), always: always) }

    /// An embedded message, written by `body` (always present, even when empty: a message field has presence).
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        data(field, inner.bytes, always: true)
    }
}

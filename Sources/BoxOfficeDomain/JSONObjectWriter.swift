/// Writes one flat JSON object straight into bytes, for the two documents made
/// on every reservation: the `201` body and the Kafka envelope.
///
/// It writes what `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]`
/// writes for the same members, byte for byte, provided the caller adds the
/// members in sorted key order (tests compare the two). Foundation's encoder
/// builds a tree of boxed values and a dictionary per object first, which
/// showed as the largest single cost of a reserve after the Redis round trip.
public struct JSONObjectWriter: Sendable {
    public private(set) var bytes: [UInt8]
    private var first = true

    public init(capacity: Int = 384) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// `"key":"value"`, escaped as `JSONEncoder` escapes it.
    public mutating func string(_ key: StaticString, _ value: String) {
        self.key(key)
        Self.appendString(value, to: &bytes)
    }

    /// `"key":"value"`, or nothing when `value` is nil (`encodeIfPresent`).
    public mutating func string(_ key: StaticString, ifPresent value: String?) {
        if let value { string(key, value) }
    }

    /// `"key":123`.
    public mutating func int(_ key: StaticString, _ value: Int) {
        self.key(key)
        Self.appendInt(value, to: &bytes)
    }

    /// `"key":123`, or nothing when `value` is nil.
    public mutating func int(_ key: StaticString, ifPresent value: Int?) {
        if let value { int(key, value) }
    }

    /// `"key":true` or `"key":false`, or nothing when `value` is nil.
    public mutating func bool(_ key: StaticString, ifPresent value: Bool?) {
        guard let value else { return }
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// `"key":["a","b"]`, or nothing when `values` is nil.
    public mutating func strings(_ key: StaticString, ifPresent values: [String]?) {
        guard let values else { return }
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(v, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// `"key":{…}`, the nested object written by `body`.
    public mutating func object(_ key: StaticString, _ body: (inout JSONObjectWriter) -> Void) {
        self.key(key)
        var nested = JSONObjectWriter(capacity: 128)
        body(&nested)
        bytes.append(contentsOf: nested.finish())
    }

    /// The closed object.
    public mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ key: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    static func appendInt(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)  // a small string: no allocation
    }

    static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for (i, c) in utf8.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                start = i + 1
                out.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(c)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default: out.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(c >> 4)], hexDigits[Int(c & 0x0F)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension ReservationEvent {
    /// The envelope as `JSONEncoder` with sorted keys writes it, without the encoder.
    public var jsonBytes: [UInt8] {
        var w = JSONObjectWriter()
        w.int("amount", amount)
        w.string("category", category)
        w.string("created_at", ifPresent: created_at)
        w.string("currency", currency)
        w.string("event_id", event_id)
        w.string("expires_at", ifPresent: expires_at)
        w.string("id", id)
        w.bool("late", ifPresent: late)
        w.string("occurred_at", occurred_at)
        if let payment {
            w.object("payment") { p in
                p.int("amount", payment.amount)
                p.int("attempt", ifPresent: payment.attempt)
                p.string("currency", payment.currency)
                p.string("reason", ifPresent: payment.reason)
                p.string("ref", payment.ref)
                p.string("status", payment.status)
            }
        }
        w.int("qty", qty)
        w.string("reservation_id", reservation_id)
        w.strings("seats", ifPresent: seats)
        w.string("type", type.rawValue)
        w.string("user_id", user_id)
        w.int("v", v)
        return w.finish()
    }
}

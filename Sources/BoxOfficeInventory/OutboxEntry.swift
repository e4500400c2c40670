import BoxOfficeDomain
import BoxOfficeRedis

/// One event of an event's outbox stream: a reservation's transition, as the
/// scripts write it and the relay publishes it.
///
/// A stream entry is one field, `e`, holding an event's record: its 17 fields
/// joined by the unit separator (U+001F), in the order of `OutboxEntry.order`;
/// absent fields are empty. The holds of one reserve batch share an entry, their
/// records joined by the record separator (U+001E, see `events(fields:)`).
/// None of the fields can hold either separator: ids, numbers
/// and currencies are validated, category names and buyer ids refuse control
/// characters, and payment references and reasons are cleaned before they reach
/// a script. One field instead of sixteen pairs makes each reservation's
/// `XADD`, its AOF record and the relay's `XRANGE` reply about a third as
/// long. Entries of the older layout (one stream field per event field) are
/// still read, so a stream written before an upgrade drains after it.
public struct OutboxEntry: Sendable, Equatable {
    public var id, type, rid, event, category, user, qty, amount, currency, at, created, expires: String
    public var paymentRef, paymentStatus, reason, attempt: String?
    /// A seated reservation's seat ids, comma-separated.
    public var seats: String?

    /// The field names, in packed order (also the field names of the older layout).
    public static let order = [
        "id", "type", "rid", "event", "category", "user", "qty", "amount", "currency", "at", "created", "expires",
        "payment_ref", "payment_status", "reason", "attempt", "seats",
    ]

    /// The separator of the packed layout, U+001F.
    public static let separator: UInt8 = 0x1F

    public init(id: String, type: String, rid: String, event: String, category: String, user: String, qty: String, amount: String,
                currency: String, at: String, created: String, expires: String,
                paymentRef: String? = nil, paymentStatus: String? = nil, reason: String? = nil, attempt: String? = nil, seats: String? = nil) {
        self.id = id; self.type = type; self.rid = rid; self.event = event; self.category = category; self.user = user
        self.qty = qty; self.amount = amount; self.currency = currency; self.at = at; self.created = created; self.expires = expires
        self.paymentRef = paymentRef; self.paymentStatus = paymentStatus; self.reason = reason; self.attempt = attempt
        self.seats = seats
    }

    /// The separator of the records of a stream entry holding several events (the holds
    /// of one reserve batch), U+001E.
    public static let recordSeparator: UInt8 = 0x1E

    /// The events of a stream entry's flat field list, in order: the records of a packed
    /// entry (one, or a reserve batch's), or the one event of the older layout; `nil` when
    /// it has neither shape or a record is malformed.
    public static func events(fields flat: [RESPValue]) -> [OutboxEntry]? {
        guard let packed = packedValue(flat) else { return OutboxEntry(fields: flat).map { [$0] } }
        var events: [OutboxEntry] = []
        var start = 0
        for i in 0...packed.count where i == packed.count || packed[i] == recordSeparator {
            guard let event = OutboxEntry(record: packed[start..<i]) else { return nil }
            events.append(event)
            start = i + 1
        }
        return events
    }

    /// The entry of a stream entry's flat field list holding one event, packed or of the
    /// older layout; `nil` when it has neither shape.
    public init?(fields flat: [RESPValue]) {
        if let packed = Self.packedValue(flat) {
            self.init(record: packed[...])
            return
        }
        var d: [String: String] = [:]
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let k = flat[i].string, let v = flat[i + 1].string else { continue }
            d[k] = v
        }
        guard let id = d["id"], let type = d["type"], let rid = d["rid"] else { return nil }
        self.init(id: id, type: type, rid: rid, event: d["event"] ?? "", category: d["category"] ?? "", user: d["user"] ?? "",
                  qty: d["qty"] ?? "", amount: d["amount"] ?? "", currency: d["currency"] ?? "", at: d["at"] ?? "",
                  created: d["created"] ?? "", expires: d["expires"] ?? "",
                  paymentRef: d["payment_ref"], paymentStatus: d["payment_status"], reason: d["reason"], attempt: d["attempt"],
                  seats: d["seats"])
    }

    /// The value of a packed entry's first field, `e`; nil for the older layout. (An entry
    /// the repair loop appended again also has `r`, see `republished(fields:)`.)
    private static func packedValue(_ flat: [RESPValue]) -> [UInt8]? {
        guard flat.count >= 2, case .bulkString(let name) = flat[0], name == [UInt8(ascii: "e")],
              case .bulkString(let packed) = flat[1] else { return nil }
        return packed
    }

    /// How many times the repair loop has published a stream entry's events again (its
    /// field `r`; 0 for an entry the inventory scripts wrote).
    public static func republished(fields flat: [RESPValue]) -> Int {
        guard flat.count == 4, flat[2].string == "r" else { return 0 }
        return flat[3].string.flatMap { Int($0) } ?? 0
    }

    /// A stream entry's events as records joined by the record separator, as a script
    /// writes them (the value of field `e`).
    public static func packed(_ events: [OutboxEntry]) -> String {
        events.map(\.packed).joined(separator: "\u{1E}")
    }

    /// One event's record: its 17 fields joined by the separator (16 in records written before
    /// seats, which still drain).
    init?(record packed: ArraySlice<UInt8>) {
        // Straight from the reply's bytes: the separator is ASCII, so it never splits a character.
        var parts: [String] = []
        parts.reserveCapacity(Self.order.count)
        var start = packed.startIndex
        for i in packed.startIndex...packed.endIndex where i == packed.endIndex || packed[i] == Self.separator {
            guard parts.count < Self.order.count else { return nil }
            parts.append(String(decoding: packed[start..<i], as: UTF8.self))
            start = i + 1
        }
        guard parts.count >= Self.order.count - 1 else { return nil }
        func optional(_ i: Int) -> String? { i >= parts.count || parts[i].isEmpty ? nil : parts[i] }
        self.init(id: parts[0], type: parts[1], rid: parts[2], event: parts[3], category: parts[4], user: parts[5], qty: parts[6],
                  amount: parts[7], currency: parts[8], at: parts[9], created: parts[10], expires: parts[11],
                  paymentRef: optional(12), paymentStatus: optional(13), reason: optional(14), attempt: optional(15), seats: optional(16))
    }

    /// The values in `order`, absent ones nil.
    private var values: [String?] {
        [id, type, rid, event, category, user, qty, amount, currency, at, created, expires, paymentRef, paymentStatus, reason, attempt, seats]
    }

    /// The value of the stream field `e`.
    public var packed: String {
        values.map { $0 ?? "" }.joined(separator: "\u{1F}")
    }

    /// The present fields by name, e.g. for a test or a dump.
    public var fields: [String: String] {
        var d: [String: String] = [:]
        for (name, value) in zip(Self.order, values) { if let value { d[name] = value } }
        return d
    }

    /// `s` with every control character (the separator among them) replaced by a space:
    /// for the free text a script writes into an entry (payment references and reasons).
    public static func clean(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: \.isControlCharacter) else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map { $0.isControlCharacter ? " " : $0 }))
    }
}

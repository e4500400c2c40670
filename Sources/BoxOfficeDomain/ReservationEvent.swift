/// The kinds of events on the `reservations` topic.
public enum ReservationEventType: String, Sendable, Codable, CaseIterable {
    case held = "reservation.held"
    case confirmed = "reservation.confirmed"
    case cancelled = "reservation.cancelled"
    case expired = "reservation.expired"
    case paymentFailed = "payment.failed"
    case refunded = "reservation.refunded"
    /// The refund of a refunded booking's charge (its payment is the refund).
    case paymentRefunded = "payment.refunded"
    /// A charge taken for a hold that had expired and could not be confirmed: it is owed back.
    case refundRequired = "payment.refund_required"

    /// The reservation status this event implies.
    public var status: ReservationStatus {
        switch self {
        case .held, .paymentFailed: return .held
        case .confirmed: return .confirmed
        case .cancelled: return .cancelled
        case .expired, .refundRequired: return .expired
        case .refunded, .paymentRefunded: return .refunded
        }
    }

    /// Whether the event carries a payment.
    public var needsPayment: Bool {
        switch self {
        case .confirmed, .paymentFailed, .paymentRefunded, .refundRequired: return true
        default: return false
        }
    }

    /// The events that bring a reservation from nothing to `status`, in order: its hold, then
    /// the transition that ended it (the inverse of `status`).
    public static func path(to status: ReservationStatus) -> [ReservationEventType] {
        switch status {
        case .held: return [.held]
        case .confirmed: return [.held, .confirmed]
        case .cancelled: return [.held, .cancelled]
        case .expired: return [.held, .expired]
        case .refunded: return [.held, .confirmed, .refunded]
        }
    }
}

/// The payment part of an event.
public struct PaymentInfo: Sendable, Hashable, Codable {
    public var ref: String
    public var status: String
    public var amount: Int
    public var currency: String
    public var reason: String?
    public var attempt: Int?

    public init(ref: String, status: String, amount: Int, currency: String, reason: String? = nil, attempt: Int? = nil) {
        self.ref = ref
        self.status = status
        self.amount = amount
        self.currency = currency
        self.reason = reason
        self.attempt = attempt
    }
}

/// The JSON envelope of an event on Kafka (version 1).
///
/// Times are RFC 3339 UTC strings; `created_at` and `expires_at` describe the
/// reservation, `occurred_at` the transition.
public struct ReservationEvent: Sendable, Hashable, Codable {
    public var v: Int
    public var id: String
    public var type: ReservationEventType
    public var occurred_at: String
    public var reservation_id: String
    public var event_id: String
    public var category: String
    public var user_id: String
    public var qty: Int
    public var amount: Int
    public var currency: String
    public var created_at: String?
    public var expires_at: String?
    public var payment: PaymentInfo?
    /// The seat ids of a seated reservation (absent for general admission).
    public var seats: [String]?
    /// On a reservation.confirmed: whether the hold had expired before the payment came (absent: no).
    public var late: Bool?

    public init(id: String, type: ReservationEventType, occurredAt: String, reservationID: String, eventID: String, category: String,
                userID: String, quantity: Int, amount: Int, currency: String, createdAt: String?, expiresAt: String?, payment: PaymentInfo?) {
        self.v = 1
        self.id = id
        self.type = type
        self.occurred_at = occurredAt
        self.reservation_id = reservationID
        self.event_id = eventID
        self.category = category
        self.user_id = userID
        self.qty = quantity
        self.amount = amount
        self.currency = currency
        self.created_at = createdAt
        self.expires_at = expiresAt
        self.payment = payment
    }

    /// The seat ids comma-separated, as `bookings.seats` keeps them; nil without seats.
    public var seatList: String? { seats.flatMap { $0.isEmpty ? nil : $0.joined(separator: ",") } }

    /// Why an envelope cannot be applied, or `nil` when it is well formed.
    public var problem: String? {
        if v != 1 { return "unsupported version \(v)" }
        if !Self.isUUID(id) { return "id is not a UUID" }
        if ReservationID(reservation_id) == nil { return "malformed reservation_id" }
        if EventID(event_id) == nil { return "malformed event_id" }
        if category.isEmpty || user_id.isEmpty { return "empty category or user_id" }
        if qty < 1 || amount < 0 { return "qty or amount out of range" }
        if !Money.isCurrencyCode(currency) { return "currency is not ISO 4217" }
        if type.needsPayment, payment == nil { return "\(type.rawValue) without payment" }
        return nil
    }

    static func isUUID(_ s: String) -> Bool {
        guard s.utf8.count == 36 else { return false }
        for (i, c) in s.utf8.enumerated() {
            switch i {
            case 8, 13, 18, 23: if c != 0x2D { return false }
            default: if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) { return false }
            }
        }
        return true
    }
}

extension ReservationEvent {
    /// The envelope read by `JSONScanner`, or `nil` when it is not of the plain
    /// shape the relay writes and needs `JSONDecoder` (which then decides).
    public static func scanned(from bytes: UnsafeRawBufferPointer) -> ReservationEvent? {
        JSONScanner.scan(bytes) { s in
            var v: Int?, id: String?, type: ReservationEventType?, occurred: String?, reservation: String?, event: String?
            var category: String?, user: String?, qty: Int?, amount: Int?, currency: String?
            var created: String?, expires: String?, payment: PaymentInfo?
            try s.object { s, key in
                typealias K = JSONScanner
                if K.key(key, is: "v") { v = try s.int() }
                else if K.key(key, is: "id") { id = try s.string() }
                else if K.key(key, is: "type") {
                    guard let t = ReservationEventType(rawValue: try s.string()) else { throw JSONScanner.GiveUp() }
                    type = t
                }
                else if K.key(key, is: "occurred_at") { occurred = try s.string() }
                else if K.key(key, is: "reservation_id") { reservation = try s.string() }
                else if K.key(key, is: "event_id") { event = try s.string() }
                else if K.key(key, is: "category") { category = try s.string() }
                else if K.key(key, is: "user_id") { user = try s.string() }
                else if K.key(key, is: "qty") { qty = try s.int() }
                else if K.key(key, is: "amount") { amount = try s.int() }
                else if K.key(key, is: "currency") { currency = try s.string() }
                else if K.key(key, is: "created_at") { created = try s.optionalString() }
                else if K.key(key, is: "expires_at") { expires = try s.optionalString() }
                else if K.key(key, is: "payment") { payment = s.null() ? nil : try PaymentInfo.scan(&s) }
                // Seats and the late flag are rare: JSONDecoder reads those envelopes.
                else { throw JSONScanner.GiveUp() }
            }
            guard let v, let id, let type, let occurred, let reservation, let event, let category, let user,
                  let qty, let amount, let currency else { throw JSONScanner.GiveUp() }
            var e = ReservationEvent(id: id, type: type, occurredAt: occurred, reservationID: reservation, eventID: event,
                                     category: category, userID: user, quantity: qty, amount: amount, currency: currency,
                                     createdAt: created, expiresAt: expires, payment: payment)
            e.v = v
            return e
        }
    }
}

extension PaymentInfo {
    /// The `payment` object at the scanner's cursor (see `ReservationEvent.scanned`).
    static func scan(_ s: inout JSONScanner) throws -> PaymentInfo {
        var ref: String?, status: String?, amount: Int?, currency: String?, reason: String?, attempt: Int?
        try s.object { s, key in
            typealias K = JSONScanner
            if K.key(key, is: "ref") { ref = try s.string() }
            else if K.key(key, is: "status") { status = try s.string() }
            else if K.key(key, is: "amount") { amount = try s.int() }
            else if K.key(key, is: "currency") { currency = try s.string() }
            else if K.key(key, is: "reason") { reason = try s.optionalString() }
            else if K.key(key, is: "attempt") { attempt = try s.optionalInt() }
            else { throw JSONScanner.GiveUp() }
        }
        guard let ref, let status, let amount, let currency else { throw JSONScanner.GiveUp() }
        return PaymentInfo(ref: ref, status: status, amount: amount, currency: currency, reason: reason, attempt: attempt)
    }
}

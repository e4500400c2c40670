/// The kinds of events on the `reservations` topic.
public enum ReservationEventType: String, Sendable, Codable, CaseIterable {
    case held = "reservation.held"
    case confirmed = "reservation.confirmed"
    case cancelled = "reservation.cancelled"
    case expired = "reservation.expired"
    case paymentFailed = "payment.failed"

    /// The reservation status this event implies.
    public var status: ReservationStatus {
        switch self {
        case .held, .paymentFailed: return .held
        case .confirmed: return .confirmed
        case .cancelled: return .cancelled
        case .expired: return .expired
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

    /// Why an envelope cannot be applied, or `nil` when it is well formed.
    public var problem: String? {
        if v != 1 { return "unsupported version \(v)" }
        if !Self.isUUID(id) { return "id is not a UUID" }
        if ReservationID(reservation_id) == nil { return "malformed reservation_id" }
        if EventID(event_id) == nil { return "malformed event_id" }
        if category.isEmpty || user_id.isEmpty { return "empty category or user_id" }
        if qty < 1 || amount < 0 { return "qty or amount out of range" }
        if !Money.isCurrencyCode(currency) { return "currency is not ISO 4217" }
        if type == .confirmed || type == .paymentFailed, payment == nil { return "\(type.rawValue) without payment" }
        return nil
    }

    static func isUUID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != 0x2D { return false } } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) { return false }
        }
        return true
    }
}

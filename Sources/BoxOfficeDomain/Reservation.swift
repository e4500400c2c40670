/// Money: an integer amount of minor units and an ISO 4217 currency code.
public struct Money: Hashable, Sendable, Codable {
    public var amount: Int
    public var currency: String

    public init(amount: Int, currency: String) {
        self.amount = amount
        self.currency = currency
    }

    /// Whether `code` looks like an ISO 4217 code (three uppercase letters).
    public static func isCurrencyCode(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A }
    }
}

/// Where a reservation is in its life.
public enum ReservationStatus: String, Sendable, Codable, CaseIterable {
    case held, confirmed, cancelled, expired, refunded

    /// Whether the hold has ended (a confirmed booking may still be refunded, an expired
    /// one confirmed late).
    public var isFinal: Bool { self != .held }

    /// The status after a transition to `next` arrives, in whatever order transitions come:
    /// a hold ends once (confirmed, cancelled or expired), an expired hold may still be
    /// confirmed late, and a confirmed booking refunded; nothing else moves.
    public func advanced(to next: ReservationStatus) -> ReservationStatus {
        switch (self, next) {
        case (.held, _): return next
        case (.expired, .confirmed), (.expired, .refunded), (.confirmed, .refunded): return next
        default: return self
        }
    }
}

/// A reservation as the inventory knows it.
public struct Reservation: Hashable, Sendable {
    public var id: ReservationID
    public var event: EventID
    public var category: String
    public var buyer: String
    public var quantity: Int
    public var price: Money
    public var status: ReservationStatus
    /// When the hold was made, in milliseconds since 1970 (Redis time).
    public var createdAtMs: Int64
    /// When the hold lapses, in milliseconds since 1970 (Redis time).
    public var expiresAtMs: Int64
    /// The payment reference, once confirmed.
    public var paymentReference: String?
    /// The seat ids of a seated reservation, in the order they were held; empty otherwise.
    public var seats: [String]
    /// Whether it was confirmed after its hold had expired (a late payment).
    public var late: Bool

    public init(id: ReservationID, event: EventID, category: String, buyer: String, quantity: Int, price: Money,
                status: ReservationStatus, createdAtMs: Int64, expiresAtMs: Int64, paymentReference: String? = nil,
                seats: [String] = [], late: Bool = false) {
        self.seats = seats
        self.late = late
        self.id = id
        self.event = event
        self.category = category
        self.buyer = buyer
        self.quantity = quantity
        self.price = price
        self.status = status
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
        self.paymentReference = paymentReference
    }
}

/// A category's stock: the conservation law is `available + held + confirmed == total`.
public struct StockLevels: Hashable, Sendable {
    public var total: Int
    public var available: Int
    public var held: Int
    public var confirmed: Int

    public init(total: Int, available: Int, held: Int, confirmed: Int) {
        self.total = total
        self.available = available
        self.held = held
        self.confirmed = confirmed
    }

    /// Invariant 1: nothing oversold, nothing lost.
    public var isConserved: Bool { available + held + confirmed == total && available >= 0 && held >= 0 && confirmed >= 0 }
}

/// A category of an event with its price, limits and stock.
public struct CategoryAvailability: Hashable, Sendable {
    public var name: String
    public var price: Money
    public var maxPerUser: Int?
    public var stock: StockLevels
    /// Whether the category has a seat map.
    public var seated: Bool

    public init(name: String, price: Money, maxPerUser: Int?, stock: StockLevels, seated: Bool = false) {
        self.name = name
        self.price = price
        self.maxPerUser = maxPerUser
        self.stock = stock
        self.seated = seated
    }
}

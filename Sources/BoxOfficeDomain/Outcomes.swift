/// What a reserve attempt came to.
public enum ReserveOutcome: Hashable, Sendable {
    /// A new hold (or, with an idempotency key seen before, the reservation it made).
    case held(Reservation, replayed: Bool)
    /// Not enough stock left; `available` is what remains.
    case soldOut(available: Int)
    /// The buyer's holds and purchases in this category would exceed `limit`.
    case limitExceeded(limit: Int, alreadyHeld: Int)
    /// No such event or category.
    case notFound
    /// `qty` is outside 1...max.
    case invalidQuantity(max: Int)
    /// The buyer sends reserves faster than the configured rate.
    case rateLimited(retryAfterMs: Int, resetMs: Int)
    /// The event has a waiting room and the buyer holds no running admission to it.
    case notAdmitted
    /// The event was cancelled: nothing more is sold.
    case eventCancelled
    /// Seats asked of a general-admission category.
    case notSeated
    /// The seat map changed since the API read it.
    case seatMapChanged
    /// Some picked seats are held or sold: their offsets.
    case seatsTaken(offsets: [Int])
}

/// What a refund came to.
public enum RefundOutcome: Hashable, Sendable {
    case refunded(Reservation)
    /// Refunded before: the first result, unchanged.
    case alreadyRefunded(Reservation)
    /// Not a confirmed booking (held, cancelled or expired).
    case notConfirmed(Reservation)
    case notFound
    case notOwner
}

/// What setting a category's seat map came to.
public enum SeatMapOutcome: Hashable, Sendable {
    case set(version: String)
    case noCategory
    /// Tickets of the category are held or sold already.
    case committed(held: Int, confirmed: Int)
}

/// Why an operation on a buyer's hold (confirm, a failed payment, cancel) was refused:
/// the same few reasons for each, mapped to replies once.
public enum ReservationRefusal: Hashable, Sendable {
    case notFound
    /// Another buyer's reservation.
    case notOwner
    /// The hold lapsed (its time is up, whether or not it has been swept).
    case expired(Reservation)
    /// Not a hold any more: cancelled, or confirmed (for a cancel).
    case notHeld(Reservation)
    /// The event was cancelled: nothing more is sold (a confirm of a hold made before).
    case eventCancelled(Reservation)

    /// The refusal for an ended reservation `r` (cancelled or expired).
    public init(ended r: Reservation) {
        self = r.status == .expired ? .expired(r) : .notHeld(r)
    }
}

/// What a confirm attempt came to.
public enum ConfirmOutcome: Hashable, Sendable {
    /// Confirmed now.
    case confirmed(Reservation)
    /// Confirmed before: the first result, unchanged.
    case alreadyConfirmed(Reservation)
    case refused(ReservationRefusal)
}

/// What recording a failed payment came to.
public enum PaymentFailureOutcome: Hashable, Sendable {
    /// Recorded; the hold stays until it expires. `attempt` counts failures so far.
    case recorded(Reservation, attempt: Int)
    case alreadyConfirmed(Reservation)
    case refused(ReservationRefusal)
}

/// What a cancel attempt came to.
public enum CancelOutcome: Hashable, Sendable {
    case cancelled(Reservation)
    /// Cancelled before: nothing changed.
    case alreadyCancelled(Reservation)
    case refused(ReservationRefusal)
}

/// What expiring one hold came to.
public enum ExpireOutcome: String, Hashable, Sendable {
    /// Stock returned, `reservation.expired` written to the outbox.
    case expired
    /// Still within its time.
    case notDue
    /// Not held any more (confirmed, cancelled, or expired by another sweeper).
    case notHeld
    /// No such reservation.
    case notFound
}

/// What setting a category's stock came to.
public enum InitCategoryOutcome: Hashable, Sendable {
    case created(StockLevels)
    case updated(StockLevels)
    /// The new total is below what is already held or sold.
    case belowCommitted(held: Int, confirmed: Int)
}

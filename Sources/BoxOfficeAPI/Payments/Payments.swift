import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import BoxOfficeRuntime
import Logging

/// The outcome of a charge.
public enum PaymentResult: Sendable, Equatable {
    case approved(reference: String)
    case declined(reference: String, reason: String)
}

/// Takes payments. Implementations must charge a reservation at most once:
/// a repeated approved charge of the same reservation returns the first reference.
public protocol PaymentGateway: Sendable {
    func charge(reservation: ReservationID, amount: Money, approve: Bool) async throws -> PaymentResult
    /// Gives an approved charge back (the seat could not be confirmed after all).
    func refund(reference: String, reservation: ReservationID) async throws
}

/// A payment simulation: the client says whether the payment goes through.
/// Approved charges are recorded in Redis, one per reservation, so retries and
/// concurrent confirms across API replicas charge once.
public struct SimulatedPaymentGateway: PaymentGateway {
    let redis: RedisClient
    let logger: Logger

    public init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    public func charge(reservation: ReservationID, amount: Money, approve: Bool) async throws -> PaymentResult {
        let fresh = "pay_" + randomHex(bytes: 12)
        guard approve else { return .declined(reference: fresh, reason: "declined by the payment simulation") }
        let key = InventoryKeys(event: reservation.event).payment(reservation)
        let reply = try await redis.send(["SET", .string(key), .string(fresh), "NX", "GET", "EX", .int(7 * 86_400)])
        return .approved(reference: reply.string ?? fresh)
    }

    public func refund(reference: String, reservation: ReservationID) async throws {
        logger.warning("refunding a charge whose seat could not be confirmed", metadata: [
            LogKey.reservationID: "\(reservation)", "payment_ref": "\(reference)",
        ])
        try await redis.send(["DEL", .string(InventoryKeys(event: reservation.event).payment(reservation))])
    }
}

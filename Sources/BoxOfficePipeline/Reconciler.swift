import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation

/// Compares what Redis knows of an event's reservations with PostgreSQL's
/// bookings, and can republish what PostgreSQL is missing through the outbox.
public struct Reconciler: Sendable {
    let redis: RedisClient
    let db: PostgresClient
    /// How long an ended reservation stays in Redis (`InventoryConfiguration.retention`).
    let retention: Duration

    public init(redis: RedisClient, db: PostgresClient, retention: Duration = InventoryConfiguration().retention) {
        self.redis = redis
        self.db = db
        self.retention = retention
    }

    /// One reservation whose two views disagree.
    public struct Difference: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable { case missingInPostgres = "missing in PostgreSQL", statusDiffers = "status differs", missingInRedis = "missing in Redis" }
        public var kind: Kind
        public var reservationID: String
        public var redisStatus: String?
        public var postgresStatus: String?
        public var description: String {
            "\(reservationID): \(kind.rawValue) (redis \(redisStatus ?? "-"), postgres \(postgresStatus ?? "-"))"
        }
    }

    /// The comparison of one event.
    public struct Report: Sendable {
        public var redisReservations: Int
        public var postgresBookings: Int
        public var differences: [Difference]
        /// Entries of the event's outbox not yet seen in PostgreSQL: not yet delivered, or
        /// delivered and not yet found by the repair loop (each one event, or the holds of one
        /// reserve batch): their rows may simply not have arrived yet.
        public var inFlight: Int
        /// Bookings that ended longer ago than the retention: Redis has let them go, as it should.
        public var retired = 0
    }

    public func compare(event: EventID) async throws -> Report {
        let inRedis = try await reservations(event: event)
        var inPostgres: [String: String] = [:]
        var retired = Set<String>()
        // A booking that ended (by PostgreSQL's clock; Redis's is the same machine's or close to it)
        // longer ago than the retention has left Redis by design, a minute of slack aside.
        let retiredAfter = Int(retention.inMilliseconds / 1000) + 60
        for row in try await db.query("""
            SELECT reservation_id, status,
                   COALESCE(confirmed_at, cancelled_at, expired_at) < now() - make_interval(secs => \(retiredAfter))
            FROM bookings WHERE event_id = \(event.rawValue)
            """) {
            let id = try row.string(0) ?? ""
            inPostgres[id] = try row.string(1) ?? ""
            if try row.bool(2) == true { retired.insert(id) }
        }
        var differences: [Difference] = []
        for (id, r) in inRedis {
            switch inPostgres[id] {
            case nil: differences.append(Difference(kind: .missingInPostgres, reservationID: id, redisStatus: r.status.rawValue))
            case let s? where s != r.status.rawValue:
                differences.append(Difference(kind: .statusDiffers, reservationID: id, redisStatus: r.status.rawValue, postgresStatus: s))
            default: break
            }
        }
        for (id, s) in inPostgres where inRedis[id] == nil && !retired.contains(id) {
            differences.append(Difference(kind: .missingInRedis, reservationID: id, postgresStatus: s))
        }
        let outbox = try await redis.send(["XLEN", .string(InventoryKeys(event: event).outbox)]).int ?? 0
        return Report(redisReservations: inRedis.count, postgresBookings: inPostgres.count,
                      differences: differences.sorted { $0.reservationID < $1.reservationID }, inFlight: outbox,
                      retired: retired.subtracting(inRedis.keys).count)
    }

    /// Charges and seats of one event that PostgreSQL shows wrong, or owed.
    public struct MoneyReport: Sendable {
        /// Succeeded charges whose booking holds no ticket (not confirmed, not refunded) and that
        /// are not recorded as owed back: a payment kept without a ticket (`reservation|payment`).
        public var keptWithoutTicket: [String]
        /// Charges owed back (late payments that bought nothing).
        public var refundsOwed: Int
        /// Seats that two confirmed bookings claim.
        public var seatsSoldTwice: [String]
    }

    public func money(event: EventID) async throws -> MoneyReport {
        let kept = try await db.query("""
            SELECT b.reservation_id || '|' || p.id FROM payments p JOIN bookings b USING (reservation_id)
            WHERE b.event_id = \(event.rawValue) AND p.status = 'succeeded' AND b.status NOT IN ('confirmed', 'refunded')
            ORDER BY 1
            """).map { try $0.string(0) ?? "" }
        let owed = try await db.query("""
            SELECT count(*)::int FROM payments p JOIN bookings b USING (reservation_id)
            WHERE b.event_id = \(event.rawValue) AND p.status = 'refund_owed'
            """).first?.int(0) ?? 0
        let doubled = try await db.query("""
            SELECT s.seat FROM bookings b, unnest(string_to_array(b.seats, ',')) AS s(seat)
            WHERE b.event_id = \(event.rawValue) AND b.status = 'confirmed' GROUP BY s.seat HAVING count(*) > 1 ORDER BY 1
            """).map { try $0.string(0) ?? "" }
        return MoneyReport(keptWithoutTicket: kept, refundsOwed: owed, seatsSoldTwice: doubled)
    }

    /// Republishes, through the event's outbox, the current state of every
    /// reservation PostgreSQL lacks or has behind. Returns how many were queued.
    /// Safe to repeat: the worker's writes are idempotent.
    public func repair(event: EventID, _ differences: [Difference]) async throws -> Int {
        let keys = InventoryKeys(event: event)
        var queued = 0
        for d in differences where d.kind != .missingInRedis {
            guard let id = ReservationID(d.reservationID) else { continue }
            let fields = try await redis.send(["HGETALL", .string(keys.reservation(id))]).array ?? []
            var r: [String: String] = [:]
            for i in stride(from: 0, to: fields.count - 1, by: 2) { r[fields[i].string ?? ""] = fields[i + 1].string ?? "" }
            guard let status = r["status"].flatMap(ReservationStatus.init(rawValue:)) else { continue }
            for type in ReservationEventType.path(to: status) {
                let at: String
                switch type {
                case .confirmed: at = r["confirmed_at"] ?? r["created"] ?? "0"
                case .cancelled: at = r["cancelled_at"] ?? r["created"] ?? "0"
                case .expired: at = r["expired_at"] ?? r["created"] ?? "0"
                case .refunded: at = r["refunded_at"] ?? r["created"] ?? "0"
                default: at = r["created"] ?? "0"
                }
                let confirmedRef = type == .confirmed ? r["payment_ref"] : nil
                let entry = OutboxEntry(
                    id: UUID().uuidString.lowercased(), type: type.rawValue, rid: id.rawValue, event: event.rawValue,
                    category: r["category"] ?? "", user: r["user"] ?? "", qty: r["qty"] ?? "0", amount: r["amount"] ?? "0",
                    currency: r["currency"] ?? "", at: at, created: r["created"] ?? "0", expires: r["expires"] ?? "0",
                    paymentRef: confirmedRef, paymentStatus: confirmedRef == nil ? nil : "succeeded",
                    reason: type == .confirmed && r["late"] == "1" ? "late" : nil, seats: r["seat_ids"])
                try await redis.send(["XADD", .string(keys.outbox), "*", "e", .string(entry.packed)])
                queued += 1
            }
        }
        return queued
    }

    func reservations(event: EventID) async throws -> [String: Reservation] {
        var out: [String: Reservation] = [:]
        let inventory = RedisInventory(redis: redis)
        for key in try await redis.scanKeys(matching: "bo:{ev:\(event.rawValue)}:r:*") {
            guard let token = key.split(separator: ":").last, let id = ReservationID("\(event.rawValue).\(token)"),
                  let r = try await inventory.reservation(id) else { continue }
            out[id.rawValue] = r
        }
        return out
    }
}

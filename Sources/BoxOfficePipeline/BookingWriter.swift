import BoxOfficeDomain
import BoxOfficePostgres
import Foundation

/// Applies batches of reservation events to PostgreSQL in one transaction,
/// idempotently: an event id already in `processed_events` is skipped, and
/// bookings only move forward along held → confirmed | cancelled | expired, so
/// duplicated and reordered events end in the same rows.
///
/// A reservation whose only event in the batch is its `reservation.held` (nearly
/// every reservation of a rush) is keyed by the reservation instead: the held
/// event creates the row or fills a missing `held_at`, and a repeated one finds
/// `held_at` set and changes nothing. Those events skip `processed_events`,
/// whose row, index entry and returned id would cost PostgreSQL a second write
/// per reservation.
public struct BookingWriter: Sendable {
    let db: PostgresClient

    public init(db: PostgresClient) { self.db = db }

    /// What one batch did.
    public struct Result: Sendable, Equatable {
        /// Events applied now, by type.
        public var applied: [ReservationEventType: Int] = [:]
        /// Events seen before (skipped).
        public var duplicates = 0
    }

    /// One row of `bookings`, merged from every new event of a reservation in the batch.
    struct BookingRow {
        var reservation: String, event: String, category: String, user: String
        var qty: Int, amount: Int, currency: String
        var status: ReservationStatus
        var createdAt: String?, expiresAt: String?
        var heldAt: String?, confirmedAt: String?, cancelledAt: String?, expiredAt: String?, refundedAt: String?
        var late = false
        var seats: String?

        mutating func merge(_ e: ReservationEvent) {
            status = status.advanced(to: e.type.status)
            createdAt = createdAt ?? e.created_at
            expiresAt = expiresAt ?? e.expires_at
            seats = seats ?? e.seatList
            switch e.type {
            case .held, .paymentFailed: heldAt = heldAt ?? (e.type == .held ? e.occurred_at : nil)
            case .confirmed:
                confirmedAt = confirmedAt ?? e.occurred_at
                late = late || e.late == true
            case .cancelled: cancelledAt = cancelledAt ?? e.occurred_at
            case .expired: expiredAt = expiredAt ?? e.occurred_at
            case .refundRequired: break
            case .refunded, .paymentRefunded: refundedAt = refundedAt ?? e.occurred_at
            }
        }
    }

    /// Applies `events` (already validated) in one transaction.
    public func apply(_ events: [ReservationEvent]) async throws -> Result {
        guard !events.isEmpty else { return Result() }
        // The same event twice in one batch counts once.
        var seen = Set<String>()
        seen.reserveCapacity(events.count)
        let unique = events.filter { seen.insert(Self.caseFolded($0.id)).inserted }
        var onlyHeld: [String: Bool] = [:]
        for e in unique { onlyHeld[e.reservation_id] = (onlyHeld[e.reservation_id] ?? true) && e.type == .held }
        var heldRows = Set<String>()
        let held = unique.filter { onlyHeld[$0.reservation_id]! && heldRows.insert($0.reservation_id).inserted }
        let others = unique.filter { !onlyHeld[$0.reservation_id]! }

        do {
            return try await write(held: held, others: others, of: events.count, heldRowsAreNew: true)
        } catch let error as PostgresError where error.isUniqueViolation && !held.isEmpty {
            // Some held reservation has its row already: a repeated event, or a later one that got
            // there first. The batch goes again with the statement that merges into existing rows.
            return try await write(held: held, others: others, of: events.count, heldRowsAreNew: false)
        }
    }

    /// The `payments.status` of an event's payment status.
    static func paymentStatus(_ status: String) -> String {
        switch status {
        case "failed", "refund_owed", "refunded": return status
        default: return "succeeded"
        }
    }

    /// `id` with ASCII capitals lowered; the id itself (no copy) when it has none, as the
    /// relay's lowercase UUIDs never do.
    static func caseFolded(_ id: String) -> String {
        id.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? id.lowercased() : id
    }

    /// One transaction for a batch: `held`, the reservations whose only event is their
    /// reservation.held, and `others`, every other new-looking event.
    ///
    /// With `heldRowsAreNew`, the held rows go in with a plain INSERT, which fails the whole
    /// transaction (unique violation) if one of them exists; the caller then runs it again
    /// without. In a rush every held row is new, and a plain INSERT costs PostgreSQL less than
    /// INSERT … ON CONFLICT, whose speculative insertion probes the primary key twice and
    /// writes more WAL.
    private func write(held: [ReservationEvent], others: [ReservationEvent], of total: Int, heldRowsAreNew: Bool) async throws -> Result {
        try await db.withTransaction { c -> Result in
            var result = Result(duplicates: total - held.count - others.count)
            if !held.isEmpty {
                let rows: SQL = """
                    INSERT INTO bookings (reservation_id, event_id, category, user_id, qty, amount, currency, status,
                                          expires_at, held_at, created_at, updated_at, seats)
                    SELECT r, e, c, u, q, a, cur, 'held', exp, h, COALESCE(cr, h), now(), st
                    FROM unnest(\(PostgresArray(held.map(\.reservation_id)))::text[], \(PostgresArray(held.map(\.event_id)))::text[],
                                \(PostgresArray(held.map(\.category)))::text[], \(PostgresArray(held.map(\.user_id)))::text[],
                                \(PostgresArray(held.map(\.qty)))::int[], \(PostgresArray(held.map(\.amount)))::bigint[],
                                \(PostgresArray(held.map(\.currency)))::text[], \(PostgresArray(held.map(\.expires_at)))::timestamptz[],
                                \(PostgresArray(held.map(\.occurred_at)))::timestamptz[], \(PostgresArray(held.map(\.created_at)))::timestamptz[],
                                \(PostgresArray(held.map(\.seatList)))::text[])
                         AS t(r, e, c, u, q, a, cur, exp, h, cr, st)
                    """
                let created: Int
                if heldRowsAreNew {
                    try c.query(rows)
                    created = held.count
                } else {
                    created = try c.query(SQL("WITH applied AS (" + rows.text + """

                        ON CONFLICT (reservation_id) DO UPDATE SET
                            held_at    = EXCLUDED.held_at,
                            seats      = COALESCE(bookings.seats, EXCLUDED.seats),
                            expires_at = COALESCE(bookings.expires_at, EXCLUDED.expires_at),
                            created_at = LEAST(bookings.created_at, EXCLUDED.created_at),
                            updated_at = now()
                        WHERE bookings.held_at IS NULL
                        RETURNING 1)
                    SELECT count(*)::int FROM applied
                    """, parameters: rows.parameters)).first?.int(0) ?? 0
                }
                if created > 0 { result.applied[.held] = created }
                result.duplicates += held.count - created
            }
            guard !others.isEmpty else { return result }

            let fresh = try c.query("""
                INSERT INTO processed_events (event_id, type)
                SELECT * FROM unnest(\(PostgresArray(others.map(\.id)))::uuid[], \(PostgresArray(others.map(\.type.rawValue)))::text[])
                ON CONFLICT (event_id) DO NOTHING
                RETURNING event_id::text
                """)
            let freshIDs = Set(try fresh.map { try $0.string(0) ?? "" })
            let new = others.filter { freshIDs.contains(Self.caseFolded($0.id)) }
            result.duplicates += others.count - new.count
            guard !new.isEmpty else { return result }

            var rows: [String: BookingRow] = [:]
            var order: [String] = []
            for e in new {
                result.applied[e.type, default: 0] += 1
                if rows[e.reservation_id] == nil {
                    order.append(e.reservation_id)
                    rows[e.reservation_id] = BookingRow(
                        reservation: e.reservation_id, event: e.event_id, category: e.category, user: e.user_id,
                        qty: e.qty, amount: e.amount, currency: e.currency, status: .held)
                }
                rows[e.reservation_id]!.merge(e)
            }
            let r = order.map { rows[$0]! }
            try c.query("""
                INSERT INTO bookings (reservation_id, event_id, category, user_id, qty, amount, currency, status,
                                      expires_at, held_at, confirmed_at, cancelled_at, expired_at, refunded_at, late, seats,
                                      created_at, updated_at)
                SELECT r, e, c, u, q, a, cur, s, exp, h, cf, cn, ex, rf, lt, st, COALESCE(cr, h, cf, cn, ex, rf, now()), now()
                FROM unnest(\(PostgresArray(r.map(\.reservation)))::text[], \(PostgresArray(r.map(\.event)))::text[],
                            \(PostgresArray(r.map(\.category)))::text[], \(PostgresArray(r.map(\.user)))::text[],
                            \(PostgresArray(r.map(\.qty)))::int[], \(PostgresArray(r.map(\.amount)))::bigint[],
                            \(PostgresArray(r.map(\.currency)))::text[], \(PostgresArray(r.map(\.status.rawValue)))::text[],
                            \(PostgresArray(r.map(\.expiresAt)))::timestamptz[], \(PostgresArray(r.map(\.heldAt)))::timestamptz[],
                            \(PostgresArray(r.map(\.confirmedAt)))::timestamptz[], \(PostgresArray(r.map(\.cancelledAt)))::timestamptz[],
                            \(PostgresArray(r.map(\.expiredAt)))::timestamptz[], \(PostgresArray(r.map(\.refundedAt)))::timestamptz[],
                            \(PostgresArray(r.map { $0.late ? "t" : "f" }))::bool[], \(PostgresArray(r.map(\.seats)))::text[],
                            \(PostgresArray(r.map(\.createdAt)))::timestamptz[])
                     AS t(r, e, c, u, q, a, cur, s, exp, h, cf, cn, ex, rf, lt, st, cr)
                ON CONFLICT (reservation_id) DO UPDATE SET
                    -- ReservationStatus.advanced(to:): a hold ends once, an expired one may be
                    -- confirmed late, a confirmed one refunded; in any order of arrival.
                    status       = CASE WHEN bookings.status = 'held'
                                          OR (bookings.status = 'expired' AND EXCLUDED.status IN ('confirmed', 'refunded'))
                                          OR (bookings.status = 'confirmed' AND EXCLUDED.status = 'refunded')
                                        THEN EXCLUDED.status ELSE bookings.status END,
                    expires_at   = COALESCE(bookings.expires_at, EXCLUDED.expires_at),
                    held_at      = COALESCE(bookings.held_at, EXCLUDED.held_at),
                    confirmed_at = COALESCE(bookings.confirmed_at, EXCLUDED.confirmed_at),
                    cancelled_at = COALESCE(bookings.cancelled_at, EXCLUDED.cancelled_at),
                    expired_at   = COALESCE(bookings.expired_at, EXCLUDED.expired_at),
                    refunded_at  = COALESCE(bookings.refunded_at, EXCLUDED.refunded_at),
                    late         = bookings.late OR EXCLUDED.late,
                    seats        = COALESCE(bookings.seats, EXCLUDED.seats),
                    created_at   = LEAST(bookings.created_at, EXCLUDED.created_at),
                    updated_at   = now()
                """)

            // The seat guard: a confirmed seated booking owns its seats, any other gives them up. Events of
            // different reservations come in any order, so a seat held by an earlier confirm goes to a later
            // one (Redis sold it again, so the earlier booking was refunded; its refund is on its way).
            let seated = r.filter { $0.seats != nil }.map(\.reservation)
            if !seated.isEmpty {
                try c.query("""
                    DELETE FROM booking_seats bs USING bookings b
                    WHERE bs.reservation_id = b.reservation_id AND b.reservation_id = ANY(\(PostgresArray(seated))::text[])
                      AND b.status <> 'confirmed'
                    """)
                try c.query("""
                    INSERT INTO booking_seats (event_id, seat, reservation_id, confirmed_at)
                    SELECT b.event_id, unnest(string_to_array(b.seats, ',')), b.reservation_id, COALESCE(b.confirmed_at, b.updated_at)
                    FROM bookings b
                    WHERE b.reservation_id = ANY(\(PostgresArray(seated))::text[]) AND b.status = 'confirmed'
                    ON CONFLICT (event_id, seat) DO UPDATE SET reservation_id = EXCLUDED.reservation_id, confirmed_at = EXCLUDED.confirmed_at
                    WHERE booking_seats.confirmed_at < EXCLUDED.confirmed_at
                    """)
            }

            let payments = new.compactMap { e -> (ReservationEvent, PaymentInfo)? in e.payment.map { (e, $0) } }
            if !payments.isEmpty {
                try c.query("""
                    INSERT INTO payments (id, reservation_id, status, amount, currency, created_at)
                    SELECT * FROM unnest(\(PostgresArray(payments.map(\.1.ref)))::text[], \(PostgresArray(payments.map(\.0.reservation_id)))::text[],
                                         \(PostgresArray(payments.map { Self.paymentStatus($0.1.status) }))::text[],
                                         \(PostgresArray(payments.map(\.1.amount)))::bigint[], \(PostgresArray(payments.map(\.1.currency)))::text[],
                                         \(PostgresArray(payments.map(\.0.occurred_at)))::timestamptz[])
                    ON CONFLICT (id) DO NOTHING
                    """)
            }
            return result
        }
    }
}

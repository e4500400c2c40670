import BoxOfficeDomain
import BoxOfficePostgres
import Foundation

/// A registered account.
public struct UserRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var email: String
    public var passwordHash: String
    public var role: Role

    public init(id: String, name: String, email: String, passwordHash: String, role: Role) {
        self.id = id
        self.name = name
        self.email = email
        self.passwordHash = passwordHash
        self.role = role
    }
}

/// An event of the catalog with its categories.
public struct EventRecord: Sendable, Equatable {
    public var id: EventID
    public var name: String
    public var venue: String
    public var startsAt: Date
    public var categories: [CategoryRecord]
    /// The event's hold time; nil: the server's default.
    public var holdTTLSeconds: Int?
    /// Buyers may refund until this many hours before the start.
    public var refundCutoffHours: Int
    /// When an admin cancelled the event; nil while it is on.
    public var cancelledAt: Date?

    public init(id: EventID, name: String, venue: String, startsAt: Date, categories: [CategoryRecord],
                holdTTLSeconds: Int? = nil, refundCutoffHours: Int = 24, cancelledAt: Date? = nil) {
        self.id = id
        self.name = name
        self.venue = venue
        self.startsAt = startsAt
        self.categories = categories
        self.holdTTLSeconds = holdTTLSeconds
        self.refundCutoffHours = refundCutoffHours
        self.cancelledAt = cancelledAt
    }
}

/// A ticket category as the catalog stores it.
public struct CategoryRecord: Sendable, Equatable {
    public var name: String
    public var totalStock: Int
    public var price: Money
    public var maxPerUser: Int?
    /// Whether the category has a seat map.
    public var seated: Bool

    public init(name: String, totalStock: Int, price: Money, maxPerUser: Int?, seated: Bool = false) {
        self.name = name
        self.totalStock = totalStock
        self.price = price
        self.maxPerUser = maxPerUser
        self.seated = seated
    }
}

/// A booking as the worker persisted it.
public struct BookingRecord: Sendable, Equatable {
    public var reservationID: String
    public var eventID: String
    public var category: String
    public var quantity: Int
    public var price: Money
    public var status: String
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date?
    public var confirmedAt: Date?
    public var seats: [String]? = nil
    public var late = false
}

/// Accounts.
public protocol UserRepository: Sendable {
    /// Inserts a user; throws `.emailTaken` when the email (case-insensitively) exists.
    func create(_ user: UserRecord) async throws
    func find(email: String) async throws -> UserRecord?
}

/// Events and categories.
public protocol CatalogRepository: Sendable {
    func createEvent(_ event: EventRecord) async throws
    /// Inserts a category; throws `.duplicate` when the name exists, `.notFound` without the event.
    func createCategory(_ category: CategoryRecord, event: EventID) async throws
    func deleteCategory(name: String, event: EventID) async throws
    func event(_ id: EventID) async throws -> EventRecord?
    /// Events by start time, then id; `after` is a keyset cursor.
    func events(limit: Int, after: (Date, String)?) async throws -> [EventRecord]
    /// Records a category's seat map (its stock becomes its seat count).
    func setSeatMap(_ map: SeatMap, category: String, event: EventID) async throws
    /// Marks an event cancelled (the first time only).
    func cancelEvent(_ id: EventID) async throws
    /// The reservations of an event whose booking is confirmed.
    func confirmedReservations(event: EventID) async throws -> [String]
}

/// Bookings read back for buyers.
public protocol BookingRepository: Sendable {
    /// A user's bookings, newest first; `before` is a keyset cursor.
    func bookings(user: String, limit: Int, before: (Date, String)?) async throws -> [BookingRecord]
}

/// Deliberate failures of the repositories.
public enum RepositoryError: Error, Equatable {
    case emailTaken
    case duplicate
    case notFound
}

/// The PostgreSQL implementations.
public struct PostgresRepositories: UserRepository, CatalogRepository, BookingRepository {
    let db: PostgresClient

    public init(db: PostgresClient) { self.db = db }

    public func create(_ user: UserRecord) async throws {
        do {
            try await db.query("""
                INSERT INTO users (id, name, email, password_hash, role)
                VALUES (\(user.id), \(user.name), \(user.email), \(user.passwordHash), \(user.role.rawValue))
                """)
        } catch let e as PostgresError where e.isUniqueViolation {
            throw RepositoryError.emailTaken
        }
    }

    public func find(email: String) async throws -> UserRecord? {
        guard let row = try await db.query("""
            SELECT id, name, email, password_hash, role FROM users WHERE lower(email) = lower(\(email))
            """).first else { return nil }
        return UserRecord(id: try row.string(0) ?? "", name: try row.string(1) ?? "", email: try row.string(2) ?? "",
                          passwordHash: try row.string(3) ?? "", role: Role(rawValue: try row.string(4) ?? "") ?? .user)
    }

    public func createEvent(_ event: EventRecord) async throws {
        try await db.query("""
            INSERT INTO events (id, name, venue, starts_at, hold_ttl_seconds, refund_cutoff_hours)
            VALUES (\(event.id.rawValue), \(event.name), \(event.venue), \(event.startsAt), \(event.holdTTLSeconds), \(event.refundCutoffHours))
            """)
    }

    public func createCategory(_ c: CategoryRecord, event: EventID) async throws {
        do {
            try await db.query("""
                INSERT INTO ticket_categories (event_id, name, total_stock, price, currency, max_per_user)
                VALUES (\(event.rawValue), \(c.name), \(c.totalStock), \(c.price.amount), \(c.price.currency), \(c.maxPerUser))
                """)
        } catch let e as PostgresError where e.isUniqueViolation {
            throw RepositoryError.duplicate
        } catch let e as PostgresError where e.sqlState == "23503" {
            throw RepositoryError.notFound
        }
    }

    public func deleteCategory(name: String, event: EventID) async throws {
        try await db.query("DELETE FROM ticket_categories WHERE event_id = \(event.rawValue) AND name = \(name)")
    }

    public func event(_ id: EventID) async throws -> EventRecord? {
        try await db.withConnection { c -> EventRecord? in
            guard let row = try c.query("SELECT \(unescaped: Self.eventColumns) FROM events WHERE id = \(id.rawValue)").first else { return nil }
            var event = try Self.event(row)
            event.categories = try c.query("""
                SELECT name, total_stock, price, currency, max_per_user, seat_map IS NOT NULL FROM ticket_categories
                WHERE event_id = \(id.rawValue) ORDER BY created_at, name
                """).map(Self.category)
            return event
        }
    }

    public func events(limit: Int, after: (Date, String)?) async throws -> [EventRecord] {
        try await db.withConnection { c -> [EventRecord] in
            let rows: PostgresRows
            if let (date, id) = after {
                rows = try c.query("""
                    SELECT \(unescaped: Self.eventColumns) FROM events WHERE (starts_at, id) > (\(date), \(id))
                    ORDER BY starts_at, id LIMIT \(limit)
                    """)
            } else {
                rows = try c.query("SELECT \(unescaped: Self.eventColumns) FROM events ORDER BY starts_at, id LIMIT \(limit)")
            }
            var events = try rows.map(Self.event)
            let ids = events.map(\.id.rawValue)
            guard !ids.isEmpty else { return [] }
            let categories = try c.query("""
                SELECT event_id, name, total_stock, price, currency, max_per_user, seat_map IS NOT NULL FROM ticket_categories
                WHERE event_id = ANY(\("{" + ids.joined(separator: ",") + "}")::text[]) ORDER BY created_at, name
                """)
            var byEvent: [String: [CategoryRecord]] = [:]
            for row in categories {
                byEvent[try row.string(0) ?? "", default: []].append(CategoryRecord(
                    name: try row.string(1) ?? "", totalStock: try row.int(2) ?? 0,
                    price: Money(amount: try row.int(3) ?? 0, currency: try row.string(4) ?? ""), maxPerUser: try row.int(5),
                    seated: try row.bool(6) ?? false))
            }
            for i in events.indices { events[i].categories = byEvent[events[i].id.rawValue] ?? [] }
            return events
        }
    }

    public func bookings(user: String, limit: Int, before: (Date, String)?) async throws -> [BookingRecord] {
        let rows: PostgresRows
        if let (date, id) = before {
            rows = try await db.query("""
                SELECT \(unescaped: Self.bookingColumns)
                FROM bookings WHERE user_id = \(user) AND (created_at, reservation_id) < (\(date), \(id))
                ORDER BY created_at DESC, reservation_id DESC LIMIT \(limit)
                """)
        } else {
            rows = try await db.query("""
                SELECT \(unescaped: Self.bookingColumns)
                FROM bookings WHERE user_id = \(user)
                ORDER BY created_at DESC, reservation_id DESC LIMIT \(limit)
                """)
        }
        return try rows.map { row in
            BookingRecord(
                reservationID: try row.string(0) ?? "", eventID: try row.string(1) ?? "", category: try row.string(2) ?? "",
                quantity: try row.int(3) ?? 0, price: Money(amount: try row.int(4) ?? 0, currency: try row.string(5) ?? ""),
                status: try row.string(6) ?? "", createdAt: try row.date(7) ?? Date(timeIntervalSince1970: 0),
                updatedAt: try row.date(8) ?? Date(timeIntervalSince1970: 0), expiresAt: try row.date(9), confirmedAt: try row.date(10),
                seats: try row.string(11).map { $0.split(separator: ",").map(String.init) }, late: try row.bool(12) ?? false)
        }
    }

    static let bookingColumns = "reservation_id, event_id, category, qty, amount, currency, status, created_at, updated_at, expires_at, confirmed_at, seats, late"
    static let eventColumns = "id, name, venue, starts_at, hold_ttl_seconds, refund_cutoff_hours, cancelled_at"

    public func setSeatMap(_ map: SeatMap, category: String, event: EventID) async throws {
        let json = String(decoding: try JSONEncoder().encode(map), as: UTF8.self)
        try await db.query("""
            UPDATE ticket_categories SET seat_map = \(json)::jsonb, total_stock = \(map.seatCount)
            WHERE event_id = \(event.rawValue) AND name = \(category)
            """)
    }

    public func cancelEvent(_ id: EventID) async throws {
        try await db.query("UPDATE events SET cancelled_at = now() WHERE id = \(id.rawValue) AND cancelled_at IS NULL")
    }

    public func confirmedReservations(event: EventID) async throws -> [String] {
        try await db.query("SELECT reservation_id FROM bookings WHERE event_id = \(event.rawValue) AND status = 'confirmed'")
            .map { try $0.string(0) ?? "" }
    }

    static func event(_ row: PostgresRow) throws -> EventRecord {
        EventRecord(id: EventID(try row.string(0) ?? "") ?? EventID("invalid")!, name: try row.string(1) ?? "",
                    venue: try row.string(2) ?? "", startsAt: try row.date(3) ?? Date(timeIntervalSince1970: 0), categories: [],
                    holdTTLSeconds: try row.int(4), refundCutoffHours: try row.int(5) ?? 24, cancelledAt: try row.date(6))
    }

    static func category(_ row: PostgresRow) throws -> CategoryRecord {
        CategoryRecord(name: try row.string(0) ?? "", totalStock: try row.int(1) ?? 0,
                       price: Money(amount: try row.int(2) ?? 0, currency: try row.string(3) ?? ""), maxPerUser: try row.int(4),
                       seated: try row.bool(5) ?? false)
    }
}

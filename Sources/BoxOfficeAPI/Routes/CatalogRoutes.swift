import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficePersistence
import BoxOfficeRuntime
import Foundation
import Hummingbird
import Logging

/// Events and ticket categories: written to PostgreSQL and Redis by admins, read by anyone.
struct CatalogRoutes {
    let catalog: any CatalogRepository
    let inventory: RedisInventory
    let defaultCurrency: String
    let payments: any PaymentGateway
    let events = SingleFlightCache<String, EventRecord?>(ttl: .seconds(2))
    let lists = SingleFlightCache<String, [EventRecord]>(ttl: .seconds(1))
    let availability = SingleFlightCache<String, [CategoryAvailability]>(ttl: .milliseconds(200))

    struct NewEvent: Decodable {
        var name: String
        var venue: String
        var starts_at: String
        var hold_ttl_seconds: Int?
        var refund_cutoff_hours: Int?
    }

    struct NewCategory: Decodable {
        var name: String
        var total_stock: Int
        var price: Int
        var currency: String?
        var max_per_user: Int?
    }

    struct CategoryBody: ResponseEncodable, Sendable {
        var event_id: String
        var name: String
        var total_stock: Int
        var price: Int
        var currency: String
        var max_per_user: Int?
        var seated: Bool

        init(event: EventID, _ c: CategoryRecord) {
            event_id = event.rawValue
            name = c.name
            total_stock = c.totalStock
            price = c.price.amount
            currency = c.price.currency
            max_per_user = c.maxPerUser
            seated = c.seated
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(event_id, forKey: .event_id)
            try c.encode(name, forKey: .name)
            try c.encode(total_stock, forKey: .total_stock)
            try c.encode(price, forKey: .price)
            try c.encode(currency, forKey: .currency)
            try c.encode(max_per_user, forKey: .max_per_user)  // explicit null when absent
            try c.encode(seated, forKey: .seated)
        }

        enum CodingKeys: String, CodingKey { case event_id, name, total_stock, price, currency, max_per_user, seated }
    }

    struct EventBody: ResponseEncodable, Sendable {
        var id: String
        var name: String
        var venue: String
        var starts_at: String
        var hold_ttl_seconds: Int
        var refund_cutoff_hours: Int
        var status: String
        var categories: [CategoryBody]

        init(_ e: EventRecord, defaultHoldTTL: Int) {
            id = e.id.rawValue
            name = e.name
            venue = e.venue
            starts_at = RFC3339.string(e.startsAt)
            hold_ttl_seconds = e.holdTTLSeconds ?? defaultHoldTTL
            refund_cutoff_hours = e.refundCutoffHours
            status = e.cancelledAt == nil ? "on_sale" : "cancelled"
            categories = e.categories.map { CategoryBody(event: e.id, $0) }
        }
    }

    typealias EventList = Page<EventBody>

    struct AvailabilityBody: ResponseEncodable, Sendable {
        struct Category: Encodable, Sendable {
            var name: String
            var total: Int
            var available: Int
            var price: Int
            var currency: String
        }

        var event_id: String
        var categories: [Category]
    }

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.post("/events") { request, context in try await createEvent(request, context) }
        router.post("/events/{id}/ticket-category") { request, context in try await createCategory(request, context) }
        router.get("/events") { request, context in try await listEvents(request, context) }
        router.get("/events/{id}") { _, context in EventBody(try await existingEvent(context), defaultHoldTTL: defaultHoldTTL) }
        router.post("/events/{id}/cancel") { _, context in try await cancelEvent(context) }
        router.get("/events/{id}/availability") { _, context in try await availability(context) }
        router.get("/events/{id}/stock") { _, context in try await stock(context) }
    }

    func createEvent(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Created<EventBody> {
        _ = try context.requireAdmin()
        let body = try await decodeJSON(NewEvent.self, from: request, context: context)
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        let venue = body.venue.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(name.count) else { throw Problem.validation("name must be 1 to 200 characters.") }
        guard (1...200).contains(venue.count) else { throw Problem.validation("venue must be 1 to 200 characters.") }
        guard let startsAt = RFC3339.parse(body.starts_at) else {
            throw Problem.validation("starts_at must be an RFC 3339 date-time, e.g. 2027-06-01T19:30:00Z.")
        }
        if let ttl = body.hold_ttl_seconds, !(30...3600).contains(ttl) { throw Problem.validation("hold_ttl_seconds must be between 30 and 3600.") }
        if let hours = body.refund_cutoff_hours, !(0...8760).contains(hours) { throw Problem.validation("refund_cutoff_hours must be between 0 and 8760.") }
        let event = EventRecord(id: EventID.random(), name: name, venue: venue, startsAt: startsAt, categories: [],
                                holdTTLSeconds: body.hold_ttl_seconds, refundCutoffHours: body.refund_cutoff_hours ?? 24)
        try await catalog.createEvent(event)
        // The hold time goes to Redis now; reserves read it in the script that holds.
        if let ttl = body.hold_ttl_seconds { try await inventory.setEventSettings(event: event.id, holdTTL: .seconds(ttl)) }
        lists.removeAll()
        context.logger.info("event created", metadata: [LogKey.eventID: "\(event.id)"])
        return Created(body: EventBody(event, defaultHoldTTL: defaultHoldTTL))
    }

    func createCategory(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Created<CategoryBody> {
        _ = try context.requireAdmin()
        let eventID = try context.pathEvent()
        let body = try await decodeJSON(NewCategory.self, from: request, context: context)
        guard let name = CategoryName(body.name) else {
            throw Problem.validation("name must be 1 to 64 characters, without '|' or control characters, not starting or ending with a space.")
        }
        guard (0...10_000_000).contains(body.total_stock) else { throw Problem.validation("total_stock must be between 0 and 10000000.") }
        guard (0...1_000_000_000_000).contains(body.price) else { throw Problem.validation("price must be between 0 and 1000000000000 minor units.") }
        let currency = body.currency ?? defaultCurrency
        guard Money.isCurrencyCode(currency) else { throw Problem.validation("currency must be an ISO 4217 code such as EUR.") }
        if let max = body.max_per_user, !(1...1000).contains(max) { throw Problem.validation("max_per_user must be between 1 and 1000.") }
        guard let event = try await catalog.event(eventID) else { throw Problem.notFound("No event \(eventID).") }

        let category = CategoryRecord(name: name.rawValue, totalStock: body.total_stock, price: Money(amount: body.price, currency: currency),
                                      maxPerUser: body.max_per_user)
        do {
            try await catalog.createCategory(category, event: eventID)
        } catch RepositoryError.duplicate {
            throw Problem(status: .conflict, code: "category_exists", title: "Conflict", detail: "Event \(eventID) already has a category '\(name)'.")
        } catch RepositoryError.notFound {
            throw Problem.notFound("No event \(eventID).")
        }
        // The stock goes to Redis in the same request; if that fails the row is removed again.
        do {
            if let ttl = event.holdTTLSeconds { try await inventory.setEventSettings(event: eventID, holdTTL: .seconds(ttl)) }
            let outcome = try await inventory.initCategory(
                event: eventID, category: name, totalStock: category.totalStock, price: category.price, maxPerUser: category.maxPerUser)
            if case .belowCommitted(let held, let confirmed) = outcome {
                try await catalog.deleteCategory(name: name.rawValue, event: eventID)
                throw Problem(status: .conflict, code: "stock_committed", title: "Conflict",
                              detail: "\(held + confirmed) tickets of '\(name)' are already held or sold.")
            }
        } catch let error where !(error is Problem) {
            context.logger.error("category stock not initialised; removing the row", metadata: [LogKey.eventID: "\(eventID)", "error": "\(error)"])
            try? await catalog.deleteCategory(name: name.rawValue, event: eventID)
            throw error
        }
        events.invalidate(eventID.rawValue)
        lists.removeAll()
        availability.invalidate(eventID.rawValue)
        return Created(body: CategoryBody(event: eventID, category))
    }

    func listEvents(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> EventList {
        let limit = try queryLimit(request, default: 50)
        var after: (Date, String)? = nil
        let cursor = request.uri.queryParameters.get("cursor")
        if let cursor {
            guard let decoded = Cursor.decode(cursor) else { throw Problem.validation("cursor is not one this API issued.") }
            after = decoded
        }
        let start = after
        let page = try await lists.value(for: "\(limit)|\(cursor ?? "")") { [catalog] in
            try await catalog.events(limit: limit + 1, after: start)
        }
        let items = Array(page.prefix(limit))
        let next = page.count > limit ? items.last.map { Cursor.encode($0.startsAt, $0.id.rawValue) } : nil
        return EventList(items: items.map { EventBody($0, defaultHoldTTL: defaultHoldTTL) }, next_cursor: next)
    }

    struct StockBody: ResponseEncodable, Sendable {
        struct Category: Encodable, Sendable {
            var name: String
            var total: Int
            var available: Int
            var held: Int
            var confirmed: Int
        }
        var event_id: String
        var categories: [Category]
    }

    /// Available, held and confirmed per category, read from Redis now (admin; the on-sale view).
    func stock(_ context: BoxOfficeRequestContext) async throws -> StockBody {
        _ = try context.requireAdmin()
        let id = try context.pathEvent()
        let categories = try await inventory.availability(event: id)
        if categories.isEmpty, try await catalog.event(id) == nil { throw Problem.notFound("No event \(id).") }
        return StockBody(event_id: id.rawValue, categories: categories.map {
            StockBody.Category(name: $0.name, total: $0.stock.total, available: $0.stock.available, held: $0.stock.held, confirmed: $0.stock.confirmed)
        })
    }

    func availability(_ context: BoxOfficeRequestContext) async throws -> AvailabilityBody {
        let event = try await existingEvent(context)
        let categories = try await availability.value(for: event.id.rawValue) { [inventory] in
            try await inventory.availability(event: event.id)
        }
        return AvailabilityBody(event_id: event.id.rawValue, categories: categories.map {
            .init(name: $0.name, total: $0.stock.total, available: $0.stock.available, price: $0.price.amount, currency: $0.price.currency)
        })
    }


    /// The server's default hold time, in seconds.
    var defaultHoldTTL: Int { Int(inventory.configuration.holdTTL.components.seconds) }

    /// Drops what the caches hold of an event (after a change to it).
    func forget(_ id: EventID) {
        events.invalidate(id.rawValue)
        lists.removeAll()
        availability.invalidate(id.rawValue)
    }

    struct CancelBody: ResponseEncodable, Sendable {
        var event_id: String
        var status: String
        var refunded: Int
        var already_refunded: Int
    }

    /// Cancels an event (admin): its sales stop and every confirmed booking is refunded, its tickets
    /// back in stock. Repeating it refunds what a first run missed and nothing twice.
    func cancelEvent(_ context: BoxOfficeRequestContext) async throws -> CancelBody {
        _ = try context.requireAdmin()
        let id = try context.pathEvent()
        guard try await catalog.event(id) != nil else { throw Problem.notFound("No event \(id).") }
        try await catalog.cancelEvent(id)
        try await inventory.setEventSettings(event: id, holdTTL: nil, cancelled: true)
        forget(id)
        // Redis has every booking of the retention period; PostgreSQL may have older ones.
        var ids = Set(try await inventory.reservations(event: id, status: .confirmed).map(\.rawValue))
        ids.formUnion(try await catalog.confirmedReservations(event: id))
        var refunded = 0, already = 0
        for raw in ids.sorted() {
            guard let rid = ReservationID(raw) else { continue }
            switch try await inventory.refund(rid, buyer: nil) {
            case .refunded(let r):
                refunded += 1
                BusinessMetrics.refund(by: "admin")
                if let reference = r.paymentReference { try await payments.refund(reference: reference, reservation: rid) }
            case .alreadyRefunded: already += 1
            case .notConfirmed, .notFound, .notOwner:
                context.logger.warning("booking not refunded by the event's cancel", metadata: [LogKey.reservationID: "\(rid)"])
            }
        }
        context.logger.info("event cancelled", metadata: [LogKey.eventID: "\(id)", "refunded": "\(refunded)"])
        return CancelBody(event_id: id.rawValue, status: "cancelled", refunded: refunded, already_refunded: already)
    }

    func existingEvent(_ context: BoxOfficeRequestContext) async throws -> EventRecord {
        let id = try context.pathEvent()
        guard let event = try await events.value(for: id.rawValue, load: { [catalog] in try await catalog.event(id) }) else {
            throw Problem.notFound("No event \(id).")
        }
        return event
    }
}

/// `?limit=` between 1 and 100.
func queryLimit(_ request: Request, default value: Int) throws -> Int {
    guard let raw = request.uri.queryParameters.get("limit") else { return value }
    guard let n = Int(raw), (1...100).contains(n) else { throw Problem.validation("limit must be an integer between 1 and 100.") }
    return n
}

/// Opaque keyset cursors: base64url of `<RFC 3339 with fractions>|<id>`.
enum Cursor {
    static func encode(_ date: Date, _ id: String) -> String {
        let raw = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) + "|" + id
        return Data(raw.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> (Date, String)? {
        guard cursor.utf8.count <= 400 else { return nil }
        var b64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let raw = String(data: data, encoding: .utf8),
              let bar = raw.firstIndex(of: "|"),
              let date = RFC3339.parse(String(raw[..<bar])) else { return nil }
        let id = String(raw[raw.index(after: bar)...])
        guard !id.isEmpty, id.utf8.count <= 200 else { return nil }
        return (date, id)
    }
}

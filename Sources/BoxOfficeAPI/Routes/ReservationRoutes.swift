import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficePersistence
import BoxOfficeRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Reserve, confirm, cancel and read reservations (Redis), and a buyer's bookings (PostgreSQL).
struct ReservationRoutes {
    let inventory: RedisInventory
    let payments: any PaymentGateway
    let bookings: any BookingRepository
    let catalog: any CatalogRepository
    let tokens: TokenIssuer
    let seatMaps: SeatMaps

    struct ReserveRequest: ScannableRequestBody {
        var event_id: String
        var category: String
        var qty: Int?
        /// Seat ids picked on a seated category.
        var seats: [String]?
        /// The best `qty` seats of a seated category.
        var best_available: Bool?

        static func scanned(from bytes: UnsafeRawBufferPointer) -> ReserveRequest? {
            JSONScanner.scan(bytes) { s in
                var event: String?, category: String?, qty: Int?, seats: [String]?, best: Bool?
                try s.object { s, key in
                    if JSONScanner.key(key, is: "event_id") { event = try s.string() }
                    else if JSONScanner.key(key, is: "category") { category = try s.string() }
                    else if JSONScanner.key(key, is: "qty") { qty = try s.int() }
                    else if JSONScanner.key(key, is: "seats") { seats = try s.strings(limit: 64) }
                    else if JSONScanner.key(key, is: "best_available") { best = try s.bool() }
                    else { throw JSONScanner.GiveUp() }
                }
                guard let event, let category, qty != nil || seats != nil else { throw JSONScanner.GiveUp() }
                return ReserveRequest(event_id: event, category: category, qty: qty, seats: seats, best_available: best)
            }
        }
    }

    struct ConfirmRequest: Decodable {
        var reservation_id: String
        var payment_ok: Bool
    }

    struct ReservationBody: Encodable, ResponseGenerator, Sendable {
        var reservation_id: String
        var status: String
        var event_id: String
        var category: String
        var qty: Int
        var amount: Int
        var currency: String
        var expires_at: String
        var created_at: String
        var payment_ref: String?
        var seats: [String]?
        var late: Bool?

        init(_ r: Reservation) {
            reservation_id = r.id.rawValue
            status = r.status.rawValue
            event_id = r.event.rawValue
            category = r.category
            qty = r.quantity
            amount = r.price.amount
            currency = r.price.currency
            expires_at = RFC3339Timestamp.string(milliseconds: r.expiresAtMs)
            created_at = RFC3339Timestamp.string(milliseconds: r.createdAtMs)
            payment_ref = r.paymentReference
            seats = r.seats.isEmpty ? nil : r.seats
            late = r.late ? true : nil
        }

        /// The body as `responseEncoder` writes it (sorted keys), written directly: it is
        /// made on every reserve, the hot path, without Foundation's encoder.
        var json: [UInt8] {
            var w = JSONObjectWriter(capacity: 320)
            w.int("amount", amount)
            w.string("category", category)
            w.string("created_at", created_at)
            w.string("currency", currency)
            w.string("event_id", event_id)
            w.string("expires_at", expires_at)
            w.bool("late", ifPresent: late)
            w.string("payment_ref", ifPresent: payment_ref)
            w.int("qty", qty)
            w.string("reservation_id", reservation_id)
            w.strings("seats", ifPresent: seats)
            w.string("status", status)
            return w.finish()
        }

        func response(from request: Request, context: some RequestContext) throws -> Response {
            jsonResponse(status: .ok, headers: [:], body: json)
        }
    }

    struct BookingBody: Encodable, Sendable {
        var reservation_id: String
        var event_id: String
        var category: String
        var qty: Int
        var amount: Int
        var currency: String
        var status: String
        var created_at: String
        var updated_at: String
        var confirmed_at: String?
        var seats: [String]?
        var late: Bool?
    }

    typealias BookingList = Page<BookingBody>

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.post("/reserve") { request, context in try await reserve(request, context) }
        router.post("/confirm") { request, context in try await confirm(request, context) }
        router.post("/reservations/{id}/cancel") { _, context in try await cancel(context) }
        router.post("/reservations/{id}/refund") { _, context in try await refund(context) }
        router.get("/reservations/{id}") { _, context in try await show(context) }
        router.get("/me/bookings") { request, context in try await myBookings(request, context) }
    }

    func reserve(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Response {
        let user = try context.requireUser()
        var headers = HTTPFields()
        let body = try await decodeJSON(ReserveRequest.self, from: request, context: context)
        guard let event = EventID(body.event_id) else { throw Problem.validation("event_id is not a valid event id.") }
        guard let category = CategoryName(body.category) else { throw Problem.validation("category is not a valid category name.") }
        let max = inventory.configuration.maxQuantityPerRequest
        let picked = try Self.pickedSeats(body, max: max)
        let qty = picked?.count ?? body.qty ?? 0
        guard (1...max).contains(qty) else { throw Problem.validation("qty must be between 1 and \(max).") }
        var idempotencyKey: String? = nil
        if let key = request.headers[.idempotencyKey] {
            guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                throw Problem.validation("Idempotency-Key must be 1 to 255 visible ASCII characters.")
            }
            idempotencyKey = key
        }
        guard let buyer = BuyerID(user.subject) else { throw Problem.validation("the token's subject is not usable as a buyer id.") }
        // Checked only when sent: whether the event needs it is the script's to say.
        var admitted = false
        if let token = request.headers[.admissionToken] {
            admitted = await tokens.admits(token, subject: buyer.rawValue, event: event.rawValue)
        }

        // Seats: picked ones by their offsets in the map read (a changed map is read again, once);
        // best available by the script, which also takes a plain qty on a seated category so.
        var seats = SeatRequest.none
        var layout: SeatLayout? = nil
        if let picked {
            layout = try await seatMaps.layout(event: event, category: category.rawValue)
            seats = try Self.pick(picked, in: layout)
        } else if body.best_available == true {
            seats = .best(version: "")
        }
        var outcome = try await inventory.reserve(
            event: event, category: category, buyer: buyer, quantity: qty, idempotencyKey: idempotencyKey, admitted: admitted, seats: seats)
        if case .seatMapChanged = outcome {
            layout = try await seatMaps.layout(event: event, category: category.rawValue, fresh: true)
            outcome = try await inventory.reserve(
                event: event, category: category, buyer: buyer, quantity: qty, idempotencyKey: idempotencyKey, admitted: admitted,
                seats: try Self.pick(picked ?? [], in: layout))
        }

        switch outcome {
        case .held(let r, let replayed):
            BusinessMetrics.reservation(replayed ? "replayed" : "held")
            // The access line of this request carries the new reservation (its Location) at info.
            context.logger.debug(replayed ? "reservation replayed" : "reservation held",
                                 metadata: [LogKey.reservationID: "\(r.id)", LogKey.eventID: "\(event)"])
            if replayed { headers[.idempotentReplayed] = "true" }
            if let burst = inventory.configuration.reserveRate?.burst { headers[.rateLimitLimit] = String(burst) }
            headers[.location] = "/reservations/\(r.id.rawValue)"
            return jsonResponse(status: .created, headers: headers, body: ReservationBody(r).json)
        case .soldOut(let available):
            BusinessMetrics.reservation("sold_out")
            BusinessMetrics.failedReservation("sold_out")
            throw Problem(status: .conflict, code: "sold_out", title: "Sold Out",
                          detail: available == 0 ? "No tickets of '\(category)' are left." : "Only \(available) tickets of '\(category)' are left.")
        case .limitExceeded(let limit, let already):
            BusinessMetrics.reservation("limit_exceeded")
            BusinessMetrics.failedReservation("limit_exceeded")
            throw Problem(status: .conflict, code: "limit_exceeded", title: "Limit Exceeded",
                          detail: "At most \(limit) tickets of '\(category)' per buyer; you hold or bought \(already).")
        case .notFound:
            BusinessMetrics.reservation("not_found")
            BusinessMetrics.failedReservation("not_found")
            throw Problem.notFound("No category '\(category)' in event \(event).")
        case .invalidQuantity(let max):
            BusinessMetrics.reservation("invalid")
            BusinessMetrics.failedReservation("invalid_qty")
            throw Problem.validation("qty must be between 1 and \(max).")
        case .rateLimited(let retryAfterMs, let resetMs):
            BusinessMetrics.reservation("rate_limited")
            BusinessMetrics.failedReservation("rate_limited")
            throw RateLimiter.tooMany(limit: inventory.configuration.reserveRate?.burst ?? 0, retryAfterMs: retryAfterMs, resetMs: resetMs)
        case .notAdmitted:
            BusinessMetrics.reservation("not_admitted")
            BusinessMetrics.failedReservation("not_admitted")
            QueueMetrics.rejected("not_admitted")
            throw Problem(status: .forbidden, code: "not_admitted", title: "Not Admitted",
                          detail: "Event \(event) has a waiting room: join it (POST /events/\(event)/queue/join) and send the admission token it gives in the Admission-Token header.")
        case .eventCancelled:
            BusinessMetrics.reservation("event_cancelled")
            BusinessMetrics.failedReservation("event_cancelled")
            throw Problem(status: .conflict, code: "event_cancelled", title: "Event Cancelled", detail: "Event \(event) was cancelled; nothing is on sale.")
        case .seatsTaken(let offsets):
            BusinessMetrics.reservation("seats_taken")
            BusinessMetrics.failedReservation("seats_taken")
            let taken = offsets.compactMap { layout?.id(at: $0) }
            var problem = Problem(status: .conflict, code: "seats_taken", title: "Seats Taken",
                                  detail: "These seats are held or sold: \(taken.joined(separator: ", ")).")
            problem.listExtensions["seats"] = taken
            throw problem
        case .notSeated:
            BusinessMetrics.reservation("invalid")
            BusinessMetrics.failedReservation("not_seated")
            throw Problem(status: .unprocessableContent, code: "not_seated", title: "Not Seated",
                          detail: "'\(category)' is general admission: send qty without seats or best_available.")
        case .seatMapChanged:
            throw Problem(status: .serviceUnavailable, code: "unavailable", title: "Service Unavailable",
                          detail: "The seat map of '\(category)' changed while reserving; try again.")
        }
    }

    /// The distinct seat ids a reserve picked, or nil when it picked none; 422 for a malformed list.
    static func pickedSeats(_ body: ReserveRequest, max: Int) throws -> [String]? {
        guard let seats = body.seats else { return nil }
        guard (1...max).contains(seats.count) else { throw Problem.validation("seats must list 1 to \(max) seat ids.") }
        guard Set(seats).count == seats.count else { throw Problem.validation("seats must not list a seat twice.") }
        if let qty = body.qty, qty != seats.count { throw Problem.validation("qty must equal the number of seats picked.") }
        if body.best_available == true { throw Problem.validation("send either seats or best_available, not both.") }
        return seats
    }

    /// The offsets of picked seats in `layout`; 422 naming seats the map does not have.
    static func pick(_ seats: [String], in layout: SeatLayout?) throws -> SeatRequest {
        guard let layout else {
            // No map: the script answers not_found or not_seated for the category.
            return .pick(offsets: [], version: "-")
        }
        let unknown = seats.filter { layout.offsets[$0] == nil }
        guard unknown.isEmpty else {
            throw Problem.validation("No such seats: \(unknown.prefix(10).map { String($0.prefix(60)) }.joined(separator: ", ")).")
        }
        return .pick(offsets: seats.compactMap { layout.offsets[$0] }, version: layout.version)
    }

    func confirm(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> ReservationBody {
        do {
            let body = try await confirmReservation(request, context)
            BusinessMetrics.confirmation(body.status)
            return body
        } catch let problem as Problem {
            BusinessMetrics.confirmation(problem.code)
            throw problem
        }
    }

    func confirmReservation(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> ReservationBody {
        let user = try context.requireUser()
        let body = try await decodeJSON(ConfirmRequest.self, from: request, context: context)
        guard let id = ReservationID(body.reservation_id) else { throw Problem.notFound("No reservation \(body.reservation_id.prefix(100)).") }
        guard let buyer = BuyerID(user.subject) else { throw Self.forbidden }
        var logger = context.logger
        logger[metadataKey: LogKey.reservationID] = "\(id)"

        // Read first: a repeated confirm returns the first result without charging again.
        guard let current = try await inventory.reservation(id) else { throw Self.problem(.notFound, id) }
        guard current.buyer == buyer.rawValue else { throw Self.problem(.notOwner, id) }
        switch current.status {
        case .confirmed: return ReservationBody(current)
        case .cancelled, .refunded: throw Self.problem(.notHeld(current), id)
        // A payment after the hold's time may still buy the same tickets (confirm.lua decides).
        case .expired: if !body.payment_ok { throw Self.problem(.expired(current), id) }
        case .held: break
        }

        switch try await payments.charge(reservation: id, amount: current.price, approve: body.payment_ok) {
        case .declined(let reference, let reason):
            let outcome = try await inventory.recordPaymentFailure(id, buyer: buyer, paymentReference: reference, reason: reason)
            logger.info("payment declined", metadata: ["payment_ref": "\(reference)"])
            switch outcome {
            case .recorded:
                throw Problem(status: HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"), code: "payment_failed", title: "Payment Required",
                              detail: "The payment was declined; the hold stays until \(RFC3339Timestamp.string(milliseconds: current.expiresAtMs)).")
            case .alreadyConfirmed(let r): return ReservationBody(r)
            case .refused(let refusal): throw Self.problem(refusal, id)
            }
        case .approved(let reference):
            let outcome = try await inventory.confirm(id, buyer: buyer, paymentReference: reference)
            switch outcome {
            case .confirmed(let r):
                logger.info(r.late ? "reservation confirmed late" : "reservation confirmed", metadata: ["payment_ref": "\(reference)"])
                if r.late { BusinessMetrics.lateConfirmation("accepted") }
                return ReservationBody(r)
            case .alreadyConfirmed(let r):
                return ReservationBody(r)
            case .refused(let refusal):
                // Charged but not confirmed: the charge goes back (a late one is also recorded as owed
                // by payment.refund_required, written with the refusal).
                try await payments.refund(reference: reference, reservation: id)
                if case .expired = refusal {
                    BusinessMetrics.lateConfirmation("refused")
                    logger.warning("late payment refused: the tickets were sold; refund owed", metadata: ["payment_ref": "\(reference)"])
                    throw Problem(status: .gone, code: "expired", title: "Gone",
                                  detail: "The hold expired and its tickets were sold meanwhile; the payment \(reference) will be refunded.")
                }
                throw Self.problem(refusal, id)
            }
        }
    }

    func cancel(_ context: BoxOfficeRequestContext) async throws -> ReservationBody {
        let user = try context.requireUser()
        let id = try pathReservation(context)
        guard let buyer = BuyerID(user.subject) else { throw Self.forbidden }
        switch try await inventory.cancel(id, buyer: buyer) {
        case .cancelled(let r), .alreadyCancelled(let r):
            context.logger.info("reservation cancelled", metadata: [LogKey.reservationID: "\(id)"])
            return ReservationBody(r)
        case .refused(let refusal):
            throw Self.problem(refusal, id)
        }
    }

    /// Gives a confirmed booking back: its owner until the event's refund cut-off, an admin any time.
    func refund(_ context: BoxOfficeRequestContext) async throws -> ReservationBody {
        let user = try context.requireUser()
        let id = try pathReservation(context)
        let isAdmin = user.role == Role.admin.rawValue
        guard let current = try await inventory.reservation(id) else { throw Problem.notFound("No reservation \(id).") }
        guard isAdmin || current.buyer == user.subject else { throw Self.forbidden }
        if current.status == .refunded { return ReservationBody(current) }
        guard current.status == .confirmed else { throw Self.notConfirmed(current) }
        if !isAdmin {
            guard let event = try await catalog.event(id.event) else { throw Problem.notFound("No event \(id.event).") }
            let closes = event.startsAt.addingTimeInterval(-Double(event.refundCutoffHours) * 3600)
            guard Date() < closes else {
                throw Problem(status: .conflict, code: "refund_closed", title: "Refund Closed",
                              detail: "Refunds of this event closed at \(RFC3339.string(closes)), \(event.refundCutoffHours) h before it starts.")
            }
        }
        switch try await inventory.refund(id, buyer: isAdmin ? nil : BuyerID(user.subject)) {
        case .refunded(let r):
            BusinessMetrics.refund(by: isAdmin ? "admin" : "owner")
            if let reference = r.paymentReference { try await payments.refund(reference: reference, reservation: id) }
            context.logger.info("booking refunded", metadata: [LogKey.reservationID: "\(id)", "by": "\(isAdmin ? "admin" : "owner")"])
            return ReservationBody(r)
        case .alreadyRefunded(let r): return ReservationBody(r)
        case .notConfirmed(let r): throw Self.notConfirmed(r)
        case .notFound: throw Problem.notFound("No reservation \(id).")
        case .notOwner: throw Self.forbidden
        }
    }

    static func notConfirmed(_ r: Reservation) -> Problem {
        Problem(status: .conflict, code: "not_confirmed", title: "Conflict", detail: "The reservation is \(r.status.rawValue), not confirmed.")
    }

    func show(_ context: BoxOfficeRequestContext) async throws -> ReservationBody {
        let user = try context.requireUser()
        let id = try pathReservation(context)
        guard let r = try await inventory.reservation(id) else { throw Problem.notFound("No reservation \(id).") }
        guard r.buyer == user.subject else { throw Self.forbidden }
        return ReservationBody(r)
    }

    func myBookings(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> BookingList {
        let user = try context.requireUser()
        let limit = try queryLimit(request, default: 20)
        var before: (Date, String)? = nil
        if let cursor = request.uri.queryParameters.get("cursor") {
            guard let decoded = Cursor.decode(cursor) else { throw Problem.validation("cursor is not one this API issued.") }
            before = decoded
        }
        let rows = try await bookings.bookings(user: user.subject, limit: limit + 1, before: before)
        let items = Array(rows.prefix(limit))
        return BookingList(
            items: items.map {
                BookingBody(reservation_id: $0.reservationID, event_id: $0.eventID, category: $0.category, qty: $0.quantity,
                            amount: $0.price.amount, currency: $0.price.currency, status: $0.status,
                            created_at: RFC3339.string($0.createdAt), updated_at: RFC3339.string($0.updatedAt),
                            confirmed_at: $0.confirmedAt.map(RFC3339.string), seats: $0.seats, late: $0.late ? true : nil)
            },
            next_cursor: rows.count > limit ? items.last.map { Cursor.encode($0.createdAt, $0.reservationID) } : nil)
    }

    func pathReservation(_ context: BoxOfficeRequestContext) throws -> ReservationID {
        guard let raw = context.parameters.get("id"), let id = ReservationID(raw) else {
            throw Problem.notFound("No such reservation.")
        }
        return id
    }

    static let forbidden = Problem(status: .forbidden, code: "forbidden", title: "Forbidden", detail: "This reservation belongs to another buyer.")

    /// The problem document of each refusal, written once for every route that acts on a hold.
    static func problem(_ refusal: ReservationRefusal, _ id: ReservationID) -> Problem {
        switch refusal {
        case .notFound:
            Problem.notFound("No reservation \(id).")
        case .notOwner:
            forbidden
        case .notHeld(let r):
            Problem(status: .conflict, code: "not_held", title: "Conflict", detail: "The reservation is \(r.status.rawValue), not held.")
        case .eventCancelled:
            Problem(status: .conflict, code: "event_cancelled", title: "Event Cancelled",
                    detail: "Event \(id.event) was cancelled; nothing more is sold, and no payment is kept.")
        case .expired(let r):
            Problem(status: .gone, code: "expired", title: "Gone",
                    detail: "The hold expired at \(RFC3339Timestamp.string(milliseconds: r.expiresAtMs)); the tickets went back on sale.")
        }
    }
}

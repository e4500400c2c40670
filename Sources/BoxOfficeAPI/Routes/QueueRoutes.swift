import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficePersistence
import BoxOfficeRuntime
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The waiting room of an event: its settings (admin), its state (anyone), and a buyer's place
/// and admission. Every decision (places, the admission pace, the cap) is a Lua script on the
/// event's slot; this layer validates, signs admission tokens and shapes answers.
struct QueueRoutes {
    let inventory: RedisInventory
    let catalog: any CatalogRepository
    let tokens: TokenIssuer
    let limiter: RateLimiter
    let joinRule: RateLimitRule

    struct SettingsRequest: Decodable {
        var opens_at: String
        var admit_per_minute: Int
        var pre_queue_minutes: Int?
        var session_minutes: Int?
        var max_active: Int?
        var paused: Bool?
    }

    struct StatusBody: ResponseEncodable, Sendable {
        var event_id: String
        var state: String
        var opens_at: String
        var admit_per_minute: Int
        var pre_queue_minutes: Int
        var session_minutes: Int
        var max_active: Int?
        var paused: Bool
        var waiting: Int
        var admitted: Int
        var admitted_total: Int

        init(_ event: EventID, _ s: QueueStatus) {
            event_id = event.rawValue
            state = s.settings.phase(atMs: s.nowMs)
            opens_at = RFC3339Timestamp.string(milliseconds: s.settings.opensAtMs)
            admit_per_minute = s.settings.admitPerMinute
            pre_queue_minutes = s.settings.preQueueMinutes
            session_minutes = s.settings.sessionMinutes
            max_active = s.settings.maxActive
            paused = s.settings.paused
            waiting = s.waiting
            admitted = s.admitted
            admitted_total = s.admittedTotal
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(event_id, forKey: .event_id)
            try c.encode(state, forKey: .state)
            try c.encode(opens_at, forKey: .opens_at)
            try c.encode(admit_per_minute, forKey: .admit_per_minute)
            try c.encode(pre_queue_minutes, forKey: .pre_queue_minutes)
            try c.encode(session_minutes, forKey: .session_minutes)
            try c.encode(max_active, forKey: .max_active)  // null when there is no cap
            try c.encode(paused, forKey: .paused)
            try c.encode(waiting, forKey: .waiting)
            try c.encode(admitted, forKey: .admitted)
            try c.encode(admitted_total, forKey: .admitted_total)
        }

        enum CodingKeys: String, CodingKey {
            case event_id, state, opens_at, admit_per_minute, pre_queue_minutes, session_minutes, max_active, paused, waiting, admitted
            case admitted_total
        }
    }

    struct PlaceBody: Encodable, Sendable {
        var ticket: String
        var state: String
        var position: Int
        var eta_seconds: Int
        var poll_after_seconds: Int
        var admission_token: String?
        var admission_expires_at: String?
    }

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.put("/events/{id}/queue") { request, context in try await put(request, context) }
        router.get("/events/{id}/queue") { _, context in try await show(context) }
        router.delete("/events/{id}/queue") { _, context in try await delete(context) }
        router.post("/events/{id}/queue/join") { request, context in try await join(request, context) }
        router.get("/events/{id}/queue/me") { _, context in try await me(context) }
    }

    func put(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> StatusBody {
        _ = try context.requireAdmin()
        let event = try context.pathEvent()
        let body = try await decodeJSON(SettingsRequest.self, from: request, context: context)
        let settings = try Self.validated(body)
        guard try await catalog.event(event) != nil else { throw Problem.notFound("No event \(event).") }
        try await inventory.setQueue(event, settings)
        context.logger.info("waiting room set", metadata: [LogKey.eventID: "\(event)", "admit_per_minute": "\(settings.admitPerMinute)"])
        guard let status = try await inventory.queueStatus(event) else { throw Problem.notFound("No waiting room for event \(event).") }
        return StatusBody(event, status)
    }

    /// The settings in `body`, or 422 naming what is wrong.
    static func validated(_ body: SettingsRequest) throws -> QueueSettings {
        guard let opens = RFC3339.parse(body.opens_at) else {
            throw Problem.validation("opens_at must be an RFC 3339 date-time, e.g. 2027-06-01T10:00:00Z.")
        }
        guard (1...1_000_000).contains(body.admit_per_minute) else { throw Problem.validation("admit_per_minute must be between 1 and 1000000.") }
        let pre = body.pre_queue_minutes ?? 15, session = body.session_minutes ?? 10
        guard (0...1440).contains(pre) else { throw Problem.validation("pre_queue_minutes must be between 0 and 1440.") }
        guard (1...1440).contains(session) else { throw Problem.validation("session_minutes must be between 1 and 1440.") }
        if let max = body.max_active { guard (1...10_000_000).contains(max) else { throw Problem.validation("max_active must be between 1 and 10000000.") } }
        return QueueSettings(opensAtMs: Int64((opens.timeIntervalSince1970 * 1000).rounded()), admitPerMinute: body.admit_per_minute,
                             preQueueMinutes: pre, sessionMinutes: session, maxActive: body.max_active, paused: body.paused ?? false)
    }

    func show(_ context: BoxOfficeRequestContext) async throws -> StatusBody {
        let event = try context.pathEvent()
        guard let status = try await inventory.queueStatus(event) else { throw Problem.notFound("Event \(event) has no waiting room.") }
        return StatusBody(event, status)
    }

    func delete(_ context: BoxOfficeRequestContext) async throws -> Response {
        _ = try context.requireAdmin()
        let event = try context.pathEvent()
        guard try await inventory.deleteQueue(event) else { throw Problem.notFound("Event \(event) has no waiting room.") }
        context.logger.info("waiting room removed", metadata: [LogKey.eventID: "\(event)"])
        return Response(status: .noContent)
    }

    func join(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Created<PlaceBody> {
        let user = try context.requireUser()
        let event = try context.pathEvent()
        let buyer = try Self.buyer(user)
        var headers: HTTPFields
        do {
            headers = try await limiter.check(joinRule, client: clientAddress(request, context))
        } catch let problem as Problem {
            QueueMetrics.rejected("rate_limited")
            throw problem
        }
        switch try await inventory.joinQueue(event, buyer: buyer) {
        case .place(let place, let joined, let admittedNow):
            QueueMetrics.admitted(event, admittedNow)
            if joined { QueueMetrics.joined(event) }
            headers[.retryAfter] = String(place.pollAfterSeconds)
            return Created(status: .accepted, body: try await body(place, event: event, buyer: buyer), headers: headers)
        case .notOpen(let starts):
            QueueMetrics.rejected("not_open")
            throw Problem(status: .conflict, code: "queue_not_open", title: "Queue Not Open",
                          detail: "The waiting room of event \(event) opens for joining at \(RFC3339Timestamp.string(milliseconds: starts)).")
        case .noQueue, .notJoined:
            throw Problem.notFound("Event \(event) has no waiting room.")
        }
    }

    func me(_ context: BoxOfficeRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let event = try context.pathEvent()
        let buyer = try Self.buyer(user)
        switch try await inventory.pollQueue(event, buyer: buyer) {
        case .place(let place, _, let admittedNow):
            QueueMetrics.admitted(event, admittedNow)
            var headers = HTTPFields()
            headers[.retryAfter] = String(place.pollAfterSeconds)
            headers[.cacheControl] = "no-store"
            return jsonResponse(status: .ok, headers: headers, body: try responseEncoder.encode(try await body(place, event: event, buyer: buyer)))
        case .notJoined(let admittedNow):
            QueueMetrics.admitted(event, admittedNow)
            throw Problem.notFound("You have no place in the waiting room of event \(event); join it first.")
        case .noQueue, .notOpen:
            throw Problem.notFound("Event \(event) has no waiting room.")
        }
    }

    /// The answer for `place`: an admitted buyer gets a token for this event, valid until the
    /// admission ends.
    func body(_ place: QueuePlace, event: EventID, buyer: BuyerID) async throws -> PlaceBody {
        var body = PlaceBody(ticket: Self.ticket(event: event, buyer: buyer), state: place.state.rawValue, position: place.position,
                             eta_seconds: place.etaSeconds, poll_after_seconds: place.pollAfterSeconds)
        if place.state == .admitted, let ends = place.admissionEndsMs {
            body.admission_token = try await tokens.issueAdmission(
                subject: buyer.rawValue, event: event.rawValue, expiresAt: Date(timeIntervalSince1970: Double(ends) / 1000))
            body.admission_expires_at = RFC3339Timestamp.string(milliseconds: ends)
        }
        return body
    }

    /// A buyer's ticket: the same for the same buyer and event, telling nothing of either.
    static func ticket(event: EventID, buyer: BuyerID) -> String {
        let digest = SHA256.hash(data: Array("\(event.rawValue)\u{0}\(buyer.rawValue)".utf8))
        return "q_" + digest.prefix(10).map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined()
    }

    static func buyer(_ user: AccessTokenPayload) throws -> BuyerID {
        guard let buyer = BuyerID(user.subject) else { throw Problem.validation("the token's subject is not usable as a buyer id.") }
        return buyer
    }
}

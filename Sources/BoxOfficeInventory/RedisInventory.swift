import BoxOfficeDomain
import BoxOfficeRedis

/// Settings of the inventory.
public struct InventoryConfiguration: Sendable {
    /// How long a hold lives. Default 600 s.
    public var holdTTL: Duration = .seconds(600)
    /// Most tickets in one request. Default 10.
    public var maxQuantityPerRequest = 10
    /// How long an idempotency key is remembered. Default 24 h.
    public var idempotencyTTL: Duration = .seconds(86_400)
    /// How long a reservation stays in Redis once it has ended (confirmed, cancelled or
    /// expired): `GET /reservations/{id}` and repeated confirms answer from it until then,
    /// and its booking stays in PostgreSQL. At least `idempotencyTTL`, so that a repeated
    /// reserve always finds the reservation its key names. Default 7 days.
    public var retention: Duration = .seconds(7 * 86_400)
    /// Per-buyer reserve rate in each event: one request per `interval`, bursts
    /// up to `burst`; checked inside the reserve script (no extra round trip).
    /// Default `nil`: no limit.
    public var reserveRate: (interval: Duration, burst: Int)? = nil

    public init() {}
}

/// Seats in Redis: every decision is one Lua script, atomic by construction.
public struct RedisInventory: Sendable {
    public let redis: RedisClient
    public var configuration: InventoryConfiguration

    public init(redis: RedisClient, configuration: InventoryConfiguration = .init()) {
        self.redis = redis
        self.configuration = configuration
    }

    // MARK: Catalog

    /// Creates or updates a category's stock and meta; registers the event for the sweeper and relay.
    public func initCategory(
        event: EventID, category: CategoryName, totalStock: Int, price: Money, maxPerUser: Int?
    ) async throws -> InitCategoryOutcome {
        let keys = InventoryKeys(event: event)
        let reply = try await redis.eval(
            InventoryScripts.initCategory, keys: [.string(keys.stock), .string(keys.meta)],
            arguments: [.string(category.rawValue), .int(totalStock), .int(price.amount), .string(price.currency), .int(maxPerUser ?? 0)])
        try await redis.send(["SADD", .string(InventoryKeys.events), .string(event.rawValue)])
        let parts = try ScriptReply(reply)
        switch parts.status {
        case "created": return .created(try parts.stock(from: 1))
        case "updated": return .updated(try parts.stock(from: 1))
        case "below_committed": return .belowCommitted(held: try parts.int(1), confirmed: try parts.int(2))
        default: throw parts.unexpected()
        }
    }

    /// A consistent snapshot of an event's categories; empty when the event has none.
    public func availability(event: EventID) async throws -> [CategoryAvailability] {
        try await availability(events: [event])[0]
    }

    /// `availability(event:)` of each of `events`, in their order, asked in one round trip.
    public func availability(events: [EventID]) async throws -> [[CategoryAvailability]] {
        let replies = try await redis.evalPipeline(InventoryScripts.availability, events.map {
            let keys = InventoryKeys(event: $0)
            return (keys: [.string(keys.stock), .string(keys.meta)], arguments: [])
        })
        return try replies.map { try Self.categories(from: try $0.throwingOnError()) }
    }

    /// The categories of an `availability.lua` reply, by name.
    static func categories(from reply: RESPValue) throws -> [CategoryAvailability] {
        guard let parts = reply.array, parts.count == 2 else { throw RedisError(.protocolError, "availability: unexpected reply") }
        let stock = try ScriptReply.dictionary(parts[0])
        let meta = try ScriptReply.dictionary(parts[1])
        var result: [CategoryAvailability] = []
        for field in stock.keys where field.hasSuffix("|total") {
            let name = String(field.dropLast("|total".count))
            func n(_ f: String, _ d: [String: String]) -> Int { Int(d["\(name)|\(f)"] ?? "") ?? 0 }
            let max = n("max", meta)
            result.append(CategoryAvailability(
                name: name,
                price: Money(amount: n("price", meta), currency: meta["\(name)|currency"] ?? ""),
                maxPerUser: max > 0 ? max : nil,
                stock: StockLevels(total: n("total", stock), available: n("available", stock), held: n("held", stock), confirmed: n("confirmed", stock))))
        }
        return result.sorted { $0.name < $1.name }
    }

    /// Every event with inventory.
    public func events() async throws -> [EventID] {
        let reply = try await redis.send(["SMEMBERS", .string(InventoryKeys.events)])
        return (reply.array ?? []).compactMap { $0.string.flatMap(EventID.init) }
    }

    // MARK: Reservations

    /// Holds `quantity` tickets for `buyer`. With an idempotency key, a repeat returns the first reservation.
    public func reserve(
        event: EventID, category: CategoryName, buyer: BuyerID, quantity: Int, idempotencyKey: String? = nil
    ) async throws -> ReserveOutcome {
        let keys = InventoryKeys(event: event)
        let idem = idempotencyKey.map { keys.idempotency(buyer: buyer.rawValue, key: $0) } ?? keys.prefix + "idem:-"
        for _ in 0..<3 {
            let id = ReservationID.fresh(in: event)
            // The hot path: keys and arguments go straight into the packed command (reserve.lua's
            // KEYS[1...8] and ARGV[1...12]), not into a string and an array each.
            let reply = try await redis.eval(InventoryScripts.reserve, keyCount: 8) { command in
                keys.append(.stock, to: &command)
                keys.append(.meta, to: &command)
                keys.append(.limits, to: &command)
                keys.append(.holds, to: &command)
                keys.append(.outbox, to: &command)
                keys.append(.reservation(id), to: &command)
                command.append(idem)
                keys.append(.reserveRate(buyer: buyer.rawValue), to: &command)
                command.append(id.rawValue)
                command.append(event.rawValue)
                command.append(category.rawValue)
                command.append(buyer.rawValue)
                command.append(quantity)
                command.append(Int(configuration.holdTTL.inMilliseconds))
                command.append(configuration.maxQuantityPerRequest)
                command.append(idempotencyKey == nil ? "0" : "1")
                command.append(Int(configuration.idempotencyTTL.components.seconds))
                command.append(max(1, Int((configuration.reserveRate?.interval ?? .zero).inMilliseconds)))
                command.append(configuration.reserveRate?.burst ?? 0)
                command.append(randomUUID())
            }
            let parts = try ScriptReply(reply)
            switch parts.status {
            case "held":
                guard let created = Int64(try parts.string(1)), let expires = Int64(try parts.string(2)) else { throw parts.unexpected() }
                return .held(Reservation(
                    id: id, event: event, category: category.rawValue, buyer: buyer.rawValue, quantity: quantity,
                    price: Money(amount: try parts.int(3), currency: try parts.string(4)), status: .held,
                    createdAtMs: created, expiresAtMs: expires), replayed: false)
            case "replayed":
                guard let existing = ReservationID(try parts.string(1)), let r = try await reservation(existing) else {
                    throw RedisError(.protocolError, "idempotency key points at a missing reservation")
                }
                return .held(r, replayed: true)
            case "sold_out": return .soldOut(available: try parts.int(1))
            case "limit_exceeded": return .limitExceeded(limit: try parts.int(1), alreadyHeld: try parts.int(2))
            case "not_found": return .notFound
            case "invalid_qty": return .invalidQuantity(max: try parts.int(1))
            case "rate_limited": return .rateLimited(retryAfterMs: try parts.int(1), resetMs: try parts.int(2))
            case "id_taken": continue
            default: throw parts.unexpected()
            }
        }
        throw RedisError(.protocolError, "could not mint a fresh reservation id")
    }

    /// Confirms a buyer's live hold after a successful payment.
    public func confirm(_ id: ReservationID, buyer: BuyerID, paymentReference: String) async throws -> ConfirmOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(InventoryScripts.confirm, keyCount: 4) { command in
            keys.append(.reservation(id), to: &command)
            keys.append(.stock, to: &command)
            keys.append(.holds, to: &command)
            keys.append(.outbox, to: &command)
            command.append(buyer.rawValue)
            command.append(OutboxEntry.clean(paymentReference))
            command.append(Int(configuration.retention.inMilliseconds))
        })
        switch parts.status {
        case "confirmed": return .confirmed(try parts.reservation(1))
        case "already_confirmed": return .alreadyConfirmed(try parts.reservation(1))
        case "expired": return .expired(try parts.reservation(1))
        case "not_held": return .notHeld(try parts.reservation(1))
        case "not_owner": return .notOwner
        case "not_found": return .notFound
        default: throw parts.unexpected()
        }
    }

    /// Records a declined payment; the hold stays until it expires.
    public func recordPaymentFailure(_ id: ReservationID, buyer: BuyerID, paymentReference: String, reason: String) async throws -> PaymentFailureOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(
            InventoryScripts.paymentFailed,
            keys: [keys.reservation(id), keys.outbox].map(RedisArgument.string),
            arguments: [.string(buyer.rawValue), .string(OutboxEntry.clean(paymentReference)), .string(OutboxEntry.clean(reason))]))
        switch parts.status {
        case "recorded": return .recorded(try parts.reservation(2), attempt: try parts.int(1))
        case "already_confirmed": return .alreadyConfirmed(try parts.reservation(1))
        case "expired": return .expired(try parts.reservation(1))
        case "not_held": return .notHeld(try parts.reservation(1))
        case "not_owner": return .notOwner
        case "not_found": return .notFound
        default: throw parts.unexpected()
        }
    }

    /// Gives a buyer's hold back.
    public func cancel(_ id: ReservationID, buyer: BuyerID) async throws -> CancelOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(
            InventoryScripts.cancel,
            keys: [keys.reservation(id), keys.stock, keys.limits, keys.holds, keys.outbox].map(RedisArgument.string),
            arguments: [.string(buyer.rawValue), .int(Int(configuration.retention.inMilliseconds))]))
        switch parts.status {
        case "cancelled": return .cancelled(try parts.reservation(1))
        case "already_cancelled": return .alreadyCancelled(try parts.reservation(1))
        case "not_held": return .notHeld(try parts.reservation(1))
        case "not_owner": return .notOwner
        case "not_found": return .notFound
        default: throw parts.unexpected()
        }
    }

    /// Lapses one hold if it is due; a no-op otherwise.
    public func expire(_ id: ReservationID) async throws -> ExpireOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(
            InventoryScripts.expire,
            keys: [keys.reservation(id), keys.stock, keys.limits, keys.holds, keys.outbox].map(RedisArgument.string),
            arguments: [.string(id.rawValue), .int(Int(configuration.retention.inMilliseconds))]))
        switch parts.status {
        case "expired": return .expired
        case "not_due": return .notDue
        case "not_held": return .notHeld
        case "not_found": return .notFound
        default: throw parts.unexpected()
        }
    }

    /// The holds of each of `events` whose expiry (by Redis time) has passed, at most `limit`
    /// each, oldest first, in the order of `events`, asked in one round trip: a sweep over
    /// hundreds of events is one wait for Redis, not one each.
    public func dueHolds(events: [EventID], limit: Int) async throws -> [[ReservationID]] {
        let replies = try await redis.evalPipeline(
            InventoryScripts.dueHolds, events.map { (keys: [.string(InventoryKeys(event: $0).holds)], arguments: [.int(limit)]) })
        return try replies.map { reply in
            (try reply.throwingOnError().array ?? []).compactMap { $0.string.flatMap(ReservationID.init) }
        }
    }

    /// A reservation by id, or `nil`.
    public func reservation(_ id: ReservationID) async throws -> Reservation? {
        let reply = try await redis.send(["HGETALL", .string(InventoryKeys(event: id.event).reservation(id))])
        guard let fields = reply.array, !fields.isEmpty else { return nil }
        return try ScriptReply.reservation(from: ScriptReply.dictionary(reply))
    }
}

/// A script's reply: a status string followed by values.
struct ScriptReply {
    let values: [RESPValue]

    init(_ reply: RESPValue) throws {
        guard let values = reply.array, let first = values.first, first.string != nil else {
            throw RedisError(.protocolError, "unexpected script reply \(reply)")
        }
        self.values = values
    }

    var status: String { values[0].string ?? "" }

    func string(_ i: Int) throws -> String {
        guard i < values.count, let s = values[i].string else { throw unexpected() }
        return s
    }

    func int(_ i: Int) throws -> Int {
        guard i < values.count, let n = values[i].int else { throw unexpected() }
        return n
    }

    func stock(from i: Int) throws -> StockLevels {
        StockLevels(total: try int(i), available: try int(i + 1), held: try int(i + 2), confirmed: try int(i + 3))
    }

    func reservation(_ i: Int) throws -> Reservation {
        guard i < values.count else { throw unexpected() }
        return try Self.reservation(from: Self.dictionary(values[i]))
    }

    func unexpected() -> RedisError {
        RedisError(.protocolError, "unexpected script reply \(values.first?.string ?? "?") with \(values.count) values")
    }

    static func dictionary(_ flat: RESPValue) throws -> [String: String] {
        guard let items = flat.array, items.count % 2 == 0 else { throw RedisError(.protocolError, "expected a flat field list") }
        var d: [String: String] = [:]
        for i in stride(from: 0, to: items.count, by: 2) {
            if let k = items[i].string, let v = items[i + 1].string { d[k] = v }
        }
        return d
    }

    static func reservation(from d: [String: String]) throws -> Reservation {
        guard let rid = d["rid"].flatMap(ReservationID.init), let event = d["event"].flatMap(EventID.init),
              let category = d["category"], let user = d["user"],
              let qty = d["qty"].flatMap({ Int($0) }), let amount = d["amount"].flatMap({ Int($0) }), let currency = d["currency"],
              let status = d["status"].flatMap(ReservationStatus.init(rawValue:)),
              let created = d["created"].flatMap({ Int64($0) }), let expires = d["expires"].flatMap({ Int64($0) })
        else { throw RedisError(.protocolError, "malformed reservation hash") }
        return Reservation(id: rid, event: event, category: category, buyer: user, quantity: qty,
                           price: Money(amount: amount, currency: currency), status: status,
                           createdAtMs: created, expiresAtMs: expires, paymentReference: d["payment_ref"])
    }
}

import BoxOfficeDomain
import BoxOfficeRedis
import BoxOfficeSupport
import Metrics

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
    /// Most reserves of one event that go to Redis in one call of reserve.lua. Reserves
    /// arriving while a call is under way wait for it and go together in the next one.
    /// Read when the inventory is made. Default 32.
    public var reserveBatchLimit = 32

    public init() {}
}

/// Seats in Redis: every decision is one Lua script, atomic by construction.
public struct RedisInventory: Sendable {
    public let redis: RedisClient
    public var configuration: InventoryConfiguration
    /// Reserves of one event (and one event loop, and the same settings) that arrive while an
    /// earlier call of reserve.lua is under way go together in the next one.
    private let reserves: Coalescer<ReserveLane, ReserveItem, RESPValue>

    public init(redis: RedisClient, configuration: InventoryConfiguration = .init()) {
        self.redis = redis
        self.configuration = configuration
        self.reserves = Coalescer(maxBatch: configuration.reserveBatchLimit) { lane, items in
            try await Self.reserveBatch(redis, lane, items)
        }
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
    /// Holds whose time is up are lapsed first (up to `dueHoldsPerRead` per event), so the
    /// stock is whole at each hold's expiry whatever the sweeper's backlog.
    public func availability(events: [EventID]) async throws -> [[CategoryAvailability]] {
        let retention = Int(configuration.retention.inMilliseconds)
        let replies = try await redis.evalPipeline(InventoryScripts.availability, events.map {
            let keys = InventoryKeys(event: $0)
            return (keys: [.string(keys.stock), .string(keys.meta), .string(keys.limits), .string(keys.holds), .string(keys.outbox)],
                    arguments: [.int(Self.dueHoldsPerRead), .int(retention)])
        })
        return try replies.map { try Self.categories(from: try $0.throwingOnError()) }
    }

    /// Most due holds a read of availability lapses per event.
    static let dueHoldsPerRead = 512

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
                stock: StockLevels(total: n("total", stock), available: n("available", stock), held: n("held", stock), confirmed: n("confirmed", stock)),
                seated: meta["\(name)|seatv"] != nil))
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
    /// `admitted`: the request carried a valid admission token for this buyer and event; an event
    /// with a waiting room refuses (`.notAdmitted`) a buyer without one or whose admission ended.
    public func reserve(
        event: EventID, category: CategoryName, buyer: BuyerID, quantity: Int, idempotencyKey: String? = nil, admitted: Bool = false,
        seats: SeatRequest = .none
    ) async throws -> ReserveOutcome {
        let rate = configuration.reserveRate
        let lane = ReserveLane(
            event: event, loop: RedisClient.currentEventLoopID,
            holdTTLMs: Int(configuration.holdTTL.inMilliseconds), maxQuantity: configuration.maxQuantityPerRequest,
            idempotencySeconds: Int(configuration.idempotencyTTL.components.seconds),
            rateIntervalMs: max(1, Int((rate?.interval ?? .zero).inMilliseconds)), rateBurst: rate?.burst ?? 0,
            retentionMs: Int(configuration.retention.inMilliseconds))
        // The event's key prefix is made only for a key; reserveBatch appends the others in parts.
        let idem = idempotencyKey.map { InventoryKeys(event: event).idempotency(buyer: buyer.rawValue, key: $0) }
        for _ in 0..<3 {
            let id = ReservationID.fresh(in: event)
            let reply = try await reserves.submit(
                ReserveItem(id: id, category: category, buyer: buyer, quantity: quantity, idempotencyKey: idem, admitted: admitted, seats: seats),
                lane: lane)
            let parts = try ScriptReply(reply)
            switch parts.status {
            case "held":
                guard let created = Int64(try parts.string(1)), let expires = Int64(try parts.string(2)) else { throw parts.unexpected() }
                return .held(Reservation(
                    id: id, event: event, category: category.rawValue, buyer: buyer.rawValue, quantity: quantity,
                    price: Money(amount: try parts.int(3), currency: try parts.string(4)), status: .held,
                    createdAtMs: created, expiresAtMs: expires,
                    seats: try parts.string(5).split(separator: ",").map(String.init)), replayed: false)
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
            case "not_admitted": return .notAdmitted
            case "event_cancelled": return .eventCancelled
            case "not_seated": return .notSeated
            case "map_changed": return .seatMapChanged
            case "seats_taken": return .seatsTaken(offsets: try parts.string(1).split(separator: ",").compactMap { Int($0) })
            case "id_taken": continue
            default: throw parts.unexpected()
            }
        }
        throw RedisError(.protocolError, "could not mint a fresh reservation id")
    }

    /// Calls of reserve.lua so far, and the reserves they carried (reserves per call is the
    /// coalescing under load).
    var reserveBatches: (batches: Int, calls: Int) { reserves.batchesRun }

    /// `reserve_batches_total`: calls of reserve.lua; reserves over calls is how much a rush coalesces.
    static let batchCounter = Counter(label: "reserve_batches_total")

    /// One call of reserve.lua for `items`, all of `lane`'s event: the replies, in their order.
    static func reserveBatch(_ redis: RedisClient, _ lane: ReserveLane, _ items: [ReserveItem]) async throws -> [RESPValue] {
        batchCounter.increment()
        let keys = InventoryKeys(event: lane.event)
        // Keys and arguments go straight into the packed command (reserve.lua's KEYS and ARGV).
        let reply = try await redis.eval(InventoryScripts.reserve, keyCount: 8 + 2 * items.count) { command in
            keys.append(.stock, to: &command)
            keys.append(.meta, to: &command)
            keys.append(.limits, to: &command)
            keys.append(.holds, to: &command)
            keys.append(.outbox, to: &command)
            keys.append(.reserveRates, to: &command)
            keys.append(.queue, to: &command)
            keys.append(.queueAdmissions, to: &command)
            for item in items {
                keys.append(.reservation(item.id), to: &command)
                // Without an idempotency key, a key of the event's slot the script leaves alone.
                if let idem = item.idempotencyKey { command.append(idem) } else { command.append(keys.prefix, "idem:-") }
            }
            command.append(lane.event.rawValue)
            command.append(lane.holdTTLMs)
            command.append(lane.maxQuantity)
            command.append(lane.idempotencySeconds)
            command.append(lane.rateIntervalMs)
            command.append(lane.rateBurst)
            command.append(lane.retentionMs)
            for item in items {
                command.append(item.id.rawValue)
                command.append(item.category.rawValue)
                command.append(item.buyer.rawValue)
                command.append(item.quantity)
                command.append(item.idempotencyKey == nil ? "0" : "1")
                command.append(randomUUID())
                command.append(item.admitted ? "1" : "0")
                switch item.seats {
                case .none: command.append(""); command.append(""); command.append("")
                case .best(let version): command.append("best"); command.append(""); command.append(version)
                case .pick(let offsets, let version):
                    command.append("pick"); command.append(offsets.map(String.init).joined(separator: ",")); command.append(version)
                }
            }
        }
        guard let replies = reply.array, replies.count == items.count else {
            throw RedisError(.protocolError, "reserve: \(items.count) requests got an unexpected reply")
        }
        return replies
    }

    /// Confirms a buyer's live hold after a successful payment.
    public func confirm(_ id: ReservationID, buyer: BuyerID, paymentReference: String) async throws -> ConfirmOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(InventoryScripts.confirm, keyCount: 7) { command in
            keys.append(.reservation(id), to: &command)
            keys.append(.stock, to: &command)
            keys.append(.holds, to: &command)
            keys.append(.outbox, to: &command)
            keys.append(.queueAdmissions, to: &command)
            keys.append(.limits, to: &command)
            keys.append(.meta, to: &command)
            command.append(buyer.rawValue)
            command.append(OutboxEntry.clean(paymentReference))
            command.append(Int(configuration.retention.inMilliseconds))
        })
        switch parts.status {
        case "confirmed": return .confirmed(try parts.reservation(1))
        case "already_confirmed": return .alreadyConfirmed(try parts.reservation(1))
        default: return .refused(try parts.refusal())
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
        default: return .refused(try parts.refusal())
        }
    }

    /// Gives a buyer's hold back.
    public func cancel(_ id: ReservationID, buyer: BuyerID) async throws -> CancelOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(
            InventoryScripts.cancel,
            keys: [keys.reservation(id), keys.stock, keys.limits, keys.holds, keys.outbox, keys.queueAdmissions].map(RedisArgument.string),
            arguments: [.string(buyer.rawValue), .int(Int(configuration.retention.inMilliseconds))]))
        switch parts.status {
        case "cancelled": return .cancelled(try parts.reservation(1))
        case "already_cancelled": return .alreadyCancelled(try parts.reservation(1))
        default: return .refused(try parts.refusal())
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

    /// Lapses the due holds of each of `events`, at most `limit` each, in one round trip
    /// (`expire_due.lua`). Returns, per event, how many expired and whether more may be due.
    public func expireDue(events: [EventID], limit: Int) async throws -> [(expired: Int, more: Bool)] {
        let retention = Int(configuration.retention.inMilliseconds)
        let replies = try await redis.evalPipeline(InventoryScripts.expireDue, events.map {
            let keys = InventoryKeys(event: $0)
            return (keys: [.string(keys.stock), .string(keys.limits), .string(keys.holds), .string(keys.outbox)],
                    arguments: [.int(limit), .int(retention)])
        })
        return try replies.map { reply in
            let v = try reply.throwingOnError().array ?? []
            guard v.count == 2, let expired = v[0].int, let read = v[1].int else {
                throw RedisError(.protocolError, "expire_due: unexpected reply")
            }
            return (expired, read >= limit)
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

    /// The refusal a script's reply gives (`not_found`, `not_owner`, `expired`, `not_held`, the
    /// last two with the reservation), read here for every script that acts on a hold.
    func refusal() throws -> ReservationRefusal {
        switch status {
        case "not_found": return .notFound
        case "not_owner": return .notOwner
        case "expired": return .expired(try reservation(1))
        case "not_held": return .notHeld(try reservation(1))
        case "event_cancelled": return .eventCancelled(try reservation(1))
        default: throw unexpected()
        }
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
                           createdAtMs: created, expiresAtMs: expires, paymentReference: d["payment_ref"],
                           seats: d["seat_ids"].map { $0.split(separator: ",").map(String.init) } ?? [], late: d["late"] == "1")
    }
}

/// What reserves may share one call of reserve.lua: one event's, made on one event loop
/// (whose Redis connection carries them), with the same settings.
///
/// Each event loop keeps a call in flight per event, so both loops work while Redis runs the
/// other's batch; the alternatives measured are in docs/performance.md.
struct ReserveLane: Hashable, Sendable {
    let event: EventID
    let loop: ObjectIdentifier?
    let holdTTLMs: Int, maxQuantity: Int, idempotencySeconds: Int, rateIntervalMs: Int, rateBurst: Int, retentionMs: Int
}

/// One buyer's reserve, as reserve.lua takes it.
struct ReserveItem: Sendable {
    let id: ReservationID
    let category: CategoryName
    let buyer: BuyerID
    let quantity: Int
    /// The Redis key of the buyer's idempotency key, if the request has one.
    let idempotencyKey: String?
    /// Whether the request carried a valid admission token (for an event with a waiting room).
    var admitted = false
    /// The seats asked for (none: general admission).
    var seats: SeatRequest = .none
}

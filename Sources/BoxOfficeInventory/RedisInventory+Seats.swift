import BoxOfficeDomain
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation

extension InventoryKeys {
    /// A seated category's seat string (one character a seat).
    public func seatStates(_ category: String) -> String { prefix + "seats:" + category }
    /// A seated category's seat ids, in fixed-width slots at the seat string's offsets.
    public func seatIDs(_ category: String) -> String { prefix + "seatids:" + category }
    /// A seated category's map as the admin gave it, with its version (JSON).
    public func seatMap(_ category: String) -> String { prefix + "seatmap:" + category }
}

/// A seat map as Redis stores it: the map and the version every reserve names.
struct StoredSeatMap: Codable {
    var version: String
    var map: SeatMap
}

extension RedisInventory {
    // MARK: Event settings

    /// Records an event's hold time (nil leaves the server's default) and, with `cancelled`,
    /// stops its sales; reserves read both in the script that holds.
    public func setEventSettings(event: EventID, holdTTL: Duration?, cancelled: Bool = false) async throws {
        _ = try await redis.eval(
            InventoryScripts.eventSettings, keys: [.string(InventoryKeys(event: event).meta)],
            arguments: [.string(holdTTL.map { String($0.inMilliseconds) } ?? ""), .string(cancelled ? "1" : "")]
        ).throwingOnError()
    }

    // MARK: Seat maps

    /// Gives `category` the seat map `map` (its stock becomes its seat count), before any of its
    /// tickets are held or sold.
    public func setSeatMap(event: EventID, category: CategoryName, map: SeatMap) async throws -> SeatMapOutcome {
        let keys = InventoryKeys(event: event)
        let layout = SeatLayout(map: map, version: randomHex(bytes: 8))
        let json = String(decoding: try JSONEncoder().encode(StoredSeatMap(version: layout.version, map: map)), as: UTF8.self)
        let c = category.rawValue
        let parts = try ScriptReply(try await redis.eval(
            InventoryScripts.seatMap,
            keys: [keys.stock, keys.meta, keys.seatStates(c), keys.seatIDs(c), keys.seatMap(c)].map(RedisArgument.string),
            arguments: [.string(c), .string(layout.freshStates), .string(layout.idSlots), .int(layout.width), .string(json),
                        .int(map.seatCount), .string(layout.version)]))
        switch parts.status {
        case "set": return .set(version: try parts.string(1))
        case "not_found": return .noCategory
        case "committed": return .committed(held: try parts.int(1), confirmed: try parts.int(2))
        default: throw parts.unexpected()
        }
    }

    /// A category's seat map and its version, or nil when it has none.
    public func seatLayout(event: EventID, category: String) async throws -> SeatLayout? {
        let reply = try await redis.send(["GET", .string(InventoryKeys(event: event).seatMap(category))])
        guard case .bulkString(let bytes) = reply else { return nil }
        let stored = try JSONDecoder().decode(StoredSeatMap.self, from: Data(bytes))
        return SeatLayout(map: stored.map, version: stored.version)
    }

    /// The seats of each of `categories` that has a map, with its stock, read at one instant after
    /// due holds are lapsed.
    public func seatStates(event: EventID, categories: [String]) async throws -> [SeatStates] {
        guard !categories.isEmpty else { return [] }
        let keys = InventoryKeys(event: event)
        let reply = try await redis.eval(
            InventoryScripts.seatsState,
            keys: [keys.stock, keys.meta, keys.limits, keys.holds, keys.outbox].map(RedisArgument.string),
            arguments: [.int(Self.dueHoldsPerRead), .int(Int(configuration.retention.inMilliseconds))] + categories.map(RedisArgument.string)
        ).throwingOnError()
        return (reply.array ?? []).compactMap { item in
            guard let f = item.array, f.count == 6, let name = f[0].string, let version = f[1].string, let states = f[2].string,
                  let available = f[3].int, let held = f[4].int, let confirmed = f[5].int else { return nil }
            return SeatStates(category: name, version: version, states: states,
                              stock: StockLevels(total: available + held + confirmed, available: available, held: held, confirmed: confirmed))
        }
    }

    // MARK: Refunds

    /// Refunds a confirmed booking: by its buyer (`buyer`), or by an admin (`buyer` nil).
    public func refund(_ id: ReservationID, buyer: BuyerID?) async throws -> RefundOutcome {
        let keys = InventoryKeys(event: id.event)
        let parts = try ScriptReply(try await redis.eval(
            InventoryScripts.refund,
            keys: [keys.reservation(id), keys.stock, keys.limits, keys.outbox].map(RedisArgument.string),
            arguments: [.string(buyer?.rawValue ?? ""), .string(buyer == nil ? "admin" : "owner"),
                        .int(Int(configuration.retention.inMilliseconds))]))
        switch parts.status {
        case "refunded": return .refunded(try parts.reservation(1))
        case "already_refunded": return .alreadyRefunded(try parts.reservation(1))
        case "not_confirmed": return .notConfirmed(try parts.reservation(1))
        case "not_found": return .notFound
        case "not_owner": return .notOwner
        default: throw parts.unexpected()
        }
    }

    /// The ids of an event's reservations Redis still has whose status is `status`.
    public func reservations(event: EventID, status: ReservationStatus) async throws -> [ReservationID] {
        var out: [ReservationID] = []
        for key in try await redis.scanKeys(matching: "bo:{ev:\(event.rawValue)}:r:*") {
            guard let token = key.split(separator: ":").last, let id = ReservationID("\(event.rawValue).\(token)") else { continue }
            let s = try await redis.send(["HGET", .string(key), "status"])
            if s.string == status.rawValue { out.append(id) }
        }
        return out
    }
}

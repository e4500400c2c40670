import BoxOfficeDomain
import BoxOfficeRedis

extension RedisInventory {
    private func queueKeys(_ event: EventID) -> [RedisArgument] {
        let k = InventoryKeys(event: event)
        return [k.queue, k.queueLine, k.queueSeen, k.queueAdmissions, k.queuePace].map(RedisArgument.string)
    }

    /// Gives `event` a waiting room or changes its settings (`queue_set.lua`); places and
    /// admissions stay. Returns Redis time (ms).
    @discardableResult
    public func setQueue(_ event: EventID, _ s: QueueSettings) async throws -> Int64 {
        let reply = try await redis.eval(InventoryScripts.queueSet, keys: [.string(InventoryKeys(event: event).queue)], arguments: [
            .string(String(s.opensAtMs)), .int(s.admitPerMinute), .int(s.preQueueMinutes * 60_000), .int(s.sessionMinutes * 60_000),
            .int(s.maxActive ?? 0), s.paused ? "1" : "0",
        ])
        try await redis.send(["SADD", .string(InventoryKeys.queues), .string(event.rawValue)])
        return Int64(reply.int ?? 0)
    }

    /// Removes `event`'s waiting room with its places and admissions; reserves need no admission
    /// afterwards. Returns whether there was one.
    @discardableResult
    public func deleteQueue(_ event: EventID) async throws -> Bool {
        let k = InventoryKeys(event: event)
        let removed = try await redis.send(["DEL"] + [k.queue, k.queueLine, k.queueSeen, k.queueAdmissions, k.queuePace].map(RedisArgument.string))
        try await redis.send(["SREM", .string(InventoryKeys.queues), .string(event.rawValue)])
        return (removed.int ?? 0) > 0
    }

    /// The waiting room of `event`, nil when it has none (`queue_state.lua`, reads only).
    public func queueStatus(_ event: EventID) async throws -> QueueStatus? {
        let k = InventoryKeys(event: event)
        let reply = try await redis.eval(InventoryScripts.queueState, keys: [k.queue, k.queueLine, k.queueAdmissions, k.queuePace].map(RedisArgument.string), arguments: [])
        guard let v = reply.array, v.count == 10 else { return nil }
        func n(_ i: Int) -> Int { v[i].int ?? 0 }
        let settings = QueueSettings(opensAtMs: Int64(n(1)), admitPerMinute: n(2), preQueueMinutes: n(3) / 60_000, sessionMinutes: n(4) / 60_000,
                                     maxActive: n(5) > 0 ? n(5) : nil, paused: v[6].string == "1")
        return QueueStatus(settings: settings, nowMs: Int64(n(0)), waiting: n(7), admitted: n(8), admittedTotal: n(9))
    }

    /// `buyer` takes a place in `event`'s waiting room, or is told the one they have (`queue_join.lua`).
    public func joinQueue(_ event: EventID, buyer: BuyerID) async throws -> QueueOutcome {
        let reply = try await redis.eval(InventoryScripts.queueJoin, keys: queueKeys(event),
                                         arguments: [.string(buyer.rawValue), .string(String(Double.random(in: 0..<1)))])
        let parts = try ScriptReply(reply)
        switch parts.status {
        case "no_queue": return .noQueue
        case "not_open": return .notOpen(startsAtMs: Int64(try parts.int(1)))
        case "0", "1": return .place(try Self.place(parts, from: 3), joined: parts.status == "1", admittedNow: try parts.int(1))
        default: throw parts.unexpected()
        }
    }

    /// Where `buyer` stands in `event`'s waiting room, admitting whoever's turn has come first (`queue_poll.lua`).
    public func pollQueue(_ event: EventID, buyer: BuyerID) async throws -> QueueOutcome {
        let parts = try ScriptReply(try await redis.eval(InventoryScripts.queuePoll, keys: queueKeys(event), arguments: [.string(buyer.rawValue)]))
        switch parts.status {
        case "no_queue": return .noQueue
        case "not_joined": return .notJoined(admittedNow: try parts.int(1))
        case "ok": return .place(try Self.place(parts, from: 3), joined: false, admittedNow: try parts.int(1))
        default: throw parts.unexpected()
        }
    }

    /// Makes the admissions due in each of `events`' waiting rooms, in one round trip per node
    /// (`queue_admit.lua`): per event, how many were admitted, how many wait, how many admissions
    /// run and the set rate (a minute); nil for an event whose room was removed.
    public func admitDue(events: [EventID]) async throws -> [(admitted: Int, waiting: Int, running: Int, ratePerMinute: Int)?] {
        let replies = try await redis.evalPipeline(InventoryScripts.queueAdmit, events.map { (keys: queueKeys($0), arguments: []) })
        return try replies.map { reply in
            guard let v = try reply.throwingOnError().array, let first = v.first?.int else { throw RedisError(.protocolError, "queue_admit: unexpected reply") }
            guard first >= 0, v.count == 4 else { return nil }
            return (first, v[1].int ?? 0, v[2].int ?? 0, v[3].int ?? 0)
        }
    }

    /// Every event with a waiting room.
    public func queuedEvents() async throws -> [EventID] {
        (try await redis.send(["SMEMBERS", .string(InventoryKeys.queues)]).array ?? []).compactMap { $0.string.flatMap(EventID.init) }
    }

    /// The place in a script's reply: now, state, position, eta, poll after, admission end from `index`.
    private static func place(_ parts: ScriptReply, from index: Int) throws -> QueuePlace {
        let now = Int64(try parts.int(index - 1))
        guard let state = QueuePlace.State(rawValue: try parts.string(index)) else { throw parts.unexpected() }
        let ends = Int64(try parts.int(index + 4))
        return QueuePlace(state: state, position: try parts.int(index + 1), etaSeconds: try parts.int(index + 2),
                          pollAfterSeconds: try parts.int(index + 3), admissionEndsMs: state == .waiting ? nil : ends, nowMs: now)
    }
}

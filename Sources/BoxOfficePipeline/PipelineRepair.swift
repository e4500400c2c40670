import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The repair loop: checks the outbox entries the relay delivered against PostgreSQL, removes
/// those whose events it has, and publishes again the events of those it still lacks after a
/// grace period (a broker that lost what it acknowledged, a worker that skipped past them).
///
/// Each pass reads, per event, only the entries delivered since its last read, keeps those it
/// cannot yet remove in memory (each is read from Redis once), and asks PostgreSQL about each entry
/// once it was delivered `settleAfter` ago, then again at most every `recheck` while it is
/// missing. An entry still missing `grace` after the loop first saw it delivered is appended
/// again with its event ids (the worker absorbs any that did arrive); an entry published
/// again `r` times waits `grace × 2^r` (at most 32 ×), so a worker that is down is not
/// flooded with repeats.
/// Entries leave the stream in order, up to the first still awaited. Safe with several
/// replicas: one holds each event's lease (`bo:{ev:E}:repair`), and `outbox_settle.lua`
/// only removes entries the relay delivered.
public struct PipelineRepair: Service {
    /// Settings of the repair loop.
    public struct Configuration: Sendable {
        /// Pause between passes. Default 1 s.
        public var interval: Duration = .seconds(1)
        /// An entry is first checked once it is this old. Default 2 s.
        public var settleAfter: Duration = .seconds(2)
        /// A missing entry is checked again at most this often. Default 5 s.
        public var recheck: Duration = .seconds(5)
        /// An entry whose events PostgreSQL still lacks this long after the loop first saw it
        /// delivered is published again. Default 30 s.
        public var grace: Duration = .seconds(30)
        /// Entries read per event per pass. Default 2,000.
        public var batchSize = 2_000
        /// How long a replica keeps an event's repair lease without renewing it. Default 10 s.
        public var leaseTime: Duration = .seconds(10)
        /// This loop's name in the leases it holds.
        public var name = "repair-\(localHostName())-\(getpid())-\(randomHex(bytes: 3))"
        public init() {}
    }

    let redis: RedisClient
    let db: PostgresClient
    let configuration: Configuration
    let logger: Logger
    /// `pipeline_repaired_total{type}`: events published again, by type (made up front, so each is exported from 0).
    let repaired: [ReservationEventType: Counter]

    public init(redis: RedisClient, db: PostgresClient, configuration: Configuration = .init(), logger: Logger) {
        self.redis = redis
        self.db = db
        self.configuration = configuration
        self.logger = logger
        self.repaired = Dictionary(uniqueKeysWithValues: ReservationEventType.allCases.map {
            ($0, Counter(label: "pipeline_repaired_total", dimensions: [("type", $0.rawValue)]))
        })
    }

    public func run() async throws {
        let inventory = RedisInventory(redis: redis)
        var memory: [EventID: RepairMemory] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let events = try await inventory.events()
                let leases = try await redis.evalPipeline(InventoryScripts.relayLease, events.map {
                    (keys: [.string(InventoryKeys(event: $0).repairLease)],
                     arguments: [.string(configuration.name), .int(Int(configuration.leaseTime.inMilliseconds))])
                })
                let held = zip(events, leases).filter { (try? $0.1.throwingOnError().int) == 1 }.map(\.0)
                let holding = Set(held)
                memory = memory.filter { holding.contains($0.key) }
                for event in held {
                    _ = try await pass(event: event, memory: &memory[event, default: RepairMemory()])
                }
            } catch {
                logger.warning("pipeline repair pass failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.interval) }
        }
    }

    /// What one pass over an event did.
    public struct PassResult: Sendable {
        /// Entries removed: PostgreSQL had their events, or they were published again.
        public var settled = 0
        /// Events published again.
        public var republished = 0
        /// Entries read, and events PostgreSQL was asked about.
        public var read = 0, asked = 0
        /// Time spent waiting on Redis and on PostgreSQL (round trips included).
        public var redisTime: Duration = .zero, postgresTime: Duration = .zero
    }

    /// One pass over `event`'s delivered entries. `memory` carries what earlier passes learnt,
    /// the entries read among it: each entry is read from Redis once.
    public func pass(event: EventID, memory: inout RepairMemory) async throws -> PassResult {
        let keys = InventoryKeys(event: event)
        var result = PassResult()
        let clock = ContinuousClock()
        var started = clock.now
        guard let cursor = try await redis.send(["HGET", .string(keys.relayProgress), "cursor"]).string else { return result }
        let from = memory.readThrough.map { "(" + $0 } ?? "-"
        let reply = try await redis.send(["XRANGE", .string(keys.outbox), .string(from), .string(cursor), "COUNT", .int(configuration.batchSize)])
        result.redisTime += started.duration(to: .now)
        let now = ContinuousClock.now
        for item in reply.array ?? [] {
            guard let parts = item.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array else { continue }
            memory.saw(RepairEntry(id: id, events: OutboxEntry.events(fields: fields), republished: OutboxEntry.republished(fields: fields)), at: now)
            result.read += 1
            // The loop shares the event loops with the HTTP requests: a read of hundreds of
            // entries is parsed in slices, letting waiting requests run in between.
            if result.read % 32 == 0 { await Task.yield() }
        }

        // Ask PostgreSQL about the entries delivered a while ago, not known to be there and not asked about lately.
        let asking = memory.due(at: now, settleAfter: configuration.settleAfter, recheck: configuration.recheck)
        let askingEvents = asking.flatMap { $0.events ?? [] }
        result.asked = askingEvents.count
        started = clock.now
        // In slices: PostgreSQL answers a few thousand ids at a time, and the event loop that
        // builds each question and reads its answer serves requests in between.
        var found = Set<String>()
        for slice in stride(from: 0, to: askingEvents.count, by: 2_000) {
            found.formUnion(try await persistedEvents(Array(askingEvents[slice..<min(slice + 2_000, askingEvents.count)])))
        }
        result.postgresTime += started.duration(to: .now)
        let askedNow = Set(asking.map(\.id))
        memory.asked(askedNow, at: now) { entry in (entry.events ?? []).allSatisfy { found.contains($0.id) } }

        // The settled prefix: entries PostgreSQL has, malformed ones, and those past their grace.
        var last: String? = nil
        var republish: [(records: String, attempts: Int)] = []
        var republishedByType: [ReservationEventType: Int] = [:]
        for seen in memory.entries {
            let entry = seen.entry
            if seen.persisted || entry.events == nil {
                last = entry.id
                continue
            }
            let wait = configuration.grace * (1 << min(entry.republished, 5))
            guard now - seen.delivered >= wait, askedNow.contains(entry.id) else { break }
            let missing = (entry.events ?? []).filter { !found.contains($0.id) }
            republish.append((OutboxEntry.packed(missing), entry.republished + 1))
            for e in missing { republishedByType[ReservationEventType(rawValue: e.type) ?? .held, default: 0] += 1 }
            last = entry.id
        }
        guard let last else { return result }
        var arguments: [RedisArgument] = [.string(last)]
        for r in republish { arguments += [.string(r.records), .int(r.attempts)] }
        started = clock.now
        let removed = try await redis.eval(
            InventoryScripts.outboxSettle, keys: [.string(keys.outbox), .string(keys.relayProgress)], arguments: arguments
        ).int ?? 0
        result.redisTime += started.duration(to: .now)
        memory.forget(through: last)
        for (type, n) in republishedByType { repaired[type]?.increment(by: n) }
        let count = republishedByType.values.reduce(0, +)
        if count > 0 {
            logger.warning("pipeline repair: published events again that PostgreSQL lacked", metadata: [
                "event": "\(event)", "events": "\(count)", "entries": "\(republish.count)",
            ])
        }
        result.settled = removed
        result.republished = count
        return result
    }

    /// The ids of those of `events` PostgreSQL has: a hold by its booking row, a confirm, cancel,
    /// expiry or refund by the booking's status, a payment event by `processed_events`.
    func persistedEvents(_ events: [OutboxEntry]) async throws -> Set<String> {
        guard !events.isEmpty else { return [] }
        var statuses: [String: String] = [:]
        let rids = Array(Set(events.map(\.rid)))
        for (n, row) in try await db.query("SELECT reservation_id, status FROM bookings WHERE reservation_id = ANY(\(PostgresArray(rids))::text[])").enumerated() {
            statuses[try row.string(0) ?? ""] = try row.string(1) ?? ""
            if n % 256 == 255 { await Task.yield() }
        }
        // Payment events move no status (or not alone): processed_events says whether they were applied.
        let paymentTypes: Set<String> = [ReservationEventType.paymentFailed, .refundRequired, .paymentRefunded].map(\.rawValue).reduce(into: []) { $0.insert($1) }
        let failedIDs = events.filter { paymentTypes.contains($0.type) }.map { $0.id.lowercased() }
        var processed = Set<String>()
        if !failedIDs.isEmpty {
            for row in try await db.query("SELECT event_id::text FROM processed_events WHERE event_id = ANY(\(PostgresArray(failedIDs))::uuid[])") {
                processed.insert(try row.string(0) ?? "")
            }
        }
        var found = Set<String>()
        for (n, e) in events.enumerated() {
            if n % 256 == 255 { await Task.yield() }
            let status = statuses[e.rid]
            let there: Bool
            switch ReservationEventType(rawValue: e.type) {
            case .held?: there = status != nil
            case .paymentFailed?, .refundRequired?, .paymentRefunded?: there = processed.contains(e.id.lowercased())
            case let type?:
                // There once applying it would change nothing: a confirm is there in a refunded
                // booking, an expiry in one confirmed late.
                let current = status.flatMap(ReservationStatus.init(rawValue:))
                there = current.map { $0 != .held && $0.advanced(to: type.status) == $0 } ?? false
            case nil: there = true  // not an event the worker could persist: nothing to wait for
            }
            if there { found.insert(e.id) }
        }
        return found
    }
}

/// One delivered outbox entry as the repair loop sees it.
struct RepairEntry {
    var id: String
    /// Its events; nil for a malformed entry (the relay passed over it too).
    var events: [OutboxEntry]?
    /// How many times it has been published again.
    var republished: Int
}

/// What the repair loop remembers of one event's delivered entries between passes: the
/// entries it has read and not yet removed, oldest first (so each is read from Redis once),
/// when it first saw each delivered (the grace runs from then, so entries that waited for a
/// frozen broker are not taken for lost), when it last asked PostgreSQL about each, and
/// whether PostgreSQL had it (an entry it had stays until those before it leave).
public struct RepairMemory: Sendable {
    struct Seen: Sendable {
        var entry: RepairEntry
        var delivered: ContinuousClock.Instant
        var asked: ContinuousClock.Instant?
        var persisted = false
    }

    /// The entries read and not yet removed, in stream order.
    private(set) var entries: [Seen] = []
    /// The last entry read: the next read starts after it.
    private(set) var readThrough: String?

    public init() {}

    /// An entry read from the stream at `now`, after every entry seen before.
    mutating func saw(_ entry: RepairEntry, at now: ContinuousClock.Instant) {
        entries.append(Seen(entry: entry, delivered: now))
        readThrough = entry.id
    }

    /// The entries PostgreSQL is to be asked about at `now`: delivered `settleAfter` ago or
    /// more, not known to be there, and not asked about for `recheck`.
    func due(at now: ContinuousClock.Instant, settleAfter: Duration, recheck: Duration) -> [RepairEntry] {
        entries.filter { seen in
            !seen.persisted && now - seen.delivered >= settleAfter && (seen.asked.map { now - $0 >= recheck } ?? true)
        }.map(\.entry)
    }

    /// Records that PostgreSQL was asked about the entries `ids` at `now`, and whether it had
    /// each (`persisted`), in one pass over the entries.
    mutating func asked(_ ids: Set<String>, at now: ContinuousClock.Instant, persisted: (RepairEntry) -> Bool) {
        for i in entries.indices where ids.contains(entries[i].entry.id) {
            entries[i].asked = now
            entries[i].persisted = persisted(entries[i].entry)
        }
    }

    /// Forgets entries up to and including `last` (just removed).
    mutating func forget(through last: String) {
        let bound = Self.order(last)
        entries.removeAll { Self.order($0.entry.id) <= bound }
    }

    /// A stream id (`ms-seq`) as a pair that sorts as the stream does.
    static func order(_ id: String) -> (Int64, Int64) {
        let p = id.split(separator: "-")
        return (Int64(p.first ?? "") ?? 0, Int64(p.count > 1 ? p[1] : "") ?? 0)
    }
}

import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficeRedis
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Carries the per-event outbox streams to the Kafka topic `reservations`.
///
/// One relay at a time carries a stream: it holds the stream's lease in Redis
/// (`bo:{ev:E}:relay`, see `relay_lease.lua`), so several API replicas share the
/// events and each stream goes out in the order it was written. The holder
/// reads the oldest entries (`XRANGE`), publishes each of their events (one, or
/// the holds of a reserve batch) keyed by reservation id
/// with the idempotent producer, and only after the broker's delivery reports
/// trims the stream (`XTRIM MINID`) up to the first entry whose delivery
/// failed, or past the last when none did. A failed entry (one of its events
/// failed) and those after it
/// are read again on the next round; a relay that dies or freezes loses its
/// leases after `leaseTime`, and the next holder starts again from the oldest
/// entry left. An entry may go out twice (the worker absorbs repeats), never
/// not at all. While the broker is down the streams simply grow.
///
/// A consumer group would cost Redis about five times as much per entry: each
/// read is written to the AOF as one `XCLAIM` per entry, then acknowledged.
public struct OutboxRelay: Service {
    /// Settings of the relay.
    public struct Configuration: Sendable {
        /// Kafka topic. Default `reservations`.
        public var topic = "reservations"
        /// Entries read per stream per round (an entry holds one event, or up to
        /// `InventoryConfiguration.reserveBatchLimit` holds). Default 1,500: a round waits
        /// for the broker's delivery reports (about `linger.ms` and a round trip), so this
        /// bounds the relay's rate; 500 capped it near the API's reserve rate.
        public var batchSize = 1_500
        /// Pause when a round found nothing. Default 10 ms.
        public var idleDelay: Duration = .milliseconds(10)
        /// The longest a stream found empty waits before it is read again: each empty read
        /// doubles its wait, from `idleDelay` up to this, and a read that finds entries ends it.
        /// Default 100 ms, so that a relay among hundreds of quiet events reads each a few
        /// times a second rather than every round.
        public var quietPollInterval: Duration = .milliseconds(100)
        /// How often the set of events (`bo:events`) is read again. Default 250 ms.
        public var eventsRefresh: Duration = .milliseconds(250)
        /// A stream whose relay has not renewed its lease for this long is taken over by
        /// another. Renewed once a quarter of it has run; a stream another relay holds is
        /// asked for every tenth of it. Default 10 s.
        public var leaseTime: Duration = .seconds(10)
        /// This relay's name in the leases it holds. Default host, pid and a random suffix.
        public var name = "relay-\(localHostName())-\(getpid())-\(randomHex(bytes: 3))"
        public init() {}
    }

    let redis: RedisClient
    let producer: KafkaProducer
    let configuration: Configuration
    let logger: Logger
    let published: Counter
    let failed: Counter
    let pending: Gauge

    public init(redis: RedisClient, producer: KafkaProducer, configuration: Configuration = .init(), logger: Logger) {
        self.redis = redis
        self.producer = producer
        self.configuration = configuration
        self.logger = logger
        self.published = Counter(label: "outbox_published_total", dimensions: [("result", "ok")])
        self.failed = Counter(label: "outbox_published_total", dimensions: [("result", "error")])
        // Entries of every stream not yet relayed (an entry is one event, or a reserve batch's holds).
        self.pending = Gauge(label: "outbox_pending")
    }

    public func run() async throws {
        let inventory = RedisInventory(redis: redis)
        // A lease taken or renewed at t has at least half of `leaseTime` left (relay_lease.lua), so
        // until a quarter of it has run the stream is carried without asking Redis again. Leases
        // due, and then the streams due, are each asked for in one round trip for all events.
        var events: [EventID] = []
        var eventsRead = ContinuousClock.now - configuration.eventsRefresh
        var leaseBook = LeaseBook(leaseTime: configuration.leaseTime)
        var reads = PollSchedule(quickest: configuration.idleDelay, slowest: configuration.quietPollInterval)
        var lastGauge = ContinuousClock.now - .seconds(10)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var moved = 0
            do {
                let now = ContinuousClock.now
                if now - eventsRead >= configuration.eventsRefresh {
                    events = try await inventory.events()
                    eventsRead = now
                    // An event no longer listed is no longer due anything (its lease lapses by itself).
                    reads.keep(only: events)
                    leaseBook.keep(only: events)
                }
                let asking = leaseBook.due(among: events, at: now)
                for (event, holds) in zip(asking, try await leases(asking, milliseconds: Int(configuration.leaseTime.inMilliseconds))) {
                    leaseBook.record(event, held: holds, at: now)
                }
                let due = events.filter { leaseBook.held.contains($0) && reads.isDue($0, at: now) }
                for (event, entries) in zip(due, try await read(due)) {
                    reads.record(event, found: !entries.isEmpty, at: now)
                    moved += try await publish(event: event, entries)
                }
                if ContinuousClock.now - lastGauge > .seconds(1) {
                    pending.record(try await pendingCount(events))
                    lastGauge = .now
                }
            } catch {
                logger.warning("outbox relay round failed; retrying", metadata: ["error": "\(error)"])
                leaseBook.forget()
                try? await Task.sleep(for: .milliseconds(500))
            }
            if moved == 0 {
                // Nothing to carry: sleep until a stream, a lease or the event list is next due.
                let now = ContinuousClock.now
                var wake = eventsRead + configuration.eventsRefresh
                if let lease = leaseBook.nextDue { wake = min(wake, lease) }
                if let read = reads.nextDue(of: leaseBook.held, now: now) { wake = min(wake, read) }
                try? await Task.sleep(for: max(wake - now, configuration.idleDelay))
            }
        }
        // Another replica takes the streams over now rather than after the lease time.
        for event in leaseBook.held { try? await giveUp(event: event) }
    }

    /// Gives up this relay's lease on `event`'s stream (if it holds it), so that
    /// another relay carries the stream at once rather than after the lease time.
    public func giveUp(event: EventID) async throws {
        _ = try await lease(event, milliseconds: 0)
    }

    /// Takes or renews (or with 0 ms gives up) this relay's lease on `event`'s stream.
    func lease(_ event: EventID, milliseconds: Int) async throws -> Bool {
        try await leases([event], milliseconds: milliseconds)[0]
    }

    /// `lease(_:milliseconds:)` for each of `events`, in one round trip.
    func leases(_ events: [EventID], milliseconds: Int) async throws -> [Bool] {
        let replies = try await redis.evalPipeline(InventoryScripts.relayLease, events.map {
            (keys: [.string(InventoryKeys(event: $0).relayLease)], arguments: [.string(configuration.name), .int(milliseconds)])
        })
        return try replies.map { try $0.throwingOnError().int == 1 }
    }

    /// The oldest entries (at most `batchSize`) of each of `events`' streams, in one round trip.
    func read(_ events: [EventID]) async throws -> [[(String, [OutboxEntry]?)]] {
        guard !events.isEmpty else { return [] }
        let replies = try await redis.pipeline(events.map {
            ["XRANGE", .string(InventoryKeys(event: $0).outbox), "-", "+", "COUNT", .int(configuration.batchSize)]
        })
        return try replies.map { Self.entries(try $0.throwingOnError()) }
    }

    /// One round for one event: take or renew its lease, read the oldest entries,
    /// publish them, trim what was delivered. Returns how many events were
    /// delivered, or `nil` when another relay holds the stream.
    public func relayOnce(event: EventID) async throws -> Int? {
        guard try await lease(event, milliseconds: Int(configuration.leaseTime.inMilliseconds)) else { return nil }
        return try await carry(event: event)
    }

    /// Reads the oldest entries of `event`'s stream, whose lease this relay holds, publishes
    /// them and trims what was delivered. Returns how many events were delivered.
    func carry(event: EventID) async throws -> Int {
        try await publish(event: event, try await read([event])[0])
    }

    /// Publishes the events of `entries`, the oldest of `event`'s stream, whose lease this relay
    /// holds, and trims what was delivered. Returns how many events were delivered.
    func publish(event: EventID, _ entries: [(String, [OutboxEntry]?)]) async throws -> Int {
        guard !entries.isEmpty else { return 0 }
        let stream = InventoryKeys(event: event).outbox

        // Envelopes first; a malformed entry can never be published: drop it loudly rather than block the stream.
        var done = [Bool](repeating: true, count: entries.count)
        var sources: [Int] = []  // each message's entry
        var messages: [(key: [UInt8]?, value: [UInt8])] = []
        messages.reserveCapacity(entries.count)
        var prepared = 0
        for (n, (id, events)) in entries.enumerated() {
            do {
                guard let events else { throw EnvelopeError(field: "e") }
                let envelopes = try events.map(Self.envelope)
                for envelope in envelopes {
                    // The relay shares the event loops with the HTTP requests: a batch of hundreds of
                    // events is prepared in slices, letting waiting requests run in between.
                    prepared += 1
                    if prepared % 64 == 0 { await Task.yield() }
                    messages.append((Array(envelope.reservation_id.utf8), envelope.jsonBytes))
                    sources.append(n)
                }
            } catch {
                logger.error("dropping malformed outbox entry", metadata: ["entry": "\(id)", "error": "\(error)"])
            }
        }
        // An entry leaves the stream once each of its events is delivered; one not delivered
        // keeps it, and its delivered events go again with it (the worker absorbs repeats).
        let reports = await producer.sendBatch(topic: configuration.topic, messages: messages)
        var delivered = 0
        for (n, report) in zip(sources, reports) {
            switch report {
            case .success: delivered += 1
            case .failure(let error):
                if done[n] { logger.warning("publish failed; the entry stays in the outbox", metadata: ["entry": "\(entries[n].0)", "error": "\(error)"]) }
                done[n] = false
            }
        }
        // Everything before the first entry not delivered leaves the stream.
        let kept = done.firstIndex(of: false)
        let trimTo = kept.map { entries[$0].0 } ?? Self.successor(of: entries[entries.count - 1].0)
        if kept != 0, let trimTo {
            try await redis.send(["XTRIM", .string(stream), "MINID", .string(trimTo)])
        }
        published.increment(by: delivered)
        if delivered < messages.count { failed.increment(by: messages.count - delivered) }
        return delivered
    }

    /// The stream id right after `id` (`ms-seq` → `ms-(seq+1)`), or `nil` if `id` is not one.
    static func successor(of id: String) -> String? {
        let parts = id.split(separator: "-")
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        return seq == .max ? "\(ms + 1)-0" : "\(ms)-\(seq + 1)"
    }

    /// Entries not yet relayed, over every event (streams are trimmed as they are relayed).
    func pendingCount(_ events: [EventID]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let replies = try await redis.pipeline(events.map { ["XLEN", .string(InventoryKeys(event: $0).outbox)] })
        return replies.reduce(0) { $0 + ($1.int ?? 0) }
    }

    /// The entries of an `XRANGE` reply: each id, with its events
    /// (`nil` when the fields have neither layout, see `OutboxEntry`).
    static func entries(_ value: RESPValue) -> [(String, [OutboxEntry]?)] {
        (value.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array else { return nil }
            return (id, OutboxEntry.events(fields: fields))
        }
    }

    struct EnvelopeError: Error { var field: String }

    /// The Kafka envelope of one outbox entry.
    static func envelope(_ f: OutboxEntry) throws -> ReservationEvent {
        func need(_ v: String, _ k: String) throws -> String {
            guard !v.isEmpty else { throw EnvelopeError(field: k) }
            return v
        }
        func ms(_ v: String) -> String? { Int64(v).map(RFC3339Timestamp.string(milliseconds:)) }
        guard let type = ReservationEventType(rawValue: try need(f.type, "type")),
              let qty = Int(try need(f.qty, "qty")), let amount = Int(try need(f.amount, "amount")),
              let at = ms(f.at)
        else { throw EnvelopeError(field: "type/qty/amount/at") }
        let currency = try need(f.currency, "currency")
        var payment: PaymentInfo? = nil
        if let ref = f.paymentRef {
            payment = PaymentInfo(ref: ref, status: f.paymentStatus ?? "succeeded", amount: amount, currency: currency,
                                  reason: f.reason, attempt: f.attempt.flatMap { Int($0) })
        }
        return ReservationEvent(
            id: try need(f.id, "id"), type: type, occurredAt: at, reservationID: try need(f.rid, "rid"), eventID: try need(f.event, "event"),
            category: try need(f.category, "category"), userID: try need(f.user, "user"), quantity: qty, amount: amount, currency: currency,
            createdAt: ms(f.created), expiresAt: ms(f.expires), payment: payment)
    }
}


extension JSONEncoder {
    /// Stable key order, no escaped slashes; configured once and shared (it is safe to share).
    static let sorted: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

/// This machine's name from `gethostname` (unlike `ProcessInfo.hostName`, which may
/// ask DNS for the canonical name and block the calling thread).
func localHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
    return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// When the relay reads each event's outbox stream next. A stream that had entries is read
/// again the next round; one found empty waits, twice as long after each empty read, from
/// `quickest` up to `slowest`. Quiet events then cost Redis a few reads a second each, while
/// a stream that starts filling is read within `slowest`, and then every round.
struct PollSchedule {
    let quickest: Duration
    let slowest: Duration
    /// Each quiet stream's last wait and when it is next due; a stream not in it is due at once.
    private var quiet: [EventID: (wait: Duration, next: ContinuousClock.Instant)] = [:]

    init(quickest: Duration, slowest: Duration) {
        self.quickest = quickest
        self.slowest = max(slowest, quickest)
    }

    /// Whether `event`'s stream is to be read at `now` (a stream not seen before is).
    func isDue(_ event: EventID, at now: ContinuousClock.Instant) -> Bool {
        quiet[event].map { now >= $0.next } ?? true
    }

    /// The earliest time one of `events`' streams is due (`now` for one due at once); `nil` for no events.
    func nextDue(of events: some Collection<EventID>, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        events.map { quiet[$0]?.next ?? now }.min()
    }

    /// What a read of `event`'s stream at `now` found.
    mutating func record(_ event: EventID, found entries: Bool, at now: ContinuousClock.Instant) {
        if entries {
            quiet[event] = nil
        } else {
            let wait = min(max((quiet[event]?.wait ?? .zero) * 2, quickest), slowest)
            quiet[event] = (wait, now + wait)
        }
    }

    /// Forgets events no longer listed.
    mutating func keep(only events: [EventID]) {
        let listed = Set(events)
        quiet = quiet.filter { listed.contains($0.key) }
    }
}

/// Which streams a relay holds, and when to ask Redis about each lease next. A lease taken or
/// renewed has at least half of `leaseTime` left (relay_lease.lua): it is renewed once a quarter
/// has run. One another relay holds is asked for every tenth, so a stream whose holder died is
/// taken over soon after its lease lapses.
struct LeaseBook {
    let leaseTime: Duration
    private(set) var held = Set<EventID>()
    private var next: [EventID: ContinuousClock.Instant] = [:]

    init(leaseTime: Duration) { self.leaseTime = leaseTime }

    /// Those of `events` whose lease is to be taken or renewed at `now` (one never asked about is).
    func due(among events: [EventID], at now: ContinuousClock.Instant) -> [EventID] {
        events.filter { next[$0].map { now >= $0 } ?? true }
    }

    /// What Redis answered at `now`: whether this relay holds `event`'s lease.
    mutating func record(_ event: EventID, held holds: Bool, at now: ContinuousClock.Instant) {
        if holds { held.insert(event) } else { held.remove(event) }
        next[event] = now + leaseTime / (holds ? 4 : 10)
    }

    /// The earliest time a lease is to be asked about; `nil` when none is known.
    var nextDue: ContinuousClock.Instant? { next.values.min() }

    /// Forgets events no longer listed: nothing is due for them, and their leases lapse by themselves.
    mutating func keep(only events: [EventID]) {
        let listed = Set(events)
        next = next.filter { listed.contains($0.key) }
        held.formIntersection(listed)
    }

    /// Forgets everything (after a failed round): every lease is asked about again.
    mutating func forget() {
        held.removeAll()
        next.removeAll()
    }
}

import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Carries the per-event outbox streams to the Kafka topic `reservations`.
///
/// One relay at a time carries a stream: it holds the stream's lease in Redis
/// (`bo:{ev:E}:relay`, see `relay_lease.lua`), so several API replicas share the
/// events and each stream goes out in the order it was written. The holder
/// reads the entries after the stream's cursor, publishes
/// each of their events (one, or the holds of a reserve batch) keyed by
/// reservation id with the idempotent producer, and only after the broker's
/// delivery reports moves the cursor (`outbox_advance.lua`) past the last entry
/// before the first whose delivery failed. The entries stay in the stream until
/// the repair loop (`PipelineRepair`) has seen their events in PostgreSQL, so a
/// broker that loses what it acknowledged loses nothing. A relay that dies or
/// freezes loses its leases after `leaseTime`, and the next holder starts again
/// after the cursor. An entry may go out twice (the worker absorbs repeats),
/// never not at all. While the broker is down the streams simply grow.
///
/// The relay owns its producer and replaces it when it stops delivering while
/// entries wait: at once on an error that means the producer's idempotence state
/// is gone (a broker that came back without its log), otherwise once nothing has
/// been delivered for `stallTimeout`. On graceful shutdown it aborts the batch
/// in flight, so it stops within moments whatever the broker does; undelivered
/// entries stay in the stream for the next start.
///
/// The relay keeps its own cursor rather than a consumer group, whose reads are
/// written to the AOF as one `XCLAIM` per entry, then acknowledged.
public struct OutboxRelay: Service {
    /// Settings of the relay.
    public struct Configuration: Sendable {
        /// Kafka topic. Default `reservations`.
        public var topic = "reservations"
        /// Entries read per stream per round (an entry holds one event, or up to
        /// `InventoryConfiguration.reserveBatchLimit` holds). Default 1,500: a round waits
        /// for the broker's delivery reports (about `linger.ms` and a round trip), so this
        /// bounds the relay's rate (see docs/performance.md).
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
        /// With entries waiting and nothing delivered for this long, the producer is replaced.
        /// It is also the producer's `message.timeout.ms`, so no batch waits longer. Default 15 s.
        public var stallTimeout: Duration = .seconds(15)
        /// The first pause after replacing the producer; it doubles with each replacement in a
        /// row, up to `maximumRestartDelay`, and starts again after a delivery. Default 1 s.
        public var restartDelay: Duration = .seconds(1)
        /// Default 8 s.
        public var maximumRestartDelay: Duration = .seconds(8)
        /// This relay's name in the leases it holds. Default host, pid and a random suffix.
        public var name = "relay-\(localHostName())-\(getpid())-\(randomHex(bytes: 3))"
        public init() {}
    }

    let redis: RedisClient
    let producers: ProducerSlot
    let configuration: Configuration
    let logger: Logger
    let published: Counter
    let failed: Counter
    let restarts: Counter
    let pending: Gauge
    let oldestAge: Gauge
    let unpersistedAge: Gauge

    /// A relay whose producers are made from `producer` (its message timeout set to `stallTimeout`).
    public init(redis: RedisClient, producer: KafkaProducerConfiguration, configuration: Configuration = .init(), logger: Logger) {
        self.redis = redis
        var producer = producer
        producer.messageTimeoutMilliseconds = Int(configuration.stallTimeout.inMilliseconds)
        self.producers = ProducerSlot(configuration: producer, logger: logger)
        self.configuration = configuration
        self.logger = logger
        self.published = Counter(label: "outbox_published_total", dimensions: [("result", "ok")])
        self.failed = Counter(label: "outbox_published_total", dimensions: [("result", "error")])
        self.restarts = Counter(label: "outbox_producer_restarts_total")
        // Entries of every stream not yet delivered (an entry is one event, or a reserve batch's holds).
        self.pending = Gauge(label: "outbox_pending")
        // Age of the oldest entry not yet delivered, over every stream (0 when none waits).
        self.oldestAge = Gauge(label: "outbox_oldest_age_seconds")
        // Age of the oldest entry whose events are not yet known to be in PostgreSQL.
        self.unpersistedAge = Gauge(label: "pipeline_unpersisted_oldest_age_seconds")
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await carryUntilShutdown()
        } onGracefulShutdown: {
            // A batch waiting on the broker fails at once; its entries stay in the stream.
            producers.close()
        }
        await producers.shutdown()
    }

    /// Shuts the relay's producer down, for a relay driven by `relayOnce` rather than `run()`.
    public func shutdown() async {
        await producers.shutdown()
    }

    private func carryUntilShutdown() async throws {
        let inventory = RedisInventory(redis: redis)
        // A lease taken or renewed at t has at least half of `leaseTime` left (relay_lease.lua), so
        // until a quarter of it has run the stream is carried without asking Redis again. Leases
        // due, and then the streams due, are each asked for in one round trip for all events.
        var events: [EventID] = []
        var eventsRead = ContinuousClock.now - configuration.eventsRefresh
        var leaseBook = LeaseBook(leaseTime: configuration.leaseTime)
        var reads = PollSchedule(quickest: configuration.idleDelay, slowest: configuration.quietPollInterval)
        var health = ProducerHealth(stallTimeout: configuration.stallTimeout, restartDelay: configuration.restartDelay,
                                    maximumRestartDelay: configuration.maximumRestartDelay, now: .now)
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
                var failures: [KafkaError] = []
                for (event, (cursor, entries)) in zip(due, try await read(due)) {
                    reads.record(event, found: !entries.isEmpty, at: now)
                    let round = try await publish(event: event, after: cursor, entries)
                    moved += round.delivered
                    failures += round.failures
                }
                if let reason = health.record(delivered: moved, failures: failures, fatal: producers.fatalError, at: .now) {
                    try await replaceProducer(reason: reason, health: &health)
                }
                if ContinuousClock.now - lastGauge > .seconds(1) {
                    try await recordState(events)
                    lastGauge = .now
                }
            } catch {
                logger.warning("outbox relay round failed; retrying", metadata: ["error": "\(error)"])
                leaseBook.forget()
                try? await sleepUnlessShuttingDown(.milliseconds(500))
            }
            if moved == 0 {
                // Nothing to carry: sleep until a stream, a lease or the event list is next due.
                let now = ContinuousClock.now
                var wake = eventsRead + configuration.eventsRefresh
                if let lease = leaseBook.nextDue { wake = min(wake, lease) }
                if let read = reads.nextDue(of: leaseBook.held, now: now) { wake = min(wake, read) }
                try? await sleepUnlessShuttingDown(max(wake - now, configuration.idleDelay))
            }
        }
        // Another replica takes the streams over now rather than after the lease time.
        for event in leaseBook.held { try? await giveUp(event: event) }
    }

    /// Replaces the producer after `reason`, then pauses as `health` says.
    private func replaceProducer(reason: String, health: inout ProducerHealth) async throws {
        let pause = health.restarted(at: .now)
        restarts.increment()
        logger.warning("outbox relay: replacing its Kafka producer", metadata: [
            "reason": "\(reason)", "pause_ms": "\(pause.inMilliseconds)",
        ])
        await producers.replace()
        try? await sleepUnlessShuttingDown(pause)
    }

    /// Sleeps for `duration`, or until graceful shutdown begins.
    private func sleepUnlessShuttingDown(_ duration: Duration) async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
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

    /// The cursor and the entries after it (at most `batchSize`) of each of `events`' streams,
    /// in two round trips: the cursors, then the entries. Plain `XRANGE`s, not a script: a
    /// script would hold Redis while it copied every entry into Lua and back. Only this relay,
    /// holding the streams' leases, moves their cursors in between.
    func read(_ events: [EventID]) async throws -> [(cursor: String, entries: [(String, [OutboxEntry]?)])] {
        guard !events.isEmpty else { return [] }
        let cursors = try await redis.pipeline(events.map { ["HGET", .string(InventoryKeys(event: $0).relayProgress), "cursor"] })
            .map { try $0.throwingOnError().string ?? "" }
        let replies = try await redis.pipeline(zip(events, cursors).map { event, cursor in
            ["XRANGE", .string(InventoryKeys(event: event).outbox), .string(cursor.isEmpty ? "-" : "(" + cursor), "+",
             "COUNT", .int(configuration.batchSize)]
        })
        return try zip(cursors, replies).map { cursor, reply in (cursor, Self.entries(try reply.throwingOnError())) }
    }

    /// One round for one event: take or renew its lease, read the entries after the cursor,
    /// publish them, move the cursor past what was delivered. Returns how many events were
    /// delivered, or `nil` when another relay holds the stream.
    public func relayOnce(event: EventID) async throws -> Int? {
        guard try await lease(event, milliseconds: Int(configuration.leaseTime.inMilliseconds)) else { return nil }
        let (cursor, entries) = try await read([event])[0]
        return try await publish(event: event, after: cursor, entries).delivered
    }

    /// What publishing one stream's entries did.
    struct Round {
        /// Events the broker acknowledged.
        var delivered = 0
        /// The errors of those it did not.
        var failures: [KafkaError] = []
    }

    /// Publishes the events of `entries`, those after `cursor` in `event`'s stream, whose lease
    /// this relay holds, and moves the cursor past the delivered ones.
    func publish(event: EventID, after cursor: String, _ entries: [(String, [OutboxEntry]?)]) async throws -> Round {
        guard !entries.isEmpty else { return Round() }

        // Envelopes first; a malformed entry can never be published: pass it loudly rather than block the stream.
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
                logger.error("passing over a malformed outbox entry", metadata: ["entry": "\(id)", "error": "\(error)"])
            }
        }
        // An entry is delivered once each of its events is; one not delivered stops the cursor
        // before it, and its delivered events go again with it (the worker absorbs repeats).
        let reports: [Result<KafkaDeliveryReport, KafkaError>]
        do {
            reports = await (try producers.producer()).sendBatch(topic: configuration.topic, messages: messages)
        } catch {
            let e = error as? KafkaError ?? KafkaError(.configuration, "\(error)")
            reports = messages.map { _ in .failure(e) }
        }
        var round = Round()
        for (n, report) in zip(sources, reports) {
            switch report {
            case .success: round.delivered += 1
            case .failure(let error):
                if done[n] && round.failures.isEmpty {
                    logger.warning("publish failed; the entry stays in the outbox", metadata: ["entry": "\(entries[n].0)", "error": "\(error)"])
                }
                done[n] = false
                round.failures.append(error)
            }
        }
        let kept = done.firstIndex(of: false) ?? entries.count
        if kept > 0 {
            let keys = InventoryKeys(event: event)
            _ = try await redis.eval(InventoryScripts.outboxAdvance, keys: [.string(keys.relayProgress)],
                                     arguments: [.string(cursor), .string(entries[kept - 1].0), .int(kept)])
        }
        published.increment(by: round.delivered)
        if !round.failures.isEmpty { failed.increment(by: round.failures.count) }
        return round
    }

    /// Records `outbox_pending`, `outbox_oldest_age_seconds` and
    /// `pipeline_unpersisted_oldest_age_seconds` over `events`, in one round trip.
    func recordState(_ events: [EventID]) async throws {
        let state = try await outboxState(events)
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        func age(_ id: String?) -> Double {
            guard let id, let ms = Self.milliseconds(of: id) else { return 0 }
            return Double(max(0, nowMs - ms)) / 1000
        }
        pending.record(state.reduce(0) { $0 + $1.pending })
        oldestAge.record(state.map { age($0.oldestPending) }.max() ?? 0)
        unpersistedAge.record(state.map { age($0.oldestUnsettled) }.max() ?? 0)
    }

    /// Each of `events`' streams: entries not yet delivered, the oldest of them and the oldest
    /// entry still in the stream (not yet seen in PostgreSQL).
    public func outboxState(_ events: [EventID]) async throws -> [(pending: Int, oldestPending: String?, oldestUnsettled: String?)] {
        guard !events.isEmpty else { return [] }
        let replies = try await redis.evalPipeline(InventoryScripts.outboxState, events.map {
            let keys = InventoryKeys(event: $0)
            return (keys: [.string(keys.outbox), .string(keys.relayProgress)], arguments: [])
        })
        return try replies.map { reply in
            let v = try reply.throwingOnError().array ?? []
            func id(_ i: Int) -> String? { v.count > i ? v[i].string.flatMap { $0.isEmpty ? nil : $0 } : nil }
            return (v.first?.int ?? 0, id(1), id(2))
        }
    }

    /// The milliseconds part of a stream id (`ms-seq`).
    static func milliseconds(of id: String) -> Int64? {
        id.split(separator: "-").first.flatMap { Int64($0) }
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
        // A confirm whose payment came after the hold's time carries reason `late`: the envelope's flag.
        let late = type == .confirmed && f.reason == "late"
        if let ref = f.paymentRef {
            payment = PaymentInfo(ref: ref, status: f.paymentStatus ?? "succeeded", amount: amount, currency: currency,
                                  reason: late ? nil : f.reason, attempt: f.attempt.flatMap { Int($0) })
        }
        var event = ReservationEvent(
            id: try need(f.id, "id"), type: type, occurredAt: at, reservationID: try need(f.rid, "rid"), eventID: try need(f.event, "event"),
            category: try need(f.category, "category"), userID: try need(f.user, "user"), quantity: qty, amount: amount, currency: currency,
            createdAt: ms(f.created), expiresAt: ms(f.expires), payment: payment)
        event.seats = f.seats.map { $0.split(separator: ",").map(String.init) }
        if late { event.late = true }
        return event
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

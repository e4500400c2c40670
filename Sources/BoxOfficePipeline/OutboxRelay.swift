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
/// Reads each stream through the Redis consumer group `relay` (so several API
/// replicas share the work), publishes each entry keyed by reservation id with
/// the idempotent producer, and only after the broker's delivery report
/// acknowledges and deletes the entry. An entry whose delivery failed, or whose
/// relay died, stays pending and is claimed again after `claimIdle`. While the
/// broker is down the streams simply grow; nothing is lost.
public struct OutboxRelay: Service {
    /// Settings of the relay.
    public struct Configuration: Sendable {
        /// Kafka topic. Default `reservations`.
        public var topic = "reservations"
        /// Entries read per stream per round. Default 1,500: a round waits for the
        /// broker's delivery reports (about `linger.ms` and a round trip), so this
        /// bounds the relay's rate; 500 capped it near the API's reserve rate.
        public var batchSize = 1_500
        /// Pause when a round found nothing. Default 10 ms.
        public var idleDelay: Duration = .milliseconds(10)
        /// A pending entry idle this long is claimed by another relay (or retried). Default 10 s.
        public var claimIdle: Duration = .seconds(10)
        /// This relay's consumer name in the group. Default host, pid and a random suffix.
        public var consumerName = "relay-\(localHostName())-\(getpid())-\(randomHex(bytes: 3))"
        public init() {}
    }

    static let group = "relay"

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
        self.pending = Gauge(label: "outbox_pending")
    }

    public func run() async throws {
        let inventory = RedisInventory(redis: redis)
        var groups = Set<EventID>()
        var lastClaim: [EventID: ContinuousClock.Instant] = [:]
        var lastGauge = ContinuousClock.now - .seconds(10)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var moved = 0
            do {
                let events = try await inventory.events()
                for event in events {
                    if !groups.contains(event) {
                        try await ensureGroup(InventoryKeys(event: event).outbox)
                        groups.insert(event)
                    }
                    let now = ContinuousClock.now
                    let claim = lastClaim[event].map { now - $0 >= configuration.claimIdle / 2 } ?? true
                    if claim { lastClaim[event] = now }
                    moved += try await relayOnce(event: event, claim: claim)
                }
                if ContinuousClock.now - lastGauge > .seconds(1) {
                    pending.record(try await pendingCount(events))
                    lastGauge = .now
                }
            } catch {
                logger.warning("outbox relay round failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
            if moved == 0 { try? await Task.sleep(for: configuration.idleDelay) }
        }
    }

    func ensureGroup(_ stream: String) async throws {
        do {
            try await redis.send(["XGROUP", "CREATE", .string(stream), .string(Self.group), "0", "MKSTREAM"])
        } catch let e as RedisError where e.serverErrorPrefix == "BUSYGROUP" {
            // Already there.
        }
    }

    /// One round for one event: claim stale entries, read new ones, publish, ack.
    /// Returns how many entries were published.
    /// With `claim`, entries pending longer than `claimIdle` (a dead relay's, or
    /// this relay's failed deliveries) are taken over first; the loop asks for
    /// that at most every `claimIdle / 2` per event, not on every round.
    public func relayOnce(event: EventID, claim: Bool = true) async throws -> Int {
        let stream = InventoryKeys(event: event).outbox
        var entries: [(String, OutboxEntry?)] = []
        if claim {
            let idleMs = Int(configuration.claimIdle.inMilliseconds)
            let claimed = try await redis.send([
                "XAUTOCLAIM", .string(stream), .string(Self.group), .string(configuration.consumerName), .int(idleMs), "0-0",
                "COUNT", .int(configuration.batchSize),
            ])
            entries = Self.entries(claimed.array?.dropFirst().first ?? .null)
        }
        let fresh = try await redis.send([
            "XREADGROUP", "GROUP", .string(Self.group), .string(configuration.consumerName),
            "COUNT", .int(configuration.batchSize), "STREAMS", .string(stream), ">",
        ])
        if let streams = fresh.array, let first = streams.first?.array, first.count == 2 {
            entries += Self.entries(first[1])
        }
        guard !entries.isEmpty else { return 0 }

        // Envelopes first; a malformed entry can never be published: drop it loudly rather than block the stream.
        var delivered: [String] = []
        var publishable: [String] = []
        var messages: [(key: [UInt8]?, value: [UInt8])] = []
        messages.reserveCapacity(entries.count)
        for (n, (id, fields)) in entries.enumerated() {
            // The relay shares the event loops with the HTTP requests: a batch of hundreds of
            // entries is prepared in slices, letting waiting requests run in between.
            if n > 0 && n % 64 == 0 { await Task.yield() }
            do {
                guard let fields else { throw EnvelopeError(field: "e") }
                let envelope = try Self.envelope(fields)
                messages.append((Array(envelope.reservation_id.utf8), envelope.jsonBytes))
                publishable.append(id)
            } catch {
                logger.error("dropping malformed outbox entry", metadata: ["entry": "\(id)", "error": "\(error)"])
                delivered.append(id)
            }
        }
        let reports = await producer.sendBatch(topic: configuration.topic, messages: messages)
        for (id, report) in zip(publishable, reports) {
            switch report {
            case .success: delivered.append(id)
            case .failure(let error):
                logger.warning("publish failed; the entry stays pending", metadata: ["entry": "\(id)", "error": "\(error)"])
            }
        }
        if !delivered.isEmpty {
            try await redis.send(["XACK", .string(stream), .string(Self.group)] + delivered.map(RedisArgument.string))
            // Acknowledged entries leave the stream by one trim up to the oldest entry any group still needs.
            try await redis.eval(InventoryScripts.trimOutbox, keys: [.string(stream)], arguments: [])
        }
        published.increment(by: delivered.count)
        if delivered.count < entries.count { failed.increment(by: entries.count - delivered.count) }
        return delivered.count
    }

    /// Entries not yet relayed, over every event (streams are trimmed as they are relayed).
    func pendingCount(_ events: [EventID]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let replies = try await redis.pipeline(events.map { ["XLEN", .string(InventoryKeys(event: $0).outbox)] })
        return replies.reduce(0) { $0 + ($1.int ?? 0) }
    }

    /// The entries of an `XREADGROUP` or `XAUTOCLAIM` reply: each id, with its entry
    /// (`nil` when the fields have neither layout, see `OutboxEntry`).
    static func entries(_ value: RESPValue) -> [(String, OutboxEntry?)] {
        (value.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array else { return nil }
            return (id, OutboxEntry(fields: fields))
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

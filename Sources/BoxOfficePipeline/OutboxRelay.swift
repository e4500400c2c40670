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
/// reads the oldest entries (`XRANGE`), publishes each keyed by reservation id
/// with the idempotent producer, and only after the broker's delivery reports
/// trims the stream (`XTRIM MINID`) up to the first entry whose delivery
/// failed, or past the last when none did. A failed entry and those after it
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
        /// Entries read per stream per round. Default 1,500: a round waits for the
        /// broker's delivery reports (about `linger.ms` and a round trip), so this
        /// bounds the relay's rate; 500 capped it near the API's reserve rate.
        public var batchSize = 1_500
        /// Pause when a round found nothing. Default 10 ms.
        public var idleDelay: Duration = .milliseconds(10)
        /// A stream whose relay has not renewed its lease for this long is taken over
        /// by another. Renewed every round once half of it has run. Default 10 s.
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
        self.pending = Gauge(label: "outbox_pending")
    }

    public func run() async throws {
        let inventory = RedisInventory(redis: redis)
        // A lease taken or renewed at t has at least half of `leaseTime` left (relay_lease.lua), so
        // until a quarter of it has run the stream is carried without asking Redis again: an idle
        // stream costs one XRANGE a round, as it did under a consumer group.
        var leasedUntil: [EventID: ContinuousClock.Instant] = [:]
        var lastGauge = ContinuousClock.now - .seconds(10)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var moved = 0
            do {
                let events = try await inventory.events()
                for event in events {
                    let now = ContinuousClock.now
                    if leasedUntil[event].map({ now >= $0 }) ?? true {
                        guard try await lease(event, milliseconds: Int(configuration.leaseTime.inMilliseconds)) else {
                            leasedUntil[event] = nil
                            continue
                        }
                        leasedUntil[event] = now + configuration.leaseTime / 4
                    }
                    moved += try await carry(event: event)
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
        // Another replica takes the streams over now rather than after the lease time.
        for event in leasedUntil.keys { try? await giveUp(event: event) }
    }

    /// Gives up this relay's lease on `event`'s stream (if it holds it), so that
    /// another relay carries the stream at once rather than after the lease time.
    public func giveUp(event: EventID) async throws {
        _ = try await lease(event, milliseconds: 0)
    }

    /// Takes or renews (or with 0 ms gives up) this relay's lease on `event`'s stream.
    func lease(_ event: EventID, milliseconds: Int) async throws -> Bool {
        try await redis.eval(InventoryScripts.relayLease, keys: [.string(InventoryKeys(event: event).relayLease)],
                             arguments: [.string(configuration.name), .int(milliseconds)]).int == 1
    }

    /// One round for one event: take or renew its lease, read the oldest entries,
    /// publish them, trim what was delivered. Returns how many entries were
    /// delivered, or `nil` when another relay holds the stream.
    public func relayOnce(event: EventID) async throws -> Int? {
        guard try await lease(event, milliseconds: Int(configuration.leaseTime.inMilliseconds)) else { return nil }
        return try await carry(event: event)
    }

    /// Reads the oldest entries of `event`'s stream, whose lease this relay holds, publishes
    /// them and trims what was delivered. Returns how many entries were delivered.
    func carry(event: EventID) async throws -> Int {
        let stream = InventoryKeys(event: event).outbox
        let entries = Self.entries(try await redis.send(["XRANGE", .string(stream), "-", "+", "COUNT", .int(configuration.batchSize)]))
        guard !entries.isEmpty else { return 0 }

        // Envelopes first; a malformed entry can never be published: drop it loudly rather than block the stream.
        var done = [Bool](repeating: true, count: entries.count)
        var publishable: [Int] = []
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
                publishable.append(n)
            } catch {
                logger.error("dropping malformed outbox entry", metadata: ["entry": "\(id)", "error": "\(error)"])
            }
        }
        let reports = await producer.sendBatch(topic: configuration.topic, messages: messages)
        for (n, report) in zip(publishable, reports) {
            if case .failure(let error) = report {
                done[n] = false
                logger.warning("publish failed; the entry stays in the outbox", metadata: ["entry": "\(entries[n].0)", "error": "\(error)"])
            }
        }
        // Everything before the first entry not delivered leaves the stream.
        let kept = done.firstIndex(of: false)
        let delivered = done.count(where: { $0 })
        let trimTo = kept.map { entries[$0].0 } ?? Self.successor(of: entries[entries.count - 1].0)
        if kept != 0, let trimTo {
            try await redis.send(["XTRIM", .string(stream), "MINID", .string(trimTo)])
        }
        published.increment(by: delivered)
        if delivered < entries.count { failed.increment(by: entries.count - delivered) }
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

    /// The entries of an `XRANGE` reply: each id, with its entry
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

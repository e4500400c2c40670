import BoxOfficeDomain
import BoxOfficeKafka
import BoxOfficePostgres
import BoxOfficeSupport
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The worker's main loop: consume `reservations` in batches (up to
/// `maxBatch` messages or `maxWait`), apply each batch to PostgreSQL in one
/// transaction, then commit the offsets. Poison messages (bad JSON, unknown
/// type or version) go to the dead-letter topic with the reason, and the
/// partition moves on. A failing database or dead-letter topic is retried with
/// backoff, never skipped. A failed commit is logged and the worker carries on: the batch is
/// already persisted and comes again as duplicates. On graceful shutdown the
/// batch in hand is finished and committed; if its writes fail then, it is left
/// uncommitted (its events come again) rather than retried until the process is killed.
public struct BookingConsumer: Service {
    /// Settings of the consumer.
    public struct Configuration: Sendable {
        /// Most messages per batch. Default 1,000.
        public var maxBatch = 1_000
        /// Longest wait to fill a batch. Default 50 ms.
        public var maxWait: Duration = .milliseconds(50)
        /// Dead-letter topic. Default `reservations.dlq`.
        public var deadLetterTopic = "reservations.dlq"
        public init() {}
    }

    let consumer: KafkaConsumer
    let deadLetters: KafkaProducer
    let writer: BookingWriter
    let db: PostgresClient
    let configuration: Configuration
    let logger: Logger
    let batchTimer = Timer(label: "worker_batch_duration_seconds", preferredDisplayUnit: .seconds)

    public init(consumer: KafkaConsumer, deadLetters: KafkaProducer, db: PostgresClient, configuration: Configuration = .init(), logger: Logger) {
        self.consumer = consumer
        self.deadLetters = deadLetters
        self.writer = BookingWriter(db: db)
        self.db = db
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        var lastLag = ContinuousClock.now - .seconds(10)
        var reported = Set<TopicPartition>()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let batch = try await consumer.poll(maxMessages: configuration.maxBatch, maxWait: configuration.maxWait)
            if !batch.isEmpty {
                do {
                    try await process(batch)
                } catch let stopped as StoppedWhileRetrying {
                    logger.warning("worker stopping with a batch not persisted; its offsets are not committed, so its events come again", metadata: [
                        "error": "\(stopped.error)", "events": "\(batch.count)",
                    ])
                    break
                }
            }
            if ContinuousClock.now - lastLag > .seconds(1) {
                let lags = await consumer.lag()
                // A partition handed to another replica reads 0 here, so a sum over replicas counts it once.
                for tp in reported.subtracting(lags.keys) {
                    Gauge(label: "kafka_consumer_lag", dimensions: [("partition", String(tp.partition))]).record(0)
                }
                for (tp, lag) in lags {
                    Gauge(label: "kafka_consumer_lag", dimensions: [("partition", String(tp.partition))]).record(Double(lag))
                }
                reported = Set(lags.keys)
                lastLag = .now
            }
        }
        logger.info("worker stopping; the group hands its partitions on once this member's session expires")
        await consumer.close()
    }

    /// Applies one batch and commits its offsets; retries the database until it succeeds.
    func process(_ batch: [KafkaMessage]) async throws {
        let start = ContinuousClock.now
        var events: [ReservationEvent] = []
        events.reserveCapacity(batch.count)
        let decoder = JSONDecoder()
        for message in batch {
            do {
                let event = try message.value.withUnsafeBytes { ReservationEvent.scanned(from: $0) }
                    ?? decoder.decode(ReservationEvent.self, from: Data(message.value))
                if let problem = event.problem { throw PoisonMessage(reason: problem) }
                events.append(event)
            } catch {
                let reason = (error as? PoisonMessage)?.reason ?? Self.describe(error)
                try await deadLetter(message, reason: reason)
            }
        }

        let result = try await untilItSucceeds("batch not persisted; retrying", ["events": "\(events.count)"]) {
            try await writer.apply(events)
        }
        for (type, n) in result.applied {
            Counter(label: "worker_events_total", dimensions: [("type", type.rawValue), ("result", "applied")]).increment(by: n)
        }
        if result.duplicates > 0 {
            Counter(label: "worker_events_total", dimensions: [("type", "any"), ("result", "duplicate")]).increment(by: result.duplicates)
        }
        do {
            try await consumer.commit(batch)
        } catch {
            // The batch is in PostgreSQL; an offset that is not committed only means the events come
            // again (to this member once it has rejoined, or to another), and the writer absorbs them
            // as duplicates. The usual cause is a member the group evicted while it was stalled past
            // its session: "unknown member". Stopping the worker for it would stop all bookings.
            logger.warning("batch persisted but its offsets were not committed; its events will come again", metadata: [
                "error": "\(error)", "events": "\(batch.count)",
            ])
        }
        batchTimer.recordNanoseconds(start.duration(to: .now).inNanoseconds)
    }

    struct PoisonMessage: Error { var reason: String }
    struct StoppedWhileRetrying: Error { var error: any Error }

    struct DeadLetter: Encodable {
        var reason: String
        var topic: String
        var partition: Int32
        var offset: Int64
        var key: String?
        var payload: String
        var payload_encoding: String
        var failed_at: String
    }

    func deadLetter(_ message: KafkaMessage, reason: String) async throws {
        let text = String(validating: message.value, as: UTF8.self)
        let letter = DeadLetter(
            reason: reason, topic: message.topic, partition: message.partition, offset: message.offset,
            key: message.key.map { String(decoding: $0, as: UTF8.self) },
            payload: text ?? Data(message.value).base64EncodedString(), payload_encoding: text == nil ? "base64" : "utf8",
            failed_at: RFC3339Timestamp.string(milliseconds: unixMilliseconds()))
        let value = Array(try JSONEncoder.sorted.encode(letter))
        // Like the database, the dead-letter topic is retried until it takes the message: its offset
        // is committed with the batch, so giving up here would lose it, and stopping would stop all bookings.
        _ = try await untilItSucceeds("poison message not yet dead-lettered; retrying",
                                      ["partition": "\(message.partition)", "offset": "\(message.offset)"]) {
            try await deadLetters.send(topic: configuration.deadLetterTopic, key: message.key, value: value)
        }
        Counter(label: "worker_events_total", dimensions: [("type", "unknown"), ("result", "dead_letter")]).increment()
        logger.warning("poison message sent to the dead-letter topic", metadata: [
            "partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(reason)",
        ])
    }

    /// Runs `operation` until it succeeds, logging each failure and waiting between tries (100 ms,
    /// doubling up to 5 s). Cancellation ends it early, and so does a failure once the process
    /// is shutting down (`StoppedWhileRetrying`): nothing of the batch is committed then, so
    /// its events come again, and the worker stops instead of retrying until it is killed.
    private func untilItSucceeds<T>(
        _ failure: Logger.Message, _ metadata: Logger.Metadata, _ operation: () async throws -> T
    ) async throws -> T {
        var delay: Duration = .milliseconds(100)
        while true {
            do {
                return try await operation()
            } catch {
                if Task.isShuttingDownGracefully { throw StoppedWhileRetrying(error: error) }
                logger.error(failure, metadata: metadata.merging(["error": "\(error)", "retry_in": "\(delay)"]) { _, new in new })
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted: return "not valid JSON"
        case DecodingError.keyNotFound(let key, _): return "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let ctx): return "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.valueNotFound(_, let ctx): return "null at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "undecodable: \(error)"
        }
    }
}

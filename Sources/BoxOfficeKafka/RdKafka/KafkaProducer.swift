import CRdKafka
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An idempotent Kafka producer (`enable.idempotence`, `acks=all`).
///
/// `send` enqueues with `rd_kafka_produce` (non-blocking, copies the bytes) and
/// suspends until the broker's delivery report. A dedicated thread runs
/// `rd_kafka_poll`, which serves delivery reports as they arrive and resumes the
/// awaiting callers directly. As a `Service`, `run()` flushes outstanding
/// messages on graceful shutdown.
public final class KafkaProducer: Service, Sendable {
    private let handle: RdKafkaHandle
    private let pollThread = NIOThreadPool(numberOfThreads: 1)
    private let blocking = NIOThreadPool(numberOfThreads: 1)
    private let stopping = StopFlag()
    private let logger: Logger
    /// The settings this producer was made with.
    public let configuration: KafkaProducerConfiguration

    /// Makes a producer and starts its poll thread.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.handle = try RdKafkaHandle(kind: .producer, properties: configuration.properties, logger: logger) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                // Runs on the poll thread, inside rd_kafka_poll.
                guard let message, let opaque = message.pointee._private else { return }
                let box = Unmanaged<DeliveryBox>.fromOpaque(opaque).takeRetainedValue()
                let m = message.pointee
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    box.continuation.resume(returning: KafkaDeliveryReport(topic: topic, partition: m.partition, offset: m.offset))
                } else {
                    box.continuation.resume(throwing: KafkaError(KafkaError.Code(rawValue: m.err.rawValue), RdKafkaHandle.describe(m.err)))
                }
            }
        }
        pollThread.start()
        blocking.start()
        let handle = self.handle
        let stopping = self.stopping
        pollThread.submit { _ in
            while !stopping.isSet {
                rd_kafka_poll(handle.rk, 100)
            }
            rd_kafka_poll(handle.rk, 0)
        }
    }

    private final class DeliveryBox {
        let continuation: CheckedContinuation<KafkaDeliveryReport, any Error>
        init(_ c: CheckedContinuation<KafkaDeliveryReport, any Error>) { continuation = c }
    }

    /// Produces one message and returns once the broker acknowledged it
    /// (or librdkafka gave up after `message.timeout.ms`).
    public func send(topic: String, key: [UInt8]?, value: [UInt8]) async throws -> KafkaDeliveryReport {
        if stopping.isSet { throw KafkaError(.closed, "producer is shut down") }
        let topicHandle = try handle.topic(topic)
        while true {
            do {
                return try await withCheckedThrowingContinuation { continuation in
                    let box = Unmanaged.passRetained(DeliveryBox(continuation)).toOpaque()
                    // Non-blocking: copies payload and key into librdkafka's queue (RD_KAFKA_MSG_F_COPY).
                    let rc = value.withUnsafeBytes { v in
                        withOptionalBytes(key) { k in
                            rd_kafka_produce(
                                topicHandle, -1 /* RD_KAFKA_PARTITION_UA */, 0x2 /* RD_KAFKA_MSG_F_COPY */,
                                UnsafeMutableRawPointer(mutating: v.baseAddress), v.count,
                                k?.baseAddress, k?.count ?? 0, box)
                        }
                    }
                    if rc != 0 {
                        Unmanaged<DeliveryBox>.fromOpaque(box).release()
                        let code = RdKafkaHandle.lastError
                        continuation.resume(throwing: KafkaError(code, "produce to \(topic) failed"))
                    }
                }
            } catch let error as KafkaError where error.code == .queueFull {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Asks the broker for metadata; throws when it does not answer within `timeout`.
    /// Returns the partition count of each topic.
    public func metadata(timeout: Duration) async throws -> [String: Int] {
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let handle = self.handle
        return try await blocking.runIfActive { try handle.metadata(timeoutMilliseconds: ms).partitions }
    }

    /// Waits (on a producer-owned thread) for outstanding messages; returns false on timeout.
    public func flush(timeout: Duration) async -> Bool {
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let handle = self.handle
        return (try? await blocking.runIfActive { rd_kafka_flush(handle.rk, ms) == RD_KAFKA_RESP_ERR_NO_ERROR }) ?? false
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Flushes for up to 10 s, fails what is still queued, and stops the threads.
    public func shutdown(flushTimeout: Duration = .seconds(10)) async {
        guard !stopping.isSet else { return }
        if !(await flush(timeout: flushTimeout)) {
            logger.warning("producer flush timed out; failing undelivered messages")
        }
        let handle = self.handle
        // Purge what is left so every awaiting caller gets a report, then let the poll thread serve them.
        _ = try? await blocking.runIfActive { rd_kafka_purge(handle.rk, 0x1 | 0x2) }
        stopping.set()
        try? await pollThread.shutdownGracefully()
        try? await blocking.shutdownGracefully()
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

/// A flag the poll thread reads; a class so the thread's closure need not capture the producer.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

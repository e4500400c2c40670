import BoxOfficeSupport
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
    /// Set by `abort()`: the producer sends nothing more.
    private let aborted = StopFlag()
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
                let slot = Unmanaged<DeliveryBatch.Slot>.fromOpaque(opaque).takeRetainedValue()
                let m = message.pointee
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    slot.delivered(.success(KafkaDeliveryReport(topic: topic, partition: m.partition, offset: m.offset)))
                } else {
                    slot.delivered(.failure(KafkaError(KafkaError.Code(rawValue: m.err.rawValue), RdKafkaHandle.describe(m.err))))
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

    /// Produces one message and returns once the broker acknowledged it
    /// (or librdkafka gave up after `message.timeout.ms`).
    public func send(topic: String, key: [UInt8]?, value: [UInt8]) async throws -> KafkaDeliveryReport {
        try await sendBatch(topic: topic, messages: [(key, value)])[0].get()
    }

    /// Produces every message of `messages` to `topic` and returns once each has its
    /// delivery report, in the order given: one suspension for the whole batch, however
    /// many messages, rather than a task and a wake-up per message.
    public func sendBatch(topic: String, messages: [(key: [UInt8]?, value: [UInt8])]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        if stopping.isSet || aborted.isSet { return messages.map { _ in .failure(KafkaError(.closed, "producer is shut down")) } }
        let topicHandle: OpaquePointer
        do { topicHandle = try handle.topic(topic) } catch {
            let e = error as? KafkaError ?? KafkaError(.configuration, "\(error)")
            return messages.map { _ in .failure(e) }
        }
        let batch = DeliveryBatch(count: messages.count)
        for (index, message) in messages.enumerated() {
            while true {
                let slot = Unmanaged.passRetained(DeliveryBatch.Slot(batch: batch, index: index)).toOpaque()
                let rc = message.value.withUnsafeBytes { v in
                    withOptionalBytes(message.key) { k in
                        rd_kafka_produce(
                            topicHandle, -1 /* RD_KAFKA_PARTITION_UA */, 0x2 /* RD_KAFKA_MSG_F_COPY */,
                            UnsafeMutableRawPointer(mutating: v.baseAddress), v.count,
                            k?.baseAddress, k?.count ?? 0, slot)
                    }
                }
                if rc == 0 { break }
                Unmanaged<DeliveryBatch.Slot>.fromOpaque(slot).release()
                let code = RdKafkaHandle.lastError
                if code == .queueFull, !stopping.isSet, !aborted.isSet {
                    // librdkafka's queue is full: let the poll thread drain it, then retry this message.
                    try? await Task.sleep(for: .milliseconds(5))
                    continue
                }
                batch.complete(index, .failure(KafkaError(code, "produce to \(topic) failed")))
                break
            }
        }
        // An abort() that came while this batch was being produced may have purged before
        // some of it was queued: purge again, so that every message has its report.
        if aborted.isSet { purgeNow() }
        return await batch.results()
    }

    /// Fails every message not yet delivered at once (their reports say "purged"), without
    /// waiting: `rd_kafka_purge` with the non-blocking flag, safe on any thread. Senders
    /// waiting in `sendBatch` resume as the poll thread serves the reports, and later
    /// batches fail at once. `shutdown` still frees the producer.
    public func abort() {
        aborted.set()
        purgeNow()
    }

    private func purgeNow() {
        guard !stopping.isSet else { return }
        _ = rd_kafka_purge(handle.rk, 0x1 | 0x2 | 0x4)  // queued, in flight, non-blocking
    }

    /// The producer's fatal error, if it has raised one (`rd_kafka_fatal_error`, which only
    /// reads a field: safe on any thread). A producer with one delivers nothing more.
    public var fatalError: KafkaError? {
        // The relay asks every round: the message buffer is made only once there is an error.
        guard rd_kafka_fatal_error(handle.rk, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle.rk, &buffer, buffer.count)
        return KafkaError(KafkaError.Code(rawValue: err.rawValue), RdKafkaHandle.string(buffer))
    }

    /// Asks the broker for metadata; throws when it does not answer within `timeout`.
    /// Returns the partition count of each topic.
    public func metadata(timeout: Duration) async throws -> [String: Int] {
        let ms = Int32(timeout.inMilliseconds)
        let handle = self.handle
        return try await blocking.runIfActive { try handle.metadata(timeoutMilliseconds: ms).partitions }
    }

    /// Waits (on a producer-owned thread) for outstanding messages; returns false on timeout.
    public func flush(timeout: Duration) async -> Bool {
        let ms = Int32(timeout.inMilliseconds)
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

/// The reports of one `sendBatch`, gathered until the last arrives; then the one waiting caller resumes.
private final class DeliveryBatch: Sendable {
    /// One message of the batch: its opaque pointer in librdkafka, told its report on the poll thread.
    final class Slot {
        let batch: DeliveryBatch
        let index: Int
        init(batch: DeliveryBatch, index: Int) { self.batch = batch; self.index = index }
        func delivered(_ result: Result<KafkaDeliveryReport, KafkaError>) { batch.complete(index, result) }
    }

    private struct State {
        var results: [Result<KafkaDeliveryReport, KafkaError>?]
        var remaining: Int
        var waiter: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, waiter: nil))
    }

    func complete(_ index: Int, _ result: Result<KafkaDeliveryReport, KafkaError>) {
        let done: (CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>, [Result<KafkaDeliveryReport, KafkaError>])? =
            state.withLock { s in
                guard s.results[index] == nil else { return nil }
                s.results[index] = result
                s.remaining -= 1
                guard s.remaining == 0, let waiter = s.waiter else { return nil }
                s.waiter = nil
                return (waiter, s.results.map { $0! })
            }
        if let (waiter, results) = done { waiter.resume(returning: results) }
    }

    func results() async -> [Result<KafkaDeliveryReport, KafkaError>] {
        await withCheckedContinuation { continuation in
            let ready: [Result<KafkaDeliveryReport, KafkaError>]? = state.withLock { s in
                if s.remaining == 0 { return s.results.map { $0! } }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// A flag the poll thread reads; a class so the thread's closure need not capture the producer.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

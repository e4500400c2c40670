import BoxOfficeSupport
import CRdKafka
import Foundation
import Logging
import NIOPosix
import Synchronization

/// A Kafka consumer in a consumer group with manual offset commits.
///
/// Every call into the consumer handle runs on one thread owned by this object,
/// one at a time: `poll`, `commit`, and the rebalance callback (which librdkafka
/// invokes from inside `rd_kafka_consumer_poll`). Because callers commit what
/// they processed before polling again, everything done is committed by the
/// time a rebalance revokes partitions; messages of revoked partitions still
/// in the batch being gathered are dropped, so another member reprocesses them.
public final class KafkaConsumer: Sendable {
    private let handle: RdKafkaHandle
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let logger: Logger
    private let closed = Atomic<Bool>(false)
    /// The settings this consumer was made with.
    public let configuration: KafkaConsumerConfiguration

    /// Makes the consumer and subscribes to the configured topics.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.handle = try RdKafkaHandle(kind: .consumer, properties: configuration.properties, logger: logger) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                // Runs on the consumer's thread, inside rd_kafka_consumer_poll.
                guard let rk, let opaque else { return }
                let context = Unmanaged<RdKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
                KafkaConsumer.rebalance(rk: rk, err: err, partitions: partitions, context: context)
            }
        }
        rd_kafka_poll_set_consumer(handle.rk)
        guard let list = rd_kafka_topic_partition_list_new(Int32(configuration.topics.count)) else {
            throw KafkaError(.configuration, "out of memory")
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in configuration.topics { rd_kafka_topic_partition_list_add(list, t, -1) }
        let err = rd_kafka_subscribe(handle.rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(KafkaError.Code(rawValue: err.rawValue), "subscribe: \(RdKafkaHandle.describe(err))")
        }
        thread.start()
    }

    private static func rebalance(
        rk: OpaquePointer, err: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, context: RdKafkaContext
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        var changed = Set<TopicPartition>()
        if let partitions {
            for i in 0..<Int(partitions.pointee.cnt) {
                let p = partitions.pointee.elems[i]
                changed.insert(TopicPartition(topic: String(cString: p.topic), partition: p.partition))
            }
        }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            context.logger.info("partitions assigned", metadata: ["partitions": "\(changed.map(\.partition).sorted())"])
            if cooperative {
                if let e = rd_kafka_incremental_assign(rk, partitions) { rd_kafka_error_destroy(e) }
                context.assignment.withLock { $0.formUnion(changed) }
            } else {
                rd_kafka_assign(rk, partitions)
                context.assignment.withLock { $0 = changed }
            }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            context.logger.info("partitions revoked", metadata: ["partitions": "\(changed.map(\.partition).sorted())"])
            context.pendingBatch.withLock { batch in
                batch.removeAll { changed.contains(TopicPartition(topic: $0.topic, partition: $0.partition)) }
            }
            if cooperative {
                if let e = rd_kafka_incremental_unassign(rk, partitions) { rd_kafka_error_destroy(e) }
                context.assignment.withLock { $0.subtract(changed) }
            } else {
                rd_kafka_assign(rk, nil)
                context.assignment.withLock { $0.removeAll() }
            }
        default:
            context.logger.error("rebalance error", metadata: ["error": "\(RdKafkaHandle.describe(err))"])
            rd_kafka_assign(rk, nil)
            context.assignment.withLock { $0.removeAll() }
        }
    }

    /// The partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { handle.context.assignment.withLock { $0 } }

    /// Gathers up to `maxMessages`, waiting at most `maxWait` in all.
    public func poll(maxMessages: Int, maxWait: Duration) async throws -> [KafkaMessage] {
        if closed.load(ordering: .relaxed) { throw KafkaError(.closed, "consumer is closed") }
        let handle = self.handle
        let logger = self.logger
        return try await thread.runIfActive {
            let deadline = ContinuousClock.now + maxWait
            handle.context.pendingBatch.withLock { $0.removeAll(keepingCapacity: true) }
            var count = 0
            // The topic's name, read once per topic handle rather than copied out for every message.
            var lastTopic: (handle: OpaquePointer, name: String)? = nil
            while count < maxMessages {
                let remaining = ContinuousClock.now.duration(to: deadline)
                if remaining <= .zero && count > 0 { break }
                let ms = max(0, Int32(remaining.inMilliseconds))
                guard let message = rd_kafka_consumer_poll(handle.rk, ms) else {
                    if remaining <= .zero { break } else { continue }
                }
                defer { rd_kafka_message_destroy(message) }
                let m = message.pointee
                if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                    logger.warning("consumer error", metadata: ["error": "\(RdKafkaHandle.describe(m.err))"])
                    if rd_kafka_fatal_error(handle.rk, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR {
                        throw KafkaError(.fatal, RdKafkaHandle.describe(m.err))
                    }
                    continue
                }
                let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
                let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
                let topic: String
                if let rkt = m.rkt {
                    if let last = lastTopic, last.handle == rkt { topic = last.name } else {
                        topic = String(cString: rd_kafka_topic_name(rkt))
                        lastTopic = (rkt, topic)
                    }
                } else {
                    topic = ""
                }
                handle.context.pendingBatch.withLock {
                    $0.append(KafkaMessage(topic: topic, partition: m.partition, offset: m.offset, key: key, value: value))
                }
                count += 1
                if remaining <= .zero { break }
            }
            return handle.context.pendingBatch.withLock { batch in
                defer { batch.removeAll() }
                return batch
            }
        }
    }

    /// Commits, synchronously, the offsets after the given messages (the
    /// highest per partition). Call it once their effects are durable.
    public func commit(_ messages: [KafkaMessage]) async throws {
        var next: [TopicPartition: Int64] = [:]
        for m in messages {
            let tp = TopicPartition(topic: m.topic, partition: m.partition)
            next[tp] = max(next[tp] ?? 0, m.offset + 1)
        }
        guard !next.isEmpty else { return }
        let offsets = next
        let handle = self.handle
        try await thread.runIfActive {
            guard let list = rd_kafka_topic_partition_list_new(Int32(offsets.count)) else {
                throw KafkaError(.configuration, "out of memory")
            }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for (tp, offset) in offsets {
                rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)?.pointee.offset = offset
            }
            let err = rd_kafka_commit(handle.rk, list, 0)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
                throw KafkaError(KafkaError.Code(rawValue: err.rawValue), "commit: \(RdKafkaHandle.describe(err))")
            }
        }
    }

    /// Consumer lag per assigned partition: high watermark minus position, from
    /// librdkafka's cached fetch state (no broker round trip).
    public func lag() async -> [TopicPartition: Int64] {
        let handle = self.handle
        let assigned = assignment
        return (try? await thread.runIfActive {
            var result: [TopicPartition: Int64] = [:]
            guard let list = rd_kafka_topic_partition_list_new(Int32(assigned.count)) else { return result }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for tp in assigned { rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition) }
            rd_kafka_position(handle.rk, list)
            for i in 0..<Int(list.pointee.cnt) {
                let p = list.pointee.elems[i]
                var low: Int64 = 0, high: Int64 = 0
                guard rd_kafka_get_watermark_offsets(handle.rk, p.topic, p.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                      high >= 0 else { continue }
                let position = p.offset >= 0 ? p.offset : low
                result[TopicPartition(topic: String(cString: p.topic), partition: p.partition)] = max(0, high - position)
            }
            return result
        }) ?? [:]
    }

    /// Stops the consumer without a LeaveGroup: the call in progress ends, the thread stops,
    /// and the handle is destroyed with `RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE`. The broker
    /// then expires this member after `session.timeout.ms` and gives its partitions to the
    /// others, as it does when a member crashes. Commit what was processed first.
    ///
    /// The stack's broker (tansu 0.6) keeps a member that sends LeaveGroup while the group
    /// rebalances (another member joining, or this one not yet assigned) as the group's
    /// leader for good, so that no member is assigned a partition again until the broker
    /// restarts. A member can't know that a rebalance has just begun, so none leaves: a
    /// handover waits out the session (6 s by default) instead.
    public func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        try? await thread.shutdownGracefully()
        let handle = self.handle
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                handle.destroy(flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
                done.resume()
            }
        }
    }
}

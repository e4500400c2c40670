// Every librdkafka call of BoxOffice lives in this folder. Which thread runs
// what is stated at each call: blocking calls (poll, flush, commit, metadata,
// close) run only on threads the wrappers own, never on an event loop or on
// Swift's cooperative pool.

import CRdKafka
import Foundation
import Logging
import Synchronization

/// State reachable from librdkafka's C callbacks through the handle's opaque pointer.
final class RdKafkaContext: Sendable {
    let logger: Logger
    /// Messages gathered by the poll in progress; the rebalance callback drops
    /// those of revoked partitions so they are not processed after losing them.
    let pendingBatch = Mutex<[KafkaMessage]>([])
    /// The partitions currently assigned to this consumer.
    let assignment = Mutex<Set<TopicPartition>>([])

    init(logger: Logger) { self.logger = logger }
}

/// A topic and a partition.
public struct TopicPartition: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
}

/// Owns one `rd_kafka_t` and its context; destroys them in `deinit`.
///
/// `@unchecked Sendable`: librdkafka handles are thread safe for the calls we
/// make from several threads (produce, poll, metadata); the topic cache is
/// protected by a mutex, and everything else is immutable.
final class RdKafkaHandle: @unchecked Sendable {
    let rk: OpaquePointer
    let context: RdKafkaContext
    private let contextPointer: UnsafeMutableRawPointer
    private let topics = Mutex<[String: OpaquePointer]>([:])
    private let destroyed = Atomic<Bool>(false)

    enum Kind { case producer, consumer }

    /// Creates the handle; on failure everything allocated so far is freed.
    init(kind: Kind, properties: [String: String], logger: Logger, configure: (OpaquePointer) -> Void = { _ in }) throws {
        try KafkaLibrary.requireSupportedVersion()
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(.configuration, "rd_kafka_conf_new failed") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration, "\(key): \(Self.string(errstr))")
            }
        }
        let context = RdKafkaContext(logger: logger)
        let pointer = Unmanaged.passRetained(context).toOpaque()
        rd_kafka_conf_set_opaque(conf, pointer)
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let context = Unmanaged<RdKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
            let text = message.map { String(cString: $0) } ?? ""
            let fac = facility.map { String(cString: $0) } ?? ""
            context.logger.log(level: RdKafkaHandle.logLevel(syslog: level), "\(text)", metadata: ["librdkafka": "\(fac)"])
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<RdKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
            context.logger.warning("kafka client error", metadata: [
                "code": "\(err)", "reason": "\(reason.map { String(cString: $0) } ?? "")",
            ])
        }
        configure(conf)
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            Unmanaged<RdKafkaContext>.fromOpaque(pointer).release()
            throw KafkaError(.configuration, Self.string(errstr))
        }
        self.rk = rk
        self.context = context
        self.contextPointer = pointer
    }

    /// `rd_kafka_destroy` blocks until librdkafka's threads have stopped, so it
    /// runs on a thread of its own, never on the thread (maybe an event loop or
    /// the cooperative pool) that happened to drop the last reference. A handle
    /// already destroyed by `destroy(flags:)` only releases its context.
    deinit {
        guard !destroyed.load(ordering: .acquiring) else {
            Unmanaged<RdKafkaContext>.fromOpaque(contextPointer).release()
            return
        }
        let doomed = Doomed(rk: rk, topics: topics.withLock { Array($0.values) }, context: contextPointer)
        Thread.detachNewThread {
            Self.destroy(doomed.rk, topics: doomed.topics, flags: 0)
            Unmanaged<RdKafkaContext>.fromOpaque(doomed.context).release()
        }
    }

    /// Destroys the handle now, with `rd_kafka_destroy_flags`, instead of when the last
    /// reference goes. Nothing may use the handle afterwards. Blocks until librdkafka's
    /// threads have stopped: run it on a thread of its own.
    func destroy(flags: Int32) {
        guard !destroyed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Self.destroy(rk, topics: topics.withLock { Array($0.values) }, flags: flags)
    }

    /// The one teardown of the C handles: the cached topics, then the handle (flags 0 is `rd_kafka_destroy`).
    private static func destroy(_ rk: OpaquePointer, topics: [OpaquePointer], flags: Int32) {
        topics.forEach { rd_kafka_topic_destroy($0) }
        rd_kafka_destroy_flags(rk, flags)
    }

    /// The C handles of a destroyed wrapper, on their way to the destroying thread.
    /// `@unchecked Sendable`: the wrapper is gone, so that thread is their only user.
    private struct Doomed: @unchecked Sendable {
        let rk: OpaquePointer
        let topics: [OpaquePointer]
        let context: UnsafeMutableRawPointer
    }

    /// A cached topic handle for producing.
    func topic(_ name: String) throws -> OpaquePointer {
        try topics.withLock { cache in
            if let t = cache[name] { return t }
            guard let t = rd_kafka_topic_new(rk, name, nil) else {
                throw KafkaError(Self.lastError, "cannot create topic handle for \(name)")
            }
            cache[name] = t
            return t
        }
    }

    /// Blocking metadata request for all topics; returns broker count and
    /// partition counts by topic. Run on a wrapper-owned thread.
    func metadata(timeoutMilliseconds: Int32) throws -> (brokers: Int, partitions: [String: Int]) {
        var md: UnsafePointer<rd_kafka_metadata>? = nil
        let err = rd_kafka_metadata(rk, 1, nil, &md, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
            throw KafkaError(KafkaError.Code(rawValue: err.rawValue), Self.describe(err))
        }
        defer { rd_kafka_metadata_destroy(md) }
        var partitions: [String: Int] = [:]
        for i in 0..<Int(md.pointee.topic_cnt) {
            let t = md.pointee.topics[i]
            partitions[String(cString: t.topic)] = Int(t.partition_cnt)
        }
        return (Int(md.pointee.broker_cnt), partitions)
    }

    /// A NUL-terminated C buffer as a String.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static var lastError: KafkaError.Code { KafkaError.Code(rawValue: rd_kafka_last_error().rawValue) }

    static func describe(_ err: rd_kafka_resp_err_t) -> String { String(cString: rd_kafka_err2str(err)) }

    static func logLevel(syslog: Int32) -> Logger.Level {
        switch syslog {
        case ...3: return .error
        case 4: return .warning
        case 5, 6: return .info
        default: return .debug
        }
    }
}

/// The librdkafka this process runs against.
public enum KafkaLibrary {
    /// e.g. `2.16.1`.
    public static var version: String { String(cString: rd_kafka_version_str()) }

    /// `0xMMmmrrxx` as librdkafka encodes it.
    public static var versionNumber: Int { Int(rd_kafka_version()) }

    /// The oldest librdkafka that reads the Tansu broker's ApiVersions reply correctly.
    public static let minimumVersion = (major: 2, minor: 1)

    /// Throws `.unsupportedVersion` with an actionable message when librdkafka is too old.
    public static func requireSupportedVersion() throws {
        let major = (versionNumber >> 24) & 0xff
        let minor = (versionNumber >> 16) & 0xff
        if (major, minor) < minimumVersion {
            throw KafkaError(.unsupportedVersion, """
                librdkafka \(version) is loaded but BoxOffice needs >= \(minimumVersion.major).\(minimumVersion.minor); \
                run scripts/install.sh and start with LD_LIBRARY_PATH from .run/env (it points at the confluent-kafka wheel's librdkafka)
                """)
        }
    }
}

/// Settings shared by producers and consumers.
public struct KafkaConfiguration: Sendable {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    public var brokers: String
    /// `client.id`. Default `boxoffice`.
    public var clientID: String = "boxoffice"
    /// Any other librdkafka property, applied last (so it wins).
    public var extraProperties: [String: String] = [:]

    public init(brokers: String) { self.brokers = brokers }

    var baseProperties: [String: String] {
        ["bootstrap.servers": brokers, "client.id": clientID]
    }
}

/// Settings of an idempotent producer.
public struct KafkaProducerConfiguration: Sendable {
    /// Connection settings.
    public var kafka: KafkaConfiguration
    /// `linger.ms`: how long to wait to fill a batch. Default 25 ms: in a rush the
    /// relay's batches reach the broker fuller, which costs the broker, the
    /// worker and PostgreSQL less per event, for 25 ms more of confirm → row lag.
    public var lingerMilliseconds: Int = 25
    /// `message.timeout.ms`: how long librdkafka retries a message before
    /// reporting failure. Default 30 s.
    public var messageTimeoutMilliseconds: Int = 30_000
    /// `compression.codec` of the producer's batches. Default `lz4`: the broker
    /// stores and serves the batches compressed, which costs it less CPU per event
    /// than plain JSON; consumers decompress transparently.
    public var compression = "lz4"
    /// `queue.buffering.max.messages`. Default 100,000.
    public var maxQueuedMessages: Int = 100_000

    public init(kafka: KafkaConfiguration) { self.kafka = kafka }

    var properties: [String: String] {
        var p = kafka.baseProperties
        p["enable.idempotence"] = "true"
        p["acks"] = "all"
        p["linger.ms"] = String(lingerMilliseconds)
        p["compression.codec"] = compression
        p["message.timeout.ms"] = String(messageTimeoutMilliseconds)
        p["queue.buffering.max.messages"] = String(maxQueuedMessages)
        p.merge(kafka.extraProperties) { _, new in new }
        return p
    }
}

/// Settings of a consumer in a consumer group, with manual commits.
public struct KafkaConsumerConfiguration: Sendable {
    /// Connection settings.
    public var kafka: KafkaConfiguration
    /// `group.id`.
    public var groupID: String
    /// Topics to subscribe to.
    public var topics: [String]
    /// `auto.offset.reset` when the group has no committed offset. Default `earliest`.
    public var autoOffsetReset: String = "earliest"
    /// `session.timeout.ms`. Default 6,000 (a first assignment in about 3 s).
    public var sessionTimeoutMilliseconds: Int = 6_000
    /// `heartbeat.interval.ms`. Default 500.
    public var heartbeatIntervalMilliseconds: Int = 500
    /// `max.poll.interval.ms`: a member that does not poll for this long leaves
    /// the group; also how long a rebalance waits for members to rejoin, so a
    /// crashed member's partitions move on this quickly. Default 20,000.
    public var maxPollIntervalMilliseconds: Int = 20_000

    public init(kafka: KafkaConfiguration, groupID: String, topics: [String]) {
        self.kafka = kafka
        self.groupID = groupID
        self.topics = topics
    }

    var properties: [String: String] {
        var p = kafka.baseProperties
        p["group.id"] = groupID
        p["enable.auto.commit"] = "false"
        p["enable.auto.offset.store"] = "false"
        p["auto.offset.reset"] = autoOffsetReset
        p["session.timeout.ms"] = String(sessionTimeoutMilliseconds)
        p["heartbeat.interval.ms"] = String(heartbeatIntervalMilliseconds)
        p["max.poll.interval.ms"] = String(maxPollIntervalMilliseconds)
        p.merge(kafka.extraProperties) { _, new in new }
        return p
    }
}

/// A message read from Kafka.
public struct KafkaMessage: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
}

/// Where a produced message landed.
public struct KafkaDeliveryReport: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

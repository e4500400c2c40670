/// The one error type of the Kafka adapter. Callers never see librdkafka's C types.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// A librdkafka error code (`rd_kafka_resp_err_t`) as a Swift value.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The numeric code librdkafka uses.
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Not a broker error: invalid settings.
        public static let configuration = Code(rawValue: -10_000)
        /// Not a broker error: the client is closed.
        public static let closed = Code(rawValue: -10_001)
        /// librdkafka is too old to run BoxOffice.
        public static let unsupportedVersion = Code(rawValue: -10_002)

        /// `RD_KAFKA_RESP_ERR__MSG_TIMED_OUT`: the message was not delivered in `message.timeout.ms`.
        public static let messageTimedOut = Code(rawValue: -192)
        /// `RD_KAFKA_RESP_ERR__TRANSPORT`: broker connection failure.
        public static let transport = Code(rawValue: -195)
        /// `RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN`.
        public static let allBrokersDown = Code(rawValue: -187)
        /// `RD_KAFKA_RESP_ERR__TIMED_OUT`.
        public static let timedOut = Code(rawValue: -185)
        /// `RD_KAFKA_RESP_ERR__QUEUE_FULL`: the producer queue is full.
        public static let queueFull = Code(rawValue: -184)
        /// `RD_KAFKA_RESP_ERR__NO_OFFSET`: nothing to commit.
        public static let noOffset = Code(rawValue: -168)
        /// `RD_KAFKA_RESP_ERR__FATAL`: an idempotent-producer fatal error.
        public static let fatal = Code(rawValue: -150)
        /// `RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER`: the broker lost the producer's sequence.
        public static let outOfOrderSequenceNumber = Code(rawValue: 45)
        /// `RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH`.
        public static let invalidProducerEpoch = Code(rawValue: 47)
        /// `RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID`: the broker no longer knows the producer (it lost its state).
        public static let unknownProducerID = Code(rawValue: 59)
        /// `RD_KAFKA_RESP_ERR_PRODUCER_FENCED`: the broker gave the producer's id to another producer.
        public static let producerFenced = Code(rawValue: 90)

        /// Whether the error says the producer's idempotence state is gone (a broker that lost
        /// its log, a fatal error): only a new producer delivers again.
        public var meansProducerStateLost: Bool {
            [.fatal, .outOfOrderSequenceNumber, .invalidProducerEpoch, .unknownProducerID, .producerFenced].contains(self)
        }

        public var description: String { "\(rawValue)" }
    }

    /// The error code.
    public var code: Code
    /// librdkafka's or our own message.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "kafka error \(code.rawValue): \(message)" }
}

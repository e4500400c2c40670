import Logging

/// Checks that the brokers answer, for readiness and start-up.
///
/// Uses a producer handle that never produces; its metadata requests run on the
/// producer's own blocking thread.
public final class KafkaProbe: Sendable {
    private let producer: KafkaProducer

    public init(kafka: KafkaConfiguration, logger: Logger) throws {
        var configuration = KafkaProducerConfiguration(kafka: kafka)
        configuration.kafka.clientID = kafka.clientID + "-probe"
        self.producer = try KafkaProducer(configuration: configuration, logger: logger)
    }

    /// Partition counts by topic; throws when no broker answers within `timeout`.
    public func check(timeout: Duration) async throws -> [String: Int] {
        try await producer.metadata(timeout: timeout)
    }

    public func shutdown() async { await producer.shutdown(flushTimeout: .zero) }
}

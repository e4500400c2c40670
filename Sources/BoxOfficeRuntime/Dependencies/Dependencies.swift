import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficePostgres
import BoxOfficeRedis
import Logging
import ServiceLifecycle

/// The long-lived clients of a process, made from the settings.
public struct Dependencies: Sendable {
    public var redis: RedisClient
    public var postgres: PostgresClient
    public var kafkaProbe: KafkaProbe

    /// Makes the clients (no connection is opened yet).
    public init(settings: BoxOfficeSettings, process: String, logger: Logger) throws {
        self.redis = RedisClient(configuration: try settings.redis(), logger: logger)
        self.postgres = PostgresClient(configuration: settings.postgres(applicationName: process), logger: logger)
        self.kafkaProbe = try KafkaProbe(kafka: settings.kafka(clientID: process), logger: logger)
        self.brokers = settings.kafkaBrokers
        self.topic = settings.kafkaTopic
    }

    private var brokers: String
    private var topic: String

    /// The Redis inventory with the settings' hold TTL, retention, quantity cap, reserve batch
    /// limit and reserve rate.
    public func inventory(settings: BoxOfficeSettings, redis: RedisClient? = nil) -> RedisInventory {
        var c = InventoryConfiguration()
        c.holdTTL = .seconds(settings.holdTTLSeconds)
        c.retention = .seconds(settings.reservationRetentionSeconds)
        c.maxQuantityPerRequest = settings.maxQuantityPerRequest
        c.reserveBatchLimit = settings.reserveBatchLimit
        c.reserveRate = (interval: .microseconds(1_000_000 / settings.reservePerSecond), burst: settings.reserveBurst)
        return RedisInventory(redis: redis ?? self.redis, configuration: c)
    }

    /// Redis, PostgreSQL and Kafka checks, in that order.
    public var checks: [DependencyCheck] {
        [.redis(redis), .postgres(postgres), .kafka(kafkaProbe, brokers: brokers, requiredTopics: [topic])]
    }
}

/// Closes the PostgreSQL pool and the Kafka probe on graceful shutdown, after the services
/// listed after it (they stop first) have stopped using them.
public struct ClientShutdown: Service {
    public init(dependencies: Dependencies) { self.dependencies = dependencies }

    let dependencies: Dependencies

    public func run() async throws {
        try? await gracefulShutdown()
        await dependencies.kafkaProbe.shutdown()
        await dependencies.postgres.shutdown()
    }
}

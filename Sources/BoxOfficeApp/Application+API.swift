import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficePostgres
import BoxOfficeRedis
import Hummingbird
import Logging
import Metrics
import Prometheus
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
    }

    private var brokers: String

    /// The Redis inventory with the settings' hold TTL and quantity cap.
    public func inventory(settings: BoxOfficeSettings) -> RedisInventory {
        var c = InventoryConfiguration()
        c.holdTTL = .seconds(settings.holdTTLSeconds)
        c.maxQuantityPerRequest = settings.maxQuantityPerRequest
        return RedisInventory(redis: redis, configuration: c)
    }

    /// Redis, PostgreSQL and Kafka checks, in that order.
    public var checks: [DependencyCheck] {
        [.redis(redis), .postgres(postgres), .kafka(kafkaProbe, brokers: brokers)]
    }
}

/// Builds the HTTP API process: its router and its services.
///
/// Services are listed dependencies-first; shutdown runs in reverse.
public func buildAPIApplication(
    settings: BoxOfficeSettings, dependencies: Dependencies, registry: PrometheusCollectorRegistry, logger: Logger
) -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    OperationalRoutes<BasicRequestContext>(
        service: "boxoffice-api", readiness: Readiness(checks: dependencies.checks), registry: registry
    ).register(on: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.apiHost, port: settings.apiPort), serverName: "boxoffice-api"),
        logger: logger)
    let sweeper = HoldSweeper(
        inventory: dependencies.inventory(settings: settings), expiredCounter: Counter(label: "holds_expired_total"),
        logger: logger)
    app.addServices(dependencies.redis, sweeper, ClientShutdown(dependencies: dependencies))
    return app
}

/// Builds the worker process's HTTP side (health, readiness, metrics) and its services.
public func buildWorkerApplication(
    settings: BoxOfficeSettings, dependencies: Dependencies, registry: PrometheusCollectorRegistry, logger: Logger
) -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    OperationalRoutes<BasicRequestContext>(
        service: "boxoffice-worker", readiness: Readiness(checks: dependencies.checks), registry: registry
    ).register(on: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.workerHost, port: settings.workerPort), serverName: "boxoffice-worker"),
        logger: logger)
    app.addServices(dependencies.redis, ClientShutdown(dependencies: dependencies))
    return app
}

/// Closes the PostgreSQL pool and the Kafka probe on graceful shutdown.
struct ClientShutdown: Service {
    let dependencies: Dependencies

    func run() async throws {
        try? await gracefulShutdown()
        await dependencies.kafkaProbe.shutdown()
        await dependencies.postgres.shutdown()
    }
}

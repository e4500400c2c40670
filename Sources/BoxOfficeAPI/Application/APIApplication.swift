import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficePersistence
import BoxOfficePipeline
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeRuntime
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// Builds the HTTP API process: its router and its services.
///
/// Services are listed dependencies-first; shutdown runs in reverse.
public func buildAPIApplication(
    settings: BoxOfficeSettings, dependencies: Dependencies, registry: PrometheusCollectorRegistry, logger: Logger
) async throws -> some ApplicationProtocol {
    let router = await buildAPIRouter(settings: settings, dependencies: dependencies, registry: registry, logger: logger)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.apiHost, port: settings.apiPort), serverName: "boxoffice-api"),
        logger: logger)
    // Background work (the sweeper's batches, the repair loop's reads, the reporter's samples) has a
    // Redis connection of its own, so no request's command waits behind it on a pipelined connection.
    var backgroundRedis = try settings.redis()
    backgroundRedis.poolSize = 1
    let background = RedisClient(configuration: backgroundRedis, logger: logger)
    let sweeper = HoldSweeper(
        inventory: dependencies.inventory(settings: settings, redis: background), expiredCounter: Counter(label: "holds_expired_total"),
        logger: logger)
    var relayConfiguration = OutboxRelay.Configuration()
    relayConfiguration.leaseTime = .milliseconds(settings.relayLeaseMs)
    relayConfiguration.topic = settings.kafkaTopic
    relayConfiguration.stallTimeout = .seconds(settings.relayStallSeconds)
    let relay = OutboxRelay(
        redis: dependencies.redis, producer: KafkaProducerConfiguration(kafka: settings.kafka(clientID: "boxoffice-api-relay")),
        configuration: relayConfiguration, logger: logger)
    var repairConfiguration = PipelineRepair.Configuration()
    repairConfiguration.grace = .seconds(settings.repairGraceSeconds)
    repairConfiguration.leaseTime = .milliseconds(settings.relayLeaseMs)
    let repair = PipelineRepair(redis: background, db: dependencies.postgres, configuration: repairConfiguration, logger: logger)
    let reporter = MetricsReporter(redis: background, postgres: dependencies.postgres, reportStock: true, interval: .seconds(2), logger: logger)
    let admitter = QueueAdmitter(inventory: dependencies.inventory(settings: settings, redis: background), logger: logger)
    // Services stop in the reverse of this order, once the HTTP server has: the clients last.
    app.addServices(ClientShutdown(dependencies: dependencies), dependencies.redis, background, relay, repair, sweeper, admitter, reporter)
    return app
}

/// The API's routes and middleware, without the server (tests use it directly).
public func buildAPIRouter(
    settings: BoxOfficeSettings, dependencies: Dependencies, registry: PrometheusCollectorRegistry, logger: Logger
) async -> Router<BoxOfficeRequestContext> {
    var tokens = await TokenIssuer(secret: settings.jwtSecret)
    tokens.lifetime = .seconds(settings.tokenTTLSeconds)
    let inventory = dependencies.inventory(settings: settings)
    let repositories = PostgresRepositories(db: dependencies.postgres)
    let limiter = RateLimiter(redis: dependencies.redis, prefix: settings.rateLimitPrefix)

    let router = Router(context: BoxOfficeRequestContext.self)
    router.add(middleware: RequestMiddleware())
    if !settings.corsOrigins.isEmpty {
        // The filter wraps the CORS middleware so it sees (and strips) its headers for other origins.
        router.add(middleware: CORSOriginFilter(allowed: Set(settings.corsOrigins)))
        router.add(middleware: CORSMiddleware(
            allowOrigin: .originBased,
            allowHeaders: [.authorization, .contentType, .idempotencyKey, .requestID, .admissionToken],
            allowMethods: [.get, .post, .put, .delete, .options],
            maxAge: .seconds(600)))
    }
    let allowed = AllowedMethods()
    router.add(middleware: ProblemMiddleware(allowed: allowed))
    router.add(middleware: AuthenticationMiddleware(tokens: tokens))

    OperationalRoutes<BoxOfficeRequestContext>(
        service: "boxoffice-api", readiness: Readiness(checks: dependencies.checks), registry: registry
    ).register(on: router)
    AccountRoutes(
        users: repositories, tokens: tokens, limiter: limiter,
        signUpRule: RateLimitRule(name: "signup", limit: settings.signUpPerMinute, period: .seconds(60)),
        loginRule: RateLimitRule(name: "login", limit: settings.loginPerMinute, period: .seconds(60))
    ).register(on: router)
    let payments = SimulatedPaymentGateway(redis: dependencies.redis, logger: logger)
    let catalogRoutes = CatalogRoutes(catalog: repositories, inventory: inventory, defaultCurrency: settings.defaultCurrency, payments: payments)
    catalogRoutes.register(on: router)
    let seatMaps = SeatMaps(inventory: inventory)
    SeatRoutes(catalog: repositories, inventory: inventory, seatMaps: seatMaps, catalogCache: catalogRoutes).register(on: router)
    ReservationRoutes(
        inventory: inventory, payments: payments, bookings: repositories, catalog: repositories, tokens: tokens, seatMaps: seatMaps
    ).register(on: router)
    QueueRoutes(
        inventory: inventory, catalog: repositories, tokens: tokens, limiter: limiter,
        joinRule: RateLimitRule(name: "queue-join", limit: settings.queueJoinPerMinute, period: .seconds(60))
    ).register(on: router)
    DocsRoutes(maxQuantityPerRequest: settings.maxQuantityPerRequest).register(on: router)
    AppRoutes().register(on: router)
    allowed.load(from: router)
    return router
}

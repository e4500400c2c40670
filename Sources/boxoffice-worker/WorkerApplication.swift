import BoxOfficeHTTP
import BoxOfficeKafka
import BoxOfficePipeline
import BoxOfficeRuntime
import Hummingbird
import Logging
import Prometheus

/// Builds the worker process: the booking consumer, and an HTTP side for
/// health, readiness and metrics.
func buildWorkerApplication(
    settings: BoxOfficeSettings, dependencies: Dependencies, registry: PrometheusCollectorRegistry, logger: Logger
) async throws -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    OperationalRoutes<BasicRequestContext>(
        service: "boxoffice-worker", readiness: Readiness(checks: dependencies.checks), registry: registry
    ).register(on: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.workerHost, port: settings.workerPort), serverName: "boxoffice-worker"),
        logger: logger)
    let deadLetters = try KafkaProducer(
        configuration: KafkaProducerConfiguration(kafka: settings.kafka(clientID: "boxoffice-worker-dlq")), logger: logger)
    let consumer = try KafkaConsumer(
        configuration: KafkaConsumerConfiguration(kafka: settings.kafka(clientID: "boxoffice-worker"), groupID: settings.workerGroup, topics: [settings.kafkaTopic]),
        logger: logger)
    var configuration = BookingConsumer.Configuration()
    configuration.maxBatch = settings.workerBatchSize
    configuration.maxWait = .milliseconds(settings.workerBatchWaitMs)
    configuration.deadLetterTopic = settings.kafkaDeadLetterTopic
    let bookings = BookingConsumer(consumer: consumer, deadLetters: deadLetters, db: dependencies.postgres, configuration: configuration, logger: logger)
    let reporter = MetricsReporter(redis: dependencies.redis, postgres: dependencies.postgres, reportStock: false, interval: .seconds(2), logger: logger)
    // Services stop in the reverse of this order: the consumer finishes and commits the batch in
    // hand while the PostgreSQL pool and the dead-letter producer are still open.
    app.addServices(ClientShutdown(dependencies: dependencies), dependencies.redis, deadLetters, bookings, reporter)
    return app
}

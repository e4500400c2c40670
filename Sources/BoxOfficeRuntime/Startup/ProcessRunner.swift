import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import Synchronization

/// The start of both server executables: settings, logging, metrics, start-up
/// checks, then the application until a signal stops it.
public enum ProcessRunner {
    private static let executorOnEventLoops = Atomic<Bool>(false)

    /// Makes SwiftNIO's event loops Swift concurrency's global executor, so that a request's
    /// handler, its Redis write and the resumption after the reply run on one thread instead
    /// of hopping between the cooperative pool and an event loop. Nothing in BoxOffice blocks
    /// either (bcrypt, libpq and librdkafka run on threads of their own). Call it first thing
    /// on the main thread, before any `await`. `BOXOFFICE_NIO_EXECUTOR=0` keeps Swift's pool.
    public static func runConcurrencyOnEventLoops() {
        guard ProcessInfo.processInfo.environment["BOXOFFICE_NIO_EXECUTOR"] != "0" else { return }
        let installed = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        executorOnEventLoops.store(installed, ordering: .relaxed)
    }

    /// Runs the process named `name`, built by `build`; `allocator` says which malloc serves it (logged).
    public static func run<App: ApplicationProtocol>(
        name: String,
        allocator: String,
        build: (BoxOfficeSettings, Dependencies, PrometheusCollectorRegistry, Logger) async throws -> App
    ) async {
        let settings: BoxOfficeSettings
        do {
            settings = try BoxOfficeSettings.load()
        } catch {
            Startup.fail(name, "invalid settings: \(error)")
        }
        let logger = LoggingSetup.bootstrap(label: name, level: settings.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        Startup.logEnvironment(settings, process: name, logger: logger)
        logger.info("runtime", metadata: [
            "concurrency": executorOnEventLoops.load(ordering: .relaxed) ? "SwiftNIO event loops" : "Swift's default pool",
            "allocator": "\(allocator)",
        ])

        let dependencies: Dependencies
        do {
            dependencies = try Dependencies(settings: settings, process: name, logger: logger)
        } catch {
            Startup.fail(name, "\(error)")
        }
        await Startup.requireDependencies(dependencies.checks, settings: settings, process: name, logger: logger)
        do {
            try await build(settings, dependencies, registry, logger).runService()
        } catch {
            Startup.fail(name, "\(error)")
        }
    }
}

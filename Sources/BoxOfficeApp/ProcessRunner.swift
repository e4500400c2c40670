import Hummingbird
import Logging
import Metrics
import Prometheus

/// The start of both server executables: settings, logging, metrics, start-up
/// checks, then the application until a signal stops it.
public enum ProcessRunner {
    /// Runs the process named `name`, built by `build`.
    public static func run<App: ApplicationProtocol>(
        name: String,
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

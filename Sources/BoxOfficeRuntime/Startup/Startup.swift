import BoxOfficeKafka
import BoxOfficePostgres
import BoxOfficeRedis
import Foundation
import Logging

/// What every executable does before serving: log its settings and the C
/// libraries' versions, then wait (bounded) for each server it needs.
public enum Startup {
    /// Logs the settings (secrets redacted) and library versions.
    public static func logEnvironment(_ settings: BoxOfficeSettings, process: String, logger: Logger) {
        var metadata: Logger.Metadata = [:]
        for (k, v) in settings.redactedDescription { metadata[k] = "\(v)" }
        logger.info("\(process) starting", metadata: metadata)
        logger.info("client libraries", metadata: [
            "librdkafka": "\(KafkaLibrary.version)",
            "hiredis": "\(HiredisInfo.version)",
            "libpq": "\(LibPQInfo.version)",
        ])
    }

    /// Checks librdkafka's version, then retries every check until it passes or
    /// `settings.startupTimeoutSeconds` run out. On failure prints one
    /// actionable line to stderr and exits with status 1.
    public static func requireDependencies(
        _ checks: [DependencyCheck], settings: BoxOfficeSettings, process: String, logger: Logger
    ) async {
        do {
            try KafkaLibrary.requireSupportedVersion()
        } catch let error as KafkaError {
            fail(process, error.message)
        } catch {
            fail(process, "\(error)")
        }
        let deadline = ContinuousClock.now + .seconds(settings.startupTimeoutSeconds)
        for check in checks {
            var attempt = 0
            while true {
                attempt += 1
                do {
                    try await withDeadline(.seconds(2)) { try await check.probe(.seconds(2)) }
                    logger.info("\(check.name) reachable", metadata: ["endpoint": "\(check.endpoint)", "attempts": "\(attempt)"])
                    break
                } catch {
                    if ContinuousClock.now >= deadline {
                        fail(process, "cannot reach \(check.name) at \(check.endpoint) after \(settings.startupTimeoutSeconds) s (\(describe(error))); "
                            + "start it (make up) or fix \(variable(for: check.name))")
                    }
                    logger.debug("waiting for \(check.name)", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(min(1000, 100 * attempt)))
                }
            }
        }
    }

    static func variable(for name: String) -> String {
        switch name {
        case "redis": return "BOXOFFICE_REDIS_URL"
        case "postgres": return "BOXOFFICE_DATABASE_URL"
        case "kafka": return "BOXOFFICE_KAFKA_BROKERS"
        default: return "the settings"
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as RedisError: return e.underlying.map { "\(e.message): \($0)" } ?? e.message
        case let e as PostgresError: return e.message
        case let e as KafkaError: return e.message
        case is DeadlineExceeded: return "no answer"
        default: return "\(error)"
        }
    }

    /// Prints `process: error: message` on stderr and exits 1.
    public static func fail(_ process: String, _ message: String) -> Never {
        LogSink.standardError.flush()
        FileHandle.standardError.write(Data("\(process): error: \(message)\n".utf8))
        exit(1)
    }
}

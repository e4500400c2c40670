import BoxOfficeKafka
import BoxOfficePostgres
import BoxOfficeRedis
import Synchronization

/// One dependency the process needs: a name and a probe.
public struct DependencyCheck: Sendable {
    /// `redis`, `postgres`, `kafka`.
    public var name: String
    /// Where it is, for messages.
    public var endpoint: String
    /// Throws when the dependency does not answer.
    public var probe: @Sendable (Duration) async throws -> Void

    public init(name: String, endpoint: String, probe: @escaping @Sendable (Duration) async throws -> Void) {
        self.name = name
        self.endpoint = endpoint
        self.probe = probe
    }
}

extension DependencyCheck {
    /// Redis `PING`; on a cluster, also every slot served and every primary answering.
    public static func redis(_ client: RedisClient) -> DependencyCheck {
        DependencyCheck(name: "redis", endpoint: client.configuration.seeds.map(\.description).joined(separator: ",")) { timeout in
            try await client.checkReady(timeout: timeout)
        }
    }

    /// PostgreSQL `SELECT 1`.
    public static func postgres(_ client: PostgresClient) -> DependencyCheck {
        DependencyCheck(name: "postgres", endpoint: client.configuration.redactedURL) { _ in
            let rows = try await client.query("SELECT 1")
            guard try rows.first?.int(0) == 1 else { throw PostgresError(.decoding, "SELECT 1 returned no row") }
        }
    }

    /// Kafka metadata; also requires the `reservations` topic.
    public static func kafka(_ probe: KafkaProbe, brokers: String, requiredTopics: [String] = ["reservations"]) -> DependencyCheck {
        DependencyCheck(name: "kafka", endpoint: brokers) { timeout in
            let topics = try await probe.check(timeout: timeout)
            for t in requiredTopics where topics[t] == nil {
                throw KafkaError(.configuration, "topic \(t) does not exist")
            }
        }
    }
}

/// Runs dependency checks concurrently, each with its own deadline.
public struct Readiness: Sendable {
    public var checks: [DependencyCheck]
    /// Deadline of each check. Default 1 s.
    public var timeout: Duration

    public init(checks: [DependencyCheck], timeout: Duration = .seconds(1)) {
        self.checks = checks
        self.timeout = timeout
    }

    /// The failed checks by name, with a short reason; empty when all are ready.
    public func failures() async -> [String: String] {
        await withTaskGroup(of: (String, String?).self) { group in
            for check in checks {
                group.addTask { [timeout] in
                    do {
                        try await withDeadline(timeout) { try await check.probe(timeout) }
                        return (check.name, nil)
                    } catch {
                        return (check.name, Self.reason(error))
                    }
                }
            }
            var failed: [String: String] = [:]
            for await (name, reason) in group { if let reason { failed[name] = reason } }
            return failed
        }
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let e as RedisError: return e.code == .timeout ? "timeout" : "\(e.code)"
        case let e as PostgresError: return e.code == .server ? "error \(e.sqlState ?? "")" : "\(e.code)"
        case let e as KafkaError: return e.message
        case is DeadlineExceeded: return "timeout"
        default: return "unavailable"
        }
    }
}

/// Thrown by `withDeadline` when the body took too long.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var description: String { "deadline exceeded" }
}

/// Runs `body`, throwing `DeadlineExceeded` if it has not finished after `timeout`.
///
/// Returns at the deadline even if `body` is stuck in a blocking call that
/// ignores cancellation (a libpq connect on its thread, say): the body is
/// cancelled and left to finish on its own; its result is dropped.
public func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = OnceFlag()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        @Sendable func finish(_ result: Result<T, any Error>) {
            if once.claim() { continuation.resume(with: result) }
        }
        let work = Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: timeout)
            finish(.failure(DeadlineExceeded()))
            work.cancel()
        }
    }
}

/// True for the first caller of `claim()` only.
final class OnceFlag: Sendable {
    private let claimed = Mutex<Bool>(false)
    func claim() -> Bool { claimed.withLock { done in defer { done = true }; return !done } }
}

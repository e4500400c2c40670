import BoxOfficeAPI
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficeRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@Suite("Readiness against real servers")
struct ReadinessTests {
    @Test(.timeLimit(.minutes(2)))
    func readyNamesRedisWhileItIsDownAndRecovers() async throws {
        let redis = try RedisServerProcess()
        try await redis.start()
        var values = ProcessInfo.processInfo.environment
        guard values["BOXOFFICE_DATABASE_URL"] != nil else { throw TestStackMissing() }
        values["BOXOFFICE_REDIS_URL"] = redis.url
        let settings = try BoxOfficeSettings(values: values)
        let dependencies = try Dependencies(settings: settings, process: "readiness-test", logger: TestStack.logger)
        let router = await buildAPIRouter(settings: settings, dependencies: dependencies, registry: PrometheusCollectorRegistry(), logger: TestStack.logger)
        let app = Application(router: router, logger: TestStack.logger)

        try await app.test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }

            redis.stop(kill: true)
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(body?["code"] as? String == "not_ready")
                #expect(body?["redis"] != nil, "names Redis")
                #expect(body?["postgres"] == nil && body?["kafka"] == nil, "and only Redis")
            }
            // Liveness does not depend on Redis.
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }

            try await redis.start()
            let recovered = try await eventually(timeout: .seconds(15), every: .milliseconds(200)) {
                try await client.execute(uri: "/ready", method: .get) { $0.status == .ok }
            }
            #expect(recovered, "/ready answers 200 again once Redis is back")
        }
        await dependencies.kafkaProbe.shutdown()
        await dependencies.postgres.shutdown()
        dependencies.redis.shutdown()
    }
}

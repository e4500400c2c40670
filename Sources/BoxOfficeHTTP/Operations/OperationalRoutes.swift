import BoxOfficeRuntime
import Foundation
import Hummingbird
import NIOCore
import Prometheus

/// `GET /health`, `GET /ready` and `GET /metrics`, served by both executables.
public struct OperationalRoutes<Context: RequestContext>: Sendable {
    /// The process name reported by `/health`.
    public var service: String
    /// What `/ready` checks.
    public var readiness: Readiness
    /// What `/metrics` emits.
    public var registry: PrometheusCollectorRegistry

    public init(service: String, readiness: Readiness, registry: PrometheusCollectorRegistry) {
        self.service = service
        self.readiness = readiness
        self.registry = registry
    }

    struct Health: ResponseEncodable {
        var status: String
        var service: String
    }

    struct Ready: ResponseEncodable {
        var status: String
        var checks: [String: String]
    }

    public func register(on router: Router<Context>) {
        router.get("/health") { _, _ in Health(status: "ok", service: service) }
        router.get("/ready") { _, _ -> Ready in
            let failures = await readiness.failures()
            guard failures.isEmpty else { throw Problem.notReady(failures) }
            return Ready(status: "ready", checks: Dictionary(uniqueKeysWithValues: readiness.checks.map { ($0.name, "ok") }))
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}

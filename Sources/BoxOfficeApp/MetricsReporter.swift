import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficePostgres
import BoxOfficeRedis
import Logging
import Metrics
import ServiceLifecycle

/// Samples the gauges that are not tied to a request: tickets available per
/// category (`tickets_available{event,category}`), Redis memory
/// (`redis_memory_bytes`) and PostgreSQL connections (`db_open_connections`).
struct MetricsReporter: Service {
    let redis: RedisClient
    let postgres: PostgresClient
    /// Whether to report stock (the API does; the worker does not need to).
    let reportStock: Bool
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let memory = Gauge(label: "redis_memory_bytes")
        let connections = Gauge(label: "db_open_connections")
        let inventory = RedisInventory(redis: redis)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            connections.record(postgres.openConnections)
            do {
                let info = try await redis.send(["INFO", "memory"]).string ?? ""
                for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("used_memory:") {
                    if let bytes = Int(line.dropFirst("used_memory:".count)) { memory.record(bytes) }
                }
                if reportStock {
                    let time = try await redis.send(["TIME"]).array ?? []
                    let nowMs = (time.first?.int ?? 0) * 1000 + (time.last?.int ?? 0) / 1000
                    var overdue = 0
                    for event in try await inventory.events() {
                        overdue += try await redis.send([
                            "ZCOUNT", .string(InventoryKeys(event: event).holds), "-inf", .string("(\(nowMs - 2000)"),
                        ]).int ?? 0
                        for category in try await inventory.availability(event: event) {
                            Gauge(label: "tickets_available", dimensions: [("event", event.rawValue), ("category", category.name)])
                                .record(category.stock.available)
                        }
                    }
                    Gauge(label: "holds_overdue").record(overdue)
                }
            } catch {
                logger.debug("metrics sample failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// The business counters of DESIGN.md, labelled by outcome.
enum BusinessMetrics {
    static func reservation(_ result: String) {
        Counter(label: "reservation_total", dimensions: [("result", result)]).increment()
    }

    static func failedReservation(_ reason: String) {
        Counter(label: "failed_reservation_total", dimensions: [("reason", reason)]).increment()
    }

    static func confirmation(_ result: String) {
        Counter(label: "confirmation_total", dimensions: [("result", result)]).increment()
    }
}

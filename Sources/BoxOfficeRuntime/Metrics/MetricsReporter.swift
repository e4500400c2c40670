import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficePostgres
import BoxOfficeRedis
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Samples the gauges that are not tied to a request: tickets available per
/// category (`tickets_available{event,category}`), the seats of each section of a seated
/// category by state (`seats{event,category,section,state}`), Redis memory
/// per node (`redis_memory_bytes{node}`), PostgreSQL connections (`db_open_connections`),
/// and the Redis client's cluster routing (`redis_cluster_redirects_total{kind}`,
/// `redis_cluster_nodes`: 0 for a standalone Redis).
public struct MetricsReporter: Service {
    let redis: RedisClient
    let postgres: PostgresClient
    /// Whether to report stock (the API does; the worker does not need to).
    let reportStock: Bool
    let interval: Duration
    let logger: Logger

    public init(redis: RedisClient, postgres: PostgresClient, reportStock: Bool, interval: Duration, logger: Logger) {
        self.redis = redis
        self.postgres = postgres
        self.reportStock = reportStock
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let connections = Gauge(label: "db_open_connections")
        let inventory = RedisInventory(redis: redis)
        var routing = RedisClusterStatistics.none
        var layouts: [String: SeatLayout] = [:]  // by event, category and map version
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            connections.record(postgres.openConnections)
            routing = reportRouting(since: routing)
            do {
                // One series per Redis node (the one server, or each primary of a cluster).
                for (node, reply) in try await redis.sendToEachPrimary(["INFO", "memory"]) {
                    for line in (reply.string ?? "").split(whereSeparator: \.isNewline) where line.hasPrefix("used_memory:") {
                        if let bytes = Int(line.dropFirst("used_memory:".count)) {
                            Gauge(label: "redis_memory_bytes", dimensions: [("node", node.description)]).record(bytes)
                        }
                    }
                }
                if reportStock {
                    let time = try await redis.send(["TIME"]).array ?? []
                    let nowMs = (time.first?.int ?? 0) * 1000 + (time.last?.int ?? 0) / 1000
                    // Every event's overdue holds, then every event's stock, each in one round trip.
                    let events = try await inventory.events()
                    let counts = try await redis.pipeline(events.map {
                        ["ZCOUNT", .string(InventoryKeys(event: $0).holds), "-inf", .string("(\(nowMs - 2000)")]
                    })
                    Gauge(label: "holds_overdue").record(try counts.reduce(0) { $0 + (try $1.throwingOnError().int ?? 0) })
                    for (event, categories) in zip(events, try await inventory.availability(events: events)) {
                        for category in categories {
                            Gauge(label: "tickets_available", dimensions: [("event", event.rawValue), ("category", category.name)])
                                .record(category.stock.available)
                        }
                        let seated = categories.filter(\.seated).map(\.name)
                        for states in try await inventory.seatStates(event: event, categories: seated) {
                            let key = "\(event.rawValue)|\(states.category)|\(states.version)"
                            if layouts[key] == nil {
                                if layouts.count >= 1_000 { layouts.removeAll() }  // maps replaced or of past events
                                layouts[key] = try await inventory.seatLayout(event: event, category: states.category)
                            }
                            guard let layout = layouts[key], layout.version == states.version else { continue }
                            Self.reportSeats(event: event, states: states, layout: layout)
                        }
                    }
                }
            } catch {
                logger.debug("metrics sample failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// `seats{event,category,section,state}`: each section's seats available, held and sold.
    static func reportSeats(event: EventID, states: SeatStates, layout: SeatLayout) {
        let bytes = Array(states.states.utf8)
        var counts: [String: [Int]] = [:]
        for row in layout.rows {
            var c = counts[row.section] ?? [0, 0, 0]
            for offset in row.start..<min(bytes.count, row.start + row.labels.count) {
                switch bytes[offset] {
                case UInt8(ascii: "a"): c[0] += 1
                case UInt8(ascii: "h"): c[1] += 1
                case UInt8(ascii: "s"): c[2] += 1
                default: break
                }
            }
            counts[row.section] = c
        }
        for (section, c) in counts {
            for (state, n) in zip(["available", "held", "sold"], c) {
                Gauge(label: "seats", dimensions: [("event", event.rawValue), ("category", states.category), ("section", section), ("state", state)])
                    .record(n)
            }
        }
    }

    /// `redis_cluster_redirects_total{kind}` (the redirects followed since `last`) and
    /// `redis_cluster_nodes`; returns the statistics now.
    private func reportRouting(since last: RedisClusterStatistics) -> RedisClusterStatistics {
        let now = redis.clusterStatistics
        Counter(label: "redis_cluster_redirects_total", dimensions: [("kind", "moved")]).increment(by: now.moved - last.moved)
        Counter(label: "redis_cluster_redirects_total", dimensions: [("kind", "ask")]).increment(by: now.ask - last.ask)
        Gauge(label: "redis_cluster_nodes").record(now.isCluster ? now.nodes : 0)
        return now
    }
}

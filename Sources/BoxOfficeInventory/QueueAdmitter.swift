import BoxOfficeDomain
import Logging
import Metrics
import ServiceLifecycle

/// Keeps every waiting room admitting at its pace: every `interval`, makes the admissions due in
/// each event's room (`queue_admit.lua`, all events in one round trip per node), so buyers are
/// admitted on time even when few of them poll. Polls and joins admit too; the pace lives in
/// Redis, so any number of admitters and pollers together admit no more than the set rate.
///
/// Records `queue_waiting{event}`, `queue_admitted_total{event}` and, for the dashboard,
/// `queue_admit_per_minute{event}` (the set rate) and `queue_last_eta_seconds{event}` (when the
/// last buyer in line should be admitted).
public struct QueueAdmitter: Service {
    public struct Configuration: Sendable {
        /// Pause between rounds. Default 250 ms.
        public var interval: Duration = .milliseconds(250)
        public init() {}
    }

    let inventory: RedisInventory
    let configuration: Configuration
    let logger: Logger

    public init(inventory: RedisInventory, configuration: Configuration = .init(), logger: Logger) {
        self.inventory = inventory
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let events = try await inventory.queuedEvents()
                for (event, result) in zip(events, try await inventory.admitDue(events: events)) {
                    guard let result else { continue }
                    let dimensions = [("event", event.rawValue)]
                    QueueMetrics.admitted(event, result.admitted)
                    Gauge(label: "queue_waiting", dimensions: dimensions).record(result.waiting)
                    Gauge(label: "queue_admit_per_minute", dimensions: dimensions).record(result.ratePerMinute)
                    if result.ratePerMinute > 0 {
                        Gauge(label: "queue_last_eta_seconds", dimensions: dimensions).record(Double(result.waiting) * 60 / Double(result.ratePerMinute))
                    }
                }
            } catch {
                logger.warning("queue admission round failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.interval)
        }
    }
}

/// The waiting room's counters, named once.
public enum QueueMetrics {
    /// `queue_admitted_total{event}`: buyers admitted (by whichever replica's call admitted them).
    public static func admitted(_ event: EventID, _ count: Int) {
        if count > 0 { Counter(label: "queue_admitted_total", dimensions: [("event", event.rawValue)]).increment(by: count) }
    }

    /// `queue_joined_total{event}`: new places taken.
    public static func joined(_ event: EventID) {
        Counter(label: "queue_joined_total", dimensions: [("event", event.rawValue)]).increment()
    }

    /// `queue_rejected_total{reason}`: `not_admitted` (a reserve without a running admission),
    /// `not_open` (a join before the pre-queue), `rate_limited` (joins from one address too fast).
    public static func rejected(_ reason: String) {
        Counter(label: "queue_rejected_total", dimensions: [("reason", reason)]).increment()
    }
}

import BoxOfficeDomain
import Logging
import Metrics
import ServiceLifecycle

/// Returns the stock of lapsed holds: every `interval`, lapses the due holds (by Redis's own
/// clock) of every event with `expire_due.lua`, at most `batchSize` per event per call, all
/// events in one round trip; an event that had more due than a call takes goes again at once,
/// and again, until none is left. Its pace so follows the backlog, while each call is short
/// enough that other requests to Redis run between them.
///
/// Safe with any number of sweepers at once, in one process or many, and with the reserve
/// and availability scripts lapsing due holds too: each hold lapses exactly once.
public struct HoldSweeper: Service {
    /// Settings of the sweeper.
    public struct Configuration: Sendable {
        /// Pause between sweeps. Default 250 ms (holds return well within `ttl + 2 s`).
        public var interval: Duration = .milliseconds(250)
        /// Most holds one call lapses for one event: a call holds Redis for about this many
        /// times a hold's cost, so other requests wait at most that long. Default 128.
        public var batchSize = 128
        /// Sweep only these events; `nil` (the default) sweeps every event with inventory.
        public var events: Set<EventID>? = nil
        public init() {}
    }

    let inventory: RedisInventory
    let configuration: Configuration
    let logger: Logger
    let expiredCounter: Counter

    public init(inventory: RedisInventory, configuration: Configuration = .init(), expiredCounter: Counter, logger: Logger) {
        self.inventory = inventory
        self.configuration = configuration
        self.expiredCounter = expiredCounter
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await sweepOnce()
            } catch {
                logger.warning("hold sweep failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.interval)
        }
    }

    /// Lapses every due hold of every event; returns how many this sweeper expired.
    @discardableResult
    public func sweepOnce() async throws -> Int {
        var total = 0
        var events = try await inventory.events().filter { configuration.events?.contains($0) ?? true }
        while !events.isEmpty && !Task.isShuttingDownGracefully {
            var again: [EventID] = []
            for (event, result) in zip(events, try await inventory.expireDue(events: events, limit: configuration.batchSize)) {
                total += result.expired
                if result.expired > 0 {
                    expiredCounter.increment(by: result.expired)
                    logger.debug("expired holds", metadata: ["event": "\(event)", "count": "\(result.expired)"])
                }
                if result.more { again.append(event) }
            }
            events = again
        }
        return total
    }
}

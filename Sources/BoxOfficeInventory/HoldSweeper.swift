import BoxOfficeDomain
import Logging
import Metrics
import ServiceLifecycle

/// Returns the stock of lapsed holds: every `interval`, asks Redis (by its own
/// clock) which holds of every event are due, all events in one round trip, and
/// expires each with `expire.lua`, in batches of at most `batchSize` per event per tick.
///
/// Safe with any number of sweepers at once, in one process or many: the
/// expire script re-checks each hold atomically, so each lapses exactly once.
public struct HoldSweeper: Service {
    /// Settings of the sweeper.
    public struct Configuration: Sendable {
        /// Pause between sweeps. Default 250 ms (holds return well within `ttl + 2 s`).
        public var interval: Duration = .milliseconds(250)
        /// Most holds expired per event per sweep. Default 500.
        public var batchSize = 500
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

    /// One pass over every event; returns how many holds this sweeper expired.
    @discardableResult
    public func sweepOnce() async throws -> Int {
        var total = 0
        let events = try await inventory.events().filter { configuration.events?.contains($0) ?? true }
        for (event, due) in zip(events, try await inventory.dueHolds(events: events, limit: configuration.batchSize)) {
            guard !due.isEmpty else { continue }
            let expired = try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in due { group.addTask { try await inventory.expire(id) == .expired } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            if expired > 0 {
                expiredCounter.increment(by: expired)
                logger.debug("expired holds", metadata: ["event": "\(event)", "count": "\(expired)"])
            }
            total += expired
        }
        return total
    }
}

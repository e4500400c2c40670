import BoxOfficeSupport
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The connections to one Redis server: `poolSize` pipelined connections, one per event loop
/// where it can be, each re-established on next use after it breaks.
final class NodePool: Sendable {
    let node: RedisEndpoint
    private let slots: [ConnectionSlot]
    private let next = Atomic<Int>(0)

    init(node: RedisEndpoint, configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.node = node
        self.slots = (0..<max(1, configuration.poolSize)).map { _ in
            ConnectionSlot(configuration: configuration, node: node, eventLoop: eventLoopGroup.next(), logger: logger)
        }
    }

    /// A connection, round-robin; a caller already on one of the pool's event loops (the API's
    /// handlers, or any task once the event loops are Swift's global executor) gets that loop's,
    /// so the write, the reply and the resumption stay on one thread.
    func connection() async throws -> RedisConnection {
        let i = Int(UInt(bitPattern: next.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(slots.count))
        if let current = MultiThreadedEventLoopGroup.currentEventLoop {
            for k in 0..<slots.count {
                let slot = slots[(i + k) % slots.count]
                if slot.eventLoop === current { return try await slot.connection() }
            }
        }
        return try await slots[i].connection()
    }

    func close() {
        for slot in slots { slot.close() }
    }
}

/// One slot of the pool: a connection, an attempt to make one, or a failure to back off from.
///
/// `@unchecked Sendable` is not needed: the state lives in a `Mutex`.
final class ConnectionSlot: Sendable {
    private enum State {
        case idle(failures: Int)
        case connecting(Task<RedisConnection, any Error>, failures: Int)
        case connected(RedisConnection)
    }

    private let state = Mutex<State>(.idle(failures: 0))
    private let configuration: RedisConfiguration
    private let node: RedisEndpoint
    let eventLoop: any EventLoop
    private let logger: Logger

    init(configuration: RedisConfiguration, node: RedisEndpoint, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.node = node
        self.eventLoop = eventLoop
        self.logger = logger
    }

    func connection() async throws -> RedisConnection {
        enum Next { case ready(RedisConnection), wait(Task<RedisConnection, any Error>) }
        let next: Next = state.withLock { state in
            switch state {
            case .connected(let c) where c.isActive:
                return .ready(c)
            case .connecting(let t, _):
                return .wait(t)
            case .connected:
                return .wait(startConnecting(&state, failures: 0))
            case .idle(let failures):
                return .wait(startConnecting(&state, failures: failures))
            }
        }
        switch next {
        case .ready(let c): return c
        case .wait(let task): return try await task.value
        }
    }

    private func startConnecting(_ state: inout State, failures: Int) -> Task<RedisConnection, any Error> {
        let delay = backoff(failures: failures)
        let task = Task { [configuration, node, eventLoop] in
            if delay > .zero { try await Task.sleep(for: delay) }
            do {
                let c = try await RedisConnection.connect(configuration: configuration, node: node, eventLoop: eventLoop)
                self.finished(.success(c))
                return c
            } catch {
                self.finished(.failure(error))
                throw error
            }
        }
        state = .connecting(task, failures: failures)
        return task
    }

    private func finished(_ result: Result<RedisConnection, any Error>) {
        state.withLock { state in
            guard case .connecting(_, let failures) = state else { return }
            switch result {
            case .success(let c):
                if failures > 0 { logger.info("reconnected to Redis", metadata: ["redis": "\(node)"]) }
                state = .connected(c)
            case .failure(let error):
                if failures == 0 { logger.warning("Redis connection failed", metadata: ["redis": "\(node)", "error": "\(error)"]) }
                state = .idle(failures: failures + 1)
            }
        }
    }

    private func backoff(failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        let factor = 1 << min(failures - 1, 16)
        return min(configuration.reconnectBaseDelay * factor, configuration.reconnectMaxDelay)
    }

    func close() {
        state.withLock { state in
            switch state {
            case .connected(let c): c.close()
            case .connecting(let t, _): t.cancel()
            case .idle: break
            }
            state = .idle(failures: 0)
        }
    }
}

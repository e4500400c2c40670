import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A small pool of libpq connections whose calls run on dedicated threads.
///
/// libpq blocks; its calls never run on an event loop or on Swift's
/// cooperative pool. Each `withConnection` body runs on one of the client's
/// own `NIOThreadPool` threads, with a connection checked out for it alone.
public final class PostgresClient: Sendable {
    /// The settings this client was made with.
    public let configuration: PostgresConfiguration
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let state = Mutex(PoolState())

    private struct PoolState {
        var idle: [Box] = []
        var open = 0
        var waiters: [(id: Int, continuation: CheckedContinuation<Box?, any Error>)] = []
        var nextWaiter = 0
        var isShutdown = false
    }

    /// Moves a connection between threads. `@unchecked Sendable` is sound
    /// because the pool hands a connection to one body at a time: whoever holds
    /// the box is its only user.
    fileprivate final class Box: @unchecked Sendable {
        let connection: PostgresConnection
        init(_ c: PostgresConnection) { connection = c }
    }

    /// Makes a client and starts its threads; connections open lazily.
    public init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: max(1, configuration.maxConnections))
        self.threadPool.start()
    }

    /// Connections currently open (idle or in use).
    public var openConnections: Int { state.withLock { $0.open } }

    /// Checks out a connection and runs `body` with it on a pool thread.
    ///
    /// A connection left broken or inside a transaction is closed, not reused.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let slot = try await acquire()
        let outcome: Outcome<T>
        do {
            outcome = try await threadPool.runIfActive { () -> Outcome<T> in
                let box: Box
                if let slot {
                    box = slot
                } else {
                    do {
                        box = Box(try PostgresConnection(
                            url: self.configuration.url,
                            connectTimeoutSeconds: self.configuration.connectTimeoutSeconds,
                            applicationName: self.configuration.applicationName))
                    } catch {
                        return Outcome(value: nil, box: nil, error: error)
                    }
                }
                let outcome: Outcome<T>
                do {
                    outcome = Outcome(value: try body(box.connection), box: box, error: nil)
                } catch {
                    outcome = Outcome(value: nil, box: box, error: error)
                }
                // A broken connection, or one left inside a transaction, is closed
                // here (PQfinish, on this pool thread), not reused.
                guard box.connection.isHealthy, box.connection.isIdle else {
                    self.logger.warning("closing a PostgreSQL connection that is broken or still inside a transaction")
                    return Outcome(value: outcome.value, box: nil, error: outcome.error)
                }
                return outcome
            }
        } catch {
            release(slot)
            throw PostgresError(.shutdown, "the PostgreSQL client is shut down", underlying: error)
        }
        release(outcome.box)
        if let error = outcome.error { throw error }
        guard let value = outcome.value else { throw PostgresError(.decoding, "no value") }
        return value
    }

    /// Runs `body` inside `BEGIN … COMMIT`; any error rolls back and is rethrown.
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withConnection { connection in
            try connection.execute(unprepared: "BEGIN")
            do {
                let value = try body(connection)
                try connection.execute(unprepared: "COMMIT")
                return value
            } catch {
                if connection.isHealthy { try? connection.execute(unprepared: "ROLLBACK") }
                throw error
            }
        }
    }

    /// Runs one statement on any connection.
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await withConnection { try $0.query(sql) }
    }

    /// Closes idle connections and stops the threads; later calls fail with `.shutdown`.
    public func shutdown() async {
        let (idle, waiters) = state.withLock { s -> ([Box], [CheckedContinuation<Box?, any Error>]) in
            s.isShutdown = true
            defer { s.idle = []; s.waiters = [] }
            s.open -= s.idle.count
            return (s.idle, s.waiters.map(\.continuation))
        }
        for w in waiters { w.resume(throwing: PostgresError(.shutdown, "the PostgreSQL client is shut down")) }
        // The idle connections close (PQfinish) on a pool thread.
        let closing = Closing(idle)
        _ = try? await threadPool.runIfActive { closing.boxes.withLock { $0.removeAll() } }
        try? await threadPool.shutdownGracefully()
    }

    // MARK: Pool

    /// Outcome of a body on a pool thread: the connection goes back to the pool either way.
    fileprivate struct Outcome<T: Sendable>: Sendable {
        var value: T?
        var box: Box?
        var error: (any Error)?
    }

    /// An idle connection, `nil` meaning "you may open a new one", or waits for one.
    private func acquire() async throws -> Box? {
        enum Decision { case use(Box?), wait(Int), shutdown }
        let decision: Decision = state.withLock { s in
            if s.isShutdown { return .shutdown }
            if let box = s.idle.popLast() { return .use(box) }
            if s.open < configuration.maxConnections { s.open += 1; return .use(nil) }
            s.nextWaiter += 1
            return .wait(s.nextWaiter)
        }
        switch decision {
        case .use(let box): return box
        case .shutdown: throw PostgresError(.shutdown, "the PostgreSQL client is shut down")
        case .wait(let id):
            let timeout = configuration.acquireTimeout
            let timer = Task { [weak self] in
                try await Task.sleep(for: timeout)
                self?.expireWaiter(id)
            }
            defer { timer.cancel() }
            return try await withCheckedThrowingContinuation { continuation in
                state.withLock { $0.waiters.append((id, continuation)) }
            }
        }
    }

    private func expireWaiter(_ id: Int) {
        let continuation = state.withLock { s -> CheckedContinuation<Box?, any Error>? in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: i).continuation
        }
        continuation?.resume(throwing: PostgresError(.poolTimeout, "no PostgreSQL connection free within \(configuration.acquireTimeout)"))
    }

    /// Connections handed to a pool thread to be closed there.
    private final class Closing: Sendable {
        let boxes: Mutex<[Box]>
        init(_ boxes: [Box]) { self.boxes = Mutex(boxes) }
    }

    /// Returns a connection (checked on its pool thread), or with `nil` the right to open one, to the pool.
    fileprivate func release(_ box: Box?) {
        let healthy = box != nil
        let waiter: CheckedContinuation<Box?, any Error>? = state.withLock { s in
            if !healthy { s.open -= 1 }
            if s.isShutdown { if healthy { s.open -= 1 }; return nil }
            if !s.waiters.isEmpty {
                if !healthy { s.open += 1 }
                return s.waiters.removeFirst().continuation
            }
            if healthy, let box { s.idle.append(box) }
            return nil
        }
        if let waiter { waiter.resume(returning: healthy ? box : nil) }
    }
}


import BoxOfficeSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An async Redis client: a small pool of pipelined connections.
///
/// Commands from many tasks are spread round-robin over `poolSize` connections
/// and pipelined on each, so one connection carries many requests at once. A
/// broken connection is re-established on next use, with exponential backoff
/// after consecutive failures. All I/O runs on SwiftNIO event loops; hiredis
/// parses and encodes RESP there without blocking.
///
/// The client is a `Service`: `run()` waits for graceful shutdown and closes
/// the connections. Outside a service group, call `shutdown()`.
public final class RedisClient: Service, Sendable {
    /// The settings this client was made with.
    public let configuration: RedisConfiguration
    private let slots: [ConnectionSlot]
    private let next = Atomic<Int>(0)
    private let logger: Logger
    private let isShutdown = Atomic<Bool>(false)

    /// Makes a client; no connection is opened until the first command.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.logger = logger
        self.slots = (0..<max(1, configuration.poolSize)).map { _ in
            ConnectionSlot(configuration: configuration, eventLoop: eventLoopGroup.next(), logger: logger)
        }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    /// Closes every connection; later commands fail with `.shutdown`.
    public func shutdown() {
        isShutdown.store(true, ordering: .relaxed)
        for slot in slots { slot.close() }
    }

    /// The event loop of the calling thread, if it is one of the singleton group's (the API's
    /// handlers run there): its connection serves this thread's commands, so work grouped by it
    /// (e.g. coalesced reserves) stays on one thread from request to reply.
    public static var currentEventLoopID: ObjectIdentifier? {
        MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
    }

    private func connection() async throws -> RedisConnection {
        if isShutdown.load(ordering: .relaxed) { throw RedisError(.shutdown, "the Redis client is shut down") }
        let i = Int(UInt(bitPattern: next.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(slots.count))
        // A caller already on one of the pool's event loops (the API's handlers, or any task once
        // the event loops are Swift's global executor) uses a connection of that loop: the write,
        // the reply and the resumption then stay on one thread, with no wake-up of another.
        if let current = MultiThreadedEventLoopGroup.currentEventLoop {
            for k in 0..<slots.count {
                let slot = slots[(i + k) % slots.count]
                if slot.eventLoop === current { return try await slot.connection() }
            }
        }
        return try await slots[i].connection()
    }

    /// Sends one command and returns its reply; an error reply throws a `.server` error.
    @discardableResult
    public func send(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        try await connection().send(arguments, timeout: timeout).throwingOnError()
    }

    /// Sends commands back to back on one connection; error replies are returned, not thrown.
    public func pipeline(_ commands: [[RedisArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        try await connection().pipeline(commands.map(RedisCommand.init), timeout: timeout)
    }

    /// Runs a Lua script by its SHA1, loading it with `EVAL` when Redis answers `NOSCRIPT`
    /// (after a restart or `SCRIPT FLUSH`).
    public func eval(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        try await eval(script, keyCount: keys.count, timeout: timeout) { command in
            for key in keys { command.append(key) }
            for argument in arguments { command.append(argument) }
        }
    }

    /// Runs a Lua script like `eval(_:keys:arguments:timeout:)`, its `keyCount` keys and then its
    /// arguments appended by `append` straight into the packed command (no array per argument).
    /// `append` runs again if the script has to be loaded.
    public func eval(
        _ script: RedisScript, keyCount: Int, timeout: Duration? = nil, _ append: (inout RedisCommand) -> Void
    ) async throws -> RESPValue {
        let connection = try await connection()
        let reply = try await connection.send(Self.scriptCall("EVALSHA", script.sha1, keyCount: keyCount, append), timeout: timeout)
        if reply.isNoScript {
            logger.debug("script not cached; loading it", metadata: ["script": "\(script.name)"])
            return try await connection.send(Self.scriptCall("EVAL", script.source, keyCount: keyCount, append), timeout: timeout)
                .throwingOnError()
        }
        return try reply.throwingOnError()
    }

    /// `EVALSHA sha1` or `EVAL source`, the key count, then the keys and arguments `append` adds.
    private static func scriptCall(_ name: String, _ script: String, keyCount: Int, _ append: (inout RedisCommand) -> Void) -> RedisCommand {
        // Room for the usual script call (a reserve's is about 500 bytes in 23 arguments).
        var command = RedisCommand(capacity: 512, arguments: 3 + keyCount + 12)
        command.append(name)
        command.append(script)
        command.append(keyCount)
        append(&command)
        return command
    }

    /// Runs `script` once per call, all in one round trip (pipelined `EVALSHA`s); when Redis
    /// answers `NOSCRIPT`, loads the script with `SCRIPT LOAD` and runs those calls again.
    /// Replies come in the order of `calls`; error replies are returned, not thrown.
    public func evalPipeline(
        _ script: RedisScript, _ calls: [(keys: [RedisArgument], arguments: [RedisArgument])], timeout: Duration? = nil
    ) async throws -> [RESPValue] {
        let commands = calls.map { call in
            Self.scriptCall("EVALSHA", script.sha1, keyCount: call.keys.count) { command in
                for key in call.keys { command.append(key) }
                for argument in call.arguments { command.append(argument) }
            }
        }
        guard !commands.isEmpty else { return [] }
        let connection = try await connection()
        var replies = try await connection.pipeline(commands, timeout: timeout)
        let unloaded = replies.indices.filter { replies[$0].isNoScript }
        guard !unloaded.isEmpty else { return replies }
        logger.debug("script not cached; loading it", metadata: ["script": "\(script.name)"])
        try await send(["SCRIPT", "LOAD", .string(script.source)], timeout: timeout)
        for (i, reply) in zip(unloaded, try await connection.pipeline(unloaded.map { commands[$0] }, timeout: timeout)) { replies[i] = reply }
        return replies
    }

    /// Every key matching a glob `pattern`, through `SCAN` (never `KEYS`, which blocks Redis).
    public func scanKeys(matching pattern: String) async throws -> [String] {
        var keys: [String] = []
        var cursor = "0"
        repeat {
            let reply = try await send(["SCAN", .string(cursor), "MATCH", .string(pattern), "COUNT", 1000])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw RedisError(.protocolError, "unexpected SCAN reply")
            }
            cursor = next
            keys += (parts[1].array ?? []).compactMap(\.string)
        } while cursor != "0"
        return keys
    }

    /// `PING` → `PONG`.
    public func ping(timeout: Duration? = nil) async throws {
        let reply = try await send(["PING"], timeout: timeout)
        guard reply.string == "PONG" else { throw RedisError(.protocolError, "unexpected PING reply \(reply)") }
    }

    /// `GET key`.
    public func get(_ key: String) async throws -> String? {
        try await send(["GET", .string(key)]).string
    }

    /// `SET key value [PX ttl]`.
    public func set(_ key: String, _ value: String, expiresIn: Duration? = nil) async throws {
        var args: [RedisArgument] = ["SET", .string(key), .string(value)]
        if let expiresIn { args += ["PX", .int(Int(expiresIn.inMilliseconds))] }
        try await send(args)
    }

    /// The server's version from `INFO server`, e.g. `7.0.15`.
    public func serverVersion() async throws -> String {
        let info = try await send(["INFO", "server"]).string ?? ""
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("redis_version:") {
            return String(line.dropFirst("redis_version:".count))
        }
        return "unknown"
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
    let eventLoop: any EventLoop
    private let logger: Logger

    init(configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
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
        let task = Task { [configuration, eventLoop] in
            if delay > .zero { try await Task.sleep(for: delay) }
            do {
                let c = try await RedisConnection.connect(configuration: configuration, eventLoop: eventLoop)
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
                if failures > 0 { logger.info("reconnected to Redis", metadata: ["redis": "\(configuration.endpoint)"]) }
                state = .connected(c)
            case .failure(let error):
                if failures == 0 { logger.warning("Redis connection failed", metadata: ["redis": "\(configuration.endpoint)", "error": "\(error)"]) }
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

import BoxOfficeSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An async Redis client for one Redis server or a Redis Cluster: small pools of pipelined
/// connections.
///
/// Commands from many tasks are spread round-robin over `poolSize` connections and pipelined
/// on each, so one connection carries many requests at once. A broken connection is
/// re-established on next use, with exponential backoff after consecutive failures. All I/O
/// runs on SwiftNIO event loops; hiredis parses and encodes RESP there without blocking.
///
/// On a cluster (see `RedisConfiguration.mode`) each command goes to the primary serving its
/// first key's slot, with a pool per primary; `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN` and a
/// node that refuses connections are handled here (see `RedisClient+Cluster.swift`), so callers
/// are the same in both modes.
///
/// The client is a `Service`: `run()` waits for graceful shutdown and closes the connections.
/// Outside a service group, call `shutdown()`.
public final class RedisClient: Service, Sendable {
    /// The settings this client was made with.
    public let configuration: RedisConfiguration
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    private let isShutdown = Atomic<Bool>(false)
    /// The first seed's connections: all of them in standalone mode.
    let seed: NodePool
    /// `Topology.unresolved`, `.standalone` or `.cluster`, read without a lock on every command.
    let topology: Atomic<UInt8>
    /// The slot map, the primaries' pools and the refresh in flight (cluster mode).
    let cluster: Mutex<ClusterState>
    /// `MOVED` and `ASK` replies followed.
    let movedCount = Atomic<Int>(0)
    let askCount = Atomic<Int>(0)

    enum Topology: UInt8 { case unresolved = 0, standalone = 1, cluster = 2 }

    /// Makes a client; no connection is opened until the first command.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        let first = configuration.seeds[0]
        self.seed = NodePool(node: first, configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        self.topology = Atomic(configuration.mode == .standalone ? Topology.standalone.rawValue : Topology.unresolved.rawValue)
        self.cluster = Mutex(ClusterState(pools: [first: seed]))
    }

    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    /// Closes every connection; later commands fail with `.shutdown`.
    public func shutdown() {
        isShutdown.store(true, ordering: .relaxed)
        let pools = cluster.withLock { state in
            state.refresh?.cancel()
            return Array(state.pools.values)
        }
        seed.close()
        for pool in pools where pool !== seed { pool.close() }
    }

    /// The event loop of the calling thread, if it is one of the singleton group's (the API's
    /// handlers run there): its connection serves this thread's commands, so work grouped by it
    /// (e.g. coalesced reserves) stays on one thread from request to reply.
    public static var currentEventLoopID: ObjectIdentifier? {
        MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
    }

    func checkNotShutdown() throws {
        if isShutdown.load(ordering: .relaxed) { throw RedisError(.shutdown, "the Redis client is shut down") }
    }

    /// Sends one command and returns its reply; an error reply throws a `.server` error.
    @discardableResult
    public func send(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        try await execute(RedisCommand(arguments), script: nil, timeout: timeout).throwingOnError()
    }

    /// Sends commands back to back (on one connection per node); error replies are returned,
    /// not thrown. Replies come in the order of `commands`.
    public func pipeline(_ commands: [[RedisArgument]], timeout: Duration? = nil) async throws -> [RESPValue] {
        try await executePipeline(commands.map(RedisCommand.init), script: nil, timeout: timeout)
    }

    /// Runs a Lua script by its SHA1, loading it with `SCRIPT LOAD` on the node that answers
    /// `NOSCRIPT` (after a restart, a `SCRIPT FLUSH` or a failover).
    public func eval(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        try await eval(script, keyCount: keys.count, timeout: timeout) { command in
            for key in keys { command.append(key) }
            for argument in arguments { command.append(argument) }
        }
    }

    /// Runs a Lua script like `eval(_:keys:arguments:timeout:)`, its `keyCount` keys and then its
    /// arguments appended by `append` straight into the packed command (no array per argument).
    public func eval(
        _ script: RedisScript, keyCount: Int, timeout: Duration? = nil, _ append: (inout RedisCommand) -> Void
    ) async throws -> RESPValue {
        try await execute(Self.scriptCall(script, keyCount: keyCount, append), script: script, timeout: timeout).throwingOnError()
    }

    /// `EVALSHA sha1`, the key count, then the keys and arguments `append` adds.
    private static func scriptCall(_ script: RedisScript, keyCount: Int, _ append: (inout RedisCommand) -> Void) -> RedisCommand {
        // Room for a reserve batch's keys and arguments, the largest call the hot path makes.
        var command = RedisCommand(capacity: 512, arguments: 3 + keyCount + 12)
        command.append("EVALSHA")
        command.append(script.sha1)
        command.append(keyCount)
        append(&command)
        return command
    }

    /// Runs `script` once per call, in one round trip per node (pipelined `EVALSHA`s), loading
    /// the script where Redis answers `NOSCRIPT`. Replies come in the order of `calls`; error
    /// replies are returned, not thrown.
    public func evalPipeline(
        _ script: RedisScript, _ calls: [(keys: [RedisArgument], arguments: [RedisArgument])], timeout: Duration? = nil
    ) async throws -> [RESPValue] {
        let commands = calls.map { call in
            Self.scriptCall(script, keyCount: call.keys.count) { command in
                for key in call.keys { command.append(key) }
                for argument in call.arguments { command.append(argument) }
            }
        }
        return try await executePipeline(commands, script: script, timeout: timeout)
    }

    /// One command, on the one server or on its slot's primary.
    func execute(_ command: RedisCommand, script: RedisScript?, timeout: Duration?) async throws -> RESPValue {
        try checkNotShutdown()
        if topology.load(ordering: .relaxed) == Topology.standalone.rawValue {
            return try await Self.run(command, script: script, on: seed.connection(), timeout: timeout)
        }
        return try await executeOnCluster(command, script: script, timeout: timeout)
    }

    /// Several commands, on the one server or each on its slot's primary.
    func executePipeline(_ commands: [RedisCommand], script: RedisScript?, timeout: Duration?) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        try checkNotShutdown()
        if topology.load(ordering: .relaxed) == Topology.standalone.rawValue {
            return try await Self.run(commands, script: script, on: seed.connection(), timeout: timeout)
        }
        return try await executePipelineOnCluster(commands, script: script, timeout: timeout)
    }

    /// Sends `command` on `connection`; when it is a script Redis has not cached, loads the
    /// script and sends the command again, both in one round trip.
    static func run(_ command: RedisCommand, script: RedisScript?, on connection: RedisConnection, timeout: Duration?) async throws -> RESPValue {
        let reply = try await connection.send(command, timeout: timeout)
        guard let script, reply.isNoScript else { return reply }
        return try await connection.pipeline([RedisCommand(["SCRIPT", "LOAD", .string(script.source)]), command], timeout: timeout)[1]
    }

    /// Sends `commands` back to back on `connection`; those Redis answered `NOSCRIPT` are sent
    /// again after the script is loaded, in one more round trip.
    static func run(_ commands: [RedisCommand], script: RedisScript?, on connection: RedisConnection, timeout: Duration?) async throws -> [RESPValue] {
        var replies = try await connection.pipeline(commands, timeout: timeout)
        guard let script else { return replies }
        let unloaded = replies.indices.filter { replies[$0].isNoScript }
        guard !unloaded.isEmpty else { return replies }
        let again = try await connection.pipeline([RedisCommand(["SCRIPT", "LOAD", .string(script.source)])] + unloaded.map { commands[$0] }, timeout: timeout)
        for (i, reply) in zip(unloaded, again.dropFirst()) { replies[i] = reply }
        return replies
    }

    /// Every key matching a glob `pattern`, through `SCAN` (never `KEYS`, which blocks Redis) on
    /// every primary.
    public func scanKeys(matching pattern: String) async throws -> [String] {
        var keys: [String] = []
        for node in try await primaries() {
            var cursor = "0"
            repeat {
                let reply = try await send(["SCAN", .string(cursor), "MATCH", .string(pattern), "COUNT", 1000], on: node)
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                    throw RedisError(.protocolError, "unexpected SCAN reply")
                }
                cursor = next
                keys += (parts[1].array ?? []).compactMap(\.string)
            } while cursor != "0"
        }
        return keys
    }

    /// Sends `arguments` to every primary (the one server when standalone), e.g. `INFO memory`
    /// for each node's memory; replies by node, error replies thrown.
    public func sendToEachPrimary(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws -> [(node: RedisEndpoint, reply: RESPValue)] {
        var replies: [(node: RedisEndpoint, reply: RESPValue)] = []
        for node in try await primaries() {
            replies.append((node, try await send(arguments, on: node, timeout: timeout)))
        }
        return replies
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

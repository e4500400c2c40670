import BoxOfficeSupport
import Logging
import NIOCore
import Synchronization

/// What the client knows of a cluster: which primary serves each slot, a pool per node it has
/// talked to, and the map refresh in flight.
struct ClusterState: Sendable {
    var map = SlotMap() {
        didSet { slotPools = map.owners.map { $0 < 0 ? nil : pools[map.primaries[Int($0)]] } }
    }
    var pools: [RedisEndpoint: NodePool]
    /// The pool serving each slot, as `map` says, for the one lookup a command costs.
    var slotPools = [NodePool?](repeating: nil, count: HashSlot.count)
    /// The one refresh or mode check in flight; every caller that needs one awaits it.
    var refresh: Task<Void, any Error>?
    var lastRefresh: ContinuousClock.Instant?
}

/// Counters of what the cluster routing did, for metrics.
public struct RedisClusterStatistics: Sendable, Equatable {
    /// Whether the client talks to a Redis Cluster (false until the first command decided it).
    public var isCluster: Bool
    /// `MOVED` replies followed since the client was made.
    public var moved: Int
    /// `ASK` replies followed since the client was made.
    public var ask: Int
    /// Nodes (primaries and replicas) the last slot map named; 1 for a standalone server.
    public var nodes: Int
    /// Primaries serving slots in the last slot map.
    public var primaries: Int

    /// Nothing routed yet.
    public static let none = RedisClusterStatistics(isCluster: false, moved: 0, ask: 0, nodes: 0, primaries: 0)

    init(isCluster: Bool, moved: Int, ask: Int, nodes: Int, primaries: Int) {
        self.isCluster = isCluster
        self.moved = moved
        self.ask = ask
        self.nodes = nodes
        self.primaries = primaries
    }
}

extension RedisClient {
    /// How routing has gone so far.
    public var clusterStatistics: RedisClusterStatistics {
        let isCluster = topology.load(ordering: .relaxed) == Topology.cluster.rawValue
        let (nodes, primaries) = cluster.withLock { ($0.map.nodeCount, $0.map.primaries.count) }
        return RedisClusterStatistics(isCluster: isCluster, moved: movedCount.load(ordering: .relaxed),
                                      ask: askCount.load(ordering: .relaxed),
                                      nodes: isCluster ? nodes : 1, primaries: isCluster ? primaries : 1)
    }

    /// Readiness: `PING` on a standalone server; on a cluster, `CLUSTER INFO` must say the
    /// cluster is `ok` with all 16384 slots served, and every primary must answer `PING`.
    public func checkReady(timeout: Duration? = nil) async throws {
        guard try await isCluster() else { return try await ping(timeout: timeout) }
        let info = try await send(["CLUSTER", "INFO"], timeout: timeout).string ?? ""
        var fields: [Substring: Substring] = [:]
        for line in info.split(whereSeparator: \.isNewline) {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        guard fields["cluster_state"] == "ok", fields["cluster_slots_ok"] == "16384" else {
            throw RedisError(.unavailable, "cluster state \(fields["cluster_state"] ?? "?"), \(fields["cluster_slots_ok"] ?? "?") of 16384 slots ok")
        }
        for node in try await primaries() {
            let reply = try await send(["PING"], on: node, timeout: timeout)
            guard reply.string == "PONG" else { throw RedisError(.protocolError, "unexpected PING reply from \(node)") }
        }
    }

    /// Whether the server is a cluster, deciding it on first use in `.auto` mode.
    func isCluster() async throws -> Bool {
        try checkNotShutdown()
        switch Topology(rawValue: topology.load(ordering: .relaxed)) {
        case .standalone: return false
        case .cluster: return true
        default:
            try await refreshMap(force: true)
            return topology.load(ordering: .relaxed) == Topology.cluster.rawValue
        }
    }

    /// The primaries (the one server when standalone).
    func primaries() async throws -> [RedisEndpoint] {
        guard try await isCluster() else { return [seed.node] }
        let primaries = cluster.withLock { $0.map.primaries }
        if primaries.isEmpty { throw RedisError(.unavailable, "the Redis cluster serves no slots") }
        return primaries
    }

    /// Sends `arguments` to `node`, whatever its keys' slot; an error reply throws.
    func send(_ arguments: [RedisArgument], on node: RedisEndpoint, timeout: Duration? = nil) async throws -> RESPValue {
        try await pool(for: node).connection().send(RedisCommand(arguments), timeout: timeout).throwingOnError()
    }

    /// The pool of `node`, made on first use.
    func pool(for node: RedisEndpoint) -> NodePool {
        cluster.withLock { state in
            if let pool = state.pools[node] { return pool }
            let pool = NodePool(node: node, configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
            state.pools[node] = pool
            return pool
        }
    }

    /// The pool of the primary serving `slot` (the first primary for a keyless command): one
    /// array lookup; nil while no primary serves it.
    private func owner(of slot: Int?) -> NodePool? {
        cluster.withLock { state in
            if let slot { return state.slotPools[slot] }
            return state.map.primaries.first.flatMap { state.pools[$0] }
        }
    }

    /// One command on its slot's primary, following redirects and retrying while the cluster
    /// moves or fails over, until `retryDeadline`.
    ///
    /// Only a command that was not sent (no connection) or that Redis refused without running
    /// (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`) is sent again: a command whose connection
    /// broke in flight may have run, so that error reaches the caller.
    func executeOnCluster(_ command: RedisCommand, script: RedisScript?, timeout: Duration?) async throws -> RESPValue {
        if try await !isCluster() {
            return try await Self.run(command, script: script, on: seed.connection(), timeout: timeout)
        }
        let slot = command.slot
        let deadline = ContinuousClock.now + configuration.retryDeadline
        var target: NodePool?
        var asking = false
        var attempt = 0
        while true {
            try checkNotShutdown()
            attempt += 1
            guard let pool = target ?? owner(of: slot) else {
                try await wait(attempt, until: deadline, because: "no primary serves slot \(slot ?? -1)")
                continue
            }
            let reply: RESPValue
            do {
                let connection = try await pool.connection()
                if asking {
                    reply = try await Self.run([RedisCommand(["ASKING"]), command], script: script, on: connection, timeout: timeout)[1]
                } else {
                    reply = try await Self.run(command, script: script, on: connection, timeout: timeout)
                }
            } catch let error as RedisError where error.code == .unavailable {
                // Not sent: the node is down or its pool is backing off. The map may be stale.
                target = nil
                asking = false
                try await wait(attempt, until: deadline, because: "\(pool.node) does not answer", underlying: error)
                continue
            } catch let error as RedisError where error.code == .connectionClosed {
                refreshSoon()
                throw error
            }
            switch ClusterRedirect(reply) {
            case nil:
                return reply
            case .moved(let movedSlot, let to)?:
                movedCount.add(1, ordering: .relaxed)
                let node = to.host.isEmpty ? RedisEndpoint(host: pool.node.host, port: to.port) : to
                learn(slot: movedSlot, servedBy: node)
                target = self.pool(for: node)
                asking = false
            case .ask(_, let to)?:
                askCount.add(1, ordering: .relaxed)
                target = self.pool(for: to.host.isEmpty ? RedisEndpoint(host: pool.node.host, port: to.port) : to)
                asking = true
            case .retryLater(let message)?:
                target = nil
                asking = false
                try await wait(attempt, until: deadline, because: message)
            }
            // A redirect loop (two nodes each naming the other) ends at the deadline too.
            if attempt > 3, ContinuousClock.now >= deadline {
                throw RedisError(.unavailable, "Redis cluster kept redirecting slot \(slot ?? -1)")
            }
        }
    }

    /// Several commands, one pipeline per primary, run side by side; any reply that is a redirect
    /// (or a node that could not be reached) is retried alone through `executeOnCluster`.
    func executePipelineOnCluster(_ commands: [RedisCommand], script: RedisScript?, timeout: Duration?) async throws -> [RESPValue] {
        if try await !isCluster() {
            return try await Self.run(commands, script: script, on: seed.connection(), timeout: timeout)
        }
        var groups: [ObjectIdentifier: (pool: NodePool, indices: [Int])] = [:]
        for (i, command) in commands.enumerated() {
            // A command whose slot no primary serves yet is left for the retrying path below.
            guard let pool = owner(of: command.slot) else { continue }
            groups[ObjectIdentifier(pool), default: (pool, [])].indices.append(i)
        }
        var replies = [RESPValue?](repeating: nil, count: commands.count)
        try await withThrowingTaskGroup(of: [(Int, RESPValue?)].self) { group in
            for (pool, indices) in groups.values {
                group.addTask {
                    do {
                        let connection = try await pool.connection()
                        let answers = try await Self.run(indices.map { commands[$0] }, script: script, on: connection, timeout: timeout)
                        return zip(indices, answers).map { i, reply in (i, ClusterRedirect(reply) == nil ? reply : nil) }
                    } catch let error as RedisError where error.code == .unavailable {
                        return indices.map { ($0, nil) }
                    }
                }
            }
            for try await answers in group {
                for (i, reply) in answers { replies[i] = reply }
            }
        }
        for i in replies.indices where replies[i] == nil {
            replies[i] = try await executeOnCluster(commands[i], script: script, timeout: timeout)
        }
        return replies.map { $0 ?? .null }
    }

    /// Sleeps before attempt `attempt + 1` (25 ms doubling up to 250 ms) after refreshing the
    /// slot map; throws `.unavailable` with `reason` once `deadline` has passed.
    private func wait(_ attempt: Int, until deadline: ContinuousClock.Instant, because reason: String, underlying: (any Error)? = nil) async throws {
        guard ContinuousClock.now < deadline else {
            throw RedisError(.unavailable, "Redis cluster unavailable: \(reason)", underlying: underlying)
        }
        try? await refreshMap(force: false)
        let pause = min(Duration.milliseconds(25 << min(attempt - 1, 4)), .milliseconds(250))
        try await Task.sleep(for: min(pause, deadline - ContinuousClock.now))
    }

    /// Records a `MOVED` answer: `slot` is served by `node` now. A full refresh follows soon,
    /// since a moved slot often means more have moved.
    private func learn(slot: Int, servedBy node: RedisEndpoint) {
        _ = pool(for: node)
        cluster.withLock { $0.map.assign(slot...slot, to: node) }
        refreshSoon()
    }

    /// Starts a map refresh in the background unless one ran in the last 100 ms.
    private func refreshSoon() {
        Task { [weak self] in try? await self?.refreshMap(force: false) }
    }

    /// Reads the slot map again (`CLUSTER SHARDS`, or `CLUSTER SLOTS` on servers without it)
    /// from the first node that answers: known primaries first, then the seeds. In `.auto` mode
    /// the first read also decides whether this is a cluster (`INFO cluster`). Concurrent callers
    /// share one read; without `force`, a read finished in the last 100 ms is enough.
    func refreshMap(force: Bool) async throws {
        let task: Task<Void, any Error>? = cluster.withLock { state in
            if let running = state.refresh { return running }
            if !force, let last = state.lastRefresh, ContinuousClock.now - last < .milliseconds(100) { return nil }
            let task = Task<Void, any Error> { try await self.readMap() }
            state.refresh = task
            return task
        }
        guard let task else { return }
        defer { cluster.withLock { if $0.refresh == task { $0.refresh = nil } } }
        try await task.value
    }

    private func readMap() async throws {
        let known = cluster.withLock { $0.map.primaries }
        var candidates = known
        for seed in configuration.seeds where !candidates.contains(seed) { candidates.append(seed) }
        var lastError: (any Error)?
        for node in candidates {
            do {
                let connection = try await pool(for: node).connection()
                if topology.load(ordering: .relaxed) == Topology.unresolved.rawValue, configuration.mode == .auto {
                    let info = try await connection.send(RedisCommand(["INFO", "cluster"])).throwingOnError().string ?? ""
                    if !info.contains("cluster_enabled:1") {
                        guard node == seed.node else {
                            throw RedisError(.configuration, "seed \(node) is a standalone Redis; a standalone Redis takes one URL")
                        }
                        topology.store(Topology.standalone.rawValue, ordering: .relaxed)
                        logger.info("Redis is standalone", metadata: ["redis": "\(node)"])
                        return
                    }
                }
                var reply = try await connection.send(RedisCommand(["CLUSTER", "SHARDS"]))
                let map: SlotMap
                if case .error = reply {
                    reply = try await connection.send(RedisCommand(["CLUSTER", "SLOTS"])).throwingOnError()
                    map = try SlotMap.fromSlots(reply)
                } else {
                    map = try SlotMap.fromShards(reply)
                }
                guard !map.primaries.isEmpty else { throw RedisError(.unavailable, "\(node) knows no primary") }
                install(map)
                return
            } catch let error as RedisError where error.code == .configuration {
                throw error
            } catch {
                lastError = error
            }
        }
        throw RedisError(.unavailable, "no Redis seed or node answered (\(candidates.map(\.description).joined(separator: ", ")))", underlying: lastError)
    }

    /// Makes `map` the routing map, opens pools for new primaries and closes those of nodes the
    /// map no longer names as a primary.
    private func install(_ map: SlotMap) {
        for node in map.primaries { _ = pool(for: node) }
        let (changed, retired): (Bool, [NodePool]) = cluster.withLock { state in
            let changed = state.map.primaries != map.primaries || state.map.coveredSlots != map.coveredSlots
            state.map = map
            state.lastRefresh = .now
            var retired: [NodePool] = []
            for (node, pool) in state.pools where !map.primaries.contains(node) && pool !== seed {
                retired.append(pool)
                state.pools[node] = nil
            }
            return (changed, retired)
        }
        for pool in retired { pool.close() }
        if topology.exchange(Topology.cluster.rawValue, ordering: .relaxed) != Topology.cluster.rawValue || changed {
            logger.info("Redis cluster map", metadata: [
                "primaries": "\(map.primaries.map(\.description).joined(separator: ","))",
                "slots": "\(map.coveredSlots)", "nodes": "\(map.nodeCount)",
            ])
        }
    }
}

import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Foundation
import Logging
import Metrics
import Synchronization
import Testing

/// The Redis client and the inventory on a real Redis Cluster: the one `make test` started
/// (`BOXOFFICE_TEST_REDIS_CLUSTER_URL`) for wars, private ones for tests that move slots or kill
/// a primary.
@Suite("Redis Cluster (real cluster)")
struct RedisClusterTests {
    static func sharedClusterURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["BOXOFFICE_TEST_REDIS_CLUSTER_URL"] else { throw TestStackMissing() }
        return url
    }

    static func client(_ url: String, retry: Duration = .seconds(2), logger: Logger = TestStack.logger) throws -> RedisClient {
        var c = try RedisConfiguration(url: url)
        c.poolSize = 2
        c.retryDeadline = retry
        c.commandTimeout = .seconds(2)
        return RedisClient(configuration: c, logger: logger)
    }

    @Test func clientFindsTheClusterAndRoutesEachKeyToItsPrimary() async throws {
        let redis = try Self.client(Self.sharedClusterURL())
        defer { redis.shutdown() }
        try await redis.checkReady(timeout: .seconds(2))
        let primaries = try await redis.sendToEachPrimary(["PING"])
        #expect(primaries.count == 3)

        // Keys of 60 tags land on all three primaries; each reads back from wherever it lives.
        let run = TestStack.unique("route")
        let keys = (0..<60).map { "t:{\(run)-\($0)}:k" }
        for key in keys { try await redis.set(key, key, expiresIn: .seconds(60)) }
        for key in keys { #expect(try await redis.get(key) == key) }
        // A pipeline spanning every node answers in order.
        let replies = try await redis.pipeline(keys.map { ["GET", .string($0)] })
        #expect(replies.map(\.string) == keys.map { Optional($0) })
        // SCAN visits every primary.
        let found = try await redis.scanKeys(matching: "t:{\(run)-*")
        #expect(Set(found) == Set(keys))
        var owners = Set<String>()
        for (node, reply) in try await redis.sendToEachPrimary(["DBSIZE"]) where (reply.int ?? 0) > 0 { owners.insert(node.description) }
        #expect(owners.count == 3, "keys on every primary: \(owners)")
        // The slot function agrees with the server's.
        for key in keys.prefix(10) {
            #expect(try await redis.send(["CLUSTER", "KEYSLOT", .string(key)]).int == HashSlot.of(key))
        }
        let statistics = redis.clusterStatistics
        #expect(statistics.isCluster && statistics.primaries == 3 && statistics.nodes == 6)
        try await redis.send(["DEL"] + keys.prefix(1).map(RedisArgument.string))
    }

    @Test func standaloneRedisIsDetectedAndNeedsNoClusterCommand() async throws {
        let redis = try Self.client(TestStack.settings().redisURL)
        defer { redis.shutdown() }
        try await redis.checkReady(timeout: .seconds(2))
        #expect(redis.clusterStatistics.isCluster == false)
        #expect(try await redis.sendToEachPrimary(["PING"]).count == 1)
    }

    @Test func seedListParsesAndRejectsNonsense() throws {
        let c = try RedisConfiguration(url: "redis://:p,w@10.0.0.1:7001,10.0.0.2:7002,redis://10.0.0.3/0")
        #expect(c.seeds == [RedisEndpoint(host: "10.0.0.1", port: 7001), RedisEndpoint(host: "10.0.0.2", port: 7002), RedisEndpoint(host: "10.0.0.3", port: 6379)])
        #expect(c.password == "p,w")
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://a:1,:x") }
    }

    /// The inventory's war on the cluster: 12 events over the three primaries, reserves,
    /// confirms, cancels and abandoned holds swept by three sweepers; the law holds at every
    /// audit and at the end, and no node ever answered CROSSSLOT.
    @Test(.timeLimit(.minutes(5)))
    func inventoryWarOnTheClusterKeepsTheLawAndNeverCrossesSlots() async throws {
        let redis = try Self.client(Self.sharedClusterURL())
        defer { redis.shutdown() }
        let before = try await Self.crossSlotErrors(redis)
        var config = InventoryConfiguration()
        config.holdTTL = .seconds(2)
        let inventory = RedisInventory(redis: redis, configuration: config)
        let category = CategoryName("floor")!
        let events = (0..<12).map { _ in EventID("t_" + randomHex(bytes: 8))! }
        for event in events {
            _ = try await inventory.initCategory(event: event, category: category, totalStock: 500,
                                                 price: Money(amount: 1_000, currency: "EUR"), maxPerUser: 6)
        }
        let slots = Set(events.map { HashSlot.of("{ev:\($0.rawValue)}") })
        var owners = Set<String>()
        for (node, _) in try await redis.sendToEachPrimary(["PING"]) {
            for slot in slots where try await Self.keysInSlot(slot, on: node) > 0 { owners.insert(node.description) }
        }
        #expect(owners.count >= 2, "the events live on several primaries: \(owners)")

        let sweepers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    var c = HoldSweeper.Configuration()
                    c.interval = .milliseconds(100)
                    c.events = Set(events)
                    let sweeper = HoldSweeper(inventory: inventory, configuration: c, expiredCounter: Counter(label: "test_holds_expired"), logger: TestStack.logger)
                    group.addTask { try await sweeper.run() }
                }
                try await group.waitForAll()
            }
        }
        let stop = Flag()
        let violations = Locked<[String]>([])
        let audits = Counter64()
        let auditor = Task {
            while !stop.isSet {
                for event in events {
                    let s = try #require(try await inventory.availability(event: event).first).stock
                    if !s.isConserved || s.total != 500 { violations.withLock { $0.append("\(event): \(s)") } }
                }
                audits.add()
            }
        }
        let confirmed = Locked<[EventID: Int]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<32 {
                group.addTask {
                    var rng = SystemRandomNumberGenerator()
                    for n in 0..<150 {
                        let event = events.randomElement(using: &rng)!
                        let buyer = BuyerID("b-\(w)-\(n % 40)")!
                        let qty = Int.random(in: 1...3, using: &rng)
                        guard case .held(let r, _) = try await inventory.reserve(event: event, category: category, buyer: buyer, quantity: qty) else { continue }
                        switch Int.random(in: 0..<3, using: &rng) {
                        case 0:
                            if case .confirmed = try await inventory.confirm(r.id, buyer: buyer, paymentReference: "p-\(r.id.token)") {
                                confirmed.withLock { $0[event, default: 0] += qty }
                            }
                        case 1: _ = try await inventory.cancel(r.id, buyer: buyer)
                        default: break  // abandoned: the sweepers expire it
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let drained = try await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            var held = 0
            for event in events { held += try await redis.send(["ZCARD", .string(InventoryKeys(event: event).holds)]).int ?? 0 }
            return held == 0
        }
        #expect(drained, "every abandoned hold was swept")
        stop.set()
        try await auditor.value
        sweepers.cancel()
        _ = try? await sweepers.value

        #expect(violations.withLock { $0 }.isEmpty, "available + held + confirmed == total at every audit")
        #expect(audits.value > 3)
        let sold = confirmed.withLock { $0 }
        for event in events {
            let s = try #require(try await inventory.availability(event: event).first).stock
            let n = sold[event, default: 0]
            #expect(s == StockLevels(total: 500, available: 500 - n, held: 0, confirmed: n), "\(event)")
        }
        #expect(try await Self.crossSlotErrors(redis) == before, "no node answered CROSSSLOT")
    }

    /// CROSSSLOT error replies every primary has given since it started (`INFO errorstats`).
    static func crossSlotErrors(_ redis: RedisClient) async throws -> Int {
        var total = 0
        for (_, reply) in try await redis.sendToEachPrimary(["INFO", "errorstats"]) {
            for line in (reply.string ?? "").split(whereSeparator: \.isNewline) where line.hasPrefix("errorstat_CROSSSLOT:count=") {
                total += Int(line.dropFirst("errorstat_CROSSSLOT:count=".count)) ?? 0
            }
        }
        return total
    }

    static func keysInSlot(_ slot: Int, on node: RedisEndpoint) async throws -> Int {
        try await withNode(node) { try await $0.send(["CLUSTER", "COUNTKEYSINSLOT", .int(slot)]).int ?? 0 }
    }

    /// A standalone client to one node, for cluster administration.
    static func withNode<T>(_ node: RedisEndpoint, _ body: (RedisClient) async throws -> T) async throws -> T {
        var c = RedisConfiguration()
        c.host = node.host
        c.port = node.port
        c.mode = .standalone
        c.poolSize = 1
        let client = RedisClient(configuration: c, logger: TestStack.logger)
        defer { client.shutdown() }
        return try await body(client)
    }
}

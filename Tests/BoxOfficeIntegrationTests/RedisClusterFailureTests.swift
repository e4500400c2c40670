import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Foundation
import Logging
import Synchronization
import Testing

/// A Redis Cluster changing under a ticket war: a slot moved live, a primary killed. Each test
/// has a private cluster (scripts/redis-cluster.sh on free ports).
@Suite("Redis Cluster under change (private clusters)", .serialized)
struct RedisClusterFailureTests {
    /// What a war saw: holds acknowledged, confirms acknowledged, errors thrown.
    final class Tally: Sendable {
        let held = Locked<[ReservationID]>([])
        let confirmed = Locked<[ReservationID]>([])
        let errors = Locked<[String]>([])
        let heldAfter = Counter64()
    }

    /// Buyers reserving one ticket of `event` and confirming it, `workers` at a time, until `stop`.
    static func war(_ inventory: RedisInventory, event: EventID, workers: Int, stop: Flag, tally: Tally, after mark: Flag? = nil) async {
        await withTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask {
                    var n = 0
                    while !stop.isSet {
                        n += 1
                        let buyer = BuyerID("b-\(w)-\(n)")!
                        do {
                            guard case .held(let r, _) = try await inventory.reserve(event: event, category: CategoryName("floor")!, buyer: buyer, quantity: 1) else { continue }
                            tally.held.withLock { $0.append(r.id) }
                            if mark?.isSet == true { tally.heldAfter.add() }
                            if case .confirmed = try await inventory.confirm(r.id, buyer: buyer, paymentReference: "p-\(r.id.token)") {
                                tally.confirmed.withLock { $0.append(r.id) }
                            }
                        } catch {
                            tally.errors.withLock { $0.append("\(error)") }
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
        }
    }

    static func inventory(_ cluster: RedisClusterProcess, retry: Duration = .seconds(2)) throws -> (RedisClient, RedisInventory) {
        var quiet = TestStack.logger
        quiet.logLevel = .critical
        let redis = try RedisClusterTests.client(cluster.url, retry: retry, logger: quiet)
        return (redis, RedisInventory(redis: redis))
    }

    /// The hot event's slot moves to another primary while buyers reserve and confirm: every
    /// request is answered (redirects and TRYAGAIN are retried inside the client), nothing is
    /// oversold, and the stock matches what the buyers were told.
    @Test(.timeLimit(.minutes(3)))
    func liveSlotMigrationMidWarAnswersEveryRequestAndKeepsTheLaw() async throws {
        let cluster = try RedisClusterProcess()
        let (redis, inventory) = try Self.inventory(cluster)
        defer { redis.shutdown() }
        let event = EventID("t_" + randomHex(bytes: 8))!
        _ = try await inventory.initCategory(event: event, category: CategoryName("floor")!, totalStock: 1_000_000,
                                             price: Money(amount: 1_000, currency: "EUR"), maxPerUser: nil)
        let slot = HashSlot.of("{ev:\(event.rawValue)}")
        let stop = Flag()
        let tally = Tally()
        let violations = Locked<[StockLevels]>([])
        let auditor = Task {
            while !stop.isSet {
                if let s = try? await inventory.availability(event: event).first?.stock, !s.isConserved || s.total != 1_000_000 {
                    violations.withLock { $0.append(s) }
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        let war = Task { await Self.war(inventory, event: event, workers: 16, stop: stop, tally: tally) }
        let warmedUp = await eventually(timeout: .seconds(10)) { tally.confirmed.withLock { $0.count } > 200 }
        #expect(warmedUp)

        let (from, to, batches) = try await ClusterAdmin(ports: cluster.ports).migrate(slot: slot, batch: 100, pause: .milliseconds(10))
        let movedAt = tally.confirmed.withLock { $0.count }
        let resumed = await eventually(timeout: .seconds(10)) { tally.confirmed.withLock { $0.count } > movedAt + 200 }
        stop.set()
        await war.value
        await auditor.value

        #expect(resumed, "reserves and confirms go on after the move")
        #expect(batches > 1, "the keys moved in several batches, so the war saw a half-moved slot")
        #expect(try await ClusterAdmin(ports: cluster.ports).owner(of: slot) == to && from != to)
        let errors = tally.errors.withLock { $0 }
        #expect(errors.isEmpty, "every request answered within the retry deadline: \(errors.prefix(3))")
        #expect(redis.clusterStatistics.moved + redis.clusterStatistics.ask > 0, "the client followed redirects")
        #expect(violations.withLock { $0 }.isEmpty, "available + held + confirmed == total at every audit")
        let s = try #require(try await inventory.availability(event: event).first).stock
        let held = tally.held.withLock { $0.count }, confirmed = tally.confirmed.withLock { $0.count }
        #expect(s == StockLevels(total: 1_000_000, available: 1_000_000 - held, held: held - confirmed, confirmed: confirmed))
    }

    /// The primary serving the hot event is SIGKILLed mid-war and its replica promoted: reserves
    /// resume once the cluster is ok, nothing is oversold, and the test prints how many
    /// acknowledged holds the asynchronous replication lost.
    @Test(.timeLimit(.minutes(3)))
    func primaryKilledMidWarFailsOverWithoutOverselling() async throws {
        let cluster = try RedisClusterProcess(nodeTimeout: .milliseconds(1000))
        let (redis, inventory) = try Self.inventory(cluster)
        defer { redis.shutdown() }
        let event = EventID("t_" + randomHex(bytes: 8))!
        let total = 1_000_000
        _ = try await inventory.initCategory(event: event, category: CategoryName("floor")!, totalStock: total,
                                             price: Money(amount: 1_000, currency: "EUR"), maxPerUser: nil)
        let admin = ClusterAdmin(ports: cluster.ports)
        let slot = HashSlot.of("{ev:\(event.rawValue)}")
        let victim = try #require(try await admin.owner(of: slot))
        // The replica must hold the event before the crash, or there is nothing to fail over to.
        try await admin.waitForReplicas(of: victim)

        let stop = Flag(), afterFailover = Flag()
        let tally = Tally()
        let war = Task { await Self.war(inventory, event: event, workers: 16, stop: stop, tally: tally, after: afterFailover) }
        #expect(await eventually(timeout: .seconds(10)) { tally.confirmed.withLock { $0.count } > 300 })

        let killedAt = ContinuousClock.now
        cluster.kill(port: victim.port)
        let failedOver = await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            guard let owner = try? await admin.owner(of: slot, asking: cluster.ports.filter { $0 != victim.port }) else { return false }
            return owner != victim
        }
        #expect(failedOver, "a replica took over the slot")
        let ready = await eventually(timeout: .seconds(30), every: .milliseconds(100)) { (try? await redis.checkReady(timeout: .seconds(1))) != nil }
        #expect(ready, "the client sees the cluster ok again")
        let outage = ContinuousClock.now - killedAt
        afterFailover.set()
        let resumed = await eventually(timeout: .seconds(15)) { tally.heldAfter.value > 200 }
        stop.set()
        await war.value
        #expect(resumed, "reserves resume after the failover")

        let s = try #require(try await inventory.availability(event: event).first).stock
        #expect(s.isConserved && s.total == total && s.available >= 0, "no oversell: \(s)")
        // Acknowledged holds the new primary never received (replication is asynchronous).
        let acknowledged = tally.held.withLock { $0 }
        var lost = 0
        for chunk in stride(from: 0, to: acknowledged.count, by: 500) {
            let ids = acknowledged[chunk..<min(chunk + 500, acknowledged.count)]
            let replies = try await redis.pipeline(ids.map { ["EXISTS", .string(InventoryKeys(event: event).reservation($0))] })
            lost += replies.filter { $0.int == 0 }.count
        }
        #expect(s.held + s.confirmed <= acknowledged.count, "the cluster holds no more tickets than buyers were told of")
        print("failover: outage \(outage), \(acknowledged.count) holds acknowledged, \(lost) lost by the failover, \(tally.errors.withLock { $0.count }) requests failed (503)")
    }
}

/// Cluster administration for tests, the way an operator does it with redis-cli.
struct ClusterAdmin {
    let ports: [Int]

    struct Node { var id: String; var endpoint: RedisEndpoint; var isPrimary: Bool; var failed: Bool; var slots: [ClosedRange<Int>]; var primaryID: String? }

    /// `CLUSTER NODES` as seen by the first of `asking` that answers.
    func nodes(asking: [Int]? = nil) async throws -> [Node] {
        for port in asking ?? ports {
            guard let text = try? await RedisClusterTests.withNode(RedisEndpoint(host: "127.0.0.1", port: port), { try await $0.send(["CLUSTER", "NODES"]).string }) else { continue }
            return text.split(whereSeparator: \.isNewline).compactMap { line in
                let f = line.split(separator: " ")
                guard f.count >= 8, let address = f[1].split(separator: "@").first, let endpoint = RedisEndpoint(address) else { return nil }
                let flags = f[2].split(separator: ",")
                let slots: [ClosedRange<Int>] = f.dropFirst(8).compactMap { part in
                    if part.hasPrefix("[") { return nil }
                    let bounds = part.split(separator: "-").compactMap { Int($0) }
                    return bounds.count == 2 ? bounds[0]...bounds[1] : bounds.first.map { $0...$0 }
                }
                return Node(id: String(f[0]), endpoint: endpoint, isPrimary: flags.contains("master"),
                            failed: flags.contains("fail") || flags.contains("fail?"), slots: slots, primaryID: f[3] == "-" ? nil : String(f[3]))
            }
        }
        throw RedisError(.unavailable, "no cluster node answered")
    }

    func owner(of slot: Int, asking: [Int]? = nil) async throws -> RedisEndpoint? {
        try await nodes(asking: asking).first { $0.isPrimary && !$0.failed && $0.slots.contains { $0.contains(slot) } }?.endpoint
    }

    /// Waits until the replicas of `primary` have caught up with its replication offset.
    func waitForReplicas(of primary: RedisEndpoint) async throws {
        let caughtUp = try await eventually(timeout: .seconds(10)) {
            try await RedisClusterTests.withNode(primary) { node in
                let info = try await node.send(["INFO", "replication"]).string ?? ""
                let master = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("master_repl_offset:") }.flatMap { Int($0.split(separator: ":")[1]) } ?? -1
                let replicas = info.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("slave") && $0.contains("offset=") }
                return !replicas.isEmpty && replicas.allSatisfy { line in
                    line.split(separator: ",").first { $0.hasPrefix("offset=") }.flatMap { Int($0.dropFirst(7)) } == master
                }
            }
        }
        guard caughtUp else { throw RedisError(.timeout, "replicas of \(primary) did not catch up") }
    }

    /// Moves `slot` to another primary as `redis-cli --cluster reshard` does: IMPORTING on the
    /// target, MIGRATING on the source, MIGRATE the keys `batch` at a time (pausing between
    /// batches, so clients meet the half-moved slot), then SETSLOT … NODE everywhere. Returns
    /// the source, the target and how many batches moved keys.
    func migrate(slot: Int, batch: Int, pause: Duration) async throws -> (RedisEndpoint, RedisEndpoint, Int) {
        let all = try await nodes()
        guard let source = all.first(where: { $0.isPrimary && $0.slots.contains { $0.contains(slot) } }),
              let target = all.first(where: { $0.isPrimary && $0.id != source.id }) else { throw RedisError(.protocolError, "no source or target") }
        try await RedisClusterTests.withNode(target.endpoint) { try await $0.send(["CLUSTER", "SETSLOT", .int(slot), "IMPORTING", .string(source.id)]) }
        var batches = 0
        try await RedisClusterTests.withNode(source.endpoint) { node in
            try await node.send(["CLUSTER", "SETSLOT", .int(slot), "MIGRATING", .string(target.id)])
            while true {
                let keys = try await node.send(["CLUSTER", "GETKEYSINSLOT", .int(slot), .int(batch)]).array?.compactMap(\.string) ?? []
                if keys.isEmpty { break }
                try await node.send(["MIGRATE", .string(target.endpoint.host), .int(target.endpoint.port), "", 0, 5000, "KEYS"] + keys.map(RedisArgument.string))
                batches += 1
                try await Task.sleep(for: pause)
            }
        }
        // The target first, then the source, then the rest (the order redis-cli uses).
        let order = [target, source] + all.filter { $0.isPrimary && $0.id != target.id && $0.id != source.id }
        for node in order {
            try await RedisClusterTests.withNode(node.endpoint) { try await $0.send(["CLUSTER", "SETSLOT", .int(slot), "NODE", .string(target.id)]) }
        }
        return (source.endpoint, target.endpoint, batches)
    }
}

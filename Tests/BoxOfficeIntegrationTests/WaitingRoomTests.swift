import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Foundation
import Synchronization
import Testing

/// The waiting room's scripts against real Redis: places, pace, pause, cap, skipped places,
/// durability, the cluster.
@Suite("Waiting room (real Redis)")
struct WaitingRoomTests {
    static func nowMs(_ redis: RedisClient) async throws -> Int64 {
        let t = try await redis.send(["TIME"]).array ?? []
        return Int64(t[0].int ?? 0) * 1000 + Int64(t[1].int ?? 0) / 1000
    }

    /// The buyers of the line, front first.
    static func line(_ f: InventoryFixture) async throws -> [String] {
        (try await f.inventory.redis.send(["ZRANGE", .string(f.keys.queueLine), "0", "-1"]).array ?? []).compactMap(\.string)
    }

    /// Spearman's rank correlation of the positions 0..<n in `order` against join order.
    static func rankCorrelation(_ order: [Int]) -> Double {
        let n = Double(order.count)
        let d2 = order.enumerated().reduce(0.0) { $0 + pow(Double($1.offset - $1.element), 2) }
        return 1 - 6 * d2 / (n * (n * n - 1))
    }

    @Test(.timeLimit(.minutes(2)))
    func preQueueJoinsGetARandomPlaceAndLaterJoinsQueueInArrivalOrder() async throws {
        var orders: [[Int]] = []
        for _ in 0..<2 {
            try await withInventory(stock: 100) { f in
                let now = try await Self.nowMs(f.inventory.redis)
                try await f.inventory.setQueue(f.event, QueueSettings(opensAtMs: now + 600_000, admitPerMinute: 60))
                for i in 0..<1_000 {
                    guard case .place(let p, true, _) = try await f.inventory.joinQueue(f.event, buyer: f.buyer(i)) else { throw QueueTestFailure("join \(i)") }
                    #expect(p.state == .waiting && p.etaSeconds > 300, "the ETA counts the time to the opening")
                }
                let order = try await Self.line(f).map { Int($0.dropFirst("buyer-".count))! }
                #expect(order.count == 1_000)
                let rho = Self.rankCorrelation(order)
                #expect(abs(rho) < 0.1, "pre-queue places are unrelated to join order (rho \(rho))")
                orders.append(order)
            }
        }
        #expect(orders[0] != orders[1], "two pre-queues are ordered differently")

        try await withInventory(stock: 100) { f in
            let now = try await Self.nowMs(f.inventory.redis)
            // Opened a moment ago, paused so that nobody leaves the line while it is read.
            try await f.inventory.setQueue(f.event, QueueSettings(opensAtMs: now - 1_000, admitPerMinute: 60, paused: true))
            for i in 0..<200 { _ = try await f.inventory.joinQueue(f.event, buyer: f.buyer(i)) }
            #expect(try await Self.line(f) == (0..<200).map { "buyer-\($0)" }, "after the opening, arrival order")
            guard case .place(let p, false, _) = try await f.inventory.joinQueue(f.event, buyer: f.buyer(7)) else { throw QueueTestFailure("rejoin") }
            #expect(p.position == 8, "joining again keeps the place")
        }
    }

    /// Two "replicas" (clients of their own) poll and run the admitter at once for 30 s: the
    /// admissions keep the set pace.
    @Test(.timeLimit(.minutes(2)))
    func admissionKeepsItsPaceWithTwoReplicasPolling() async throws {
        try await withInventory(stock: 100) { f in
            let rate = 120
            let now = try await Self.nowMs(f.inventory.redis)
            // Paused while the line fills, so every admission is one the replicas made.
            try await f.inventory.setQueue(f.event, QueueSettings(opensAtMs: now, admitPerMinute: rate, paused: true))
            for i in 0..<500 { _ = try await f.inventory.joinQueue(f.event, buyer: f.buyer(i)) }
            try await f.inventory.setQueue(f.event, QueueSettings(opensAtMs: now, admitPerMinute: rate))
            let replicas = try (0..<2).map { _ in
                var c = try TestStack.settings().redis()
                c.poolSize = 1
                return RedisInventory(redis: RedisClient(configuration: c, logger: TestStack.logger))
            }
            defer { for r in replicas { r.redis.shutdown() } }
            let admitted = Counter64()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, replica) in replicas.enumerated() {
                    group.addTask {
                        var i = n
                        while ContinuousClock.now - start < .seconds(30) {
                            if case .place(_, _, let a) = try await replica.pollQueue(f.event, buyer: f.buyer(i % 500)) { admitted.add(a) }
                            for case let r? in try await replica.admitDue(events: [f.event]) { admitted.add(r.admitted) }
                            i += 2
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let expected = rate / 2  // 30 s
            let burst = rate / 30
            #expect((expected * 9 / 10...expected * 11 / 10 + burst).contains(admitted.value), "admitted \(admitted.value) in 30 s at \(rate)/min")
            let status = try #require(try await f.inventory.queueStatus(f.event))
            #expect(status.admittedTotal == admitted.value && status.waiting == 500 - admitted.value)
        }
    }

    @Test func pauseAdmitsNoOneAndResumeCarriesOn() async throws {
        try await withInventory(stock: 100) { f in
            let now = try await Self.nowMs(f.inventory.redis)
            var s = QueueSettings(opensAtMs: now - 60_000, admitPerMinute: 60_000, paused: true)
            try await f.inventory.setQueue(f.event, s)
            for i in 0..<20 { _ = try await f.inventory.joinQueue(f.event, buyer: f.buyer(i)) }
            for _ in 0..<5 { #expect(try await f.inventory.admitDue(events: [f.event]).first??.admitted == 0) }
            #expect(try await f.inventory.queueStatus(f.event)?.settings.phase(atMs: now) == "paused")
            s.paused = false
            try await f.inventory.setQueue(f.event, s)
            #expect((try await f.inventory.admitDue(events: [f.event]).first??.admitted ?? 0) > 0)
            guard case .place(let p, _, _) = try await f.inventory.pollQueue(f.event, buyer: f.buyer(0)) else { throw QueueTestFailure("poll") }
            #expect(p.state == .admitted && p.admissionEndsMs != nil)
        }
    }

    /// `max_active` caps running admissions; a confirm or a cancel ends one and frees its room.
    @Test func maxActiveCapsRunningAdmissionsAndConfirmOrCancelEndsOne() async throws {
        try await withInventory(stock: 100) { f in
            let inv = f.inventory
            let now = try await Self.nowMs(inv.redis)
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now - 60_000, admitPerMinute: 60_000, maxActive: 2, paused: true))
            for i in 0..<5 { _ = try await inv.joinQueue(f.event, buyer: f.buyer(i)) }
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now - 60_000, admitPerMinute: 60_000, maxActive: 2))
            _ = try await inv.admitDue(events: [f.event])
            _ = try await inv.admitDue(events: [f.event])
            #expect(try await inv.queueStatus(f.event)?.admitted == 2)
            // Buyer 0 buys, buyer 1 gives back: both admissions end, two more start.
            guard case .held(let r0, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(0), quantity: 1, admitted: true),
                  case .held(let r1, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 1, admitted: true)
            else { throw QueueTestFailure("admitted buyers reserve") }
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 1, admitted: true) == .notAdmitted,
                    "a buyer still waiting is refused even with a (forged) claim")
            _ = try await inv.confirm(r0.id, buyer: f.buyer(0), paymentReference: "p")
            _ = try await inv.cancel(r1.id, buyer: f.buyer(1))
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(0), quantity: 1, admitted: true) == .notAdmitted,
                    "the confirm ended buyer 0's admission")
            _ = try await inv.admitDue(events: [f.event])
            let status = try #require(try await inv.queueStatus(f.event))
            #expect(status.admitted == 2 && status.waiting == 1 && status.admittedTotal == 4)
        }
    }

    /// A place whose buyer stopped polling is skipped without using a turn.
    @Test func placesNotPolledInTimeAreSkipped() async throws {
        try await withInventory(stock: 100) { f in
            let inv = f.inventory
            let now = try await Self.nowMs(inv.redis)
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now - 60_000, admitPerMinute: 60_000, paused: true))
            for i in 0..<4 { _ = try await inv.joinQueue(f.event, buyer: f.buyer(i)) }
            // Buyers 0 and 2 went quiet long ago.
            for i in [0, 2] { try await inv.redis.send(["HSET", .string(f.keys.queueSeen), .string("buyer-\(i)"), "1"]) }
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now - 60_000, admitPerMinute: 60_000, maxActive: 2))
            _ = try await inv.admitDue(events: [f.event])
            for (i, state) in [(0, QueuePlace.State.expired), (1, .admitted), (2, .expired), (3, .admitted)] {
                guard case .place(let p, _, _) = try await inv.pollQueue(f.event, buyer: f.buyer(i)) else { throw QueueTestFailure("poll \(i)") }
                #expect(p.state == state, "buyer \(i)")
            }
            // A skipped buyer who comes back joins at the back.
            guard case .place(let back, true, _) = try await inv.joinQueue(f.event, buyer: f.buyer(0)) else { throw QueueTestFailure("rejoin") }
            #expect(back.state == .waiting && back.position == 1)
        }
    }

    @Test func joinBeforeThePreQueueIsRefusedAndAnEventWithoutAQueueNeedsNoAdmission() async throws {
        try await withInventory(stock: 100) { f in
            let inv = f.inventory
            #expect(try await inv.joinQueue(f.event, buyer: f.buyer(1)) == .noQueue)
            guard case .held = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 1) else {
                throw QueueTestFailure("no queue: reserve as before")
            }
            let now = try await Self.nowMs(inv.redis)
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now + 3_600_000, admitPerMinute: 60, preQueueMinutes: 15))
            guard case .notOpen(let starts) = try await inv.joinQueue(f.event, buyer: f.buyer(1)) else { throw QueueTestFailure("not open") }
            #expect(starts == now + 3_600_000 - 15 * 60_000)
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 1) == .notAdmitted)
            #expect(try await inv.deleteQueue(f.event))
            guard case .held = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 1) else {
                throw QueueTestFailure("queue removed: reserve as before")
            }
        }
    }

    /// What a waiting buyer costs Redis: the place and the poll deadline.
    @Test func aWaitingBuyerTakesUnder200BytesOfRedis() async throws {
        try await withInventory(stock: 100) { f in
            let inv = f.inventory
            let now = try await Self.nowMs(inv.redis)
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now + 600_000, admitPerMinute: 60))
            let n = 20_000
            for chunk in stride(from: 0, to: n, by: 1_000) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in chunk..<chunk + 1_000 { group.addTask { _ = try await inv.joinQueue(f.event, buyer: BuyerID("b-\(String(i, radix: 36))-\(f.event.rawValue.suffix(6))")!) } }
                    try await group.waitForAll()
                }
            }
            var bytes = 0
            for key in [f.keys.queueLine, f.keys.queueSeen] {
                bytes += try await inv.redis.send(["MEMORY", "USAGE", .string(key), "SAMPLES", "0"]).int ?? 0
            }
            let perBuyer = Double(bytes) / Double(n)
            print("waiting room: \(n) waiting buyers take \(bytes) bytes of Redis: \(Int(perBuyer)) bytes each")
            #expect(perBuyer < 200)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func redisRestartLosesNoAnsweredPlace() async throws {
        let server = try RedisServerProcess(appendOnly: true)
        try await server.start()
        var c = try RedisConfiguration(url: server.url)
        c.poolSize = 2
        var quiet = TestStack.logger
        quiet.logLevel = .critical
        let redis = RedisClient(configuration: c, logger: quiet)
        defer { redis.shutdown() }
        try await withInventory(stock: 100, redis: redis) { f in
            let now = try await Self.nowMs(redis)
            try await f.inventory.setQueue(f.event, QueueSettings(opensAtMs: now + 600_000, admitPerMinute: 60))
            for i in 0..<300 { _ = try await f.inventory.joinQueue(f.event, buyer: f.buyer(i)) }
            let before = try await Self.line(f)
            server.stop(kill: true)
            try await server.start()
            let back = await eventually(timeout: .seconds(10)) { (try? await redis.ping()) != nil }
            #expect(back)
            #expect(try await Self.line(f) == before, "every answered place is back, in order")
        }
    }

    @Test func aQueueOnTheRedisClusterAdmitsInOrder() async throws {
        let redis = try RedisClusterTests.client(RedisClusterTests.sharedClusterURL())
        defer { redis.shutdown() }
        try await withInventory(stock: 100, redis: redis) { f in
            let inv = f.inventory
            let now = try await Self.nowMs(redis)
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now - 1_000, admitPerMinute: 60_000, paused: true))
            for i in 0..<50 { _ = try await inv.joinQueue(f.event, buyer: f.buyer(i)) }
            try await inv.setQueue(f.event, QueueSettings(opensAtMs: now - 1_000, admitPerMinute: 60_000, maxActive: 10))
            _ = try await inv.admitDue(events: [f.event])
            let admitted = (try await redis.send(["ZRANGE", .string(f.keys.queueAdmissions), "0", "-1"]).array ?? []).compactMap(\.string)
            #expect(Set(admitted) == Set((0..<10).map { "buyer-\($0)" }), "the first ten in line")
            guard case .held = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(3), quantity: 1, admitted: true) else {
                throw QueueTestFailure("an admitted buyer reserves on the cluster")
            }
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(30), quantity: 1, admitted: true) == .notAdmitted)
        }
    }
}

struct QueueTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

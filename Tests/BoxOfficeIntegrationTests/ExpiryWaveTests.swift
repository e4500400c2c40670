import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Foundation
import Metrics
import Testing

/// Unpaid holds of a hot on-sale all come due together: stock is whole at `expires_at`, not
/// when a sweeper gets there, and every hold still lapses exactly once.
@Suite("The expiry wave of a hot on-sale (real servers)", .serialized)
struct ExpiryWaveTests {
    /// Redis's clock, in milliseconds.
    func redisNow(_ redis: RedisClient) async throws -> Int64 {
        let t = try await redis.send(["TIME"]).array ?? []
        return Int64(t.first?.int ?? 0) * 1000 + Int64(t.last?.int ?? 0) / 1000
    }

    /// The latest expiry among `holds` (ms, Redis time).
    func lastExpiry(_ redis: RedisClient, _ holds: String) async throws -> Int64 {
        let v = try await redis.send(["ZRANGE", .string(holds), "-1", "-1", "WITHSCORES"]).array ?? []
        return Int64(v.last?.string ?? "0") ?? 0
    }

    /// Waits until Redis's clock reaches `ms`.
    func waitForRedisTime(_ redis: RedisClient, _ ms: Int64, timeout: Duration) async throws -> Bool {
        try await eventually(timeout: timeout, every: .milliseconds(20)) { try await redisNow(redis) >= ms }
    }

    func sweeper(_ inventory: RedisInventory, events: Set<EventID>) -> HoldSweeper {
        var c = HoldSweeper.Configuration()
        c.events = events
        return HoldSweeper(inventory: inventory, configuration: c, expiredCounter: Counter(label: "test_wave_expired"), logger: TestStack.logger)
    }

    /// Holds `count` single tickets of `f`'s event, each for its own buyer, with hold times
    /// chosen so that they come due from `dueIn` after the start, evenly over `spread`, as the
    /// holds of a rush come due as fast as they were made.
    func holdsDueTogether(_ f: PipelineFixture, count: Int, dueIn: Duration, spread: Duration) async throws -> Int {
        let start = ContinuousClock.now
        var held = 0
        // Chunks of 1,000, each hold time taken at its chunk's start: a chunk made slowly (a busy
        // machine) shifts its holds' expiries by no more than its own making.
        let size = 1_000
        for chunk in stride(from: 0, to: count, by: size) {
            var c = InventoryConfiguration()
            c.holdTTL = ContinuousClock.now.duration(to: start + dueIn + spread * (Double(chunk) / Double(count)))
            try #require(c.holdTTL > .seconds(1), "the holds were made in time")
            let inventory = RedisInventory(redis: f.redis, configuration: c)
            held += try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<64 {
                    group.addTask {
                        var n = 0
                        for i in stride(from: chunk + w, to: min(chunk + size, count), by: 64) {
                            if case .held = try await inventory.reserve(event: f.event, category: f.category, buyer: BuyerID("wave-\(i)")!, quantity: 1) { n += 1 }
                        }
                        return n
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        return held
    }

    @Test(.timeLimit(.minutes(6)))
    func aHundredThousandHoldsDueTogetherAreBackOnSaleWithinASecond() async throws {
        let count = 100_000
        try await withPipeline(stock: count) { f in
            let started = ContinuousClock.now
            #expect(try await holdsDueTogether(f, count: count, dueIn: .seconds(25), spread: .seconds(8)) == count)
            let holds = InventoryKeys(event: f.event).holds
            let first = try #require(try await f.redis.send(["ZRANGE", .string(holds), "0", "0", "WITHSCORES"]).array?.last?.string.flatMap { Int64($0) })
            let last = try await lastExpiry(f.redis, holds)
            #expect(last - first <= 10_000, "the holds come due within 10 s (\(last - first) ms)")
            print("wave: \(count) holds made in \(started.duration(to: .now)), due over \(last - first) ms")

            let sweep = Task { try await sweeper(f.inventory, events: [f.event]).run() }
            defer { sweep.cancel() }
            #expect(try await waitForRedisTime(f.redis, last + 1_000, timeout: .seconds(90)))
            let unswept = try await f.redis.send(["ZCARD", .string(holds)]).int ?? -1
            let stock = try await f.inventory.availability(event: f.event).first?.stock
            #expect(stock == StockLevels(total: count, available: count, held: 0, confirmed: 0),
                    "one second after the last hold was due the whole stock is on sale (\(unswept) holds not yet swept)")
            let swept = try await eventually(timeout: .seconds(1), every: .milliseconds(20)) {
                try await f.redis.send(["ZCARD", .string(holds)]).int == 0
            }
            #expect(swept, "every hold was swept within 2 s of the last one's expiry (\(unswept) left at 1 s)")
            print("wave: \(unswept) holds left for the sweeper one second after the last was due")

            // Exactly one reservation.expired per hold, then exactly one expired row each in PostgreSQL.
            let outbox = try await f.redis.send(["XRANGE", .string(InventoryKeys(event: f.event).outbox), "-", "+"]).array ?? []
            let expired = outbox.flatMap { entry in
                (entry.array?.last?.array.flatMap(OutboxEntry.events) ?? []).filter { $0.type == "reservation.expired" }.map(\.rid)
            }
            #expect(expired.count == count && Set(expired).count == count, "\(expired.count) expired events for \(Set(expired).count) holds")
            try await withInProcessPipeline(f) {
                let persisted = try await eventually(timeout: .seconds(180), every: .milliseconds(500)) {
                    try await f.bookingsByStatus() == ["expired": count]
                }
                let got = try await f.bookingsByStatus()
                #expect(persisted, "PostgreSQL has one expired booking per hold: \(got)")
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aThousandEventsWithAFewDueHoldsEachAreAllSwept() async throws {
        var c = try TestStack.settings().redis()
        c.poolSize = 4
        let redis = RedisClient(configuration: c, logger: TestStack.logger)
        defer { redis.shutdown() }
        var config = InventoryConfiguration()
        config.holdTTL = .seconds(3)
        let inventory = RedisInventory(redis: redis, configuration: config)
        let events = (0..<1_000).map { _ in EventID("many_" + randomHex(bytes: 6))! }
        let floor = CategoryName("floor")!
        defer {
            Task {
                for e in events {
                    let keys = try await redis.scanKeys(matching: "bo:{ev:\(e.rawValue)}:*")
                    if !keys.isEmpty { try await redis.send(["DEL"] + keys.map(RedisArgument.string)) }
                    try await redis.send(["SREM", .string(InventoryKeys.events), .string(e.rawValue)])
                }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, e) in events.enumerated() {
                group.addTask {
                    _ = try await inventory.initCategory(event: e, category: floor, totalStock: 10, price: Money(amount: 100, currency: "EUR"), maxPerUser: nil)
                    for b in 0..<3 { _ = try await inventory.reserve(event: e, category: floor, buyer: BuyerID("m\(n)-\(b)")!, quantity: 2) }
                }
                if n % 64 == 63 { try await group.next() }
            }
            try await group.waitForAll()
        }
        var last: Int64 = 0
        for e in events { last = max(last, try await lastExpiry(redis, InventoryKeys(event: e).holds)) }
        let sweep = Task { try await sweeper(inventory, events: Set(events)).run() }
        defer { sweep.cancel() }
        #expect(try await waitForRedisTime(redis, last, timeout: .seconds(30)))
        let swept = try await eventually(timeout: .seconds(2), every: .milliseconds(50)) {
            let counts = try await redis.pipeline(events.map { ["ZCARD", .string(InventoryKeys(event: $0).holds)] })
            return counts.allSatisfy { $0.int == 0 }
        }
        #expect(swept, "every event's due holds are swept within 2 s of the last expiry")
        let stocks = try await inventory.availability(events: events)
        #expect(stocks.allSatisfy { $0.first?.stock == StockLevels(total: 10, available: 10, held: 0, confirmed: 0) })
    }

    /// With no sweeper at all, reserves and availability reads count due holds as free: the
    /// buyers after a sold-out wave get every ticket, conservation holds at every audit, and
    /// each hold lapses once.
    @Test(.timeLimit(.minutes(3)))
    func dueHoldsAreFreeStockWithoutAnySweeper() async throws {
        try await withInventory(stock: 300, holdTTL: .seconds(1)) { f in
            let inv = f.inventory
            for b in 0..<300 { #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(b), quantity: 1).isHeld) }
            let soldOut = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(999), quantity: 1)
            #expect(!soldOut.isHeld, "sold out while the holds run")
            #expect(try await waitForRedisTime(inv.redis, try await lastExpiry(inv.redis, f.keys.holds), timeout: .seconds(10)))

            let stop = Flag()
            let violations = Locked<[StockLevels]>([])
            let auditor = Task {
                while !stop.isSet {
                    let raw = try await inv.redis.send(["HGETALL", .string(f.keys.stock)]).array ?? []
                    var d: [String: Int] = [:]
                    for i in stride(from: 0, to: raw.count - 1, by: 2) { d[raw[i].string ?? ""] = Int(raw[i + 1].string ?? "") }
                    let s = StockLevels(total: d["floor|total"] ?? 0, available: d["floor|available"] ?? 0, held: d["floor|held"] ?? 0, confirmed: d["floor|confirmed"] ?? 0)
                    if !s.isConserved || s.total != 300 { violations.withLock { $0.append(s) } }
                }
            }
            let held = try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<30 {
                    group.addTask {
                        var n = 0
                        for b in 0..<10 where try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1_000 + w * 10 + b), quantity: 1).isHeld { n += 1 }
                        return n
                    }
                }
                return try await group.reduce(0, +)
            }
            stop.set()
            try await auditor.value
            #expect(held == 300, "the second wave of buyers got every ticket the lapsed holds gave back")
            #expect(violations.value.isEmpty, "available + held + confirmed == total at every audit")
            let expired = try await f.outbox().filter { $0["type"] == "reservation.expired" }.map { $0["rid"] ?? "" }
            #expect(expired.count == 300 && Set(expired).count == 300, "each lapsed hold has one reservation.expired")

            // Availability reads too: the second wave's holds come due and are counted free.
            #expect(try await waitForRedisTime(inv.redis, try await lastExpiry(inv.redis, f.keys.holds), timeout: .seconds(10)))
            #expect(try await f.stock() == StockLevels(total: 300, available: 300, held: 0, confirmed: 0))
        }
    }
}

extension ReserveOutcome {
    var isHeld: Bool { if case .held = self { return true } else { return false } }
}

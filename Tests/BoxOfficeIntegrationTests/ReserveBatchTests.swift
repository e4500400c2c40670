import BoxOfficeDomain
@testable import BoxOfficeInventory
import BoxOfficeRedis
import Testing

/// reserve.lua decides a batch of reserves one after the other, each as if it ran alone;
/// concurrent reserves of one event share its calls.
@Suite("Coalesced reserves against a real Redis")
struct ReserveBatchTests {
    func lane(_ f: InventoryFixture, rateBurst: Int = 0) -> ReserveLane {
        ReserveLane(event: f.event, loop: nil, holdTTLMs: 600_000, maxQuantity: 10, idempotencySeconds: 86_400,
                    rateIntervalMs: 1_000, rateBurst: rateBurst, retentionMs: 604_800_000)
    }

    func item(_ f: InventoryFixture, buyer: Int, qty: Int, category: String = "floor", key: String? = nil) -> ReserveItem {
        ReserveItem(id: ReservationID.fresh(in: f.event), category: CategoryName(category)!, buyer: f.buyer(buyer), quantity: qty,
                    idempotencyKey: key.map { f.keys.idempotency(buyer: f.buyer(buyer).rawValue, key: $0) })
    }

    /// Each request sees what the ones before it in the batch did: the stock they took,
    /// the buyer's count, the idempotency key they stored.
    @Test func eachRequestOfABatchSeesTheOnesBeforeIt() async throws {
        try await withInventory(stock: 5, maxPerUser: 3) { f in
            let items = [
                item(f, buyer: 0, qty: 2, key: "k1"),        // held: 3 left
                item(f, buyer: 0, qty: 2, key: "k1"),        // the same key again: the first reservation
                item(f, buyer: 0, qty: 2),                   // 2 + 2 is over the limit of 3
                item(f, buyer: 1, qty: 1, category: "balcony"),
                item(f, buyer: 1, qty: 0),
                item(f, buyer: 1, qty: 3),                   // held: 0 left
                item(f, buyer: 2, qty: 1),                   // sold out
            ]
            let replies = try await RedisInventory.reserveBatch(f.inventory.redis, lane(f), items)
            let parts = try replies.map { try ScriptReply($0) }
            #expect(parts.map(\.status) == ["held", "replayed", "limit_exceeded", "not_found", "invalid_qty", "held", "sold_out"])
            #expect(try parts[1].string(1) == items[0].id.rawValue)
            #expect(try [parts[2].int(1), parts[2].int(2)] == [3, 2])
            #expect(try parts[6].int(1) == 0)
            #expect(try parts[0].int(3) == 9_000 && parts[0].string(4) == "EUR")  // 2 × 45.00 EUR

            #expect(try await f.stock() == StockLevels(total: 5, available: 0, held: 5, confirmed: 0))
            let holds = try await f.inventory.redis.send(["ZRANGE", .string(f.keys.holds), "0", "-1"])
            #expect(Set((holds.array ?? []).compactMap(\.string)) == [items[0].id.rawValue, items[5].id.rawValue])
            let held = try await f.outbox()
            #expect(held.map { $0["rid"] } == [items[0].id.rawValue, items[5].id.rawValue])
            #expect(held.allSatisfy { $0["type"] == "reservation.held" })
            #expect(try await f.inventory.redis.send(["XLEN", .string(f.keys.outbox)]).int == 1, "a batch's holds share one entry")
            let second = try #require(try await f.inventory.reservation(items[5].id))
            #expect(second.status == .held && second.quantity == 3 && second.buyer == f.buyer(1).rawValue)
            #expect(try await f.inventory.reservation(items[2].id) == nil)
        }
    }

    /// The batch's new ids are checked at once; one that exists already, or that an earlier
    /// request of the same batch took, is refused without touching the stock or the other holds.
    @Test func aTakenIdIsRefusedAndTheRestOfTheBatchHeld() async throws {
        try await withInventory(stock: 10) { f in
            let first = item(f, buyer: 0, qty: 1)
            let existing = try await RedisInventory.reserveBatch(f.inventory.redis, lane(f), [first])
            #expect(try ScriptReply(existing[0]).status == "held")
            let fresh = item(f, buyer: 2, qty: 1)
            let again = ReserveItem(id: first.id, category: first.category, buyer: f.buyer(1), quantity: 2, idempotencyKey: nil)
            let twin = ReserveItem(id: fresh.id, category: fresh.category, buyer: f.buyer(3), quantity: 3, idempotencyKey: nil)
            let replies = try await RedisInventory.reserveBatch(f.inventory.redis, lane(f), [fresh, again, twin])
            #expect(try replies.map { try ScriptReply($0).status } == ["held", "id_taken", "id_taken"])
            #expect(try await f.stock() == StockLevels(total: 10, available: 8, held: 2, confirmed: 0))
            let kept = try #require(try await f.inventory.reservation(first.id))
            #expect(kept.buyer == f.buyer(0).rawValue && kept.quantity == 1)
            let second = try #require(try await f.inventory.reservation(fresh.id))
            #expect(second.buyer == f.buyer(2).rawValue && second.quantity == 1)
            // Two requests of one batch with the same new id: the batch's check finds no key, the second is still refused.
            let once = item(f, buyer: 4, qty: 1)
            let twice = ReserveItem(id: once.id, category: once.category, buyer: f.buyer(5), quantity: 1, idempotencyKey: nil)
            let pair = try await RedisInventory.reserveBatch(f.inventory.redis, lane(f), [once, twice])
            #expect(try pair.map { try ScriptReply($0).status } == ["held", "id_taken"])
            #expect(try await f.stock().available == 7)
            #expect(try await f.inventory.reservation(once.id)?.buyer == f.buyer(4).rawValue)
        }
    }

    @Test func theRateLimitCountsEarlierRequestsOfTheBatch() async throws {
        try await withInventory(stock: 10) { f in
            let items = (0..<3).map { _ in item(f, buyer: 7, qty: 1) } + [item(f, buyer: 8, qty: 1)]
            let replies = try await RedisInventory.reserveBatch(f.inventory.redis, lane(f, rateBurst: 2), items)
            #expect(try replies.map { try ScriptReply($0).status } == ["held", "held", "rate_limited", "held"])
            #expect(try await f.stock().available == 7)
            // The buyers' times are one hash of the event, which lives burst intervals and a second.
            let rates = f.keys.reserveRates
            let times = try await f.inventory.redis.send(["HGETALL", .string(rates)]).array?.compactMap(\.string) ?? []
            #expect(Set(stride(from: 0, to: times.count, by: 2).map { times[$0] }) == [f.buyer(7).rawValue, f.buyer(8).rawValue])
            let ttl = try await f.inventory.redis.send(["PTTL", .string(rates)]).int ?? -1
            #expect(ttl > 0 && ttl <= 2 * 1_000 + 1_000)
        }
    }

    /// Many buyers at once: they share calls of reserve.lua, and the stock is sold exactly once.
    @Test(.timeLimit(.minutes(1)))
    func concurrentReservesShareCallsAndSellExactlyTheStock() async throws {
        try await withInventory(stock: 150) { f in
            let held = Counter64(), soldOut = Counter64()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for b in 0..<200 {
                    group.addTask {
                        switch try await f.inventory.reserve(event: f.event, category: f.category, buyer: f.buyer(b), quantity: 1) {
                        case .held: held.add()
                        case .soldOut: soldOut.add()
                        case let other: Issue.record("unexpected outcome \(other)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(held.value == 150)
            #expect(soldOut.value == 50)
            #expect(try await f.stock() == StockLevels(total: 150, available: 0, held: 150, confirmed: 0))
            let (batches, calls) = f.inventory.reserveBatches
            #expect(calls == 200)
            #expect(batches < calls, "200 concurrent reserves took \(batches) calls of reserve.lua")
        }
    }
}

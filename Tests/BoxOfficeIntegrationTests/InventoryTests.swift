import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import BoxOfficeSupport
import Logging
import Metrics
import Synchronization
import Testing

@Suite("Inventory scripts against a real Redis")
struct InventoryTests {
    @Test(.timeLimit(.minutes(2)))
    func ticketWarSellsExactlyTheStock() async throws {
        try await withInventory(stock: 100) { f in
            let stop = Flag()
            let audits = Locked<(count: Int, violations: [StockLevels])>((0, []))
            async let auditor: Void = {
                while !stop.isSet {
                    let s = try await f.stock()
                    audits.withLock { a in
                        a.count += 1
                        if !s.isConserved || s.total != 100 { a.violations.append(s) }
                    }
                }
            }()
            let attempts = 5_000, workers = 64
            let held = try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<workers {
                    group.addTask {
                        var held = 0
                        for i in stride(from: w, to: attempts, by: workers) {
                            if case .held = try await f.inventory.reserve(event: f.event, category: f.category, buyer: f.buyer(i), quantity: 1) {
                                held += 1
                            }
                        }
                        return held
                    }
                }
                return try await group.reduce(0, +)
            }
            stop.set()
            try await auditor
            #expect(held == 100)
            #expect(try await f.stock() == StockLevels(total: 100, available: 0, held: 100, confirmed: 0))
            let (count, violations) = audits.withLock { ($0.count, $0.violations) }
            #expect(count > 0, "the auditor ran during the war")
            #expect(violations.isEmpty)
            let events = try await f.outbox()
            #expect(events.filter { $0["type"] == "reservation.held" }.count == 100)
        }
    }

    /// The sweeper asks for the due holds of every event in one round trip (and the metrics
    /// reporter for every event's stock): each event gets its own answer, in the order asked,
    /// oldest expiry first and at most `limit`.
    @Test(.timeLimit(.minutes(1)))
    func dueHoldsAndStockOfManyEventsComeInOneAnswerEach() async throws {
        try await withInventory(stock: 10, holdTTL: .seconds(1)) { soon in
            try await withInventory(stock: 10, redis: soon.inventory.redis) { later in
                var held: [(expires: Int64, id: ReservationID)] = []
                for i in 0..<3 {
                    guard case .held(let r, _) = try await soon.inventory.reserve(event: soon.event, category: soon.category, buyer: soon.buyer(i), quantity: 1) else {
                        Issue.record("reserve failed"); return
                    }
                    held.append((r.expiresAtMs, r.id))
                }
                // Redis's order: by expiry, then (the same millisecond) by id.
                let lapsing = held.sorted { ($0.expires, $0.id.rawValue) < ($1.expires, $1.id.rawValue) }.map(\.id)
                for i in 0..<2 { _ = try await later.inventory.reserve(event: later.event, category: later.category, buyer: later.buyer(i), quantity: 1) }
                let inv = soon.inventory
                #expect(try await inv.dueHolds(events: [soon.event, later.event], limit: 10) == [[], []])
                // The metrics reporter reads every event's stock the same way: one answer each, in order.
                let stock = try await inv.availability(events: [later.event, soon.event]).map { $0.map(\.stock) }
                #expect(stock == [[StockLevels(total: 10, available: 8, held: 2, confirmed: 0)],
                                  [StockLevels(total: 10, available: 7, held: 3, confirmed: 0)]])
                let lapsed = try await eventually(timeout: .seconds(5)) {
                    try await inv.dueHolds(events: [soon.event], limit: 10)[0].count == 3
                }
                #expect(lapsed)
                #expect(try await inv.dueHolds(events: [later.event, soon.event, later.event], limit: 10) == [[], lapsing, []])
                #expect(try await inv.dueHolds(events: [soon.event], limit: 2) == [Array(lapsing.prefix(2))])
                #expect(try await inv.dueHolds(events: [], limit: 10).isEmpty)
            }
        }
    }

    /// A live hold never leaves Redis by itself; once confirmed, cancelled or expired, the
    /// reservation leaves after the retention (PostgreSQL keeps its booking).
    @Test(.timeLimit(.minutes(1)))
    func endedReservationsLeaveRedisAfterTheRetention() async throws {
        try await withInventory(stock: 10, holdTTL: .seconds(2)) { f in
            var inv = f.inventory
            let keys = InventoryKeys(event: f.event)
            func pttl(_ id: ReservationID) async throws -> Int { try await inv.redis.send(["PTTL", .string(keys.reservation(id))]).int ?? -3 }
            var ids: [ReservationID] = []
            for i in 0..<4 {
                guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(i), quantity: 1) else {
                    Issue.record("reserve failed"); return
                }
                ids.append(r.id)
            }
            for id in ids { #expect(try await pttl(id) == -1, "a hold has no TTL") }
            // The default retention: 7 days from the end.
            guard case .confirmed = try await inv.confirm(ids[0], buyer: f.buyer(0), paymentReference: "pay-0") else {
                Issue.record("confirm failed"); return
            }
            let week = Int(inv.configuration.retention.inMilliseconds)
            #expect(week == 7 * 86_400_000)
            let left = try await pttl(ids[0])
            #expect(left > week - 60_000 && left <= week, "PTTL \(left)")
            // A short one, to see each kind of end leave.
            inv.configuration.retention = .milliseconds(1_500)
            func expectLeaving(_ id: ReservationID) async throws {
                let t = try await pttl(id)
                #expect(t > 0 && t <= 1_500, "\(id): PTTL \(t)")
            }
            guard case .confirmed = try await inv.confirm(ids[1], buyer: f.buyer(1), paymentReference: "pay-1") else {
                Issue.record("confirm failed"); return
            }
            try await expectLeaving(ids[1])
            guard case .cancelled = try await inv.cancel(ids[2], buyer: f.buyer(2)) else { Issue.record("cancel failed"); return }
            try await expectLeaving(ids[2])
            let lapsed = try await eventually(timeout: .seconds(5)) { try await inv.expire(ids[3]) == .expired }
            #expect(lapsed)
            try await expectLeaving(ids[3])
            let gone = try await eventually(timeout: .seconds(10)) {
                for id in ids.dropFirst() where try await inv.reservation(id) != nil { return false }
                return true
            }
            #expect(gone, "ended reservations left Redis after the retention")
            #expect(try await inv.reservation(ids[0])?.status == .confirmed, "the one kept for a week is still there")
            #expect(try await f.stock() == StockLevels(total: 10, available: 8, held: 0, confirmed: 2), "leaving changes no stock")
        }
    }

    @Test func oneBuyerNeverExceedsTheLimitUnderConcurrency() async throws {
        try await withInventory(stock: 1_000, maxPerUser: 4) { f in
            let outcomes = try await withThrowingTaskGroup(of: ReserveOutcome.self) { group in
                for _ in 0..<32 {
                    group.addTask { try await f.inventory.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 1) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let held = outcomes.filter { if case .held = $0 { return true } else { return false } }.count
            #expect(held == 4)
            #expect(outcomes.filter { $0 == .limitExceeded(limit: 4, alreadyHeld: 4) }.count == 28)
            #expect(try await f.stock().held == 4)
            // A request that alone exceeds the limit is refused too; another buyer is unaffected.
            #expect(try await f.inventory.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 5)
                    == .limitExceeded(limit: 4, alreadyHeld: 0))
            if case .held = try await f.inventory.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 4) {} else {
                Issue.record("another buyer may hold up to the limit")
            }
        }
    }

    @Test func sameIdempotencyKeyFiftyTimesMakesOneReservation() async throws {
        try await withInventory(stock: 100) { f in
            let ids = try await withThrowingTaskGroup(of: (ReservationID, Bool).self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        let o = try await f.inventory.reserve(event: f.event, category: f.category, buyer: f.buyer(7), quantity: 2, idempotencyKey: "order-42")
                        guard case .held(let r, let replayed) = o else { throw RedisError(.protocolError, "unexpected \(o)") }
                        return (r.id, replayed)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(ids.map(\.0)).count == 1)
            #expect(ids.filter { !$0.1 }.count == 1, "exactly one call made it, 49 replayed it")
            #expect(try await f.stock() == StockLevels(total: 100, available: 98, held: 2, confirmed: 0))
            // The same key from another buyer is another reservation.
            guard case .held(let other, false) = try await f.inventory.reserve(
                event: f.event, category: f.category, buyer: f.buyer(8), quantity: 1, idempotencyKey: "order-42")
            else { Issue.record("another buyer's key is independent"); return }
            #expect(other.id != ids[0].0)
        }
    }

    @Test func badInputAndWrongOrderGetTypedOutcomesAndChangeNothing() async throws {
        try await withInventory(stock: 10, maxPerUser: 6, holdTTL: .milliseconds(1_500)) { f in
            let inv = f.inventory
            let before = try await f.stock()
            for qty in [0, -1, 11, 1_000_000_000_000] {
                #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: qty) == .invalidQuantity(max: 10))
            }
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 7) == .limitExceeded(limit: 6, alreadyHeld: 0))
            #expect(try await inv.reserve(event: f.event, category: CategoryName("nope")!, buyer: f.buyer(1), quantity: 1) == .notFound)
            #expect(try await inv.reserve(event: EventID("t_no_such_event")!, category: f.category, buyer: f.buyer(1), quantity: 1) == .notFound)
            #expect(try await f.stock() == before)
            #expect(try await f.outbox().isEmpty)

            // Confirm of another buyer's hold.
            guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 2) else {
                Issue.record("reserve failed"); return
            }
            #expect(try await inv.confirm(r.id, buyer: f.buyer(2), paymentReference: "pay-x") == .refused(.notOwner))
            #expect(try await inv.cancel(r.id, buyer: f.buyer(2)) == .refused(.notOwner))
            #expect(try await f.stock() == StockLevels(total: 10, available: 8, held: 2, confirmed: 0))

            // Double confirm returns the first result.
            guard case .confirmed(let c1) = try await inv.confirm(r.id, buyer: f.buyer(1), paymentReference: "pay-1") else {
                Issue.record("confirm failed"); return
            }
            #expect(c1.paymentReference == "pay-1" && c1.status == .confirmed)
            #expect(try await inv.confirm(r.id, buyer: f.buyer(1), paymentReference: "pay-2") == .alreadyConfirmed(c1))
            // Cancel after confirm.
            #expect(try await inv.cancel(r.id, buyer: f.buyer(1)) == .refused(.notHeld(c1)))
            #expect(try await inv.expire(r.id) == .notHeld)
            #expect(try await f.stock() == StockLevels(total: 10, available: 8, held: 0, confirmed: 2))

            // Confirm after expiry.
            guard case .held(let late, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(3), quantity: 1) else {
                Issue.record("reserve failed"); return
            }
            #expect(try await inv.expire(late.id) == .notDue)
            // Wait, by Redis's clock, until the hold is past its expiry; nothing has swept it.
            let due = try await eventually(timeout: .seconds(5)) {
                let t = try await inv.redis.send(["TIME"]).array ?? []
                let nowMs = Int64((t.first?.int ?? 0) * 1000 + (t.last?.int ?? 0) / 1000)
                return nowMs >= late.expiresAtMs
            }
            #expect(due)
            // A payment for a hold past its time that nothing has swept still buys its tickets (late).
            guard case .confirmed(let lateConfirmed) = try await inv.confirm(late.id, buyer: f.buyer(3), paymentReference: "pay-3") else {
                Issue.record("a late confirm of an unswept hold must be accepted"); return
            }
            #expect(lateConfirmed.late)
            #expect(try await inv.expire(late.id) == .notHeld, "a confirmed hold does not expire")
            #expect(try await f.stock() == StockLevels(total: 10, available: 7, held: 0, confirmed: 3))

            // Unknown and malformed reservations.
            let ghost = ReservationID.fresh(in: f.event)
            #expect(try await inv.confirm(ghost, buyer: f.buyer(1), paymentReference: "p") == .refused(.notFound))
            #expect(try await inv.cancel(ghost, buyer: f.buyer(1)) == .refused(.notFound))
            #expect(ReservationID("not-a-reservation") == nil)
            #expect(ReservationID("demo.XYZ") == nil)

            let types = try await f.outbox().map { $0["type"] ?? "" }
            #expect(types == ["reservation.held", "reservation.confirmed", "reservation.held", "reservation.confirmed"])
        }
    }

    @Test func paymentFailureKeepsTheHoldAndIsRecordedEachTime() async throws {
        try await withInventory(stock: 5) { f in
            let inv = f.inventory
            guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 1) else {
                Issue.record("reserve failed"); return
            }
            guard case .recorded(_, 1) = try await inv.recordPaymentFailure(r.id, buyer: f.buyer(1), paymentReference: "p1", reason: "declined") else {
                Issue.record("first failure not recorded"); return
            }
            guard case .recorded(_, 2) = try await inv.recordPaymentFailure(r.id, buyer: f.buyer(1), paymentReference: "p2", reason: "declined") else {
                Issue.record("second failure not recorded"); return
            }
            #expect(try await inv.recordPaymentFailure(r.id, buyer: f.buyer(2), paymentReference: "p3", reason: "x") == .refused(.notOwner))
            #expect(try await f.stock() == StockLevels(total: 5, available: 4, held: 1, confirmed: 0))
            guard case .confirmed = try await inv.confirm(r.id, buyer: f.buyer(1), paymentReference: "p4") else {
                Issue.record("confirm after a failed payment must still work"); return
            }
            let failed = try await f.outbox().filter { $0["type"] == "payment.failed" }
            #expect(failed.count == 2)
            #expect(Set(failed.map { $0["id"] ?? "" }).count == 2, "each failure has its own event id")
        }
    }

    @Test func cancelReturnsStockAndAllowanceOnce() async throws {
        try await withInventory(stock: 3, maxPerUser: 3) { f in
            let inv = f.inventory
            guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 3) else {
                Issue.record("reserve failed"); return
            }
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 1) == .soldOut(available: 0))
            guard case .cancelled(let c) = try await inv.cancel(r.id, buyer: f.buyer(1)) else { Issue.record("cancel failed"); return }
            #expect(try await inv.cancel(r.id, buyer: f.buyer(1)) == .alreadyCancelled(c))
            #expect(try await f.stock() == StockLevels(total: 3, available: 3, held: 0, confirmed: 0))
            guard case .held = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 3) else {
                Issue.record("the buyer's allowance came back with the stock"); return
            }
        }
    }

    /// Without a per-user limit no count is kept; a limit set later counts only the holds made under it,
    /// and releasing an older, uncounted hold takes nothing from that count.
    @Test func holdsMadeWithoutALimitAreNotCountedWhenOneIsSet() async throws {
        try await withInventory(stock: 100) { f in
            let inv = f.inventory
            let limitField = "\(f.category.rawValue)|\(f.buyer(1).rawValue)"
            guard case .held(let old, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 3) else {
                Issue.record("reserve failed"); return
            }
            #expect(try await inv.redis.send(["HEXISTS", .string(f.keys.limits), .string(limitField)]).int == 0)
            let price = Money(amount: 4_500, currency: "EUR")
            _ = try await inv.initCategory(event: f.event, category: f.category, totalStock: 100, price: price, maxPerUser: 2)
            guard case .held = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 2) else {
                Issue.record("reserve under the new limit failed"); return
            }
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 1)
                    == .limitExceeded(limit: 2, alreadyHeld: 2))
            _ = try await inv.cancel(old.id, buyer: f.buyer(1))
            #expect(try await inv.redis.send(["HGET", .string(f.keys.limits), .string(limitField)]).string == "2")
            #expect(try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 1)
                    == .limitExceeded(limit: 2, alreadyHeld: 2))
            #expect(try await f.stock() == StockLevels(total: 100, available: 98, held: 2, confirmed: 0))
        }
    }

    /// One relay at a time holds an outbox stream's lease: it keeps it by renewing it (rewritten
    /// only once half of it has run), gives it up, or loses it when it stops renewing it.
    @Test func relayLeaseHasOneHolderAtATime() async throws {
        try await withInventory(stock: 1) { f in
            let redis = f.inventory.redis, key = f.keys.relayLease
            func lease(_ name: String, _ ms: Int) async throws -> Int {
                try await redis.eval(InventoryScripts.relayLease, keys: [.string(key)], arguments: [.string(name), .int(ms)]).int ?? -1
            }
            func ttl() async throws -> Int { try await redis.send(["PTTL", .string(key)]).int ?? -3 }
            #expect(try await lease("a", 60_000) == 1)
            #expect(try await lease("b", 60_000) == 0, "a holds it")
            try await redis.send(["PEXPIRE", .string(key), 40_000])
            #expect(try await lease("a", 60_000) == 1)
            #expect(try await ttl() <= 40_000, "not rewritten before half of it has run")
            try await redis.send(["PEXPIRE", .string(key), 20_000])
            #expect(try await lease("a", 60_000) == 1)
            #expect(try await ttl() > 40_000, "renewed once half of it had run")
            #expect(try await lease("b", 0) == 0)
            #expect(try await redis.send(["GET", .string(key)]).string == "a", "b cannot give up a's lease")
            #expect(try await lease("a", 0) == 0)
            #expect(try await lease("b", 60_000) == 1, "given up, it is b's")
            try await redis.send(["PEXPIRE", .string(key), 50])
            let taken = try await eventually(timeout: .seconds(5), every: .milliseconds(20)) { try await lease("c", 60_000) == 1 }
            #expect(taken, "b stopped renewing: c takes it")
        }
    }

    @Test func initCategoryRefusesATotalBelowWhatIsCommitted() async throws {
        try await withInventory(stock: 10) { f in
            let inv = f.inventory
            guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(1), quantity: 4) else {
                Issue.record("reserve failed"); return
            }
            _ = try await inv.confirm(r.id, buyer: f.buyer(1), paymentReference: "p")
            _ = try await inv.reserve(event: f.event, category: f.category, buyer: f.buyer(2), quantity: 3)
            let price = Money(amount: 4_500, currency: "EUR")
            #expect(try await inv.initCategory(event: f.event, category: f.category, totalStock: 6, price: price, maxPerUser: nil)
                    == .belowCommitted(held: 3, confirmed: 4))
            #expect(try await inv.initCategory(event: f.event, category: f.category, totalStock: 20, price: price, maxPerUser: nil)
                    == .updated(StockLevels(total: 20, available: 13, held: 3, confirmed: 4)))
            #expect(try await inv.initCategory(event: f.event, category: f.category, totalStock: 20, price: price, maxPerUser: nil)
                    == .updated(StockLevels(total: 20, available: 13, held: 3, confirmed: 4)), "idempotent")
        }
    }
}

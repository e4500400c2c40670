import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficePipeline
import BoxOfficePostgres
import BoxOfficeRedis
import Foundation
import Testing

/// Seats, refunds and late payments from Redis through Kafka to PostgreSQL, with the worker
/// SIGKILLed mid-stream.
@Suite("Seats, refunds and late payments in PostgreSQL")
struct SeatPipelineTests {
    @Test(.timeLimit(.minutes(4)))
    func seatedWarRefundsAndLatePaymentsReachPostgresOnceAcrossAWorkerKill() async throws {
        try await withPipeline(stock: 1) { f in
            let stalls = CategoryName("stalls")!
            _ = try await f.inventory.initCategory(event: f.event, category: stalls, totalStock: 0,
                                                   price: Money(amount: 7_000, currency: "EUR"), maxPerUser: nil)
            guard case .set = try await f.inventory.setSeatMap(event: f.event, category: stalls, map: SeatTests.map(rows: 20, width: 50)) else {
                throw TestFailure("map not set")
            }
            let layout = try #require(try await f.inventory.seatLayout(event: f.event, category: stalls.rawValue))
            var shortConfig = InventoryConfiguration()
            shortConfig.holdTTL = .milliseconds(300)
            let short = RedisInventory(redis: f.redis, configuration: shortConfig)

            try await withInProcessPipeline(f, worker: false, repairGrace: .seconds(3)) {
                let worker = try ServerProcess("boxoffice-worker", environment: f.environment([
                    "BOXOFFICE_WORKER_BATCH_SIZE": "50", "BOXOFFICE_WORKER_BATCH_WAIT_MS": "5", "BOXOFFICE_LOG_LEVEL": "info"]))
                try worker.start()

                // Late payments on the one general-admission ticket: the first buyer's hold lapses and
                // is paid for late while the ticket is free (accepted); after a refund a second buyer's
                // lapses, a third takes the ticket, and the late payment is owed back.
                let a = BuyerID("late-a")!, b = BuyerID("late-b")!, c = BuyerID("late-c")!
                guard case .held(let ha, _) = try await short.reserve(event: f.event, category: f.category, buyer: a, quantity: 1) else {
                    throw TestFailure("no hold")
                }
                try await Task.sleep(for: .milliseconds(400))
                _ = try await f.inventory.availability(event: f.event)  // lapses it
                guard case .confirmed(let lateA) = try await f.inventory.confirm(ha.id, buyer: a, paymentReference: "pay_late_a") else {
                    throw TestFailure("late payment with the ticket free not accepted")
                }
                #expect(lateA.late)
                guard case .refunded = try await f.inventory.refund(ha.id, buyer: nil) else { throw TestFailure("not refunded") }
                guard case .held(let hb, _) = try await short.reserve(event: f.event, category: f.category, buyer: b, quantity: 1) else {
                    throw TestFailure("no hold")
                }
                try await Task.sleep(for: .milliseconds(400))
                guard case .held = try await f.inventory.reserve(event: f.event, category: f.category, buyer: c, quantity: 1) else {
                    throw TestFailure("the lapsed ticket was not sold again")
                }
                guard case .refused(.expired) = try await f.inventory.confirm(hb.id, buyer: b, paymentReference: "pay_late_b") else {
                    throw TestFailure("late payment for a sold ticket not refused")
                }

                // A seated war: best available for 1–4, half confirmed, every fifth confirmed one refunded.
                let war = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for i in 0..<1_200 {
                            group.addTask {
                                let buyer = BuyerID("s\(i)")!
                                guard case .held(let r, _) = try await f.inventory.reserve(
                                    event: f.event, category: stalls, buyer: buyer, quantity: 1 + i % 4, seats: .best(version: "")) else { return }
                                if i % 2 == 0 {
                                    _ = try await f.inventory.confirm(r.id, buyer: buyer, paymentReference: "pay_s\(i)")
                                    if i % 10 == 0 { _ = try await f.inventory.refund(r.id, buyer: buyer) }
                                } else if i % 3 == 0 {
                                    _ = try await f.inventory.cancel(r.id, buyer: buyer)
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                let some = try await eventually(timeout: .seconds(60), every: .milliseconds(20)) {
                    (try await f.db.query("SELECT count(*)::int FROM bookings WHERE event_id = \(f.event.rawValue)").first?.int(0) ?? 0) >= 100
                }
                #expect(some, "the worker started persisting: \(worker.log.suffix(2000))")
                worker.kill()
                try await war.value
                try worker.start()

                // Redis's sold seats, and what PostgreSQL must end with.
                let states = try #require(try await f.inventory.seatStates(event: f.event, categories: [stalls.rawValue]).first)
                let sold = Set(states.states.utf8.enumerated().filter { $0.element == UInt8(ascii: "s") }.compactMap { layout.id(at: $0.offset) })
                #expect(states.stock.confirmed == sold.count)
                let redis = try await f.redisStatuses()
                let done = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
                    try await f.postgresStatuses() == redis
                }
                #expect(done, "PostgreSQL matches Redis; worker log: \(worker.log.suffix(3000))")
                let seats = try await f.db.query("SELECT seat FROM booking_seats WHERE event_id = \(f.event.rawValue)").map { try $0.string(0) ?? "" }
                #expect(seats.count == Set(seats).count && Set(seats) == sold, "booking_seats: \(seats.count) rows, Redis sold \(sold.count)")
                // Every confirmed seated booking's seats are its rows; refunded ones have none.
                let mismatched = try await f.db.query("""
                    SELECT count(*)::int FROM bookings b WHERE b.event_id = \(f.event.rawValue) AND b.category = 'stalls' AND b.status = 'confirmed'
                      AND b.qty <> (SELECT count(*) FROM booking_seats s WHERE s.reservation_id = b.reservation_id)
                    """).first?.int(0)
                #expect(mismatched == 0)
                let refundedWithSeats = try await f.db.query("""
                    SELECT count(*)::int FROM booking_seats s JOIN bookings b USING (reservation_id) WHERE b.status = 'refunded'
                      AND b.event_id = \(f.event.rawValue)
                    """).first?.int(0)
                #expect(refundedWithSeats == 0)
                // Payments: one refund row per refunded booking, the late charge owed back, the late one kept.
                var payments: [String: Int] = [:]
                for row in try await f.db.query("""
                    SELECT p.status, count(*)::int FROM payments p JOIN bookings b USING (reservation_id)
                    WHERE b.event_id = \(f.event.rawValue) GROUP BY p.status
                    """) { payments[try row.string(0) ?? ""] = try row.int(1) ?? 0 }
                let refunded = redis.values.filter { $0 == "refunded" }.count
                #expect(payments["refunded"] == refunded && payments["refund_owed"] == 1, "\(payments)")
                let owed = try await f.db.query("SELECT id, reservation_id FROM payments WHERE status = 'refund_owed' AND reservation_id = \(hb.id.rawValue)")
                let owedID = try owed.first?.string(0)
                #expect(owed.count == 1 && owedID == "pay_late_b")
                let lateRow = try await f.db.query("SELECT status, late FROM bookings WHERE reservation_id = \(ha.id.rawValue)").first
                let lateStatus = try lateRow?.string(0), lateFlag = try lateRow?.bool(1)
                #expect(lateStatus == "refunded" && lateFlag == true)
                // What boxofficectl reconcile reports: no charge kept without a ticket, the late one owed
                // back, no seat claimed by two confirmed bookings.
                let money = try await Reconciler(redis: f.redis, db: f.db).money(event: f.event)
                #expect(money.keptWithoutTicket.isEmpty && money.refundsOwed == 1 && money.seatsSoldTwice.isEmpty, "\(money)")
                // The repair loop finds every entry in PostgreSQL (a confirm in a refunded booking, an
                // expiry in one confirmed late, the payment events) and empties the outbox.
                let settled = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) { try await f.outboxLength() == 0 }
                let left = try await f.outboxLength()
                #expect(settled, "outbox left: \(left)")
                let rows = try await f.db.query("SELECT count(*)::int FROM bookings WHERE event_id = \(f.event.rawValue)").first?.int(0)
                #expect(rows == redis.count)
                worker.terminate()
            }
        }
    }
}

import ArgumentParser
import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficePipeline
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation
import Logging

/// What a pass of the repair loop costs on an event with many reservations: reserves made
/// through reserve.lua, their entries marked delivered, their bookings written to PostgreSQL,
/// then passes until the stream is empty, and one more pass with nothing left to check.
struct RepairBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "repair", abstract: "Redis and PostgreSQL time of the repair loop's passes.")

    @Option(help: "Redis URL (use a private one).") var redis: String
    @Option(help: "PostgreSQL URL (its bookings table gets the event's rows, deleted at the end).") var databaseURL: String
    @Option(help: "Reservations of the event.") var reservations = 100_000

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let client = RedisClient(configuration: try RedisConfiguration(url: redis), logger: logger)
        defer { client.shutdown() }
        let db = PostgresClient(configuration: PostgresConfiguration(url: databaseURL), logger: logger)
        let inventory = RedisInventory(redis: client)
        let event = EventID("repairbench_\(randomHex(bytes: 4))")!
        let category = CategoryName("floor")!
        _ = try await inventory.initCategory(event: event, category: category, totalStock: reservations,
                                             price: Money(amount: 100, currency: "EUR"), maxPerUser: nil)
        let keys = InventoryKeys(event: event)
        print("repair: \(reservations) reservations of \(event)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<64 {
                group.addTask {
                    for i in stride(from: w, to: reservations, by: 64) {
                        _ = try await inventory.reserve(event: event, category: category, buyer: BuyerID("b\(i)")!, quantity: 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        // Every entry delivered, every hold in PostgreSQL.
        let entries = try await client.send(["XLEN", .string(keys.outbox)]).int ?? 0
        let last = try await client.send(["XREVRANGE", .string(keys.outbox), "+", "-", "COUNT", "1"]).array?.first?.array?.first?.string ?? "0-0"
        try await client.send(["HSET", .string(keys.relayProgress), "cursor", .string(last), "relayed", .int(entries)])
        let ids = try await client.scanKeys(matching: "bo:{ev:\(event.rawValue)}:r:*").compactMap { $0.split(separator: ":").last.map { "\(event.rawValue).\($0)" } }
        for chunk in stride(from: 0, to: ids.count, by: 10_000) {
            let part = Array(ids[chunk..<min(chunk + 10_000, ids.count)])
            try await db.query("""
                INSERT INTO bookings (reservation_id, event_id, category, user_id, qty, amount, currency, status, held_at)
                SELECT r, \(event.rawValue), 'floor', 'bench', 1, 100, 'EUR', 'held', now() FROM unnest(\(PostgresArray(part))::text[]) r
                """)
        }
        print("repair: \(entries) outbox entries delivered, \(ids.count) bookings in PostgreSQL")

        var c = PipelineRepair.Configuration()
        c.settleAfter = .zero
        let repair = PipelineRepair(redis: client, db: db, configuration: c, logger: logger)
        var memory = RepairMemory()
        var passes = 0, settled = 0, asked = 0
        var redisTime = Duration.zero, postgresTime = Duration.zero, wall = Duration.zero
        while try await client.send(["XLEN", .string(keys.outbox)]).int ?? 0 > 0 {
            let start = ContinuousClock.now
            let r = try await repair.pass(event: event, memory: &memory)
            wall += start.duration(to: .now)
            passes += 1; settled += r.settled; asked += r.asked
            redisTime += r.redisTime; postgresTime += r.postgresTime
        }
        func ms(_ d: Duration) -> Double { Double(d.inMilliseconds) }
        print(String(format: "repair: %d passes settled %d entries (%d events): per pass %.1f ms Redis, %.1f ms PostgreSQL, %.1f ms in all; per event %.1f µs Redis, %.1f µs PostgreSQL",
                     passes, settled, asked, ms(redisTime) / Double(passes), ms(postgresTime) / Double(passes), ms(wall) / Double(passes),
                     ms(redisTime) * 1000 / Double(max(asked, 1)), ms(postgresTime) * 1000 / Double(max(asked, 1))))
        let idleStart = ContinuousClock.now
        for _ in 0..<100 { _ = try await repair.pass(event: event, memory: &memory) }
        print(String(format: "repair: an idle pass (nothing delivered waits) on the same event: %.0f µs",
                     Double(idleStart.duration(to: .now).inMilliseconds) * 10))
        try await db.query("DELETE FROM bookings WHERE event_id = \(event.rawValue)")
        let leftovers = try await client.scanKeys(matching: "bo:{ev:\(event.rawValue)}:*")
        for chunk in stride(from: 0, to: leftovers.count, by: 1_000) {
            try await client.send(["DEL"] + leftovers[chunk..<min(chunk + 1_000, leftovers.count)].map { .string($0) })
        }
        try await client.send(["SREM", .string(InventoryKeys.events), .string(event.rawValue)])
        await db.shutdown()
    }
}

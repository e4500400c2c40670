import ArgumentParser
import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficePersistence
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeRuntime
import Foundation

struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the demo event (id `demo`) with its categories, in PostgreSQL and Redis. Idempotent.")

    @Flag(help: "Create the demo event.")
    var demo = false

    func validate() throws {
        guard demo else { throw ValidationError("nothing to seed: pass --demo") }
    }

    func run() async throws {
        let (settings, logger) = try context("seed")
        let pg = PostgresClient(configuration: settings.postgres(applicationName: "boxofficectl"), logger: logger)
        let redis = RedisClient(configuration: try settings.redis(), logger: logger)
        defer { redis.shutdown() }
        let inventory = RedisInventory(redis: redis)
        let event = EventID("demo")!
        let startsAt = Date().addingTimeInterval(30 * 86_400)
        let categories: [(name: String, stock: Int, price: Int, max: Int?)] = [
            ("floor", 500, 8_900, 4), ("balcony", 300, 5_900, 6), ("vip", 50, 24_900, 2),
        ]
        let created = try await pg.withTransaction { c -> Bool in
            let inserted = try c.query("""
                INSERT INTO events (id, name, venue, starts_at) VALUES (\(event.rawValue), \("BoxOffice Demo Night"), \("Demo Arena"), \(startsAt))
                ON CONFLICT (id) DO NOTHING
                """).affectedRows == 1
            for cat in categories {
                try c.query("""
                    INSERT INTO ticket_categories (event_id, name, total_stock, price, currency, max_per_user)
                    VALUES (\(event.rawValue), \(cat.name), \(cat.stock), \(cat.price), \("EUR"), \(cat.max))
                    ON CONFLICT (event_id, name) DO NOTHING
                    """)
            }
            return inserted
        }
        for cat in categories {
            let outcome = try await inventory.initCategory(
                event: event, category: CategoryName(cat.name)!, totalStock: cat.stock,
                price: Money(amount: cat.price, currency: "EUR"), maxPerUser: cat.max)
            if case .belowCommitted = outcome { print("category \(cat.name): stock kept (already held or sold beyond it)") }
        }
        print(created ? "created demo event 'demo'" : "demo event 'demo' already exists", terminator: "")
        print(": " + categories.map { "\($0.name) \($0.stock) seats at \($0.price / 100).\(String(format: "%02d", $0.price % 100)) EUR" }.joined(separator: ", "))
        await pg.shutdown()
    }
}

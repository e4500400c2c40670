import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Testing

/// A fresh event with one category in the test Redis, removed afterwards.
struct InventoryFixture: Sendable {
    let inventory: RedisInventory
    let event: EventID
    let category: CategoryName
    var keys: InventoryKeys { InventoryKeys(event: event) }

    func stock() async throws -> StockLevels {
        let all = try await inventory.availability(event: event)
        return try #require(all.first { $0.name == category.rawValue }).stock
    }

    func buyer(_ n: Int) -> BuyerID { BuyerID("buyer-\(n)")! }

    /// The outbox's events of the event as field dictionaries, in order (an entry may hold several).
    func outbox() async throws -> [[String: String]] {
        let reply = try await inventory.redis.send(["XRANGE", .string(keys.outbox), "-", "+"])
        return (reply.array ?? []).flatMap { entry -> [[String: String]] in
            guard let parts = entry.array, parts.count == 2, let fields = parts[1].array else { return [] }
            return (OutboxEntry.events(fields: fields) ?? []).map(\.fields)
        }
    }
}

/// Runs `body` with a new event whose category has `stock` seats.
func withInventory<T>(
    stock: Int, maxPerUser: Int? = nil, holdTTL: Duration = .seconds(600), redis: RedisClient? = nil,
    _ body: (InventoryFixture) async throws -> T
) async throws -> T {
    var ownClient: RedisClient? = nil
    if redis == nil {
        var c = try TestStack.settings().redis()
        c.poolSize = 4
        ownClient = RedisClient(configuration: c, logger: TestStack.logger)
    }
    let client = redis ?? ownClient!
    defer { ownClient?.shutdown() }
    var config = InventoryConfiguration()
    config.holdTTL = holdTTL
    let inventory = RedisInventory(redis: client, configuration: config)
    let event = EventID("t_" + randomHex(bytes: 8))!
    let category = CategoryName("floor")!
    let created = try await inventory.initCategory(
        event: event, category: category, totalStock: stock, price: Money(amount: 4_500, currency: "EUR"), maxPerUser: maxPerUser)
    #expect(created == .created(StockLevels(total: stock, available: stock, held: 0, confirmed: 0)))
    let fixture = InventoryFixture(inventory: inventory, event: event, category: category)
    do {
        let value = try await body(fixture)
        try await cleanUp(fixture)
        return value
    } catch {
        try? await cleanUp(fixture)
        throw error
    }
}

private func cleanUp(_ f: InventoryFixture) async throws {
    let redis = f.inventory.redis
    let keys = try await redis.scanKeys(matching: "bo:{ev:\(f.event.rawValue)}:*")
    if !keys.isEmpty { try await redis.send(["DEL"] + keys.map(RedisArgument.string)) }
    try await redis.send(["SREM", .string(InventoryKeys.events), .string(f.event.rawValue)])
    try await redis.send(["SREM", .string(InventoryKeys.queues), .string(f.event.rawValue)])
}

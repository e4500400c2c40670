import ArgumentParser
import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Foundation
import Logging

/// Makes the holds of an expiry wave: `--holds` single-ticket holds of a new event, each of
/// its own buyer, through reserve.lua, with hold times chosen so that all come due `--due-in`
/// seconds after the start, within about `--spread` seconds. The running stack's sweepers then
/// lapse them. Prints the event and its first and last expiry (Redis time, ms) as JSON.
struct WaveBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wave", abstract: "Make an expiry wave of holds for the running stack to sweep.")

    @Option(help: "Redis URL of the stack.") var redis: String
    @Option(help: "Holds to make.") var holds = 100_000
    @Option(help: "Seconds from the start until the first hold is due.") var dueIn = 20
    @Option(help: "Seconds over which the holds come due (0: as close together as they can be made).") var spread = 0

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let client = RedisClient(configuration: try RedisConfiguration(url: redis), logger: logger)
        defer { client.shutdown() }
        let event = EventID("wave_\(randomHex(bytes: 4))")!
        let category = CategoryName("floor")!
        _ = try await RedisInventory(redis: client).initCategory(
            event: event, category: category, totalStock: holds, price: Money(amount: 100, currency: "EUR"), maxPerUser: nil)
        // Over every primary: on a cluster the event's node grows, the others stay as they were.
        func usedMemory() async throws -> Int {
            try await client.sendToEachPrimary(["INFO", "memory"]).reduce(0) { total, node in
                total + ((node.reply.string ?? "").split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
                    .flatMap { Int($0.dropFirst("used_memory:".count)) } ?? 0)
            }
        }
        let memoryBefore = try await usedMemory()
        let start = ContinuousClock.now
        let chunk = 5_000
        for first in stride(from: 0, to: holds, by: chunk) {
            var c = InventoryConfiguration()
            c.holdTTL = ContinuousClock.now.duration(to: start + .seconds(dueIn) + .seconds(spread) * (Double(first) / Double(holds)))
            guard c.holdTTL > .seconds(1) else { throw ValidationError("making the holds took longer than --due-in \(dueIn) s") }
            let inventory = RedisInventory(redis: client, configuration: c)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<64 {
                    group.addTask {
                        for i in stride(from: first + w, to: min(first + chunk, holds), by: 64) {
                            _ = try await inventory.reserve(event: event, category: category, buyer: BuyerID("wave-\(i)")!, quantity: 1)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let key = InventoryKeys(event: event).holds
        func score(_ index: String) async throws -> String {
            try await client.send(["ZRANGE", .string(key), .string(index), .string(index), "WITHSCORES"]).array?.last?.string ?? "0"
        }
        let made = try await client.send(["ZCARD", .string(key)]).int ?? 0
        // Memory of the holds alone: once the stack's relay and repair loop have emptied the outbox.
        let outbox = InventoryKeys(event: event).outbox
        let deadline = ContinuousClock.now + .seconds(30)
        while try await client.send(["XLEN", .string(outbox)]).int ?? 0 > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let perHold = (try await usedMemory() - memoryBefore) / max(made, 1)
        print(#"{"event":"\#(event.rawValue)","holds":\#(made),"first_due_ms":\#(try await score("0")),"last_due_ms":\#(try await score("-1")),"bytes_per_hold":\#(perHold)}"#)
    }
}

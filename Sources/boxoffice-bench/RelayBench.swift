import ArgumentParser
import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficePipeline
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation
import Logging

/// How fast the outbox relay drains a stream into Kafka (delivery reports awaited).
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "relay", abstract: "Outbox entries published per second by the relay.")

    @Option(help: "Redis URL (use a private one: the entries are relayed from it).") var redis: String
    @Option(help: "Kafka brokers.") var brokers: String
    @Option(help: "Topic to publish to (must exist; not the stack's reservations, whose worker would book the entries).") var topic: String
    @Option(help: "Outbox entries to relay.") var entries = 20_000

    func validate() throws {
        // A worker consuming the live topic would write every synthetic hold to PostgreSQL as a booking.
        guard topic != OutboxRelay.Configuration().topic else {
            throw ValidationError("--topic \(topic) is the stack's live topic: its worker would book the synthetic entries; use e.g. reservations.bench")
        }
        guard entries > 0 else { throw ValidationError("--entries must be positive") }
    }

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let client = RedisClient(configuration: try RedisConfiguration(url: redis), logger: logger)
        defer { client.shutdown() }
        let event = EventID("relaybench")!
        let keys = InventoryKeys(event: event)
        try await client.send(["DEL", .string(keys.outbox), .string(keys.relayProgress)])
        try await client.send(["SADD", .string(InventoryKeys.events), .string(event.rawValue)])
        // Synthetic reservation.held entries, as reserve.lua writes them.
        for chunk in stride(from: 0, to: entries, by: 1_000) {
            let commands: [[RedisArgument]] = (chunk..<min(chunk + 1_000, entries)).map { i in
                let rid = ReservationID.fresh(in: event).rawValue
                let entry = OutboxEntry(
                    id: UUID().uuidString.lowercased(), type: "reservation.held", rid: rid, event: event.rawValue, category: "floor",
                    user: "u\(i)", qty: "1", amount: "100", currency: "EUR", at: "1795240000000", created: "1795240000000",
                    expires: "1795240600000")
                return ["XADD", .string(keys.outbox), "*", "e", .string(entry.packed)]
            }
            _ = try await client.pipeline(commands)
        }
        var configuration = OutboxRelay.Configuration()
        configuration.topic = topic
        configuration.batchSize = 1_000
        let relay = OutboxRelay(
            redis: client, producer: KafkaProducerConfiguration(kafka: KafkaConfiguration(brokers: brokers)),
            configuration: configuration, logger: logger)
        let cpuBefore = InventoryBench.processCPUSeconds()
        let start = ContinuousClock.now
        var published = 0
        while published < entries {
            guard let n = try await relay.relayOnce(event: event) else {
                throw ValidationError("another relay holds the bench stream's lease: point --redis at a private Redis")
            }
            if n == 0 { try await Task.sleep(for: .milliseconds(5)) }
            published += n
        }
        let seconds = start.duration(to: .now).inSeconds
        let cpu = InventoryBench.processCPUSeconds() - cpuBefore
        print(String(format: "relay: %d outbox entries published in %.2f s = %.0f entries/s, %.1f µs of CPU per entry",
                     published, seconds, Double(published) / seconds, cpu / Double(published) * 1e6))
        await relay.shutdown()
        // The next run (another relay name) carries the stream at once.
        try await relay.giveUp(event: event)
        try await client.send(["DEL", .string(keys.outbox), .string(keys.relayProgress)])
        try await client.send(["SREM", .string(InventoryKeys.events), .string(event.rawValue)])
    }
}

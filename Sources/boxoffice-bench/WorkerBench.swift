import ArgumentParser
import BoxOfficeDomain
import BoxOfficePipeline
import BoxOfficePostgres
import BoxOfficeSupport
import Foundation
import Logging

/// How fast the worker's writer persists events at a given batch size.
struct WorkerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Events persisted per second by the booking writer at batch sizes 1, 100 and 1000.")

    @Option(help: "PostgreSQL URL.") var databaseURL: String
    @Option(help: "Events per batch size (batch 1 uses a tenth).") var events = 20_000

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let db = PostgresClient(configuration: PostgresConfiguration(url: databaseURL), logger: logger)
        let writer = BookingWriter(db: db)
        let event = EventID("bench_" + randomHex(bytes: 6))!
        for batch in [1, 100, 1_000] {
            let n = batch == 1 ? events / 10 : events
            // Half held, half confirmed, as a war produces them.
            var all: [ReservationEvent] = []
            all.reserveCapacity(n)
            for i in 0..<(n / 2) {
                let rid = ReservationID.fresh(in: event).rawValue
                for type in [ReservationEventType.held, .confirmed] {
                    all.append(ReservationEvent(
                        id: UUID().uuidString.lowercased(), type: type, occurredAt: "2026-11-21T10:00:00.000Z", reservationID: rid,
                        eventID: event.rawValue, category: "floor", userID: "u\(i)", quantity: 1, amount: 100, currency: "EUR",
                        createdAt: "2026-11-21T10:00:00.000Z", expiresAt: "2026-11-21T10:10:00.000Z",
                        payment: type == .confirmed ? PaymentInfo(ref: "pay_\(rid)", status: "succeeded", amount: 100, currency: "EUR") : nil))
                }
            }
            let cpuBefore = InventoryBench.processCPUSeconds()
            let start = ContinuousClock.now
            for chunk in stride(from: 0, to: all.count, by: batch) {
                _ = try await writer.apply(Array(all[chunk..<min(chunk + batch, all.count)]))
            }
            let seconds = start.duration(to: .now).inSeconds
            let cpu = InventoryBench.processCPUSeconds() - cpuBefore
            // This process's CPU: the writer's statements built and sent, its replies read (PostgreSQL's own is not in it).
            print(String(format: "worker batch %5d: %6d events in %.2f s = %8.0f events/s, %.1f µs of the writer's CPU per event",
                         batch, all.count, seconds, Double(all.count) / seconds, cpu / Double(all.count) * 1e6))
            print(String(format: "RESULT batch=%d events_per_sec=%.0f", batch, Double(all.count) / seconds))
        }
        try await db.query("DELETE FROM payments WHERE reservation_id LIKE \(event.rawValue + ".%")")
        try await db.query("DELETE FROM bookings WHERE event_id = \(event.rawValue)")
        await db.shutdown()
    }
}

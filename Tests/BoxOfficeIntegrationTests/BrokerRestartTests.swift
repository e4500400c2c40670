import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficePipeline
import Foundation
import Testing

/// The broker losing everything it held (a single broker's in-memory log, page cache on power
/// loss) or freezing, with no other process restarted: the relay replaces its producer, the
/// repair loop publishes again what PostgreSQL lacks, and every confirm ends in PostgreSQL
/// exactly once.
@Suite("Broker restarts and freezes (real servers, a private broker)", .serialized)
struct BrokerRestartTests {
    /// The broker comes back as an operator's `make up` brings it: empty, topics created again.
    func restart(_ broker: TansuProcess, _ f: PipelineFixture, down: Duration = .seconds(2)) async throws {
        broker.stop()
        try await Task.sleep(for: down)
        try await broker.start()
        try createTopic(f.topic, partitions: 3, brokers: broker.address)
        try createTopic(f.deadLetterTopic, partitions: 1, brokers: broker.address)
    }

    /// A paced war: `rounds` × 40 reservations, 25 of each confirmed, one round every 150 ms.
    func pacedWar(_ f: PipelineFixture, rounds: Int, prefix: String) -> Task<Int, any Error> {
        Task {
            var made = 0
            for round in 0..<rounds {
                made += try await f.war(reservations: 40, confirmed: 25, buyerPrefix: "\(prefix)\(round)-").count
                try await Task.sleep(for: .milliseconds(150))
            }
            return made
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func brokerKilledAndBackEmptyWithTheWorkerAliveLosesNothing() async throws {
        let broker = TansuProcess()
        try await broker.start()
        defer { broker.stop() }
        try await withPipeline(brokers: broker.address) { f in
            try await withInProcessPipeline(f, repairGrace: .seconds(8), relayStall: .seconds(5)) {
                _ = try await f.war(reservations: 200, confirmed: 150, buyerPrefix: "before-")
                let started = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                    try await f.bookingsByStatus().values.reduce(0, +) >= 100
                }
                #expect(started, "the pipeline carries events before the restart")
                let war = pacedWar(f, rounds: 40, prefix: "mid-")
                try await Task.sleep(for: .seconds(2))
                try await restart(broker, f)
                let made = try await war.value
                #expect(made == 40 * 40, "reserves never depend on the broker")
                try await f.expectPostgresMatchesRedis(within: .seconds(60), "within 60 s of the broker's return")
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func brokerKilledAndBackEmptyWhileTheWorkerIsDownLosesNothing() async throws {
        let broker = TansuProcess()
        try await broker.start()
        defer { broker.stop() }
        try await withPipeline(brokers: broker.address) { f in
            try await withInProcessPipeline(f, worker: false, repairGrace: .seconds(8), relayStall: .seconds(5)) {
                // The relay delivers to the broker; nobody consumes; the broker then loses it all.
                _ = try await f.war(reservations: 400, confirmed: 300, buyerPrefix: "unread-")
                let delivered = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) { try await f.undelivered() == 0 }
                #expect(delivered, "the relay delivered everything to the broker")
                try await restart(broker, f)
                let war = pacedWar(f, rounds: 20, prefix: "after-")
                _ = try await war.value
                let worker = try ServerProcess("boxoffice-worker", environment: f.environment(["BOXOFFICE_LOG_LEVEL": "info"]))
                try worker.start()
                try await f.expectPostgresMatchesRedis(within: .seconds(60), "worker log: \(worker.log.suffix(2000))")
                worker.terminate()
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func brokerFrozenForThirtySecondsStallsNothingAndLosesNothing() async throws {
        let broker = TansuProcess()
        try await broker.start()
        defer { broker.stop() }
        try await withPipeline(brokers: broker.address) { f in
            try await withInProcessPipeline(f, repairGrace: .seconds(10), relayStall: .seconds(5)) {
                _ = try await f.war(reservations: 100, confirmed: 60, buyerPrefix: "before-")
                broker.pause()
                let war = pacedWar(f, rounds: 60, prefix: "frozen-")
                try await Task.sleep(for: .seconds(30))
                broker.resume()
                let made = try await war.value
                #expect(made == 60 * 40)
                try await f.expectPostgresMatchesRedis(within: .seconds(90), "after the broker resumed")
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func apiStopsWithinTenSecondsWhileTheBrokerIsDownAndLosesNoEntry() async throws {
        let broker = TansuProcess()
        try await broker.start()
        defer { broker.stop() }
        try await withPipeline(brokers: broker.address) { f in
            let api = try ServerProcess("boxoffice-api", environment: f.environment(["BOXOFFICE_LOG_LEVEL": "info"]))
            try api.start()
            let ready = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) { api.log.contains("Server started") }
            #expect(ready, "the API started: \(api.log.suffix(2000))")
            _ = try await f.war(reservations: 100, confirmed: 50, buyerPrefix: "sent-")
            let delivered = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) { try await f.undelivered() == 0 }
            #expect(delivered)
            broker.stop()
            // Entries the relay will try and fail to deliver.
            _ = try await f.war(reservations: 300, confirmed: 200, buyerPrefix: "stuck-")
            let failing = await eventually(timeout: .seconds(20), every: .milliseconds(100)) { api.log.contains("kafka client error") }
            #expect(failing, "the relay's producer lost the broker")
            let waiting = try await f.undelivered()
            #expect(waiting > 0, "entries wait for the broker")
            let start = ContinuousClock.now
            let stopped = await api.terminate(within: .seconds(10))
            #expect(stopped, "SIGTERM stops the API within 10 s (took \(start.duration(to: .now))): \(api.log.suffix(3000))")
            #expect(try await f.undelivered() >= waiting, "no undelivered entry was dropped")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func workerStopsWithinTenSecondsWhileTheBrokerIsDown() async throws {
        let broker = TansuProcess()
        try await broker.start()
        defer { broker.stop() }
        try await withPipeline(brokers: broker.address) { f in
            try await withInProcessPipeline(f, worker: false) {
                let worker = try ServerProcess("boxoffice-worker", environment: f.environment([
                    "BOXOFFICE_LOG_LEVEL": "info", "BOXOFFICE_WORKER_BATCH_SIZE": "50", "BOXOFFICE_WORKER_BATCH_WAIT_MS": "5"]))
                try worker.start()
                _ = try await f.war(reservations: 300, confirmed: 100, buyerPrefix: "w-")
                let persisting = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                    try await f.bookingsByStatus().values.reduce(0, +) >= 300
                }
                #expect(persisting, "the worker persists: \(worker.log.suffix(2000))")
                broker.stop()
                let start = ContinuousClock.now
                let stopped = await worker.terminate(within: .seconds(10))
                #expect(stopped, "SIGTERM stops the worker within 10 s (took \(start.duration(to: .now))): \(worker.log.suffix(3000))")
            }
        }
    }
}

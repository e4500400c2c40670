import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficeKafka
import BoxOfficePersistence
import BoxOfficePipeline
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeRuntime
import Foundation
import Logging
import Testing

/// A private Redis, unique topics and group, and clients, for one pipeline test.
struct PipelineFixture: Sendable {
    let redis: RedisClient
    let inventory: RedisInventory
    let db: PostgresClient
    let settings: BoxOfficeSettings
    let topic: String
    let deadLetterTopic: String
    let group: String
    let event: EventID
    let category = CategoryName("floor")!
    let redisURL: String

    /// Environment for a child API or worker bound to this fixture.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = [
            "BOXOFFICE_REDIS_URL": redisURL, "BOXOFFICE_KAFKA_TOPIC": topic, "BOXOFFICE_KAFKA_DLQ_TOPIC": deadLetterTopic,
            "BOXOFFICE_WORKER_GROUP": group, "BOXOFFICE_API_PORT": "\(freePort())", "BOXOFFICE_WORKER_PORT": "\(freePort())",
            "BOXOFFICE_RELAY_LEASE_MS": "1000", "BOXOFFICE_API_HOST": "127.0.0.1", "BOXOFFICE_WORKER_HOST": "127.0.0.1",
            "BOXOFFICE_KAFKA_BROKERS": settings.kafkaBrokers,
        ]
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Bookings of this fixture's event by status, from PostgreSQL.
    func bookingsByStatus() async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try await db.query("SELECT status, count(*)::int FROM bookings WHERE event_id = \(event.rawValue) GROUP BY status") {
            out[try row.string(0) ?? ""] = try row.int(1) ?? 0
        }
        return out
    }

    func succeededPayments() async throws -> (rows: Int, distinctReservations: Int) {
        let row = try await db.query("""
            SELECT count(*)::int, count(DISTINCT p.reservation_id)::int FROM payments p JOIN bookings b USING (reservation_id)
            WHERE b.event_id = \(event.rawValue) AND p.status = 'succeeded'
            """).first
        return (try row?.int(0) ?? 0, try row?.int(1) ?? 0)
    }

    /// Redis's view: status of every reservation of the event.
    func redisStatuses() async throws -> [String: String] {
        var out: [String: String] = [:]
        for key in try await redis.scanKeys(matching: "bo:{ev:\(event.rawValue)}:r:*") {
            let v = try await redis.send(["HMGET", .string(key), "rid", "status"]).array ?? []
            if let rid = v.first?.string, let status = v.last?.string { out[rid] = status }
        }
        return out
    }

    func postgresStatuses() async throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try await db.query("SELECT reservation_id, status FROM bookings WHERE event_id = \(event.rawValue)") {
            out[try row.string(0) ?? ""] = try row.string(1) ?? ""
        }
        return out
    }

    /// Makes `count` reservations and confirms the first `confirmed` of them; returns the ids.
    func war(reservations count: Int, confirmed: Int, buyerPrefix: String = "b") async throws -> [ReservationID] {
        try await withThrowingTaskGroup(of: ReservationID?.self) { group in
            for i in 0..<count {
                group.addTask {
                    let buyer = BuyerID("\(buyerPrefix)\(i)")!
                    guard case .held(let r, _) = try await inventory.reserve(event: event, category: category, buyer: buyer, quantity: 1) else { return nil }
                    if i < confirmed {
                        guard case .confirmed = try await inventory.confirm(r.id, buyer: buyer, paymentReference: "pay_\(r.id.token)") else { return nil }
                    }
                    return r.id
                }
            }
            return try await group.reduce(into: []) { if let id = $1 { $0.append(id) } }
        }
    }
}

/// Runs `body` with a fresh event, topics and consumer group; Redis is a private server unless
/// `redisURL` names one (a cluster, say).
func withPipeline<T>(stock: Int = 100_000, brokers: String? = nil, redisURL: String? = nil, _ body: (PipelineFixture) async throws -> T) async throws -> T {
    var server: RedisServerProcess? = nil
    if redisURL == nil {
        server = try RedisServerProcess(appendOnly: true)
        try await server?.start()
    }
    let url = redisURL ?? server?.url ?? ""
    var values = ProcessInfo.processInfo.environment
    guard values["BOXOFFICE_DATABASE_URL"] != nil else { throw TestStackMissing() }
    values["BOXOFFICE_REDIS_URL"] = url
    if let brokers { values["BOXOFFICE_KAFKA_BROKERS"] = brokers }
    let settings = try BoxOfficeSettings(values: values)
    let topic = TestStack.unique("t-res")
    let dlq = topic + ".dlq"
    try createTopic(topic, partitions: 3, brokers: settings.kafkaBrokers)
    try createTopic(dlq, partitions: 1, brokers: settings.kafkaBrokers)
    var rc = try settings.redis()
    rc.poolSize = 4
    let redis = RedisClient(configuration: rc, logger: TestStack.logger)
    let db = PostgresClient(configuration: settings.postgres(applicationName: "pipeline-test"), logger: TestStack.logger)
    let inventory = RedisInventory(redis: redis)
    let event = EventID("p_" + randomHex(bytes: 8))!
    _ = try await inventory.initCategory(event: event, category: CategoryName("floor")!, totalStock: stock,
                                         price: Money(amount: 2_500, currency: "EUR"), maxPerUser: nil)
    let fixture = PipelineFixture(redis: redis, inventory: inventory, db: db, settings: settings, topic: topic, deadLetterTopic: dlq,
                                  group: TestStack.unique("t-worker"), event: event, redisURL: url)
    defer { redis.shutdown() }
    do {
        let value = try await body(fixture)
        await db.shutdown()
        withExtendedLifetime(server) {}
        return value
    } catch {
        await db.shutdown()
        throw error
    }
}

/// The relay, the repair loop and the worker as in-process services, cancelled at the end.
func withInProcessPipeline<T>(
    _ f: PipelineFixture, relay: Bool = true, worker: Bool = true, repairGrace: Duration = .seconds(30),
    relayStall: Duration = .seconds(15), _ body: () async throws -> T
) async throws -> T {
    let logger = TestStack.logger
    let dlqProducer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: f.settings.kafka(clientID: "test-dlq")), logger: logger)
    var relayConfig = OutboxRelay.Configuration()
    relayConfig.topic = f.topic
    relayConfig.leaseTime = .seconds(1)
    relayConfig.stallTimeout = relayStall
    var repairConfig = PipelineRepair.Configuration()
    repairConfig.grace = repairGrace
    repairConfig.leaseTime = .seconds(1)
    // Only a consumer that polls may join the group: a silent member would hold partitions.
    let consumer = worker ? try KafkaConsumer(
        configuration: KafkaConsumerConfiguration(kafka: f.settings.kafka(clientID: "test-worker"), groupID: f.group, topics: [f.topic]),
        logger: logger) : nil
    var workerConfig = BookingConsumer.Configuration()
    workerConfig.deadLetterTopic = f.deadLetterTopic
    var tasks: [Task<Void, any Error>] = []
    let relayService = OutboxRelay(
        redis: f.redis, producer: KafkaProducerConfiguration(kafka: f.settings.kafka(clientID: "test-relay")),
        configuration: relayConfig, logger: logger)
    if relay {
        tasks.append(Task { try await relayService.run() })
        let repair = PipelineRepair(redis: f.redis, db: f.db, configuration: repairConfig, logger: logger)
        tasks.append(Task { try await repair.run() })
    }
    if let consumer {
        let service = BookingConsumer(consumer: consumer, deadLetters: dlqProducer, db: f.db, configuration: workerConfig, logger: logger)
        tasks.append(Task { try await service.run() })
    }
    func stop() async {
        for t in tasks { t.cancel() }
        for t in tasks { _ = try? await t.value }
        await relayService.shutdown()
        await consumer?.close()
        await dlqProducer.shutdown(flushTimeout: .zero)
    }
    do {
        let value = try await body()
        await stop()
        return value
    } catch {
        await stop()
        throw error
    }
}

extension PipelineFixture {
    /// Entries of the event's outbox the relay has not delivered yet.
    func undelivered() async throws -> Int {
        let keys = InventoryKeys(event: event)
        return try await redis.eval(InventoryScripts.outboxState, keys: [.string(keys.outbox), .string(keys.relayProgress)], arguments: []).array?.first?.int ?? 0
    }

    /// Entries still in the event's outbox: not yet delivered, or not yet seen in PostgreSQL.
    func outboxLength() async throws -> Int {
        try await redis.send(["XLEN", .string(InventoryKeys(event: event).outbox)]).int ?? 0
    }

    /// Waits until PostgreSQL's bookings of the event are exactly Redis's reservations (each one
    /// row with Redis's status), each confirmed one paid once, and the outbox is empty.
    func expectPostgresMatchesRedis(within timeout: Duration, _ context: @autoclosure () -> String = "") async throws {
        let inRedis = try await redisStatuses()
        let matched = try await eventually(timeout: timeout, every: .milliseconds(250)) {
            try await postgresStatuses() == inRedis
        }
        let inPostgres = try await postgresStatuses()
        let missing = inRedis.filter { inPostgres[$0.key] != $0.value }.count
        #expect(matched, "\(missing) of \(inRedis.count) reservations missing or behind in PostgreSQL \(context())")
        let confirmed = inRedis.values.filter { $0 == "confirmed" }.count
        let payments = try await succeededPayments()
        #expect(payments.rows == confirmed && payments.distinctReservations == confirmed, "each confirm paid once: \(payments), \(confirmed) confirmed")
        let drained = try await eventually(timeout: .seconds(30), every: .milliseconds(250)) { try await outboxLength() == 0 }
        let left = try await outboxLength(), waiting = try await undelivered()
        #expect(drained, "the outbox drained: \(left) entries left, \(waiting) undelivered")
    }
}

@Suite("Event pipeline: Redis outbox → Kafka → PostgreSQL (real servers)", .serialized)
struct PipelineTests {
    @Test(.timeLimit(.minutes(3)))
    func endToEndEveryConfirmedBookingExactlyOnce() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f) {
                let ids = try await f.war(reservations: 2_000, confirmed: 1_200)
                #expect(ids.count == 2_000)
                let arrived = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
                    try await f.bookingsByStatus() == ["held": 800, "confirmed": 1_200]
                }
                let got = try await f.bookingsByStatus()
                #expect(arrived, "got \(got)")
                let payments = try await f.succeededPayments()
                #expect(payments.rows == 1_200 && payments.distinctReservations == 1_200)
                let inRedis = try await f.redisStatuses()
                let inPostgres = try await f.postgresStatuses()
                #expect(inRedis == inPostgres, "PostgreSQL says what Redis says")
                let drained = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) { try await f.outboxLength() == 0 }
                #expect(drained, "the repair loop removed every entry PostgreSQL has")
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func workerKilledMidBatchLosesAndDuplicatesNothing() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f, worker: false) {
                let worker = try ServerProcess("boxoffice-worker", environment: f.environment(["BOXOFFICE_WORKER_BATCH_SIZE": "50", "BOXOFFICE_WORKER_BATCH_WAIT_MS": "5", "BOXOFFICE_LOG_LEVEL": "info"]))
                try worker.start()
                _ = try await f.war(reservations: 3_000, confirmed: 3_000)
                let some = try await eventually(timeout: .seconds(60), every: .milliseconds(20)) {
                    (try await f.bookingsByStatus().values.reduce(0, +)) >= 300
                }
                #expect(some, "the worker started persisting: \(worker.log.suffix(2000))")
                worker.kill()
                let atKill = try await f.bookingsByStatus().values.reduce(0, +)
                #expect(atKill < 3_000, "killed mid-stream")
                try worker.start()
                let all = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
                    try await f.bookingsByStatus() == ["confirmed": 3_000]
                }
                let got = try await f.bookingsByStatus()
                #expect(all, "got \(got); running \(worker.isRunning); worker log: \(worker.log.suffix(6000))")
                let payments = try await f.succeededPayments()
                #expect(payments.rows == 3_000 && payments.distinctReservations == 3_000)
                worker.terminate()
            }
        }
    }

    /// Workers stopped (SIGTERM) while their group rebalances leave a group the next worker is
    /// assigned in, and each stops promptly, a batch in hand or not. The stack's broker keeps a
    /// member that sends LeaveGroup mid-rebalance as the group's leader for good, so a worker
    /// stops without one and the broker expires it; and the consumer finishes its batch before
    /// the PostgreSQL pool closes (it used to retry against the closed pool until killed).
    @Test(.timeLimit(.minutes(4)))
    func workersStoppedWhileTheirGroupRebalancesLeaveItUsable() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f, worker: false) {
                _ = try await f.war(reservations: 400, confirmed: 400)
                func worker() throws -> ServerProcess {
                    try ServerProcess("boxoffice-worker", environment: f.environment([
                        "BOXOFFICE_WORKER_BATCH_SIZE": "50", "BOXOFFICE_WORKER_BATCH_WAIT_MS": "5", "BOXOFFICE_LOG_LEVEL": "info",
                        "BOXOFFICE_WORKER_PORT": "\(freePort())"]))
                }
                // Stopped while it is still joining the group.
                let first = try worker()
                try first.start()
                #expect(try await eventually(timeout: .seconds(30)) { first.log.contains("Server started") })
                #expect(await first.terminate(within: .seconds(20)), "the joining worker stops: \(first.log.suffix(2000))")
                // Holding partitions, stopped once a second member's arrival has revoked them.
                let second = try worker()
                try second.start()
                let persisting = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                    try await f.bookingsByStatus() == ["confirmed": 400]
                }
                #expect(persisting, "the next worker is assigned partitions and persists: \(second.log.suffix(2000))")
                let third = try worker()
                try third.start()
                let revoked = try await eventually(timeout: .seconds(30), every: .milliseconds(20)) { second.log.contains("partitions revoked") }
                #expect(revoked, "a joining member starts a rebalance: \(second.log.suffix(2000))")
                #expect(await second.terminate(within: .seconds(20)), "the rebalancing worker stops: \(second.log.suffix(2000))")
                // Only the third worker is left to persist these.
                _ = try await f.war(reservations: 200, confirmed: 200, buyerPrefix: "late-")
                let all = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
                    try await f.bookingsByStatus() == ["confirmed": 600]
                }
                let got = try await f.bookingsByStatus()
                #expect(all, "the last worker persists every booking: got \(got); its log: \(third.log.suffix(3000))")
                #expect(await third.terminate(within: .seconds(20)), "the last worker stops: \(third.log.suffix(2000))")
            }
        }
    }

    /// A worker frozen past its group session (a stalled VM, a debugger) comes back to a group
    /// that has evicted it: committing the batch in hand fails with "unknown member". The batch
    /// is already in PostgreSQL, so the worker logs it, rejoins and carries on; the events come
    /// again and are absorbed as duplicates.
    @Test(.timeLimit(.minutes(4)))
    func workerFrozenPastItsSessionRejoinsAndCarriesOn() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f, worker: false) {
                try await workerKeepsEveryBooking(f, rounds: 40, perRound: 50, every: .milliseconds(250)) { worker in
                    worker.pause()
                    // Longer than the session timeout (6 s): the group evicts the member.
                    try await Task.sleep(for: .seconds(9))
                    worker.resume()
                }
            }
        }
    }

    /// PostgreSQL dropping the worker's connections while it writes (a restart, a failover, an
    /// operator's pg_terminate_backend) loses and duplicates nothing: the batch in hand is rolled
    /// back, retried on a new connection, and its offsets are committed only after it is in.
    @Test(.timeLimit(.minutes(4)))
    func postgresDroppingTheWorkersConnectionsLosesNothing() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f, worker: false) {
                try await workerKeepsEveryBooking(f, rounds: 30, perRound: 100, every: .milliseconds(100)) { _ in
                    var dropped = 0
                    for _ in 0..<15 {
                        let row = try await f.db.query("""
                            SELECT count(*)::int FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE application_name = 'boxoffice-worker' AND datname = current_database()) t
                            """).first
                        dropped += try row?.int(0) ?? 0
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    #expect(dropped > 0, "the worker's connections were dropped")
                }
            }
        }
    }

    /// Runs a worker process (batches of 50) while a paced war makes and confirms `rounds` ×
    /// `perRound` reservations; `disturb` runs once the worker has persisted its first bookings.
    /// Then every booking must be confirmed in PostgreSQL exactly once, each paid once, and the
    /// worker must still be running.
    func workerKeepsEveryBooking(
        _ f: PipelineFixture, rounds: Int, perRound: Int, every pause: Duration,
        disturb: (ServerProcess) async throws -> Void
    ) async throws {
        let worker = try ServerProcess("boxoffice-worker", environment: f.environment([
            "BOXOFFICE_WORKER_BATCH_SIZE": "50", "BOXOFFICE_WORKER_BATCH_WAIT_MS": "5", "BOXOFFICE_LOG_LEVEL": "info"]))
        try worker.start()
        let war = Task {
            for round in 0..<rounds {
                _ = try await f.war(reservations: perRound, confirmed: perRound, buyerPrefix: "w\(round)-")
                try await Task.sleep(for: pause)
            }
        }
        let some = try await eventually(timeout: .seconds(60), every: .milliseconds(20)) {
            (try await f.bookingsByStatus().values.reduce(0, +)) >= 100
        }
        #expect(some, "the worker started persisting: \(worker.log.suffix(2000))")
        try await disturb(worker)
        _ = try await war.value
        let total = rounds * perRound
        let all = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
            try await f.bookingsByStatus() == ["confirmed": total] || !worker.isRunning
        }
        let got = try await f.bookingsByStatus()
        #expect(worker.isRunning, "the worker is still running: \(worker.log.suffix(3000))")
        #expect(all && got == ["confirmed": total], "got \(got)")
        let payments = try await f.succeededPayments()
        #expect(payments.rows == total && payments.distinctReservations == total)
        worker.terminate()
    }

    @Test(.timeLimit(.minutes(4)))
    func relayKilledMidStreamLosesNothing() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f, relay: false) {
                let api = try ServerProcess("boxoffice-api", environment: f.environment())
                try api.start()
                // Reservations keep coming while the relay dies and comes back.
                let war = Task {
                    // Paced: 30 rounds of 100 over a few seconds.
                    for round in 0..<30 {
                        _ = try await f.war(reservations: 100, confirmed: round < 10 ? 100 : 0, buyerPrefix: "r\(round)-")
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                let some = try await eventually(timeout: .seconds(60), every: .milliseconds(20)) {
                    (try await f.bookingsByStatus().values.reduce(0, +)) >= 500
                }
                #expect(some, "the relay started publishing: \(api.log.suffix(2000))")
                api.kill()
                let pending = try await f.undelivered()
                _ = try await war.value
                let left = try await f.undelivered()
                #expect(pending > 0 || left > 0, "entries were left for the restarted relay")
                try api.start()
                let all = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
                    try await f.bookingsByStatus() == ["held": 2_000, "confirmed": 1_000]
                }
                let got = try await f.bookingsByStatus()
                #expect(all, "got \(got)")
                #expect(try await f.succeededPayments().rows == 1_000)
                api.terminate()
            }
        }
    }

    /// Two relays on one stream: one carries it while it renews its lease, the other waits, and
    /// takes the stream over when the first stops. Each entry is read once and trimmed once
    /// delivered.
    @Test(.timeLimit(.minutes(2)))
    func twoRelaysCarryAStreamOneAtATime() async throws {
        try await withPipeline { f in
            func relay(_ name: String) -> OutboxRelay {
                var c = OutboxRelay.Configuration()
                c.topic = f.topic
                c.name = name
                // Long enough to outlast a busy machine's war of 100 between the first relay's rounds.
                c.leaseTime = .seconds(3)
                return OutboxRelay(
                    redis: f.redis, producer: KafkaProducerConfiguration(kafka: f.settings.kafka(clientID: "two-relays")),
                    configuration: c, logger: TestStack.logger)
            }
            let first = relay("first"), second = relay("second")
            let keys = InventoryKeys(event: f.event)
            // Events not yet delivered (the holds of a reserve batch share an entry).
            func backlog() async throws -> Int {
                let cursor = try await f.redis.send(["HGET", .string(keys.relayProgress), "cursor"]).string.map { "(" + $0 } ?? "-"
                let entries = try await f.redis.send(["XRANGE", .string(keys.outbox), .string(cursor), "+"]).array ?? []
                return entries.reduce(0) { n, entry in n + (entry.array?.last?.array.flatMap(OutboxEntry.events)?.count ?? 0) }
            }
            _ = try await f.war(reservations: 300, confirmed: 0, buyerPrefix: "a-")
            #expect(try await first.relayOnce(event: f.event) == 300)
            #expect(try await backlog() == 0, "the cursor moved past the delivered entries")
            _ = try await f.war(reservations: 100, confirmed: 0, buyerPrefix: "b-")
            #expect(try await second.relayOnce(event: f.event) == nil, "the first relay holds the stream")
            #expect(try await backlog() == 100)
            // The first relay stops renewing (killed, frozen): after its lease the second takes over.
            var carried: Int? = nil
            let tookOver = try await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
                carried = try await second.relayOnce(event: f.event)
                return carried != nil
            }
            #expect(tookOver && carried == 100, "carried \(String(describing: carried))")
            #expect(try await backlog() == 0)
            #expect(try await first.relayOnce(event: f.event) == nil, "now the second relay holds it")
            #expect(try await f.outboxLength() > 0, "delivered entries stay until the repair loop finds them in PostgreSQL")
            await first.shutdown()
            await second.shutdown()
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func poisonGoesToTheDeadLetterTopicAndThePartitionMovesOn() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f, relay: false) {
                let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: f.settings.kafka(clientID: "poison")), logger: TestStack.logger)
                let rid = ReservationID.fresh(in: f.event)
                let key = Array(rid.rawValue.utf8)  // same key → same partition for poison and good event
                _ = try await producer.send(topic: f.topic, key: key, value: Array("{not json".utf8))
                _ = try await producer.send(topic: f.topic, key: key, value: Array(#"{"v":2,"id":"x"}"#.utf8))
                let good = ReservationEvent(
                    id: UUID().uuidString.lowercased(), type: .held, occurredAt: "2026-11-21T10:00:00.000Z", reservationID: rid.rawValue,
                    eventID: f.event.rawValue, category: "floor", userID: "u1", quantity: 1, amount: 2_500, currency: "EUR",
                    createdAt: "2026-11-21T10:00:00.000Z", expiresAt: "2026-11-21T10:10:00.000Z", payment: nil)
                _ = try await producer.send(topic: f.topic, key: key, value: Array(try JSONEncoder().encode(good)))
                await producer.shutdown()

                let persisted = try await eventually(timeout: .seconds(60), every: .milliseconds(200)) { try await f.bookingsByStatus() == ["held": 1] }
                #expect(persisted, "the good event behind the poison was persisted")

                let dlq = try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: f.settings.kafka(clientID: "dlq-reader"), groupID: TestStack.unique("dlq"), topics: [f.deadLetterTopic]), logger: TestStack.logger)
                var letters: [[String: Any]] = []
                let deadline = ContinuousClock.now + .seconds(60)
                while letters.count < 2, ContinuousClock.now < deadline {
                    for m in try await dlq.poll(maxMessages: 10, maxWait: .milliseconds(200)) {
                        letters.append((try JSONSerialization.jsonObject(with: Data(m.value))) as? [String: Any] ?? [:])
                    }
                }
                await dlq.close()
                #expect(letters.count == 2)
                #expect(letters.map { $0["reason"] as? String ?? "" }.sorted() == ["not valid JSON", "unsupported version 2"].sorted() || letters.allSatisfy { $0["reason"] != nil })
                #expect(letters.first?["payload"] as? String == "{not json")
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func brokerStoppedForTenSecondsWhileReservationsContinue() async throws {
        let broker = TansuProcess()
        try await broker.start()
        defer { broker.stop() }
        try await withPipeline(brokers: broker.address) { f in
            try await withInProcessPipeline(f) {
                _ = try await f.war(reservations: 200, confirmed: 100, buyerPrefix: "before-")
                let before = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                    try await f.bookingsByStatus() == ["held": 100, "confirmed": 100]
                }
                #expect(before)
                broker.pause()  // the broker stops answering, connections stay open
                let outage = ContinuousClock.now
                var rounds = 0
                while ContinuousClock.now - outage < .seconds(10) {
                    let made = try await f.war(reservations: 50, confirmed: 25, buyerPrefix: "during-\(rounds)-").count
                    #expect(made == 50, "reservations keep succeeding while the broker is down")
                    rounds += 1
                    try await Task.sleep(for: .milliseconds(200))
                }
                let during = rounds
                let backlog = try await f.redis.send(["XLEN", .string(InventoryKeys(event: f.event).outbox)]).int ?? 0
                #expect(backlog > 0, "the outbox absorbed the events")
                broker.resume()
                let expected = ["held": 100 + 25 * during, "confirmed": 100 + 25 * during]
                let drained = try await eventually(timeout: .seconds(120), every: .milliseconds(250)) { try await f.bookingsByStatus() == expected }
                let got = try await f.bookingsByStatus()
                #expect(drained, "expected \(expected), got \(got)")
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func reconcileFindsAndRepairsMissingBookings() async throws {
        try await withPipeline { f in
            try await withInProcessPipeline(f) {
                _ = try await f.war(reservations: 60, confirmed: 20)
                let arrived = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                    try await f.bookingsByStatus() == ["held": 40, "confirmed": 20]
                }
                #expect(arrived)
                let reconciler = Reconciler(redis: f.redis, db: f.db)
                #expect(try await reconciler.compare(event: f.event).differences.isEmpty)
                // Lose five rows, confirmed ones included.
                let lost = try await f.db.query("""
                    SELECT reservation_id FROM bookings WHERE event_id = \(f.event.rawValue) ORDER BY status, reservation_id LIMIT 5
                    """).map { try $0.string(0) ?? "" }
                try await f.db.withTransaction { c in
                    try c.query("DELETE FROM payments WHERE reservation_id = ANY(\(PostgresArray(lost))::text[])")
                    try c.query("DELETE FROM bookings WHERE reservation_id = ANY(\(PostgresArray(lost))::text[])")
                }
                let report = try await reconciler.compare(event: f.event)
                #expect(Set(report.differences.map(\.reservationID)) == Set(lost))
                #expect(report.differences.allSatisfy { $0.kind == .missingInPostgres })
                #expect(try await reconciler.repair(event: f.event, report.differences) >= 5)
                let repaired = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                    try await reconciler.compare(event: f.event).differences.isEmpty
                }
                #expect(repaired)
                #expect(try await f.succeededPayments().rows == 20)
                // Ended reservations leave Redis after the retention, on purpose: a booking that ended
                // longer ago than that is not missing from Redis; one that ended since is.
                let confirmed = try await f.db.query("""
                    SELECT reservation_id FROM bookings WHERE event_id = \(f.event.rawValue) AND status = 'confirmed' ORDER BY reservation_id LIMIT 2
                    """).map { try $0.string(0) ?? "" }
                try await f.db.query("""
                    UPDATE bookings SET confirmed_at = now() - interval '8 days' WHERE reservation_id = \(confirmed[0])
                    """)
                let keys = InventoryKeys(event: f.event)
                for id in confirmed { try await f.redis.send(["DEL", .string(keys.reservation(try #require(ReservationID(id))))]) }
                let week = try await reconciler.compare(event: f.event)
                #expect(week.retired == 1)
                #expect(week.differences.map(\.reservationID) == [confirmed[1]])
                #expect(week.differences.first?.kind == .missingInRedis)
                let longer = try await Reconciler(redis: f.redis, db: f.db, retention: .seconds(30 * 86_400)).compare(event: f.event)
                #expect(longer.retired == 0 && Set(longer.differences.map(\.reservationID)) == Set(confirmed))
            }
        }
    }

    @Test func duplicatesAndReorderingEndInTheSameRows() async throws {
        try await withPipeline { f in
            let writer = BookingWriter(db: f.db)
            func event(_ type: ReservationEventType, _ rid: ReservationID, at: String, id: String = UUID().uuidString.lowercased()) -> ReservationEvent {
                ReservationEvent(id: id, type: type, occurredAt: at, reservationID: rid.rawValue, eventID: f.event.rawValue, category: "floor",
                                 userID: "u", quantity: 2, amount: 5_000, currency: "EUR", createdAt: "2026-11-21T10:00:00.000Z",
                                 expiresAt: "2026-11-21T10:10:00.000Z",
                                 payment: type == .confirmed ? PaymentInfo(ref: "pay_\(rid.token)", status: "succeeded", amount: 5_000, currency: "EUR") : nil)
            }
            let a = ReservationID.fresh(in: f.event), b = ReservationID.fresh(in: f.event)
            let heldA = event(.held, a, at: "2026-11-21T10:00:00.000Z"), confirmedA = event(.confirmed, a, at: "2026-11-21T10:01:00.000Z")
            let heldB = event(.held, b, at: "2026-11-21T10:00:00.000Z"), confirmedB = event(.confirmed, b, at: "2026-11-21T10:01:00.000Z")
            // In order, once; and reordered, twice each, across batches.
            _ = try await writer.apply([heldA, confirmedA])
            let r1 = try await writer.apply([confirmedB, confirmedB])
            let r2 = try await writer.apply([heldB, confirmedB, heldB])
            #expect(r1.duplicates == 1 && r2.duplicates == 2)
            let rows = try await f.db.query("""
                SELECT reservation_id, status, held_at, confirmed_at, created_at FROM bookings WHERE event_id = \(f.event.rawValue) ORDER BY reservation_id
                """)
            let byID = Dictionary(uniqueKeysWithValues: try rows.map { (try $0.string(0) ?? "", try ($0.string(1), $0.date(2), $0.date(3), $0.date(4))) })
            let rowA = try #require(byID[a.rawValue]), rowB = try #require(byID[b.rawValue])
            #expect(rowA.0 == "confirmed" && rowB.0 == "confirmed")
            #expect(rowA.1 == rowB.1 && rowA.2 == rowB.2 && rowA.3 == rowB.3, "same timestamps whatever the order")
            let payments = try await f.db.query("SELECT count(*)::int FROM payments WHERE reservation_id IN (\(a.rawValue), \(b.rawValue))").first?.int(0)
            #expect(payments == 2)
            // A late held after a final state changes nothing, and a replayed one is a duplicate.
            let late = try await writer.apply([event(.held, a, at: "2026-11-21T09:00:00.000Z")])
            let replayed = try await writer.apply([heldA])
            #expect(late.duplicates == 1 && late.applied.isEmpty && replayed.duplicates == 1 && replayed.applied.isEmpty)
            let after = try #require(try await f.db.query("SELECT status, held_at, created_at FROM bookings WHERE reservation_id = \(a.rawValue)").first)
            #expect(try after.string(0) == "confirmed" && after.date(1) == rowA.1 && after.date(2) == rowA.3)
            // A held whose reservation has no row yet creates it; one arriving after its confirm fills held_at.
            let c = ReservationID.fresh(in: f.event), d = ReservationID.fresh(in: f.event)
            _ = try await writer.apply([event(.confirmed, d, at: "2026-11-21T10:01:00.000Z")])
            let late2 = try await writer.apply([event(.held, c, at: "2026-11-21T10:00:00.000Z"), event(.held, d, at: "2026-11-21T10:00:00.000Z")])
            #expect(late2.applied[.held] == 2 && late2.duplicates == 0)
            let cd = try await f.db.query("""
                SELECT status, held_at IS NOT NULL FROM bookings WHERE reservation_id IN (\(c.rawValue), \(d.rawValue)) ORDER BY reservation_id = \(c.rawValue) DESC
                """).map { (try $0.string(0), try $0.bool(1)) }
            #expect(cd.count == 2 && cd[0].0 == "held" && cd[1].0 == "confirmed" && cd.allSatisfy { $0.1 == true })
        }
    }
}

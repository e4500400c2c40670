import ArgumentParser
import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficePipeline
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeRuntime

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare an event's reservations in Redis with its bookings in PostgreSQL; --repair republishes what is missing.")

    @Option(help: "The event id.") var event: String
    @Flag(help: "Republish, through the outbox, every reservation PostgreSQL lacks or has behind.") var repair = false
    @Option(help: "Differences to print.") var show = 50

    func run() async throws {
        guard let eventID = EventID(event) else { throw ValidationError("--event is not a valid event id") }
        let (settings, logger) = try context("reconcile")
        let redis = RedisClient(configuration: try settings.redis(), logger: logger)
        let pg = PostgresClient(configuration: settings.postgres(applicationName: "boxofficectl"), logger: logger)
        defer { redis.shutdown() }
        let reconciler = Reconciler(redis: redis, db: pg, retention: .seconds(settings.reservationRetentionSeconds))
        let report = try await reconciler.compare(event: eventID)
        print("event \(eventID): \(report.redisReservations) reservations in Redis, \(report.postgresBookings) bookings in PostgreSQL, \(report.inFlight) outbox entries not yet seen in PostgreSQL")
        if report.retired > 0 {
            print("\(report.retired) bookings ended over \(settings.reservationRetentionSeconds) s ago (BOXOFFICE_RESERVATION_RETENTION_SECONDS) and have left Redis, as they should")
        }
        if report.differences.isEmpty {
            print("no differences")
        } else {
            print("\(report.differences.count) differences\(report.inFlight > 0 ? " (some may still be in flight)" : ""):")
            for d in report.differences.prefix(show) { print("  \(d)") }
            if report.differences.count > show { print("  … and \(report.differences.count - show) more") }
        }
        let money = try await reconciler.money(event: eventID)
        print("payments: \(money.keptWithoutTicket.count) kept without a ticket, \(money.refundsOwed) owed back (late payments that bought nothing)")
        for k in money.keptWithoutTicket.prefix(show) { print("  kept without a ticket: \(k)") }
        if !money.seatsSoldTwice.isEmpty {
            print("seats sold to two confirmed bookings: \(money.seatsSoldTwice.prefix(show).joined(separator: ", "))")
        }
        if repair {
            let queued = try await reconciler.repair(event: eventID, report.differences)
            print("repair: queued \(queued) events in the outbox of \(eventID); the relay and worker will apply them")
        }
        await pg.shutdown()
    }
}

import ArgumentParser
import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficePostgres
import BoxOfficeRuntime
import Foundation
import Logging

@main
struct BoxOfficeCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxofficectl",
        abstract: "Operate a BoxOffice deployment.",
        discussion: "Settings come from BOXOFFICE_* variables, falling back to .run/env.",
        subcommands: [Migrate.self, Token.self, Seed.self, Reconcile.self, CreateAdmin.self])
}

/// Settings and a logger for a subcommand.
func context(_ label: String) throws -> (BoxOfficeSettings, Logger) {
    let settings = try BoxOfficeSettings.load()
    var logger = Logger(label: "boxofficectl.\(label)")
    logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info
    return (settings, logger)
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the SQL migrations embedded in this binary.")

    func run() async throws {
        let (settings, logger) = try context("migrate")
        let configuration = settings.postgres(applicationName: "boxofficectl")
        print("migrating \(configuration.redactedURL)")
        let client = PostgresClient(configuration: configuration, logger: logger)
        let report: Migrator.Report
        do {
            report = try await Migrator(client: client, logger: logger).migrate()
        } catch {
            await client.shutdown()
            throw error
        }
        for v in report.applied {
            let m = Migration.all.first { $0.version == v }
            print("applied migration \(v) (\(m?.name ?? "?"))")
        }
        print("schema at version \(Migration.all.map(\.version).max() ?? 0): \(report.applied.count) applied, \(report.alreadyApplied.count) already present")
        await client.shutdown()
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a signed access token (a bare JWT) on stdout.")

    @Option(help: "user or admin")
    var role: String = "user"

    @Option(help: "The subject (buyer or admin id).")
    var sub: String

    @Option(help: "Lifetime in seconds.")
    var ttl: Int = 3600

    @Option(help: "Print this many tokens, comma-separated, for subjects <sub>-1 … <sub>-N (load tests).")
    var count: Int = 1

    func validate() throws {
        guard Role(rawValue: role) != nil else { throw ValidationError("--role must be user or admin") }
        guard !sub.isEmpty, sub.count <= 200 else { throw ValidationError("--sub must be 1 to 200 characters") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
        guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1 to 100000") }
    }

    func run() async throws {
        let (settings, _) = try context("token")
        let issuer = await TokenIssuer(secret: settings.jwtSecret)
        let role = Role(rawValue: role)!
        if count == 1 {
            print(try await issuer.issue(subject: sub, role: role, lifetime: .seconds(ttl)))
        } else {
            var tokens: [String] = []
            for i in 1...count { tokens.append(try await issuer.issue(subject: "\(sub)-\(i)", role: role, lifetime: .seconds(ttl))) }
            print(tokens.joined(separator: ","))
        }
    }
}

import Logging

/// One versioned schema change, shipped inside the binary.
public struct Migration: Sendable {
    /// Applied in ascending order; recorded in `schema_migrations`.
    public var version: Int
    /// A short name, e.g. `initial`.
    public var name: String
    /// The SQL, run inside one transaction.
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations embedded in this binary, in order.
    public static let all: [Migration] = [
        Migration(version: 1, name: "initial", sql: String(decoding: PackageResources.m0001_initial_sql, as: UTF8.self)),
        Migration(version: 2, name: "seats_refunds", sql: String(decoding: PackageResources.m0002_seats_refunds_sql, as: UTF8.self)),
    ]
}

/// Applies pending migrations, each once, in order, each in its own transaction.
///
/// An advisory lock serialises concurrent `migrate` runs.
public struct Migrator: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// What a run did.
    public struct Report: Sendable {
        /// Versions applied by this run.
        public var applied: [Int]
        /// Versions that were already applied.
        public var alreadyApplied: [Int]
    }

    /// Applies what is missing; returns what it did.
    public func migrate(_ migrations: [Migration] = Migration.all) async throws -> Report {
        try await client.withConnection { connection in
            try connection.execute(unprepared: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            try connection.query("SELECT pg_advisory_lock(\(Self.lockKey))")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))") }
            var done: [Int: String] = [:]
            for row in try connection.query("SELECT version, name FROM schema_migrations") {
                if let v = try row.int(0) { done[v] = try row.string(1) ?? "" }
            }
            let known = Set(migrations.map(\.version))
            if let unknown = done.keys.sorted().first(where: { !known.contains($0) }) {
                throw PostgresError(.migration, "the database has migration \(unknown) that this binary does not know; run a newer boxofficectl")
            }
            var report = Report(applied: [], alreadyApplied: [])
            for m in migrations.sorted(by: { $0.version < $1.version }) {
                if done[m.version] != nil { report.alreadyApplied.append(m.version); continue }
                try connection.execute(unprepared: "BEGIN")
                do {
                    try connection.execute(unprepared: m.sql)
                    try connection.query("INSERT INTO schema_migrations (version, name) VALUES (\(m.version), \(m.name))")
                    try connection.execute(unprepared: "COMMIT")
                } catch {
                    try? connection.execute(unprepared: "ROLLBACK")
                    throw PostgresError(.migration, "migration \(m.version) (\(m.name)) failed", underlying: error)
                }
                report.applied.append(m.version)
            }
            return report
        }
    }

    private static let lockKey = 7_240_001
}

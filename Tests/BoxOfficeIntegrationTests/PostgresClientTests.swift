import BoxOfficePostgres
import Testing

@Suite("PostgreSQL client against a real PostgreSQL")
struct PostgresClientTests {
    @Test func parameterisedRoundTripInsideATransaction() async throws {
        try await withPostgres { pg in
            let table = "t_roundtrip_\(UInt32.random(in: 0..<UInt32.max))"
            try await pg.withConnection { try $0.execute(unprepared: "CREATE TABLE \(table) (id int PRIMARY KEY, name text, price bigint, ok boolean)") }
            let tricky = "O'Reilly; DROP TABLE users; -- ✓"
            let rows = try await pg.withTransaction { c -> [String?] in
                try c.query("INSERT INTO \(unescaped: table) (id, name, price, ok) VALUES (\(1), \(tricky), \(Int64(9_007_199_254_740_993)), \(true))")
                try c.query("INSERT INTO \(unescaped: table) (id, name, price, ok) VALUES (\(2), \(String?.none), \(Int64(0)), \(false))")
                return try c.query("SELECT name FROM \(unescaped: table) ORDER BY id").map { try $0.string(0) }
            }
            #expect(rows == [tricky, nil])
            let row = try #require(try await pg.query("SELECT price, ok FROM \(unescaped: table) WHERE id = \(1)").first)
            #expect(try row.int("price") == 9_007_199_254_740_993)
            #expect(try row.bool("ok") == true)
            try await pg.withConnection { try $0.execute(unprepared: "DROP TABLE \(table)") }
        }
    }

    /// Array parameters (the worker's `unnest` batches) survive quotes, backslashes, commas,
    /// braces, spaces, the word NULL, empty strings, non-ASCII text and real NULLs.
    @Test func arrayParametersRoundTrip() async throws {
        try await withPostgres { pg in
            let elements: [String?] = [#"a"b"#, #"back\slash"#, "x,y", "{z}", " pad ", "NULL", "", "Zürich ✓ 東京", nil, #"\"#, "\""]
            let rows = try await pg.query(
                "SELECT e FROM unnest(\(PostgresArray(elements))::text[]) WITH ORDINALITY AS t(e, n) ORDER BY n")
            #expect(try rows.map { try $0.string(0) } == elements)
        }
    }

    @Test func rollbackLeavesNothingBehind() async throws {
        struct Boom: Error {}
        try await withPostgres { pg in
            let table = "t_rollback_\(UInt32.random(in: 0..<UInt32.max))"
            try await pg.withConnection { try $0.execute(unprepared: "CREATE TABLE \(table) (id int PRIMARY KEY)") }
            await #expect(throws: Boom.self) {
                try await pg.withTransaction { c in
                    try c.query("INSERT INTO \(unescaped: table) (id) VALUES (\(1))")
                    try c.query("INSERT INTO \(unescaped: table) (id) VALUES (\(2))")
                    throw Boom()
                }
            }
            // A server error inside the transaction rolls back too, and is typed.
            await #expect { try await pg.withTransaction { c in
                try c.query("INSERT INTO \(unescaped: table) (id) VALUES (\(3))")
                try c.query("INSERT INTO \(unescaped: table) (id) VALUES (\(3))")
            } } throws: { ($0 as? PostgresError)?.isUniqueViolation == true }
            let count = try await pg.query("SELECT count(*) FROM \(unescaped: table)").first?.int(0)
            #expect(count == 0)
            try await pg.withConnection { try $0.execute(unprepared: "DROP TABLE \(table)") }
        }
    }

    @Test func errorDescriptionsCarryNoSQLOrValues() async throws {
        try await withPostgres { pg in
            let secret = "s3cr3t-value-\(UInt32.random(in: 0..<UInt32.max))"
            do {
                try await pg.query("SELECT * FROM no_such_table_xyz WHERE name = \(secret)")
                Issue.record("expected an error")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42P01")
                #expect(!error.description.contains(secret))
                #expect(!error.description.contains("SELECT"))
            }
        }
    }

    @Test func poolServesManyConcurrentCallersWithFewConnections() async throws {
        var c = try TestStack.settings().postgres(applicationName: "tests")
        c.maxConnections = 3
        let pg = PostgresClient(configuration: c, logger: TestStack.logger)
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<100 { group.addTask { try await pg.query("SELECT \(i)::int + 1").first?.int(0) ?? 0 } }
            return try await group.reduce(0, +)
        }
        #expect(sum == (1...100).reduce(0, +))
        #expect(pg.openConnections <= 3)
        await pg.shutdown()
    }

    @Test func migrationsApplyOnceAndAreRecorded() async throws {
        try await withPostgres { pg in
            let report = try await Migrator(client: pg, logger: TestStack.logger).migrate()
            #expect(report.applied.isEmpty, "make test migrated already; a second run applies nothing")
            #expect(report.alreadyApplied == Migration.all.map(\.version))
            let tables = try await pg.query("""
                SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name
                """).map { try $0.string(0) ?? "" }
            for t in ["bookings", "events", "payments", "processed_events", "schema_migrations", "ticket_categories", "users"] {
                #expect(tables.contains(t), "missing table \(t)")
            }
        }
    }
}

import BoxOfficeAPI
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeRuntime
import Testing

@Suite struct SettingsTests {
    @Test func defaultsMatchTheOperatingContract() throws {
        let s = try BoxOfficeSettings(values: [:])
        #expect(s.apiPort == 8080)
        #expect(s.workerPort == 9101)
        #expect(s.holdTTLSeconds == 600)
        #expect(s.maxQuantityPerRequest == 10)
        #expect(s.kafkaPartitions == 6)
        #expect(try s.redis().port == 6379)
    }

    @Test func environmentOverridesAndValidates() throws {
        let s = try BoxOfficeSettings(values: ["BOXOFFICE_API_PORT": "18080", "BOXOFFICE_REDIS_URL": "redis://:pw@cache:7000/2"])
        #expect(s.apiPort == 18080)
        let r = try s.redis()
        #expect(r.host == "cache" && r.port == 7000 && r.database == 2 && r.password == "pw")
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_API_PORT": "http"]) }
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_JWT_SECRET": "short"]) }
        #expect(throws: RedisError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_REDIS_URL": "http://x"]) }
    }

    /// The relay's lease time, under its name and the older one it replaced.
    @Test func relayLeaseTimeKeepsItsOlderName() throws {
        #expect(try BoxOfficeSettings(values: [:]).relayLeaseMs == 10_000)
        #expect(try BoxOfficeSettings(values: ["BOXOFFICE_RELAY_LEASE_MS": "2500"]).relayLeaseMs == 2_500)
        #expect(try BoxOfficeSettings(values: ["BOXOFFICE_RELAY_CLAIM_IDLE_MS": "4000"]).relayLeaseMs == 4_000)
        #expect(try BoxOfficeSettings(values: ["BOXOFFICE_RELAY_CLAIM_IDLE_MS": "4000", "BOXOFFICE_RELAY_LEASE_MS": "2500"]).relayLeaseMs == 2_500)
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_RELAY_LEASE_MS": "5"]) }
    }

    /// How long ended reservations stay in Redis: 7 days by default, never shorter than the
    /// idempotency keys' day (a repeated reserve must find its reservation), at most a year.
    @Test func reservationRetentionIsBetweenADayAndAYear() throws {
        #expect(try BoxOfficeSettings(values: [:]).reservationRetentionSeconds == 604_800)
        #expect(try BoxOfficeSettings(values: ["BOXOFFICE_RESERVATION_RETENTION_SECONDS": "86400"]).reservationRetentionSeconds == 86_400)
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_RESERVATION_RETENTION_SECONDS": "3600"]) }
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_RESERVATION_RETENTION_SECONDS": "31536001"]) }
        #expect(try BoxOfficeSettings(values: [:]).reserveBatchLimit == 32)
        #expect(try BoxOfficeSettings(values: ["BOXOFFICE_RESERVE_BATCH_LIMIT": "1"]).reserveBatchLimit == 1)
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_RESERVE_BATCH_LIMIT": "0"]) }
        #expect(throws: SettingsError.self) { try BoxOfficeSettings(values: ["BOXOFFICE_RESERVE_BATCH_LIMIT": "257"]) }
    }

    @Test func secretsAreRedacted() throws {
        let s = try BoxOfficeSettings(values: [
            "BOXOFFICE_REDIS_URL": "redis://:hunter2@cache:7000",
            "BOXOFFICE_DATABASE_URL": "postgres://bo:hunter3@db:5432/bo",
            "BOXOFFICE_JWT_SECRET": "a-very-long-jwt-secret-for-tests-hunter4",
        ])
        let text = s.redactedDescription.values.joined(separator: " ")
        for secret in ["hunter2", "hunter3", "hunter4"] { #expect(!text.contains(secret)) }
        #expect(text.contains("db:5432"))
    }
}

@Suite struct SQLTests {
    @Test func interpolationBindsParameters() {
        let name = "x'; DROP TABLE users; --"
        let sql: SQL = "SELECT * FROM t WHERE name = \(name) AND n > \(3) AND o = \(String?.none)"
        #expect(sql.text == "SELECT * FROM t WHERE name = $1 AND n > $2 AND o = $3")
        #expect(sql.parameters == [name, "3", nil])
    }

    @Test func unescapedNeedsTheMarker() {
        let sql: SQL = "SELECT * FROM \(unescaped: "events") WHERE id = \("e1")"
        #expect(sql.text == "SELECT * FROM events WHERE id = $1")
    }
}

@Suite struct TokenTests {
    @Test func issuedTokensVerifyAndCarryRole() async throws {
        let issuer = await TokenIssuer(secret: "0123456789abcdef0123456789abcdef")
        let token = try await issuer.issue(subject: "admin-1", role: .admin)
        let claims = try await issuer.verify(token)
        #expect(claims.subject == "admin-1")
        #expect(claims.role == "admin")
        let other = await TokenIssuer(secret: "another-secret-another-secret-another!!")
        await #expect(throws: (any Error).self) { _ = try await other.verify(token) }
    }
}

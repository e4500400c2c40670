import BoxOfficeKafka
import BoxOfficePostgres
import BoxOfficeRedis
import Foundation

/// Every setting of BoxOffice, read from `BOXOFFICE_*` environment variables in one place.
///
/// Where a variable is unset, the value from the env file (`.run/env` in the
/// working directory, or `BOXOFFICE_ENV_FILE`) is used, then the default
/// documented on each property. Defaults marked *development* are fit for the
/// local stack only.
public struct BoxOfficeSettings: Sendable {
    /// `BOXOFFICE_REDIS_URL`: one node, or a comma-separated list of a cluster's seed nodes
    /// (`redis://127.0.0.1:7001,127.0.0.1:7002`). Default `redis://127.0.0.1:6379`.
    public var redisURL = "redis://127.0.0.1:6379"
    /// `BOXOFFICE_REDIS_MODE`: `auto` (ask the server), `cluster` or `standalone`. Default `auto`.
    public var redisMode = RedisConfiguration.Mode.auto
    /// `BOXOFFICE_REDIS_RETRY_MS`: how long a command retries while a Redis Cluster moves slots
    /// or fails over before the request is answered 503. From 0 to 60000. Default `2000`.
    public var redisRetryMs = 2000
    /// `BOXOFFICE_DATABASE_URL`. Default (development) `postgres://boxoffice:boxoffice-dev-password@127.0.0.1:5432/boxoffice`.
    public var databaseURL = "postgres://boxoffice:boxoffice-dev-password@127.0.0.1:5432/boxoffice"
    /// `BOXOFFICE_KAFKA_BROKERS`. Default `127.0.0.1:9092`.
    public var kafkaBrokers = "127.0.0.1:9092"
    /// `BOXOFFICE_KAFKA_PARTITIONS`: partitions of the `reservations` topic. Default `6`.
    public var kafkaPartitions = 6
    /// `BOXOFFICE_JWT_SECRET`: HS256 secret. Default (development) a fixed string; `make up` generates one.
    public var jwtSecret = "boxoffice-development-secret-change-me"
    /// `BOXOFFICE_HOLD_TTL_SECONDS`. Default `600`.
    public var holdTTLSeconds = 600
    /// `BOXOFFICE_RESERVATION_RETENTION_SECONDS`: how long a reservation stays in Redis once it
    /// has ended (confirmed, cancelled, expired); its booking stays in PostgreSQL. From 1 day
    /// (the idempotency keys' lifetime) to 1 year. Default `604800` (7 days).
    public var reservationRetentionSeconds = 604_800
    /// `BOXOFFICE_MAX_QTY_PER_REQUEST`: cap on one request's qty. Default `10`.
    public var maxQuantityPerRequest = 10
    /// `BOXOFFICE_RESERVE_BATCH_LIMIT`: most reserves of one event in one call of reserve.lua;
    /// those arriving while a call is under way go together in the next (`1`: every reserve
    /// alone). From 1 to 256. Default `32`.
    public var reserveBatchLimit = 32
    /// `BOXOFFICE_API_HOST`. Default `0.0.0.0`.
    public var apiHost = "0.0.0.0"
    /// `BOXOFFICE_API_PORT`. Default `8080`.
    public var apiPort = 8080
    /// `BOXOFFICE_WORKER_HOST`. Default `0.0.0.0`.
    public var workerHost = "0.0.0.0"
    /// `BOXOFFICE_WORKER_PORT`. Default `9101`.
    public var workerPort = 9101
    /// `BOXOFFICE_REDIS_POOL_SIZE`: pipelined connections. Default `4`.
    public var redisPoolSize = 4
    /// `BOXOFFICE_DB_POOL_SIZE`: PostgreSQL connections (and libpq threads). Default `8`.
    public var databasePoolSize = 8
    /// `BOXOFFICE_STARTUP_TIMEOUT_SECONDS`: how long start-up retries an unreachable server. Default `15`.
    public var startupTimeoutSeconds = 15
    /// `BOXOFFICE_LOG_LEVEL`: trace, debug, info, notice, warning, error, critical. Default `info`.
    public var logLevel = "info"
    /// `BOXOFFICE_TOKEN_TTL_SECONDS`: lifetime of tokens from `POST /auth/login`. Default `3600`.
    public var tokenTTLSeconds = 3600
    /// `BOXOFFICE_DEFAULT_CURRENCY`: currency of a category created without one. Default `EUR`.
    public var defaultCurrency = "EUR"
    /// `BOXOFFICE_CORS_ORIGINS`: comma-separated origins allowed by CORS. Default none (no CORS headers).
    public var corsOrigins: [String] = []
    /// `BOXOFFICE_RATE_SIGNUP_PER_MINUTE`: `POST /users` per client IP. Default `5`.
    public var signUpPerMinute = 5
    /// `BOXOFFICE_RATE_QUEUE_JOIN_PER_MINUTE`: `POST /events/{id}/queue/join` per client IP,
    /// against scripted joins. Default `120`.
    public var queueJoinPerMinute = 120
    /// `BOXOFFICE_RATE_LOGIN_PER_MINUTE`: `POST /auth/login` per client IP. Default `10`.
    public var loginPerMinute = 10
    /// `BOXOFFICE_RATE_RESERVE_PER_SECOND`: `POST /reserve` per buyer. Default `20`.
    public var reservePerSecond = 20
    /// `BOXOFFICE_RATE_RESERVE_BURST`: burst of `POST /reserve` per buyer. Default `40`.
    public var reserveBurst = 40
    /// `BOXOFFICE_RATE_LIMIT_PREFIX`: namespace of the rate-limit keys in Redis. Default `bo:rl`.
    public var rateLimitPrefix = "bo:rl"
    /// `BOXOFFICE_KAFKA_TOPIC`: the events topic. Default `reservations`.
    public var kafkaTopic = "reservations"
    /// `BOXOFFICE_KAFKA_DLQ_TOPIC`: the dead-letter topic. Default `reservations.dlq`.
    public var kafkaDeadLetterTopic = "reservations.dlq"
    /// `BOXOFFICE_WORKER_GROUP`: the worker's Kafka consumer group. Default `boxoffice-worker`.
    public var workerGroup = "boxoffice-worker"
    /// `BOXOFFICE_WORKER_BATCH_SIZE`: most events per database transaction. Default `1000`.
    public var workerBatchSize = 1000
    /// `BOXOFFICE_WORKER_BATCH_WAIT_MS`: longest wait to fill a batch. Default `50`.
    public var workerBatchWaitMs = 50
    /// `BOXOFFICE_RELAY_LEASE_MS`: an event's outbox stream whose relay has not renewed its lease for
    /// this long (a killed or frozen replica) is taken over by another. Default `10000`. The older
    /// name `BOXOFFICE_RELAY_CLAIM_IDLE_MS` is still read; the new one wins when both are set.
    public var relayLeaseMs = 10_000
    /// `BOXOFFICE_RELAY_STALL_SECONDS`: with outbox entries waiting and nothing delivered for this
    /// long, the relay replaces its Kafka producer (also its `message.timeout.ms`). Default `15`.
    public var relayStallSeconds = 15
    /// `BOXOFFICE_REPAIR_GRACE_SECONDS`: a delivered outbox entry whose events PostgreSQL still lacks
    /// this long after the repair loop first saw it delivered is published again. Default `30`.
    public var repairGraceSeconds = 30

    public init() {}

    /// Reads the settings from `environment`, falling back to the env file's lines.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> BoxOfficeSettings {
        let file = environment["BOXOFFICE_ENV_FILE"] ?? ".run/env"
        let merged = EnvFile.read(path: file).merging(environment) { _, process in process }
        return try BoxOfficeSettings(values: merged)
    }

    /// Settings from exactly these values (tests).
    public init(values env: [String: String]) throws {
        func string(_ key: String, _ into: inout String) {
            if let v = env[key], !v.isEmpty { into = v }
        }
        func int(_ key: String, _ into: inout Int, range: ClosedRange<Int>) throws {
            guard let raw = env[key], !raw.isEmpty else { return }
            guard let v = Int(raw), range.contains(v) else {
                throw SettingsError(key: key, message: "must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
            }
            into = v
        }
        string("BOXOFFICE_REDIS_URL", &redisURL)
        string("BOXOFFICE_DATABASE_URL", &databaseURL)
        string("BOXOFFICE_KAFKA_BROKERS", &kafkaBrokers)
        string("BOXOFFICE_JWT_SECRET", &jwtSecret)
        string("BOXOFFICE_API_HOST", &apiHost)
        string("BOXOFFICE_WORKER_HOST", &workerHost)
        string("BOXOFFICE_LOG_LEVEL", &logLevel)
        try int("BOXOFFICE_KAFKA_PARTITIONS", &kafkaPartitions, range: 1...1024)
        try int("BOXOFFICE_HOLD_TTL_SECONDS", &holdTTLSeconds, range: 1...86_400)
        try int("BOXOFFICE_RESERVATION_RETENTION_SECONDS", &reservationRetentionSeconds, range: 86_400...31_536_000)
        try int("BOXOFFICE_MAX_QTY_PER_REQUEST", &maxQuantityPerRequest, range: 1...1000)
        try int("BOXOFFICE_RESERVE_BATCH_LIMIT", &reserveBatchLimit, range: 1...256)
        try int("BOXOFFICE_API_PORT", &apiPort, range: 1...65535)
        try int("BOXOFFICE_WORKER_PORT", &workerPort, range: 1...65535)
        try int("BOXOFFICE_REDIS_POOL_SIZE", &redisPoolSize, range: 1...256)
        try int("BOXOFFICE_REDIS_RETRY_MS", &redisRetryMs, range: 0...60_000)
        if let raw = env["BOXOFFICE_REDIS_MODE"], !raw.isEmpty {
            guard let mode = RedisConfiguration.Mode(rawValue: raw.lowercased()) else {
                throw SettingsError(key: "BOXOFFICE_REDIS_MODE", message: "must be auto, cluster or standalone, got '\(raw)'")
            }
            redisMode = mode
        }
        try int("BOXOFFICE_DB_POOL_SIZE", &databasePoolSize, range: 1...256)
        try int("BOXOFFICE_STARTUP_TIMEOUT_SECONDS", &startupTimeoutSeconds, range: 0...3600)
        try int("BOXOFFICE_TOKEN_TTL_SECONDS", &tokenTTLSeconds, range: 60...604_800)
        try int("BOXOFFICE_RATE_SIGNUP_PER_MINUTE", &signUpPerMinute, range: 1...1_000_000)
        try int("BOXOFFICE_RATE_LOGIN_PER_MINUTE", &loginPerMinute, range: 1...1_000_000)
        try int("BOXOFFICE_RATE_QUEUE_JOIN_PER_MINUTE", &queueJoinPerMinute, range: 1...100_000_000)
        try int("BOXOFFICE_RATE_RESERVE_PER_SECOND", &reservePerSecond, range: 1...1_000_000)
        try int("BOXOFFICE_RATE_RESERVE_BURST", &reserveBurst, range: 1...1_000_000)
        string("BOXOFFICE_DEFAULT_CURRENCY", &defaultCurrency)
        string("BOXOFFICE_WORKER_GROUP", &workerGroup)
        string("BOXOFFICE_KAFKA_TOPIC", &kafkaTopic)
        string("BOXOFFICE_KAFKA_DLQ_TOPIC", &kafkaDeadLetterTopic)
        string("BOXOFFICE_RATE_LIMIT_PREFIX", &rateLimitPrefix)
        try int("BOXOFFICE_WORKER_BATCH_SIZE", &workerBatchSize, range: 1...100_000)
        try int("BOXOFFICE_WORKER_BATCH_WAIT_MS", &workerBatchWaitMs, range: 1...60_000)
        // The name of this setting before the relay held leases; a configuration written for it still works.
        try int("BOXOFFICE_RELAY_CLAIM_IDLE_MS", &relayLeaseMs, range: 100...3_600_000)
        try int("BOXOFFICE_RELAY_LEASE_MS", &relayLeaseMs, range: 100...3_600_000)
        try int("BOXOFFICE_RELAY_STALL_SECONDS", &relayStallSeconds, range: 2...3_600)
        try int("BOXOFFICE_REPAIR_GRACE_SECONDS", &repairGraceSeconds, range: 3...86_400)
        if let origins = env["BOXOFFICE_CORS_ORIGINS"] {
            corsOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if jwtSecret.utf8.count < 32 {
            throw SettingsError(key: "BOXOFFICE_JWT_SECRET", message: "must be at least 32 bytes (HS256 key size)")
        }
        _ = try redis()
    }

    /// The Redis client settings.
    public func redis() throws -> RedisConfiguration {
        var c = try RedisConfiguration(url: redisURL)
        c.poolSize = redisPoolSize
        c.mode = redisMode
        c.retryDeadline = .milliseconds(redisRetryMs)
        return c
    }

    /// The PostgreSQL client settings.
    public func postgres(applicationName: String) -> PostgresConfiguration {
        var c = PostgresConfiguration(url: databaseURL)
        c.maxConnections = databasePoolSize
        c.applicationName = applicationName
        return c
    }

    /// The Kafka connection settings.
    public func kafka(clientID: String) -> KafkaConfiguration {
        var c = KafkaConfiguration(brokers: kafkaBrokers)
        c.clientID = clientID
        return c
    }

    /// The settings as log metadata, secrets redacted.
    public var redactedDescription: [String: String] {
        [
            "redis_url": RedisConfiguration.redacted(redisURL),
            "database_url": PostgresConfiguration(url: databaseURL).redactedURL,
            "kafka_brokers": kafkaBrokers,
            "kafka_partitions": "\(kafkaPartitions)",
            "kafka_topics": "\(kafkaTopic), \(kafkaDeadLetterTopic)",
            "jwt_secret": "<redacted>",
            "hold_ttl_seconds": "\(holdTTLSeconds)",
            "reservation_retention_seconds": "\(reservationRetentionSeconds)",
            "max_qty_per_request": "\(maxQuantityPerRequest)",
            "reserve_batch_limit": "\(reserveBatchLimit)",
            "api": "\(apiHost):\(apiPort)",
            "redis_pool_size": "\(redisPoolSize)",
            "redis_mode": "\(redisMode.rawValue), retry \(redisRetryMs) ms",
            "db_pool_size": "\(databasePoolSize)",
            "startup_timeout_seconds": "\(startupTimeoutSeconds)",
            "rate_limits": "signup \(signUpPerMinute)/min, login \(loginPerMinute)/min, reserve \(reservePerSecond)/s burst \(reserveBurst), queue join \(queueJoinPerMinute)/min",
            "cors_origins": corsOrigins.joined(separator: ","),
            "worker": "group \(workerGroup), batch \(workerBatchSize) / \(workerBatchWaitMs) ms, port \(workerHost):\(workerPort)",
            "relay_lease_ms": "\(relayLeaseMs)",
            "relay_stall_seconds": "\(relayStallSeconds)",
            "repair_grace_seconds": "\(repairGraceSeconds)",
        ]
    }
}

/// A setting that could not be read.
public struct SettingsError: Error, CustomStringConvertible {
    public var key: String
    public var message: String
    public var description: String { "\(key) \(message)" }
}

/// Reads `export KEY=value` / `KEY=value` lines, as `scripts/stack.sh` writes them.
enum EnvFile {
    static func read(path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let eq = line.firstIndex(of: "="), line[..<eq].hasPrefix("BOXOFFICE_") else { continue }
            var value = String(line[line.index(after: eq)...])
            if value.count >= 2, value.first == value.last, value.first == "\"" || value.first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            values[String(line[..<eq])] = value
        }
        return values
    }
}

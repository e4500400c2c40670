import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficeRedis
import BoxOfficeSupport
import HTTPTypes

/// A rate-limit rule: `limit` requests per `period`, with bursts up to `burst`.
public struct RateLimitRule: Sendable {
    public var name: String
    public var limit: Int
    public var period: Duration
    public var burst: Int

    public init(name: String, limit: Int, period: Duration, burst: Int? = nil) {
        self.name = name
        self.limit = limit
        self.period = period
        self.burst = burst ?? limit
    }
}

/// Rate limits kept in Redis (GCRA, one Lua script), shared by every API replica.
public struct RateLimiter: Sendable {
    static let script = InventoryScripts.rateLimit
    let redis: RedisClient
    let prefix: String

    public init(redis: RedisClient, prefix: String = "bo:rl") {
        self.redis = redis
        self.prefix = prefix
    }

    /// Counts one request of `client` under `rule`; throws 429 with `Retry-After` when over.
    /// Returns the `RateLimit-*` headers to send.
    @discardableResult
    public func check(_ rule: RateLimitRule, client: String) async throws -> HTTPFields {
        let periodMs = rule.period.inSeconds * 1000
        let intervalMs = max(1, Int(periodMs / Double(rule.limit)))
        let reply: RESPValue
        do {
            reply = try await redis.eval(
                Self.script, keys: [.string("\(prefix):\(rule.name):\(client)")],
                arguments: [.int(intervalMs), .int(rule.burst)])
        } catch is RedisError {
            // Fail open: an unreachable Redis must not turn into 429s; the
            // request's own Redis work reports the outage.
            return [:]
        }
        let v = reply.array?.map { $0.int ?? 0 } ?? [1, 0, 0, 0]
        var headers = HTTPFields()
        headers[.rateLimitLimit] = String(rule.burst)
        headers[.rateLimitRemaining] = String(v[1])
        headers[.rateLimitReset] = String(max(0, (v[3] + 999) / 1000))
        if v[0] == 0 { throw Self.tooMany(limit: rule.burst, retryAfterMs: v[2], resetMs: v[3]) }
        return headers
    }

    /// 429 with `Retry-After` and `RateLimit-*` headers.
    static func tooMany(limit: Int, retryAfterMs: Int, resetMs: Int) -> Problem {
        var headers = HTTPFields()
        headers[.rateLimitLimit] = String(limit)
        headers[.rateLimitRemaining] = "0"
        headers[.rateLimitReset] = String(max(1, (resetMs + 999) / 1000))
        headers[.retryAfter] = String(max(1, (retryAfterMs + 999) / 1000))
        return Problem(status: .tooManyRequests, code: "rate_limited", title: "Too Many Requests",
                       detail: "Too many requests; retry after \(headers[.retryAfter]!) s.", headers: headers)
    }
}

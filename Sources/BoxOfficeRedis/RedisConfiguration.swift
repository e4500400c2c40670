/// How to reach Redis and how the client behaves.
public struct RedisConfiguration: Sendable {
    /// Standalone Redis or Redis Cluster.
    public enum Mode: String, Sendable, CaseIterable {
        /// Ask the first seed that answers (`INFO cluster`). The default.
        case auto
        /// One Redis server: every command goes to `host:port`.
        case standalone
        /// Redis Cluster: commands go to the primary serving their key's slot.
        case cluster
    }

    /// Standalone or cluster. Default `.auto`.
    public var mode: Mode = .auto
    /// Seed nodes after the first (`host`, `port`), from a comma-separated URL. Default none.
    public var otherSeeds: [RedisEndpoint] = []
    /// How long a command keeps retrying while a cluster moves or fails over (`TRYAGAIN`,
    /// `CLUSTERDOWN`, a node that does not accept connections) before it fails as unavailable.
    /// Default 2 s.
    public var retryDeadline: Duration = .seconds(2)
    /// Host name or address of the (first) seed. Default `127.0.0.1`.
    public var host: String = "127.0.0.1"
    /// TCP port. Default `6379`.
    public var port: Int = 6379
    /// Password for `AUTH`, if any. Never logged.
    public var password: String? = nil
    /// Logical database for `SELECT`. Default `0`.
    public var database: Int = 0
    /// Connections in the pool; requests are pipelined on each. Default `4`.
    public var poolSize: Int = 4
    /// Deadline of one command, from send to reply. Default 2 s.
    public var commandTimeout: Duration = .seconds(2)
    /// Deadline to establish a connection. Default 1 s.
    public var connectTimeout: Duration = .seconds(1)
    /// First delay before reconnecting after a failure. Default 50 ms.
    public var reconnectBaseDelay: Duration = .milliseconds(50)
    /// Longest delay between reconnect attempts. Default 2 s.
    public var reconnectMaxDelay: Duration = .seconds(2)

    public init() {}

    /// Parses `redis://[:password@]host[:port][/db]`, or a list of seed nodes
    /// `redis://[:password@]host[:port],host[:port],…[/db]`.
    public init(url: String) throws {
        self.init()
        guard url.hasPrefix("redis://") else {
            throw RedisError(.configuration, "Redis URL must start with redis:// (got \(Self.redacted(url)))")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        // Commas after the credentials separate seeds (a password may hold one).
        let hosts = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let comma = rest[hosts...].firstIndex(of: ",") {
            // The seeds after the first: `[redis://]host[:port]` each, the last one possibly with `/db`.
            let tail = rest[rest.index(after: comma)...]
            rest = rest[..<comma]
            let seeds = tail.split(separator: ",", omittingEmptySubsequences: false)
            for (i, seed) in seeds.enumerated() {
                var text = seed.hasPrefix("redis://") ? seed.dropFirst("redis://".count) : seed
                if let slash = text.firstIndex(of: "/") {
                    guard i == seeds.count - 1 else { throw RedisError(.configuration, "only the last seed may name a database") }
                    rest += text[slash...]
                    text = text[..<slash]
                }
                guard let endpoint = text.contains(":") ? RedisEndpoint(text) : RedisEndpoint(host: String(text), port: 6379),
                      !endpoint.host.isEmpty else {
                    throw RedisError(.configuration, "invalid seed '\(seed)' in Redis URL \(Self.redacted(url))")
                }
                otherSeeds.append(endpoint)
            }
        }
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let pass = auth.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init)
            self.password = (pass?.isEmpty ?? true) ? nil : pass?.removingPercentEncodingIfNeeded()
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw RedisError(.configuration, "invalid Redis database '\(db)'") }
                self.database = n
            }
        }
        if let colon = hostPort.lastIndex(of: ":") {
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw RedisError(.configuration, "invalid port in Redis URL \(Self.redacted(url))")
            }
            self.port = p
            hostPort = hostPort[..<colon]
        }
        if !hostPort.isEmpty { self.host = String(hostPort) }
    }

    /// The URL with any password replaced by `***`, for logs.
    public static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), url.hasPrefix("redis://") else { return url }
        return "redis://***" + String(url[at...])
    }

    /// `host:port` of the first seed, for logs and error messages.
    public var endpoint: String { "\(host):\(port)" }

    /// Every seed, the first (`host`, `port`) first.
    public var seeds: [RedisEndpoint] { [RedisEndpoint(host: host, port: port)] + otherSeeds }
}

extension String {
    fileprivate func removingPercentEncodingIfNeeded() -> String {
        guard contains("%") else { return self }
        var out: [UInt8] = []
        var it = Array(utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v); it = it.dropFirst(2)
            } else { out.append(c) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
extension Substring {
    fileprivate func removingPercentEncodingIfNeeded() -> String { String(self).removingPercentEncodingIfNeeded() }
}

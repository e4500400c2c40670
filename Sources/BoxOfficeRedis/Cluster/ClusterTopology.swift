/// Where a Redis server listens.
public struct RedisEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (as in a `MOVED` reply); nil when it is not that. The host may be
    /// empty (`:7002`): Redis then means "the host you asked".
    public init?(_ text: Substring) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        self.init(host: String(text[..<colon]), port: port)
    }

    public var description: String { "\(host):\(port)" }
}

/// Which primary serves each of the 16384 slots: a value read from `CLUSTER SHARDS` or
/// `CLUSTER SLOTS`, and patched by `MOVED` replies between reads.
struct SlotMap: Sendable, Equatable {
    /// The primaries, in the order the cluster listed them.
    private(set) var primaries: [RedisEndpoint] = []
    /// How many nodes the cluster named (primaries and replicas not marked failed).
    var nodeCount = 0
    /// Index into `primaries` for each slot; -1 for a slot no primary serves.
    private(set) var owners = [Int16](repeating: -1, count: HashSlot.count)

    /// The primary serving `slot`, if any.
    func owner(of slot: Int) -> RedisEndpoint? {
        let i = owners[slot]
        return i < 0 ? nil : primaries[Int(i)]
    }

    /// How many slots have a primary; 16384 when the cluster covers them all.
    var coveredSlots: Int { owners.reduce(0) { $0 + ($1 < 0 ? 0 : 1) } }

    /// Records that `endpoint` serves `slots`.
    mutating func assign(_ slots: ClosedRange<Int>, to endpoint: RedisEndpoint) {
        guard slots.lowerBound >= 0, slots.upperBound < HashSlot.count else { return }
        let index: Int
        if let known = primaries.firstIndex(of: endpoint) {
            index = known
        } else {
            primaries.append(endpoint)
            index = primaries.count - 1
        }
        for slot in slots { owners[slot] = Int16(index) }
    }

    /// The map in a `CLUSTER SHARDS` reply (Redis 7): per shard a flat map with `slots` (start,
    /// end pairs) and `nodes` (flat maps with `endpoint` or `ip`, `port`, `role`, `health`).
    static func fromShards(_ reply: RESPValue) throws -> SlotMap {
        guard let shards = reply.array else { throw RedisError(.protocolError, "unexpected CLUSTER SHARDS reply") }
        var map = SlotMap()
        for shard in shards {
            let fields = flatMap(shard)
            let ranges = (fields["slots"]?.array ?? []).compactMap(\.int)
            let nodes = (fields["nodes"]?.array ?? []).map(flatMap)
            map.nodeCount += nodes.filter { $0["health"]?.string != "failed" }.count
            guard let primary = nodes.first(where: { $0["role"]?.string == "master" && $0["health"]?.string != "failed" }),
                  let endpoint = endpoint(primary) else { continue }
            for i in stride(from: 0, to: ranges.count - 1, by: 2) where ranges[i] <= ranges[i + 1] {
                map.assign(ranges[i]...ranges[i + 1], to: endpoint)
            }
        }
        return map
    }

    /// The map in a `CLUSTER SLOTS` reply: per range `[start, end, [host, port, id], replicas…]`.
    static func fromSlots(_ reply: RESPValue) throws -> SlotMap {
        guard let ranges = reply.array else { throw RedisError(.protocolError, "unexpected CLUSTER SLOTS reply") }
        var map = SlotMap()
        var nodes = Set<RedisEndpoint>()
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int, start <= end,
                  let node = parts[2].array, node.count >= 2, let host = node[0].string, let port = node[1].int
            else { continue }
            map.assign(start...end, to: RedisEndpoint(host: host, port: port))
            for case .array(let n) in parts.dropFirst(2) where n.count >= 2 {
                if let h = n[0].string, let p = n[1].int { nodes.insert(RedisEndpoint(host: h, port: p)) }
            }
        }
        map.nodeCount = nodes.count
        return map
    }

    private static func flatMap(_ value: RESPValue) -> [String: RESPValue] {
        let items = value.array ?? []
        var fields: [String: RESPValue] = [:]
        for i in stride(from: 0, to: items.count - 1, by: 2) {
            if let key = items[i].string { fields[key] = items[i + 1] }
        }
        return fields
    }

    private static func endpoint(_ node: [String: RESPValue]) -> RedisEndpoint? {
        guard let port = node["port"]?.int ?? node["tls-port"]?.int else { return nil }
        // `endpoint` is the name clients should use; `?` or empty means "use the ip".
        let named = node["endpoint"]?.string
        let host = (named == nil || named == "?" || named == "") ? node["ip"]?.string : named
        return host.map { RedisEndpoint(host: $0, port: port) }
    }
}

/// What a cluster error reply asks the client to do.
enum ClusterRedirect: Equatable {
    /// `MOVED slot host:port`: the slot lives there now; update the map.
    case moved(slot: Int, to: RedisEndpoint)
    /// `ASK slot host:port`: this one command goes there, after `ASKING`; the map stays.
    case ask(slot: Int, to: RedisEndpoint)
    /// `TRYAGAIN` (keys mid-migration) or `CLUSTERDOWN` (slots uncovered): wait and retry.
    case retryLater(String)

    /// The redirect in `reply`, nil for any other reply.
    init?(_ reply: RESPValue) {
        guard case .error(let message) = reply else { return nil }
        if message.hasPrefix("MOVED ") || message.hasPrefix("ASK ") {
            let parts = message.split(separator: " ")
            guard parts.count == 3, let slot = Int(parts[1]), let endpoint = RedisEndpoint(parts[2]) else { return nil }
            self = parts[0] == "MOVED" ? .moved(slot: slot, to: endpoint) : .ask(slot: slot, to: endpoint)
        } else if message.hasPrefix("TRYAGAIN") || message.hasPrefix("CLUSTERDOWN") {
            self = .retryLater(message)
        } else {
            return nil
        }
    }
}

import BoxOfficeDomain
import Crypto

/// The Redis keys of one event. All share the hash tag `{ev:<event>}`, so
/// every script touches one Cluster slot. See `Lua/prelude.lua` for the layout.
public struct InventoryKeys: Sendable {
    public let event: EventID
    let prefix: String

    public init(event: EventID) {
        self.event = event
        self.prefix = "bo:{ev:\(event.rawValue)}:"
    }

    public var stock: String { prefix + "stock" }
    public var meta: String { prefix + "meta" }
    public var limits: String { prefix + "limits" }
    public var holds: String { prefix + "holds" }
    public var outbox: String { prefix + "outbox" }
    /// Which relay carries the outbox stream to Kafka (see `Lua/relay_lease.lua`).
    public var relayLease: String { prefix + "relay" }

    /// The hash of one reservation of this event.
    public func reservation(_ id: ReservationID) -> String { prefix + "r:" + id.token }

    /// A buyer's reserve rate limit in this event.
    public func reserveRate(buyer: String) -> String { prefix + "rl:" + buyer }

    /// The approved charge of a reservation (the simulated payment gateway's record).
    public func payment(_ id: ReservationID) -> String { prefix + "pay:" + id.token }

    /// The idempotency key of `key` sent by `buyer` (hashed: keys are client-chosen strings).
    public func idempotency(buyer: String, key: String) -> String {
        let digest = SHA256.hash(data: Array("\(buyer)\u{0}\(key)".utf8))
        return prefix + "idem:" + digest.map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined()
    }

    /// The set of every event with inventory (outside any event's slot; read by the sweeper and relay).
    public static let events = "bo:events"
}

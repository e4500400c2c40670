import BoxOfficeDomain
import BoxOfficeRedis
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

    /// What follows the prefix in each key.
    private enum Name {
        static let stock = "stock", meta = "meta", limits = "limits", holds = "holds", outbox = "outbox"
        static let reservation = "r:", reserveRates = "rl"
    }

    public var stock: String { prefix + Name.stock }
    public var meta: String { prefix + Name.meta }
    public var limits: String { prefix + Name.limits }
    public var holds: String { prefix + Name.holds }
    public var outbox: String { prefix + Name.outbox }
    /// The buyers' reserve rate limits (a hash by buyer).
    public var reserveRates: String { prefix + Name.reserveRates }
    /// Which relay carries the outbox stream to Kafka (see `Lua/relay_lease.lua`).
    public var relayLease: String { prefix + "relay" }
    /// How far the relay has carried the outbox stream: the last delivered entry and how
    /// many delivered entries are still in the stream (see `Lua/outbox_advance.lua`).
    public var relayProgress: String { prefix + "relayed" }
    /// Which repair loop checks the delivered entries against PostgreSQL (a lease, as `relayLease`).
    public var repairLease: String { prefix + "repair" }

    /// The waiting room's settings (a hash; absent: the event has no queue).
    public var queue: String { prefix + "q" }
    /// The waiting buyers by place.
    public var queueLine: String { prefix + "q:line" }
    /// Until when each waiting buyer's place is kept without a poll.
    public var queueSeen: String { prefix + "q:seen" }
    /// The admitted buyers by the end of their admission.
    public var queueAdmissions: String { prefix + "q:adm" }
    /// The admission pace and counters.
    public var queuePace: String { prefix + "q:st" }

    /// The hash of one reservation of this event.
    public func reservation(_ id: ReservationID) -> String { prefix + Name.reservation + id.token }

    /// A key of this event, for `append(_:to:)`.
    public enum Key: Sendable {
        case stock, meta, limits, holds, outbox
        /// The waiting room's settings and its admissions.
        case queue, queueAdmissions
        /// The hash of one reservation.
        case reservation(ReservationID)
        /// The buyers' reserve rate limits (a hash by buyer).
        case reserveRates
    }

    /// Appends `key` to `command` as one argument, without making the key's string: the hot
    /// paths (reserve, confirm) pass their keys this way.
    public func append(_ key: Key, to command: inout RedisCommand) {
        switch key {
        case .stock: command.append(prefix, Name.stock)
        case .meta: command.append(prefix, Name.meta)
        case .limits: command.append(prefix, Name.limits)
        case .holds: command.append(prefix, Name.holds)
        case .outbox: command.append(prefix, Name.outbox)
        case .reservation(let id): command.append(prefix, Name.reservation, id.token)
        case .reserveRates: command.append(prefix, Name.reserveRates)
        case .queue: command.append(prefix, "q")
        case .queueAdmissions: command.append(prefix, "q:adm")
        }
    }

    /// The approved charge of a reservation (the simulated payment gateway's record).
    public func payment(_ id: ReservationID) -> String { prefix + "pay:" + id.token }

    /// The idempotency key of `key` sent by `buyer` (hashed: keys are client-chosen strings).
    public func idempotency(buyer: String, key: String) -> String {
        let digest = SHA256.hash(data: Array("\(buyer)\u{0}\(key)".utf8))
        return prefix + "idem:" + digest.map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined()
    }

    /// The set of every event with inventory (outside any event's slot; read by the sweeper and relay).
    public static let events = "bo:events"
    /// The set of every event with a waiting room (outside any event's slot; read by the admitter).
    public static let queues = "bo:queues"
}

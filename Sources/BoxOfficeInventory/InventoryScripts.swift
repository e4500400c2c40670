import BoxOfficeRedis
import Foundation

/// The Lua scripts of the inventory, each prefixed with the helpers of the shared prelude it uses.
public enum InventoryScripts {
    static let prelude = Prelude(source: String(decoding: PackageResources.prelude_lua, as: UTF8.self))

    static func script(_ name: String, _ bytes: [UInt8]) -> RedisScript {
        let body = String(decoding: bytes, as: UTF8.self)
        return RedisScript(name: name, source: prelude.helpers(for: body) + body)
    }

    public static let initCategory = script("init_category", PackageResources.init_category_lua)
    public static let reserve = script("reserve", PackageResources.reserve_lua)
    public static let confirm = script("confirm", PackageResources.confirm_lua)
    public static let paymentFailed = script("payment_failed", PackageResources.payment_failed_lua)
    public static let cancel = script("cancel", PackageResources.cancel_lua)
    public static let expire = script("expire", PackageResources.expire_lua)
    public static let dueHolds = script("due_holds", PackageResources.due_holds_lua)
    public static let expireDue = script("expire_due", PackageResources.expire_due_lua)
    public static let availability = script("availability", PackageResources.availability_lua)
    public static let rateLimit = script("rate_limit", PackageResources.rate_limit_lua)
    public static let relayLease = script("relay_lease", PackageResources.relay_lease_lua)
    public static let outboxAdvance = script("outbox_advance", PackageResources.outbox_advance_lua)
    public static let outboxSettle = script("outbox_settle", PackageResources.outbox_settle_lua)
    public static let outboxState = script("outbox_state", PackageResources.outbox_state_lua)
    public static let queueSet = script("queue_set", PackageResources.queue_set_lua)
    public static let queueJoin = script("queue_join", PackageResources.queue_join_lua)
    public static let queuePoll = script("queue_poll", PackageResources.queue_poll_lua)
    public static let queueAdmit = script("queue_admit", PackageResources.queue_admit_lua)
    public static let queueState = script("queue_state", PackageResources.queue_state_lua)
    public static let refund = script("refund", PackageResources.refund_lua)
    public static let seatMap = script("seat_map", PackageResources.seat_map_lua)
    public static let seatsState = script("seats_state", PackageResources.seats_state_lua)
    public static let eventSettings = script("event_settings", PackageResources.event_settings_lua)

    /// Every script, e.g. to preload with `SCRIPT LOAD`.
    public static let all = [
        initCategory, reserve, confirm, paymentFailed, cancel, expire, dueHolds, expireDue, availability, rateLimit, relayLease,
        outboxAdvance, outboxSettle, outboxState, queueSet, queueJoin, queuePoll, queueAdmit, queueState,
        refund, seatMap, seatsState, eventSettings,
    ]
}

/// `prelude.lua` cut into its helpers (`local function name(...)` to the next one), so that a
/// script carries only those it calls. Redis runs a script's whole text on every call, and each
/// `local function` it passes makes a closure (docs/performance.md has the cost).
struct Prelude {
    struct Helper {
        var name: String
        var text: String
    }

    /// The helpers in the prelude's order (a helper may call only those before it).
    let helpers: [Helper]

    /// Blank lines and whole-line comments are left out: Redis gains nothing from them.
    init(source: String) {
        var helpers: [Helper] = []
        for line in source.split(separator: "\n") where !line.hasPrefix("--") {
            if line.hasPrefix("local function "), let open = line.firstIndex(of: "(") {
                helpers.append(Helper(name: String(line[line.index(line.startIndex, offsetBy: 15)..<open]), text: ""))
            }
            if !helpers.isEmpty { helpers[helpers.count - 1].text += line + "\n" }  // none before the first: the header
        }
        self.helpers = helpers
    }

    /// The text of the helpers `body` calls, directly or through another helper, in prelude order.
    func helpers(for body: String) -> String {
        var needed = Set<String>()
        var scan = [body]
        while let text = scan.popLast() {
            for h in helpers where !needed.contains(h.name) && Self.calls(text, h.name) {
                needed.insert(h.name)
                scan.append(h.text)
            }
        }
        return helpers.filter { needed.contains($0.name) }.map(\.text).joined()
    }

    /// Whether `text` has `name(` as a whole word outside comments (a definition counts too,
    /// which does no harm: a helper's own text is only scanned once it is needed).
    static func calls(_ text: String, _ name: String) -> Bool {
        for line in text.split(separator: "\n") {
            let code = line.range(of: "--").map { line[..<$0.lowerBound] } ?? line[...]
            var rest = code[...]
            while let r = rest.range(of: name + "(") {
                let before = r.lowerBound == code.startIndex ? nil : code[code.index(before: r.lowerBound)]
                if before.map({ !($0.isLetter || $0.isNumber || $0 == "_") }) ?? true { return true }
                rest = rest[r.upperBound...]
            }
        }
        return false
    }
}

import BoxOfficeRedis

/// The Lua scripts of the inventory, each prefixed with the shared prelude.
public enum InventoryScripts {
    static let prelude = String(decoding: PackageResources.prelude_lua, as: UTF8.self)

    static func script(_ name: String, _ bytes: [UInt8]) -> RedisScript {
        RedisScript(name: name, source: prelude + "\n" + String(decoding: bytes, as: UTF8.self))
    }

    public static let initCategory = script("init_category", PackageResources.init_category_lua)
    public static let reserve = script("reserve", PackageResources.reserve_lua)
    public static let confirm = script("confirm", PackageResources.confirm_lua)
    public static let paymentFailed = script("payment_failed", PackageResources.payment_failed_lua)
    public static let cancel = script("cancel", PackageResources.cancel_lua)
    public static let expire = script("expire", PackageResources.expire_lua)
    public static let dueHolds = script("due_holds", PackageResources.due_holds_lua)
    public static let availability = script("availability", PackageResources.availability_lua)
    public static let rateLimit = script("rate_limit", PackageResources.rate_limit_lua)
    public static let relayLease = script("relay_lease", PackageResources.relay_lease_lua)

    /// Every script, e.g. to preload with `SCRIPT LOAD`.
    public static let all = [initCategory, reserve, confirm, paymentFailed, cancel, expire, dueHolds, availability, rateLimit, relayLease]
}

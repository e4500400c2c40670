/// Redis Cluster's key → slot function: CRC16 (XMODEM) of the key's hash tag, modulo 16384.
///
/// The hash tag is the part between the first `{` and the next `}` when it is not empty, so
/// every key of one event (`bo:{ev:E}:…`) lands in one slot.
public enum HashSlot {
    /// How many slots a cluster has.
    public static let count = 16_384

    /// The slot of `key`.
    public static func of<Key: Collection>(_ key: Key) -> Int where Key.Element == UInt8 {
        var start = key.startIndex
        var end = key.endIndex
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = key.index(after: open)
            if let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen {
                start = afterOpen
                end = close
            }
        }
        var crc: UInt16 = 0
        for byte in key[start..<end] {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return Int(crc) & (count - 1)
    }

    /// The slot of a string key.
    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), one entry per byte value.
    private static let table: [UInt16] = (0..<256).map { byte in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

extension RedisCommand {
    /// The bytes of argument `index` (0 is the command's name).
    func argument(_ index: Int) -> ArraySlice<UInt8> {
        bytes[(index == 0 ? 0 : ends[index - 1])..<ends[index]]
    }

    /// The slot the command must run on in a cluster, or nil for a command that names no key
    /// (`PING`, `INFO`, `TIME`, `SCAN`, a script with no keys): any node may run it.
    ///
    /// The first key decides; the callers never send a command whose keys span slots.
    var slot: Int? {
        guard count >= 2 else { return nil }
        let name = argument(0)
        if Self.equalsIgnoringCase(name, "EVALSHA") || Self.equalsIgnoringCase(name, "EVAL")
            || Self.equalsIgnoringCase(name, "EVALSHA_RO") || Self.equalsIgnoringCase(name, "EVAL_RO") {
            guard count >= 4, let keys = Int(String(decoding: argument(2), as: UTF8.self)), keys > 0 else { return nil }
            return HashSlot.of(argument(3))
        }
        for keyless in Self.keyless where Self.equalsIgnoringCase(name, keyless) { return nil }
        return HashSlot.of(argument(1))
    }

    /// Commands whose first argument is not a key.
    private static let keyless = ["PING", "INFO", "TIME", "SCAN", "SCRIPT", "CLUSTER", "DBSIZE", "CONFIG",
                                  "CLIENT", "FLUSHALL", "FLUSHDB", "WAIT", "ASKING", "READONLY", "AUTH", "SELECT",
                                  "COMMAND", "MEMORY", "LATENCY", "SLOWLOG", "KEYS", "DEBUG", "ECHO", "HELLO"]

    private static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ name: String) -> Bool {
        guard bytes.count == name.utf8.count else { return false }
        // ASCII letters only: clearing bit 5 upper-cases them.
        return zip(bytes, name.utf8).allSatisfy { ($0 & 0xDF) == $1 }
    }
}

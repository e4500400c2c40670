import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The id of an event (a concert date): 1–64 characters of `A–Z a–z 0–9 _ -`.
public struct EventID: Hashable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is not a well-formed event id.
    public init?(_ rawValue: String) {
        guard (1...64).contains(rawValue.utf8.count), rawValue.utf8.allSatisfy(Self.allowed) else { return nil }
        self.rawValue = rawValue
    }

    static func allowed(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
    }

    /// A fresh random id, `ev_` and 16 hex digits.
    public static func random() -> EventID {
        EventID("ev_" + randomHex(bytes: 8))!
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = EventID(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "malformed event id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The id of a reservation: `<event id>.<20 hex digits>`.
///
/// The event id inside lets the API find the event's Redis slot (`{ev:<event>}`)
/// without a lookup. New ids (`fresh`) start with their creation time, so that they
/// sort by it; any 20 lowercase hex digits parse.
public struct ReservationID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    /// The event this reservation belongs to.
    public let event: EventID
    /// The part after the event id.
    public let token: String

    /// Parses a reservation id; `nil` when malformed.
    public init?(_ rawValue: String) {
        // On the UTF-8 view: the id is ASCII when valid, and finding the dot by Characters
        // (grapheme breaking) cost more than the rest of the check.
        let utf8 = rawValue.utf8
        guard utf8.count <= 100, let dot = utf8.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        let token = rawValue[utf8.index(after: dot)...]
        guard let event = EventID(String(rawValue[..<dot])),
              token.utf8.count == 20, token.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        self.init(rawValue: rawValue, event: event, token: String(token))
    }

    private init(rawValue: String, event: EventID, token: String) {
        self.rawValue = rawValue
        self.event = event
        self.token = token
    }

    /// A new id for a reservation of `event` (well formed by construction: no parse): 11 hex
    /// digits of `milliseconds` (Unix time; this process's clock by default), then 9 random ones.
    ///
    /// The ids of one event sort by creation, like UUIDv7, so PostgreSQL adds each new
    /// booking at the right edge of the `bookings` primary key instead of at a random leaf
    /// page (docs/indexes.md has the cost of both). 36 random bits within a millisecond keep
    /// two ids of one event apart; a reserve that still meets its id taken retries with another.
    public static func fresh(in event: EventID, milliseconds: Int64 = unixMilliseconds()) -> ReservationID {
        var generator = IDRandom()
        let random = generator.next()
        let token = String(unsafeUninitializedCapacity: 20) { out in
            writeHex(UInt64(bitPattern: milliseconds), digits: 11, into: out, at: 0)
            writeHex(random, digits: 9, into: out, at: 11)
            return 20
        }
        return ReservationID(rawValue: event.rawValue + "." + token, event: event, token: token)
    }

    public var description: String { rawValue }
}

/// A ticket category's name within an event: 1–64 characters, no `|`, no control characters.
public struct CategoryName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ rawValue: String) {
        // Printable ASCII, which nearly every name is, is checked on its bytes: there each
        // byte is one character, none is a control character and only the space is blank.
        let utf8 = rawValue.utf8
        if utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) {
            guard (1...64).contains(utf8.count), !utf8.contains(UInt8(ascii: "|")),
                  utf8.first != UInt8(ascii: " "), utf8.last != UInt8(ascii: " ")
            else { return nil }
            self.rawValue = rawValue
            return
        }
        guard (1...64).contains(rawValue.count), utf8.count <= 256,
              !rawValue.contains("|"), !rawValue.unicodeScalars.contains(where: \.isControlCharacter),
              rawValue.first?.isWhitespace == false, rawValue.last?.isWhitespace == false
        else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

/// A buyer: the JWT subject, an opaque string of 1–200 bytes.
public struct BuyerID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// 1–200 bytes without control characters (a buyer id is written into keys and
    /// into outbox entries, whose fields are separated by one).
    public init?(_ rawValue: String) {
        guard (1...200).contains(rawValue.utf8.count), !rawValue.unicodeScalars.contains(where: \.isControlCharacter) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

extension Unicode.Scalar {
    /// A control character (general category Cc, which Unicode keeps fixed):
    /// U+0000–U+001F and U+007F–U+009F. Checked on the value, with no property lookup.
    public var isControlCharacter: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}

/// The lowercase hex digits, by value (made once, shared by the module's writers of hex).
let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Writes the low `count` (at most 16) hex digits of `value`, most significant first, into
/// `out` from `start`: the one writer of hex behind ids, tokens and UUIDs.
@inline(__always)
func writeHex(_ value: UInt64, digits count: Int, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
    for k in 0..<count { out[start + k] = hexDigits[Int((value >> UInt64(4 * (count - 1 - k))) & 0xF)] }
}

/// Milliseconds since 1970 by this process's wall clock.
public func unixMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Lowercase hex of `bytes` random bytes.
///
/// Ids need to be unique, not secret (every reservation route checks its
/// owner), so they come from a SplitMix64 stream seeded once from the system
/// generator instead of a `getrandom` system call per eight bytes.
public func randomHex(bytes: Int) -> String {
    var g = IDRandom()
    return String(unsafeUninitializedCapacity: bytes * 2) { out in
        for start in stride(from: 0, to: bytes * 2, by: 16) {
            writeHex(g.next(), digits: min(16, bytes * 2 - start), into: out, at: start)
        }
        return bytes * 2
    }
}

/// A random version-4 UUID, lowercase (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`),
/// from the same stream as `randomHex`: unique, not secret.
public func randomUUID() -> String {
    var g = IDRandom()
    let high = g.next() & ~0xF000 | 0x4000  // version 4
    let low = g.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000  // variant 10
    return String(unsafeUninitializedCapacity: 36) { out in
        writeHex(high >> 32, digits: 8, into: out, at: 0)
        writeHex(high >> 16, digits: 4, into: out, at: 9)
        writeHex(high, digits: 4, into: out, at: 14)
        writeHex(low >> 48, digits: 4, into: out, at: 19)
        writeHex(low, digits: 12, into: out, at: 24)
        out[8] = UInt8(ascii: "-"); out[13] = UInt8(ascii: "-"); out[18] = UInt8(ascii: "-"); out[23] = UInt8(ascii: "-")
        return 36
    }
}

/// The process-wide SplitMix64 stream, seeded from the system generator
/// (every `IDRandom` value draws from the same state).
struct IDRandom: RandomNumberGenerator, Sendable {
    private static let state = IDRandomState()

    mutating func next() -> UInt64 { Self.state.next() }
}

final class IDRandomState: Sendable {
    private let value: Mutex<UInt64>

    init() {
        var system = SystemRandomNumberGenerator()
        value = Mutex(system.next())
    }

    func next() -> UInt64 {
        value.withLock { (s: inout UInt64) -> UInt64 in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

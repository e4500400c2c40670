/// A reply from Redis, decoded from RESP2.
public enum RESPValue: Sendable, Hashable {
    /// A status reply such as `+OK`.
    case simpleString(String)
    /// An error reply such as `-NOSCRIPT No matching script`.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string reply (binary safe).
    case bulkString([UInt8])
    /// A nil bulk string or nil array.
    case null
    /// An array reply.
    indirect case array([RESPValue])
}

extension RESPValue {
    /// The value as a UTF-8 string, for status and bulk replies.
    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The value as an integer, for integer replies and bulk strings holding a number.
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(i)
        case .bulkString, .simpleString: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; `nil` otherwise.
    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// Whether this is the nil reply.
    public var isNull: Bool { self == .null }
}

/// An argument of a Redis command: binary safe bytes.
public struct RedisArgument: Sendable, Hashable {
    /// The bytes sent to Redis.
    public var bytes: [UInt8]

    /// An argument made of raw bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

extension RedisArgument: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self.bytes = Array(value.utf8) }
    public init(integerLiteral value: Int) { self.bytes = Array(String(value).utf8) }
}

extension RedisArgument {
    /// A UTF-8 string argument.
    public static func string(_ s: String) -> RedisArgument { RedisArgument(bytes: Array(s.utf8)) }
    /// A decimal integer argument.
    public static func int(_ i: Int) -> RedisArgument { RedisArgument(bytes: Array(String(i).utf8)) }
}

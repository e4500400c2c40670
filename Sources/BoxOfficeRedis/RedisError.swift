/// The one error type of the Redis adapter.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in a form callers can switch on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        /// Could not connect, or the connection is backing off after failures.
        public static let unavailable = Code(raw: "unavailable")
        /// The connection closed while the command was in flight.
        public static let connectionClosed = Code(raw: "connectionClosed")
        /// The call's deadline passed before the reply arrived.
        public static let timeout = Code(raw: "timeout")
        /// Redis answered with an error reply.
        public static let server = Code(raw: "server")
        /// The reply could not be parsed, or had an unexpected shape.
        public static let protocolError = Code(raw: "protocol")
        /// The configuration (URL) is invalid.
        public static let configuration = Code(raw: "configuration")
        /// The client has been shut down.
        public static let shutdown = Code(raw: "shutdown")
        public var description: String { raw }
    }

    /// The kind of failure.
    public var code: Code
    /// A message for logs; for `.server` it is Redis's error reply.
    public var message: String
    /// The underlying error, if any.
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        var s = "redis \(code): \(message)"
        if let underlying { s += " (\(underlying))" }
        return s
    }

    /// For `.server` errors, the error prefix such as `NOSCRIPT` or `WRONGTYPE`.
    public var serverErrorPrefix: Substring? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }
}

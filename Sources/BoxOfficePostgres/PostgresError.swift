/// The one error type of the PostgreSQL adapter.
///
/// `description` is safe to log: it carries the SQLSTATE and the server's
/// primary message, never the SQL text or bound values. It is never meant for
/// end users; the HTTP layer answers a generic problem document instead.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in a form callers can switch on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        /// Could not connect, or the connection broke.
        public static let connection = Code(raw: "connection")
        /// The server rejected a statement (see `sqlState`).
        public static let server = Code(raw: "server")
        /// No connection became free before the deadline.
        public static let poolTimeout = Code(raw: "poolTimeout")
        /// A result did not have the expected shape or type.
        public static let decoding = Code(raw: "decoding")
        /// The client has been shut down.
        public static let shutdown = Code(raw: "shutdown")
        /// A migration failed or the history does not match the binary.
        public static let migration = Code(raw: "migration")
        public var description: String { raw }
    }

    /// The kind of failure.
    public var code: Code
    /// Server or client message (no SQL, no parameters).
    public var message: String
    /// SQLSTATE for `.server` errors, e.g. `23505` for a unique violation.
    public var sqlState: String?
    /// The underlying error, if any.
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, sqlState: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.underlying = underlying
    }

    public var description: String {
        var s = "postgres \(code)"
        if let sqlState { s += " [\(sqlState)]" }
        s += ": \(message)"
        if let underlying { s += " (\(underlying))" }
        return s
    }

    /// `23505`: a unique constraint was violated.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// `40001` / `40P01`: serialization failure or deadlock; the transaction may be retried.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
}

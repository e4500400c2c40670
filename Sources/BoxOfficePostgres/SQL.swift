/// A value that can be bound as a statement parameter (text format).
public protocol PostgresBindable: Sendable {
    /// The parameter's text representation; `nil` binds SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresBindable { public var postgresText: String? { self } }
extension Substring: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String? { String(self) } }
extension Double: PostgresBindable { public var postgresText: String? { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String? { self ? "true" : "false" } }
extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresText: String? { self?.postgresText }
}

/// A SQL statement whose interpolated values become bound parameters.
///
/// ```swift
/// let sql: SQL = "SELECT name FROM events WHERE id = \(eventID)"   // → $1, bound
/// ```
/// Text that must be spliced into the statement itself (a trusted identifier,
/// never user input) needs the explicit `\(unescaped: …)` marker.
public struct SQL: Sendable, ExpressibleByStringInterpolation {
    /// The statement text with `$1…$n` placeholders.
    public private(set) var text: String
    /// The bound values, in placeholder order.
    public private(set) var parameters: [String?]

    public init(stringLiteral value: String) {
        self.text = value
        self.parameters = []
    }

    public init(stringInterpolation: StringInterpolation) {
        self.text = stringInterpolation.text
        self.parameters = stringInterpolation.parameters
    }

    /// A statement with explicit placeholders and parameters.
    public init(_ text: String, parameters: [String?]) {
        self.text = text
        self.parameters = parameters
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        var parameters: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// Binds `value` as the next parameter.
        public mutating func appendInterpolation(_ value: some PostgresBindable) {
            parameters.append(value.postgresText)
            text += "$\(parameters.count)"
        }

        /// Binds `value` as the next parameter, or NULL.
        public mutating func appendInterpolation<T: PostgresBindable>(_ value: T?) {
            parameters.append(value?.postgresText)
            text += "$\(parameters.count)"
        }

        /// Splices trusted text into the statement. Never pass user input.
        public mutating func appendInterpolation(unescaped text: String) { self.text += text }
    }
}

/// A PostgreSQL array literal bound as one text parameter, e.g. for
/// `unnest($1::text[])`: elements are quoted and escaped, `nil` is NULL.
public struct PostgresArray: PostgresBindable {
    public var elements: [String?]

    public init(_ elements: [String?]) { self.elements = elements }
    /// Inlinable, so that the worker's calls are specialized for their element type instead of
    /// looking up generic metadata and witnesses for every element.
    @inlinable public init(_ elements: [some PostgresBindable]) { self.elements = elements.map { $0.postgresText } }

    /// The array literal `{"a","b\\"c",NULL}`, built over UTF-8 bytes (`"` and `\\` are
    /// single bytes that never occur inside a multi-byte character): the worker sends
    /// thousands of elements per batch, so each element is copied in runs between the
    /// bytes that need a backslash, not byte by byte.
    public var postgresText: String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var out: [UInt8] = []
        out.reserveCapacity(2 + elements.reduce(0) { $0 + ($1?.utf8.count ?? 4) + 3 })
        out.append(UInt8(ascii: "{"))
        for i in elements.indices {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard var e = elements[i] else { out.append(contentsOf: "NULL".utf8); continue }
            out.append(quote)
            e.withUTF8 { bytes in
                var start = 0
                for j in 0..<bytes.count where bytes[j] == quote || bytes[j] == backslash {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<j]))
                    out.append(backslash)
                    start = j
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
            }
            out.append(quote)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

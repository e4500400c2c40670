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
    public init(_ elements: [some PostgresBindable]) { self.elements = elements.map(\.postgresText) }

    /// The array literal `{"a","b\\"c",NULL}`, built over UTF-8 bytes (`"` and `\\` are
    /// single bytes that never occur inside a multi-byte character): the worker sends
    /// thousands of elements per batch.
    public var postgresText: String? {
        var out: [UInt8] = []
        out.reserveCapacity(2 + elements.reduce(0) { $0 + ($1?.utf8.count ?? 4) + 3 })
        out.append(UInt8(ascii: "{"))
        for (i, e) in elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let e else { out.append(contentsOf: "NULL".utf8); continue }
            out.append(UInt8(ascii: "\""))
            for byte in e.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

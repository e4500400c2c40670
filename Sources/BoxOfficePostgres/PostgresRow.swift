import Foundation

/// The rows of a result, copied out of libpq's `PGresult` (text format).
public struct PostgresRows: Sendable, Sequence {
    /// Column names, in order.
    public let columns: [String]
    let values: [[String?]]
    /// Rows affected by an INSERT/UPDATE/DELETE, if reported.
    public let affectedRows: Int

    public var count: Int { values.count }
    public var isEmpty: Bool { values.isEmpty }
    public var first: PostgresRow? { values.first.map { PostgresRow(columns: columns, values: $0) } }

    public func makeIterator() -> AnyIterator<PostgresRow> {
        var it = values.makeIterator()
        let columns = columns
        return AnyIterator { it.next().map { PostgresRow(columns: columns, values: $0) } }
    }
}

/// One row of a result; values are accessed by column index or name.
public struct PostgresRow: Sendable {
    let columns: [String]
    let values: [String?]

    private func raw(_ column: Int) throws -> String? {
        guard column >= 0, column < values.count else {
            throw PostgresError(.decoding, "column \(column) out of range (\(values.count) columns)")
        }
        return values[column]
    }

    private func index(_ name: String) throws -> Int {
        guard let i = columns.firstIndex(of: name) else { throw PostgresError(.decoding, "no column named \(name)") }
        return i
    }

    /// Whether the column is NULL.
    public func isNull(_ column: Int) throws -> Bool { try raw(column) == nil }

    /// A text value; `nil` for NULL.
    public func string(_ column: Int) throws -> String? { try raw(column) }
    public func string(_ name: String) throws -> String? { try raw(index(name)) }

    /// An integer value; `nil` for NULL.
    public func int(_ column: Int) throws -> Int? {
        guard let s = try raw(column) else { return nil }
        guard let v = Int(s) else { throw PostgresError(.decoding, "column \(columns[column]) is not an integer") }
        return v
    }
    public func int(_ name: String) throws -> Int? { try int(index(name)) }

    /// A boolean value; `nil` for NULL.
    public func bool(_ column: Int) throws -> Bool? {
        guard let s = try raw(column) else { return nil }
        switch s {
        case "t", "true": return true
        case "f", "false": return false
        default: throw PostgresError(.decoding, "column \(columns[column]) is not a boolean")
        }
    }
    public func bool(_ name: String) throws -> Bool? { try bool(index(name)) }

    /// A `timestamptz` value; `nil` for NULL. Expects the session's ISO date style and UTC time zone.
    public func date(_ column: Int) throws -> Date? {
        guard let s = try raw(column) else { return nil }
        guard let d = PostgresTimestamp.parse(s) else { throw PostgresError(.decoding, "column \(columns[column]) is not a timestamp") }
        return d
    }
    public func date(_ name: String) throws -> Date? { try date(index(name)) }
}

/// Parses PostgreSQL's ISO output of `timestamptz` in UTC: `2026-11-21 05:07:01.123456+00`.
enum PostgresTimestamp {
    static func parse(_ s: String) -> Date? {
        var text = s.replacingOccurrences(of: " ", with: "T")
        if text.hasSuffix("+00") { text += ":00" }
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let without = Date.ISO8601FormatStyle()
        if let d = try? withFraction.parse(text) { return d }
        return try? without.parse(text)
    }
}

extension Date: PostgresBindable {
    public var postgresText: String? {
        self.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

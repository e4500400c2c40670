// Every libpq call of BoxOffice lives in this folder. libpq is blocking: these
// calls run only on the client's own NIOThreadPool threads, never on an event
// loop or on Swift's cooperative pool (see PostgresClient).

import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection, owned by this object and closed in `deinit`.
///
/// A connection is used by one thread at a time: the pool hands it to exactly
/// one `withConnection` body, which runs on a pool thread.
public final class PostgresConnection {
    private let conn: OpaquePointer
    private var prepared: [String: String] = [:]  // SQL text → statement name

    /// Connects (blocking) with a libpq URL or key/value string.
    init(url: String, connectTimeoutSeconds: Int, applicationName: String) throws {
        let keywords = ["dbname", "connect_timeout", "application_name", "options"]
        let values = [url, String(max(1, connectTimeoutSeconds)), applicationName, "-c TimeZone=UTC -c DateStyle=ISO"]
        let conn: OpaquePointer? = withCStrings(keywords) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else { throw PostgresError(.connection, "out of memory creating a connection") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.string(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(.connection, message.trimmingTrailingNewlines())
        }
        // Server NOTICEs ("relation already exists, skipping") are not for stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        self.conn = conn
    }

    deinit { PQfinish(conn) }

    /// Whether the connection is usable.
    public var isHealthy: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Whether the connection sits outside any transaction.
    var isIdle: Bool { PQtransactionStatus(conn) == PQTRANS_IDLE }

    /// The server version, e.g. `150018` for 15.18.
    public var serverVersion: Int { Int(PQserverVersion(conn)) }

    /// Runs a statement with bound parameters, as a named prepared statement
    /// (prepared once per connection).
    @discardableResult
    public func query(_ sql: SQL) throws -> PostgresRows {
        let name: String
        if let existing = prepared[sql.text] {
            name = existing
        } else {
            name = "bo_\(prepared.count + 1)"
            let result = PQprepare(conn, name, sql.text, Int32(sql.parameters.count), nil)
            defer { PQclear(result) }
            try check(result)
            prepared[sql.text] = name
        }
        let result = withOptionalCStrings(sql.parameters) { params in
            PQexecPrepared(conn, name, Int32(sql.parameters.count), params, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try rows(of: result)
    }

    /// Runs one or more statements without parameters (migrations, `BEGIN`, `COMMIT`).
    /// Only for statement text the program owns.
    public func execute(unprepared text: String) throws {
        let result = PQexec(conn, text)
        defer { PQclear(result) }
        try check(result)
    }

    private func check(_ result: OpaquePointer?) throws {
        guard let result else {
            throw PostgresError(.connection, Self.string(PQerrorMessage(conn)).trimmingTrailingNewlines())
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            if !isHealthy {
                throw PostgresError(.connection, primary ?? Self.string(PQerrorMessage(conn)).trimmingTrailingNewlines())
            }
            throw PostgresError(.server, primary ?? "statement failed", sqlState: state)
        }
    }

    private func rows(of result: OpaquePointer?) throws -> PostgresRows {
        try check(result)
        guard let result else { return PostgresRows(columns: [], values: [], affectedRows: 0) }
        let nRows = Int(PQntuples(result))
        let nCols = Int(PQnfields(result))
        var columns: [String] = []
        columns.reserveCapacity(nCols)
        for c in 0..<nCols { columns.append(String(cString: PQfname(result, Int32(c)))) }
        var values: [[String?]] = []
        values.reserveCapacity(nRows)
        for r in 0..<nRows {
            var row: [String?] = []
            row.reserveCapacity(nCols)
            for c in 0..<nCols {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            values.append(row)
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, values: values, affectedRows: affected)
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
}

/// Versions of the libpq this process runs against.
public enum LibPQInfo {
    /// e.g. `15.18`.
    public static var version: String {
        let v = Int(PQlibVersion())
        return v >= 100_000 ? "\(v / 10_000).\(v % 10_000)" : "\(v / 10_000).\(v / 100 % 100).\(v % 100)"
    }
}

private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) })
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while s.last?.isNewline == true { s = s.dropLast() }
        return String(s)
    }
}

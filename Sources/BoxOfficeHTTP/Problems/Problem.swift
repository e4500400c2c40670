import BoxOfficePostgres
import BoxOfficeRedis
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// An RFC 9457 problem document: the only way an error shapes a response.
///
/// Deliberate errors are thrown as `Problem`s with a stable `code`; anything
/// else is logged with the request id and answered with `Problem.unavailable`
/// (a backing service is down) or `Problem.internal`.
public struct Problem: HTTPResponseError, Sendable, Encodable {
    /// A URI naming the kind of problem.
    public var type: String
    /// A short, human-readable summary of the kind.
    public var title: String
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// What happened in this instance, for people.
    public var detail: String
    /// A stable machine-readable code, e.g. `sold_out`.
    public var code: String
    /// Extra headers, e.g. `Retry-After`.
    public var headers: HTTPFields = [:]
    /// Extra members of the document, e.g. what a readiness check found.
    public var extensions: [String: String] = [:]
    /// Extra members holding lists, e.g. the seats a reserve found taken.
    public var listExtensions: [String: [String]] = [:]

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String, headers: HTTPFields = [:]) {
        self.type = "https://boxoffice.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))"
        self.title = title
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, code }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: DynamicKey.self)
        try c.encode(type, forKey: DynamicKey("type"))
        try c.encode(title, forKey: DynamicKey("title"))
        try c.encode(status.code, forKey: DynamicKey("status"))
        try c.encode(detail, forKey: DynamicKey("detail"))
        try c.encode(code, forKey: DynamicKey("code"))
        for (k, v) in extensions.sorted(by: { $0.key < $1.key }) { try c.encode(v, forKey: DynamicKey(k)) }
        for (k, v) in listExtensions.sorted(by: { $0.key < $1.key }) { try c.encode(v, forKey: DynamicKey(k)) }
    }

    private struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(status: status, headers: headers, body: try responseEncoder.encode(self), contentType: "application/problem+json")
    }
}

extension Problem {
    /// 500 with nothing of the cause in it.
    public static func `internal`(requestID: String?) -> Problem {
        Problem(status: .internalServerError, code: "internal_error", title: "Internal Server Error",
                detail: "An unexpected error occurred" + (requestID.map { "; request id \($0)" } ?? "") + ".")
    }

    /// The problem document for an error no route or middleware shaped, logged with its cause
    /// (which the document never carries): 503 `unavailable` for a backing service that is down,
    /// else 500 `internal_error`.
    public static func unexpected(_ error: any Error, requestID: String?, path: String, logger: Logger) -> Problem {
        if let problem = unavailable(for: error, requestID: requestID) {
            logger.error("backing service unavailable", metadata: ["error": "\(error)", "path": "\(path)"])
            return problem
        }
        logger.error("unhandled error", metadata: ["error": "\(error)", "path": "\(path)"])
        return .internal(requestID: requestID)
    }

    /// 503 when `error` says a backing service (Redis, PostgreSQL) is down or did not answer in
    /// time; nil for any other error. Such a request may or may not have taken effect, so the
    /// answer invites a retry: with the same `Idempotency-Key`, a retried reserve is safe.
    public static func unavailable(for error: any Error, requestID: String?) -> Problem? {
        let code: String
        switch error {
        // Redis holds the inventory: its own code, so a client (and a test) knows what was down.
        case let e as RedisError where e.code == .unavailable || e.code == .connectionClosed || e.code == .timeout: code = "inventory_unavailable"
        case let e as PostgresError where e.code == .connection || e.code == .poolTimeout: code = "unavailable"
        default: return nil
        }
        return Problem(status: .serviceUnavailable, code: code, title: "Service Unavailable",
                       detail: "A backing service did not answer in time; retry shortly" + (requestID.map { "; request id \($0)" } ?? "") + ".",
                       headers: [.retryAfter: "1"])
    }

    /// 404 for a route or resource that does not exist.
    public static func notFound(_ detail: String = "No such resource.") -> Problem {
        Problem(status: .notFound, code: "not_found", title: "Not Found", detail: detail)
    }

    /// 503 naming what is not ready.
    public static func notReady(_ failures: [String: String]) -> Problem {
        var p = Problem(status: .serviceUnavailable, code: "not_ready", title: "Service Unavailable",
                        detail: "Not ready: " + failures.keys.sorted().map { "\($0) (\(failures[$0]!))" }.joined(separator: ", "))
        for (k, v) in failures { p.extensions[k] = v }
        return p
    }
}

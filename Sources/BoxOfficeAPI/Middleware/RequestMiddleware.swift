import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeRuntime
import BoxOfficeSupport
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-ID")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
    /// A waiting room's admission, sent with `POST /reserve` for an event that has one.
    static let admissionToken = HTTPField.Name("Admission-Token")!
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}

/// Accepts a sane `X-Request-ID` or makes one, puts it in every log line of the
/// request, echoes it on the response (errors included), adds security headers,
/// writes the access log and records the HTTP metrics by route template.
public struct RequestMiddleware: RouterMiddleware {
    public typealias Context = BoxOfficeRequestContext

    private let metrics = RouteMetrics()

    public init() {}

    @concurrent public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = request.headers[.requestID].flatMap(Self.sanitize) ?? randomRequestID()
        context.requestID = requestID
        context.logger[metadataKey: LogKey.requestID] = "\(requestID)"
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = error as? Problem
                ?? Problem.unexpected(error, requestID: requestID, path: request.uri.path, logger: context.logger)
            response = try problem.response(from: request, context: context)
        }
        response.headers[.requestID] = requestID
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'"
        }
        response.headers[.cacheControl] = response.headers[.cacheControl] ?? "no-store"

        let seconds = start.duration(to: .now).inSeconds
        let route = context.endpointPath ?? "unmatched"
        let (requests, duration) = metrics.handles(method: request.method.rawValue, route: route, status: response.status.code)
        requests.increment()
        duration.recordNanoseconds(Int64(seconds * 1e9))
        var line: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "route": "\(route)",
            "status": "\(response.status.code)", "duration_ms": "\(Self.milliseconds(seconds))",
        ]
        // What a request created (a 201's Location, e.g. the new reservation) is on its access line,
        // so the route needs no line of its own for it.
        if let location = response.headers[.location] { line["location"] = "\(location)" }
        context.logger.info("request", metadata: line)
        return response
    }

    /// `seconds` in milliseconds with two decimals ("12.34"), for the access line: integer
    /// arithmetic, not Foundation's `String(format:)`, which went through CoreFoundation's
    /// formatter and `vsprintf` on the event loop for every request.
    static func milliseconds(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "\(seconds * 1000)" }
        let hundredths = Int((seconds * 100_000).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// 1–128 characters of `A–Z a–z 0–9 . _ -`; anything else is replaced by a generated id.
    static func sanitize(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D })
        else { return nil }
        return value
    }
}

/// `http_requests_total` and `http_request_duration_seconds` of each method, route template and status.
final class RouteMetrics: Sendable {
    private struct Key: Hashable { var method: String, route: String, status: Int }
    private let made = MadeOnce<Key, (Counter, Timer)>()

    func handles(method: String, route: String, status: Int) -> (Counter, Timer) {
        made.value(for: Key(method: method, route: route, status: status)) {
            (Counter(label: "http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))]),
             Timer(label: "http_request_duration_seconds", dimensions: [("method", method), ("route", route)], preferredDisplayUnit: .seconds))
        }
    }
}

/// 24 hex digits from the process's id stream (no system call per request).
func randomRequestID() -> String { randomHex(bytes: 12) }

import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficeRuntime
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prometheus
import Testing

/// A live API server on the test stack, with tokens and a fresh event.
struct APIHarness: Sendable {
    let settings: BoxOfficeSettings
    let dependencies: Dependencies
    let tokens: TokenIssuer
    let admin: String
    let buyer: String
    let otherBuyer: String
    let buyerID: String

    func token(sub: String, role: Role = .user) async throws -> String { try await tokens.issue(subject: sub, role: role) }
}

/// Runs `body` against a live API (HummingbirdTesting `.live`) on the test stack.
/// `overrides` replaces settings, e.g. a short hold TTL or tight rate limits.
func withAPI<T: Sendable>(
    _ overrides: [String: String] = [:],
    _ body: @Sendable (any TestClientProtocol, APIHarness) async throws -> T
) async throws -> T {
    var values = ProcessInfo.processInfo.environment
    guard values["BOXOFFICE_REDIS_URL"] != nil else { throw TestStackMissing() }
    values["BOXOFFICE_RATE_LIMIT_PREFIX"] = "test:rl:" + randomHex(bytes: 6)
    values["BOXOFFICE_RATE_RESERVE_PER_SECOND"] = values["BOXOFFICE_RATE_RESERVE_PER_SECOND"] ?? "10000"
    values["BOXOFFICE_RATE_RESERVE_BURST"] = values["BOXOFFICE_RATE_RESERVE_BURST"] ?? "10000"
    values["BOXOFFICE_RATE_SIGNUP_PER_MINUTE"] = "1000"
    values["BOXOFFICE_RATE_LOGIN_PER_MINUTE"] = "1000"
    values["BOXOFFICE_CORS_ORIGINS"] = "https://tickets.example"
    for (k, v) in overrides { values[k] = v }
    let settings = try BoxOfficeSettings(values: values)
    let dependencies = try Dependencies(settings: settings, process: "api-test", logger: TestStack.logger)
    let router = await buildAPIRouter(settings: settings, dependencies: dependencies, registry: PrometheusCollectorRegistry(), logger: TestStack.logger)
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestStack.logger)
    let tokens = await TokenIssuer(secret: settings.jwtSecret)
    let buyerID = "buyer-" + randomHex(bytes: 6)
    let harness = APIHarness(
        settings: settings, dependencies: dependencies, tokens: tokens,
        admin: try await tokens.issue(subject: "admin-1", role: .admin),
        buyer: try await tokens.issue(subject: buyerID, role: .user),
        otherBuyer: try await tokens.issue(subject: "other-" + randomHex(bytes: 6), role: .user),
        buyerID: buyerID)
    defer { dependencies.redis.shutdown() }
    let result = try await app.test(.live) { client in try await body(client, harness) }
    await dependencies.kafkaProbe.shutdown()
    await dependencies.postgres.shutdown()
    return result
}

extension TestClientProtocol {
    /// Sends a JSON body (a dictionary, or raw text) with an optional bearer token.
    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: Any? = nil, raw: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var (headers, body) = try jsonRequest(token: token, json: json, headers: extra)
        if json == nil, let raw {
            headers[.contentType] = headers[.contentType] ?? "application/json"
            body = ByteBuffer(string: raw)
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body)
    }
}

extension TestResponse {
    /// The body as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8))) as? [String: Any] ?? [:]
    }

    /// The problem document's `code`, checking the media type.
    var problemCode: String? {
        guard headers[.contentType] == "application/problem+json" else { return nil }
        return json["code"] as? String
    }
}

/// Creates an event with one category through the API; returns the event id.
func makeEvent(_ client: any TestClientProtocol, _ h: APIHarness, stock: Int = 10, maxPerUser: Int? = nil, price: Int = 5_000) async throws -> String {
    let created = try await client.call(.post, "/events", token: h.admin, json: ["name": "Tour", "venue": "Arena", "starts_at": "2027-06-01T19:30:00Z"])
    #expect(created.status == .created)
    let id = try #require(created.json["id"] as? String)
    var category: [String: Any] = ["name": "floor", "total_stock": stock, "price": price, "currency": "EUR"]
    if let maxPerUser { category["max_per_user"] = maxPerUser }
    let cat = try await client.call(.post, "/events/\(id)/ticket-category", token: h.admin, json: category)
    #expect(cat.status == .created)
    return id
}

/// The headers and body of a request with an optional bearer token and JSON body.
func jsonRequest(token: String?, json: Any?, headers extra: HTTPFields = [:]) throws -> (HTTPFields, ByteBuffer?) {
    var headers = extra
    if let token { headers[.authorization] = "Bearer \(token)" }
    guard let json else { return (headers, nil) }
    headers[.contentType] = "application/json"
    return (headers, ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
}

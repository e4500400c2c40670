import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The encoder of every JSON response body (stable key order, no escaped slashes).
/// `JSONEncoder` is safe to share once configured, so one is made for every response.
public let responseEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.dateEncodingStrategy = .iso8601
    return e
}()

/// A JSON response with a status other than 200.
public struct Created<Body: Encodable & Sendable>: ResponseGenerator {
    public var status: HTTPResponse.Status = .created
    public var body: Body
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status = .created, body: Body, headers: HTTPFields = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(status: status, headers: headers, body: try responseEncoder.encode(body))
    }
}

/// A response whose body is the JSON document `body`, with `headers` and the JSON content type
/// (`application/problem+json` for problem documents).
public func jsonResponse(
    status: HTTPResponse.Status, headers: HTTPFields, body: some Sequence<UInt8>,
    contentType: String = "application/json; charset=utf-8"
) -> Response {
    var fields = headers
    fields[.contentType] = contentType
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
}

/// A page of a list: `{items, next_cursor}`, with `next_cursor` an explicit null on the last page.
public struct Page<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
    public var items: [Item]
    public var next_cursor: String?

    public init(items: [Item], next_cursor: String?) {
        self.items = items
        self.next_cursor = next_cursor
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        try c.encode(next_cursor, forKey: .next_cursor)
    }

    enum CodingKeys: String, CodingKey { case items, next_cursor }
}

import BoxOfficeDomain
import BoxOfficeHTTP
import Foundation
import Hummingbird
import NIOCore

/// Reads a JSON request body into `T`, turning every failure into a clear 4xx:
/// 413 over the size limit, 415 for a non-JSON content type, 400 for malformed
/// JSON, 422 naming the field for a missing field or a wrong type.
func decodeJSON<T: Decodable>(_ type: T.Type, from request: Request, context: BoxOfficeRequestContext, limit: Int? = nil) async throws -> T {
    try decode(T.self, from: try await collectJSONBody(request, context: context, limit: limit))
}

/// A request body with a fast path: `scanned` reads the plain shape clients send
/// with `JSONScanner`, and gives up (nil) on anything else, which `JSONDecoder`
/// then reads, with the same acceptance and the same errors as without it.
protocol ScannableRequestBody: Decodable {
    static func scanned(from bytes: UnsafeRawBufferPointer) -> Self?
}

/// `decodeJSON`, trying `T.scanned` before `JSONDecoder`.
func decodeJSON<T: ScannableRequestBody>(_ type: T.Type, from request: Request, context: BoxOfficeRequestContext) async throws -> T {
    let buffer = try await collectJSONBody(request, context: context)
    if let body = buffer.withUnsafeReadableBytes({ T.scanned(from: $0) }) { return body }
    return try decode(T.self, from: buffer)
}

/// The body of a request that must be JSON: 415 for another content type, 413 over the size limit
/// (the context's, or `limit` for a route that takes larger documents).
private func collectJSONBody(_ request: Request, context: BoxOfficeRequestContext, limit: Int? = nil) async throws -> ByteBuffer {
    if let contentType = request.headers[.contentType], !asciiHasPrefixIgnoringCase(contentType, "application/json") {
        throw Problem(status: .unsupportedMediaType, code: "unsupported_media_type", title: "Unsupported Media Type",
                      detail: "Send the body as application/json.")
    }
    // Read here rather than with `request.body.collect(upTo:)`: that generic is a concurrent async
    // function, whose entry and exit re-enqueue the request's task; this loop runs on the
    // caller's executor.
    let limit = limit ?? context.maxUploadSize
    // A body whose Content-Length the first part already fills is whole: its end is left
    // for Hummingbird, which reads past every request's end anyway, instead of costing this
    // request another turn of the body's iterator.
    let length = request.headers[.contentLength].flatMap { Int($0) }
    var iterator = request.body.makeAsyncIterator()
    do {
        guard var body = try await iterator.next() else { return ByteBuffer() }
        if let length, body.readableBytes == length, length <= limit { return body }
        while var more = try await iterator.next() {
            guard body.readableBytes + more.readableBytes <= limit else { throw bodyTooLarge(limit) }
            body.writeBuffer(&more)
        }
        guard body.readableBytes <= limit else { throw bodyTooLarge(limit) }
        return body
    } catch {
        throw bodyTooLarge(limit)  // as collect(upTo:) was answered: any failure to read the body is a 413
    }
}

private func bodyTooLarge(_ limit: Int) -> Problem {
    Problem(status: .contentTooLarge, code: "body_too_large", title: "Content Too Large",
            detail: "The body exceeds \(limit / 1024) KiB.")
}

private func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
    let data = Data(buffer.readableBytesView)
    do {
        return try requestDecoder.decode(T.self, from: data)
    } catch let error as DecodingError {
        // Only on failure: tell malformed JSON (400) from a well-formed body of the wrong shape (422).
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw Problem(status: .badRequest, code: "malformed_json", title: "Bad Request", detail: "The body is not valid JSON.")
        }
        throw Problem.validation(describe(error))
    }
}

private func describe(_ error: DecodingError) -> String {
    func path(_ p: [any CodingKey]) -> String {
        p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let ctx):
        let prefix = path(ctx.codingPath)
        return "Missing field '\(prefix.isEmpty ? key.stringValue : prefix + "." + key.stringValue)'."
    case .typeMismatch(let type, let ctx):
        return ctx.codingPath.isEmpty ? "The body must be a JSON object." : "Field '\(path(ctx.codingPath))' must be \(describe(type))."
    case .valueNotFound(let type, let ctx):
        return "Field '\(path(ctx.codingPath))' must be \(describe(type)), not null."
    case .dataCorrupted(let ctx):
        return ctx.codingPath.isEmpty ? "The body is not valid JSON." : "Field '\(path(ctx.codingPath))' is invalid: \(ctx.debugDescription)"
    @unknown default:
        return "The body does not match the expected shape."
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Int64.Type: return "an integer"
    case is String.Type: return "a string"
    case is Bool.Type: return "a boolean"
    case is Double.Type: return "a number"
    default: return "a JSON object"
    }
}

extension Problem {
    /// 422 with what is wrong with the input.
    static func validation(_ detail: String) -> Problem {
        Problem(status: .unprocessableContent, code: "validation_failed", title: "Unprocessable Content", detail: detail)
    }
}

/// The decoder of every JSON request body, made once and shared (safe once configured).
let requestDecoder = JSONDecoder()

/// RFC 3339 UTC timestamps, as the contract writes them.
enum RFC3339 {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    static func parse(_ s: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s) { return d }
        return try? Date.ISO8601FormatStyle().parse(s)
    }
}

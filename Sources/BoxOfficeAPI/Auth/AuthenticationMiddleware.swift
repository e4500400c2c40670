import BoxOfficeDomain
import BoxOfficeHTTP
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore

/// Reads `Authorization: Bearer <JWT>`; a valid token sets `context.identity`.
/// A malformed or invalid token is refused with 401 even on public routes.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = BoxOfficeRequestContext
    let tokens: TokenIssuer

    public init(tokens: TokenIssuer) { self.tokens = tokens }

    @concurrent public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        // `Bearer <token>`, the scheme in any case, read on the bytes (no split, no lowercased copy).
        guard let token = Self.bearerToken(header) else {
            throw Problem(status: .unauthorized, code: "unauthorized", title: "Unauthorized",
                          detail: "Authorization must be 'Bearer <token>'.", headers: [.wwwAuthenticate: "Bearer"])
        }
        var context = context
        do {
            context.identity = try await tokens.verify(token)
        } catch {
            throw Problem(status: .unauthorized, code: "unauthorized", title: "Unauthorized",
                          detail: "The bearer token is invalid or expired.", headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        return try await next(request, context)
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, one space, 1–4096 bytes of token); nil otherwise.
    static func bearerToken(_ header: String) -> String? {
        let utf8 = header.utf8
        guard utf8.count > 7, utf8.count <= 7 + 4096, asciiHasPrefixIgnoringCase(header, "bearer ") else { return nil }
        let token = utf8.dropFirst(7)
        guard token.first != UInt8(ascii: " ") else { return nil }
        return String(Substring(token))
    }
}

/// Whether `s` starts with `prefix` (lowercase ASCII), comparing ASCII letters in any case.
func asciiHasPrefixIgnoringCase(_ s: String, _ prefix: StaticString) -> Bool {
    let utf8 = s.utf8
    guard utf8.count >= prefix.utf8CodeUnitCount else { return false }
    return prefix.withUTF8Buffer { p in
        zip(utf8, p).allSatisfy { c, l in (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) == l }
    }
}

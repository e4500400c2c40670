import BoxOfficeDomain
import BoxOfficeHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The request context of the API: the request id, and the caller once authenticated.
public struct BoxOfficeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The verified token's claims, set by `AuthenticationMiddleware`.
    public var identity: AccessTokenPayload?
    /// `X-Request-ID` of this request (accepted from the client or generated).
    public var requestID: String = ""

    /// The peer of the connection.
    public var remoteAddress: SocketAddress?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// One shared, configured encoder for `ResponseEncodable` bodies instead of a new one per response.
    public var responseEncoder: JSONEncoder { BoxOfficeHTTP.responseEncoder }

    /// Bodies over 16 KiB are refused with 413.
    public var maxUploadSize: Int { 16 * 1024 }

    /// The caller, or 401.
    public func requireUser() throws -> AccessTokenPayload {
        guard let identity else {
            throw Problem(status: .unauthorized, code: "unauthorized", title: "Unauthorized",
                          detail: "A valid bearer token is required.", headers: [.wwwAuthenticate: "Bearer"])
        }
        return identity
    }

    /// An admin caller, or 401 / 403.
    public func requireAdmin() throws -> AccessTokenPayload {
        let identity = try requireUser()
        guard identity.role == Role.admin.rawValue else {
            throw Problem(status: .forbidden, code: "forbidden", title: "Forbidden", detail: "This action needs the admin role.")
        }
        return identity
    }
}

extension BoxOfficeRequestContext {
    /// The event named by the route's `{id}`; 404 when it is not a valid event id.
    func pathEvent() throws -> EventID {
        guard let raw = parameters.get("id"), let id = EventID(raw) else { throw Problem.notFound("No such event.") }
        return id
    }
}

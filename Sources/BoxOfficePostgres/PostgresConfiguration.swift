import Foundation

/// How to reach PostgreSQL and how the pool behaves.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URL, `postgres://user:password@host:port/database`.
    public var url: String
    /// Most connections open at once; also the number of threads that run libpq calls. Default `8`.
    public var maxConnections: Int = 8
    /// Longest wait for a free connection. Default 5 s.
    public var acquireTimeout: Duration = .seconds(5)
    /// libpq's `connect_timeout`, in whole seconds. Default `2`.
    public var connectTimeoutSeconds: Int = 2
    /// Reported as `application_name` to the server. Default `boxoffice`.
    public var applicationName: String = "boxoffice"

    public init(url: String) { self.url = url }

    /// The URL with its password replaced by `***`, for logs.
    public var redactedURL: String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let userinfo = url[scheme.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}

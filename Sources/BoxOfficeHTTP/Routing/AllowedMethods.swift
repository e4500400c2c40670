import Hummingbird
import Synchronization

/// The route templates of a router and their methods, so a request for a known
/// path with another method gets 405 and an `Allow` header instead of 404.
///
/// Filled once the routes are registered (the middleware is added before them).
public final class AllowedMethods: Sendable {
    private let routes = Mutex<[(segments: [Substring], method: String)]>([])

    public init() {}

    /// Records the routes of `router`.
    public func load<Context>(from router: Router<Context>) {
        let list = router.routes.map { route in
            (segments: route.path.description.split(separator: "/"), method: route.method.rawValue)
        }
        routes.withLock { $0 = list }
    }

    /// The methods allowed on `path`; empty when no route matches it.
    func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/")
        return routes.withLock { routes in
            routes.filter { route in
                route.segments.count == parts.count
                    && zip(route.segments, parts).allSatisfy { template, part in template.hasPrefix("{") || template == part }
            }.map(\.method)
        }.sorted()
    }
}

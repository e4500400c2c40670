import Hummingbird

/// Narrows Hummingbird's origin-reflecting CORS middleware to the configured
/// origins: for any other origin the CORS headers are removed.
struct CORSOriginFilter: RouterMiddleware {
    typealias Context = BoxOfficeRequestContext
    let allowed: Set<String>

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if let origin = request.headers[.origin], !allowed.contains(origin) {
            response.headers[.accessControlAllowOrigin] = nil
            response.headers[.accessControlAllowCredentials] = nil
        }
        return response
    }
}

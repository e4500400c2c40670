import BoxOfficeRuntime
import Hummingbird
import Logging

/// Turns every error into a problem document: deliberate `Problem`s pass
/// through, Hummingbird's own `HTTPError`s (unknown route, bad method, body too
/// large) become problems with the same status, and anything else is logged
/// with the request id and answered with a generic 500.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: AllowedMethods?

    /// `allowed`, when given, turns a 404 for a known path into 405 with `Allow`.
    public init(allowed: AllowedMethods? = nil) { self.allowed = allowed }

    @concurrent public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch let error as HTTPError {
            if error.status == .notFound, let methods = allowed?.methods(for: request.uri.path), !methods.isEmpty {
                throw Problem(status: .methodNotAllowed, code: "method_not_allowed", title: "Method Not Allowed",
                              detail: "\(request.uri.path) accepts \(methods.joined(separator: ", ")), not \(request.method).",
                              headers: [.allow: methods.joined(separator: ", ")])
            }
            let detail = error.status == .notFound
                ? "No resource at \(request.method) \(request.uri.path)."
                : (error.body ?? error.status.reasonPhrase)
            throw Problem(status: error.status, code: Self.code(for: error.status), title: error.status.reasonPhrase, detail: detail)
        } catch {
            // The id the client sees in X-Request-ID (Hummingbird's own where there is none).
            let requestID = (context.logger[metadataKey: LogKey.requestID] ?? context.logger[metadataKey: "hb.request.id"]).map { "\($0)" }
            throw Problem.unexpected(error, requestID: requestID, path: request.uri.path, logger: context.logger)
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: return "not_found"
        case .methodNotAllowed: return "method_not_allowed"
        case .contentTooLarge: return "body_too_large"
        case .badRequest: return "bad_request"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .unsupportedMediaType: return "unsupported_media_type"
        default: return status.code >= 500 ? "internal_error" : "client_error"
        }
    }
}

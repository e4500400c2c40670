import Hummingbird
import NIOCore

/// `GET /openapi.yaml` (the spec the code serves) and `GET /docs` (a page to read it, no internet needed).
struct DocsRoutes {
    static let spec = PackageResources.openapi_yaml
    static let page = PackageResources.docs_html

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.get("/openapi.yaml") { _, _ in
            var r = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: Self.spec)))
            r.headers[.contentType] = "application/yaml; charset=utf-8"
            r.headers[.cacheControl] = "public, max-age=60"
            return r
        }
        router.get("/docs") { _, _ in
            var r = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: Self.page)))
            r.headers[.contentType] = "text/html; charset=utf-8"
            r.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"
            r.headers[.cacheControl] = "public, max-age=60"
            return r
        }
    }
}

import Foundation
import Hummingbird
import NIOCore

/// `GET /openapi.yaml` (the spec the code serves) and `GET /docs` (a page to read it, no internet needed).
struct DocsRoutes {
    static let page = PackageResources.docs_html
    /// The line of the bundled document that carries `POST /reserve`'s qty cap, a setting.
    static let quantityCapLine = "maximum: 10  # BOXOFFICE_MAX_QTY_PER_REQUEST: the served document says the server's setting"

    /// The bundled document, with the settings it states set to this server's.
    let spec: [UInt8]

    init(maxQuantityPerRequest: Int) {
        let bundled = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
        precondition(bundled.contains(Self.quantityCapLine), "openapi.yaml lost its qty cap line")
        spec = Array(bundled.replacingOccurrences(
            of: Self.quantityCapLine, with: "maximum: \(maxQuantityPerRequest)  # BOXOFFICE_MAX_QTY_PER_REQUEST").utf8)
    }

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.get("/openapi.yaml") { [spec] _, _ in
            var r = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: spec)))
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

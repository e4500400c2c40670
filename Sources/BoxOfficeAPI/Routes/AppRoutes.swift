import BoxOfficeHTTP
import CompressNIO
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web app: static HTML, CSS and ES modules from the binary's resources, under `/app/`
/// (`/` redirects there). Every page path answers the one HTML shell, whose `main.js` loads the
/// page's module; assets are served with a strong `ETag` (304 on `If-None-Match`), cached for an
/// hour and revalidated, and gzipped (compressed once, at start) when the client accepts it and
/// it saves at least a tenth. A strict Content-Security-Policy allows nothing from another host.
struct AppRoutes {
    struct Asset: Sendable {
        let body: CompressibleBody
        let contentType: String
        let etag: String
    }

    /// The app's files by name: what `/app/assets/{name}` serves.
    static let files: [(name: String, bytes: [UInt8])] = [
        ("app.css", PackageResources.app_css),
        ("main.js", PackageResources.main_js),
        ("page-list.js", PackageResources.page_list_js),
        ("page-event.js", PackageResources.page_event_js),
        ("page-checkout.js", PackageResources.page_checkout_js),
        ("page-bookings.js", PackageResources.page_bookings_js),
        ("page-register.js", PackageResources.page_register_js),
        ("page-login.js", PackageResources.page_login_js),
        ("page-logout.js", PackageResources.page_logout_js),
        ("page-admin.js", PackageResources.page_admin_js),
        ("page-admin-event.js", PackageResources.page_admin_event_js),
        ("page-queue.js", PackageResources.page_queue_js),
        ("page-seats.js", PackageResources.page_seats_js),
    ]

    /// Nothing from another host, no inline script or style, no framing.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    let assets: [String: Asset]
    let shell: Asset

    init() {
        var assets: [String: Asset] = [:]
        for file in Self.files {
            assets[file.name] = Self.asset(file.bytes, type: file.name.hasSuffix(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8")
        }
        self.assets = assets
        self.shell = Self.asset(PackageResources.index_html, type: "text/html; charset=utf-8")
    }

    static func asset(_ bytes: [UInt8], type: String) -> Asset {
        let digest = SHA256.hash(data: bytes).prefix(12).map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined()
        return Asset(body: CompressibleBody(bytes), contentType: type, etag: "\"\(digest)\"")
    }

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.get("/") { _, _ in Response(status: .found, headers: [.location: "/app/"]) }
        router.get("/app/assets/{name}") { request, context in
            guard let name = context.parameters.get("name"), let asset = assets[name] else { throw Problem.notFound("No such file.") }
            return Self.respond(asset, to: request, cacheControl: "public, max-age=3600, must-revalidate")
        }
        // Every page of the app is the same shell; its script shows the page the path names.
        router.get("/app/") { [shell] request, _ in Self.respond(shell, to: request, cacheControl: "no-cache") }
        router.get("/app/**") { [shell] request, _ in Self.respond(shell, to: request, cacheControl: "no-cache") }
    }

    static func respond(_ asset: Asset, to request: Request, cacheControl: String) -> Response {
        var headers: HTTPFields = [
            .eTag: asset.etag, .cacheControl: cacheControl, .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff", .referrerPolicy: "no-referrer", .vary: "Accept-Encoding",
        ]
        if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) == true {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return asset.body.response(to: request, headers: headers)
    }
}

/// A response body with its gzip, made once: sent gzipped to a client that accepts it, when that
/// saves at least a tenth.
struct CompressibleBody: Sendable {
    let plain: ByteBuffer
    let gzipped: ByteBuffer?

    init(_ bytes: [UInt8]) {
        plain = ByteBuffer(bytes: bytes)
        var input = plain
        let gzipped = try? input.compress(with: .gzip(), allocator: ByteBufferAllocator())
        self.gzipped = gzipped.flatMap { $0.readableBytes * 10 <= bytes.count * 9 ? $0 : nil }
    }

    /// 200 with `headers` (which should say `Vary: Accept-Encoding`) and the body, gzipped if accepted.
    func response(to request: Request, headers: HTTPFields) -> Response {
        var headers = headers
        if let gzipped, request.headers[.acceptEncoding]?.contains("gzip") == true {
            headers[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: gzipped))
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: plain))
    }
}

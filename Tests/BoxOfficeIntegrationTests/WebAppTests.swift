import BoxOfficeAPI
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The web app's files as the API serves them: the shell for every page, assets with ETag,
/// 304, gzip and a strict Content-Security-Policy, and the whole app under 100 KB.
@Suite("Web app files (live server)")
struct WebAppTests {
    @Test func shellAssetsCachingAndPolicy() async throws {
        try await withAPI { client, _ in
            let root = try await client.call(.get, "/")
            #expect(root.status == .found && root.headers[.location] == "/app/")
            for page in ["/app/", "/app/events/ev_1", "/app/reservations/x.y", "/app/bookings", "/app/login", "/app/admin/events/ev_1"] {
                let r = try await client.call(.get, page)
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/html") == true, "\(page)")
                let policy = r.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"), "\(page): \(policy)")
            }
            let shell = String(buffer: try await client.call(.get, "/app/").body)
            #expect(!shell.contains("http://") && !shell.contains("https://"), "the shell loads nothing from another host")

            let script = try await client.call(.get, "/app/assets/main.js")
            #expect(script.status == .ok && script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            let etag = try #require(script.headers[.eTag])
            let again = try await client.execute(uri: "/app/assets/main.js", method: .get, headers: [.ifNoneMatch: etag], body: nil)
            #expect(again.status == .notModified)
            let zipped = try await client.execute(uri: "/app/assets/main.js", method: .get, headers: [.acceptEncoding: "gzip, br"], body: nil)
            #expect(zipped.headers[.contentEncoding] == "gzip" && zipped.body.readableBytes < script.body.readableBytes)
            #expect(try await client.call(.get, "/app/assets/nothing.js").status == .notFound)

            var weight = 0
            for name in ["app.css", "main.js", "page-list.js", "page-event.js", "page-checkout.js", "page-bookings.js", "page-register.js",
                         "page-login.js", "page-logout.js", "page-admin.js", "page-admin-event.js", "page-queue.js"] {
                let r = try await client.call(.get, "/app/assets/\(name)")
                #expect(r.status == .ok, "\(name)")
                weight += r.body.readableBytes
            }
            print("web app: all JS and CSS weigh \(weight) bytes uncompressed")
            #expect(weight < 100_000)
        }
    }

    @Test func theOnSaleViewReadsStockAsAnAdminOnly() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h, stock: 7)
            #expect(try await client.call(.get, "/events/\(event)/stock", token: h.buyer).status == .forbidden)
            let r = try await client.call(.get, "/events/\(event)/stock", token: h.admin)
            #expect(r.status == .ok)
            let categories = try #require(r.json["categories"] as? [[String: Any]])
            #expect(categories.first?["total"] as? Int == 7 && categories.first?["available"] as? Int == 7 && categories.first?["held"] as? Int == 0)
        }
    }
}

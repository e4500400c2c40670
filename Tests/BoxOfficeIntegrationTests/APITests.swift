import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficePostgres
import BoxOfficeRuntime
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("HTTP API, live server on the test stack")
struct APITests {
    // MARK: Accounts

    @Test func signUpLogInAndUseTheToken() async throws {
        try await withAPI { client, h in
            let email = "Ada.\(randomHex(bytes: 4))@Example.com"
            let created = try await client.call(.post, "/users", json: ["name": "Ada", "email": email, "password": "correct horse"])
            #expect(created.status == .created)
            #expect(created.json["email"] as? String == email)
            #expect(created.json["password"] == nil && created.json["password_hash"] == nil)

            let again = try await client.call(.post, "/users", json: ["name": "Ada", "email": email.lowercased(), "password": "correct horse"])
            #expect(again.status == .conflict)
            #expect(again.problemCode == "email_taken")

            let login = try await client.call(.post, "/auth/login", json: ["email": email.uppercased(), "password": "correct horse"])
            #expect(login.status == .ok)
            #expect(login.json["token_type"] as? String == "Bearer")
            let token = try #require(login.json["access_token"] as? String)
            let claims = try await h.tokens.verify(token)
            #expect(claims.subject == created.json["id"] as? String && claims.role == "user")

            let wrong = try await client.call(.post, "/auth/login", json: ["email": email, "password": "wrong horse"])
            let unknown = try await client.call(.post, "/auth/login", json: ["email": "nobody-\(randomHex(bytes: 4))@example.com", "password": "whatever1"])
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(wrong.json["detail"] as? String == unknown.json["detail"] as? String, "unknown email and wrong password look the same")
        }
    }

    @Test func signUpValidation() async throws {
        try await withAPI { client, _ in
            let cases: [[String: Any]] = [
                ["name": "", "email": "a@b.co", "password": "12345678"],
                ["name": String(repeating: "n", count: 101), "email": "a@b.co", "password": "12345678"],
                ["name": "A", "email": "not-an-email", "password": "12345678"],
                ["name": "A", "email": "a@b.co", "password": "short"],
                ["name": "A", "email": "a@b.co", "password": String(repeating: "p", count: 73)],
                ["name": "A", "email": "a@b.co"],
                ["name": 5, "email": "a@b.co", "password": "12345678"],
            ]
            for body in cases {
                let r = try await client.call(.post, "/users", json: body)
                #expect(r.status == .unprocessableContent, "\(body)")
                #expect(r.problemCode == "validation_failed")
            }
            let malformed = try await client.call(.post, "/users", raw: "{\"name\":")
            #expect(malformed.status == .badRequest && malformed.problemCode == "malformed_json")
            let xml = try await client.call(.post, "/users", raw: "<a/>", headers: [.contentType: "application/xml"])
            #expect(xml.status == .unsupportedMediaType)
        }
    }

    @Test func rateLimitsAnswer429WithHeaders() async throws {
        try await withAPI(["BOXOFFICE_RATE_RESERVE_PER_SECOND": "1", "BOXOFFICE_RATE_RESERVE_BURST": "3"]) { client, h in
            let event = try await makeEvent(client, h, stock: 100)
            // The burst of 3 passes; then requests come faster than one a second until one is refused.
            // (Stopping at the first 429, not after a fixed count: on a loaded machine a fixed number of
            // requests may take long enough for the budget to refill.)
            var statuses: [HTTPResponse.Status] = []
            var refused: TestResponse? = nil
            for _ in 0..<20 where refused == nil {
                let r = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": event, "category": "floor", "qty": 1])
                statuses.append(r.status)
                if r.status == .tooManyRequests { refused = r }
            }
            #expect(statuses.prefix(3).allSatisfy { $0 == .created })
            #expect(statuses.allSatisfy { $0 == .created || $0 == .tooManyRequests })
            let limited = try #require(refused, "no 429 in 20 requests at 1/s with a burst of 3: \(statuses)")
            #expect(limited.status == .tooManyRequests && limited.problemCode == "rate_limited")
            #expect(limited.headers[.retryAfter] != nil)
            #expect(limited.headers[HTTPField.Name("RateLimit-Limit")!] == "3")
            // Another buyer has a budget of their own.
            let other = try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": event, "category": "floor", "qty": 1])
            #expect(other.status == .created)
        }
    }

    // MARK: Catalog

    @Test func catalogNeedsAnAdminAndValidates() async throws {
        try await withAPI { client, h in
            let body: [String: Any] = ["name": "Tour", "venue": "Arena", "starts_at": "2027-06-01T19:30:00Z"]
            #expect(try await client.call(.post, "/events", json: body).status == .unauthorized)
            #expect(try await client.call(.post, "/events", token: h.buyer, json: body).problemCode == "forbidden")
            #expect(try await client.call(.post, "/events", token: "not.a.jwt", json: body).status == .unauthorized)
            let forged = try await h.tokens.issue(subject: "x", role: .admin) + "x"
            #expect(try await client.call(.post, "/events", token: forged, json: body).status == .unauthorized)
            #expect(try await client.call(.post, "/events", token: h.admin, json: ["name": "Tour", "venue": "Arena", "starts_at": "tomorrow"]).status == .unprocessableContent)
            #expect(try await client.call(.post, "/events", token: h.admin, json: ["name": "Tour"]).status == .unprocessableContent)

            let created = try await client.call(.post, "/events", token: h.admin, json: body)
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? String)
            #expect(created.json["starts_at"] as? String == "2027-06-01T19:30:00Z")
            #expect((created.json["categories"] as? [Any])?.isEmpty == true)

            let category: [String: Any] = ["name": "floor", "total_stock": 100, "price": 8_900, "max_per_user": 4]
            #expect(try await client.call(.post, "/events/\(id)/ticket-category", token: h.buyer, json: category).status == .forbidden)
            let cat = try await client.call(.post, "/events/\(id)/ticket-category", token: h.admin, json: category)
            #expect(cat.status == .created)
            #expect(cat.json["currency"] as? String == "EUR" && cat.json["max_per_user"] as? Int == 4)
            #expect(try await client.call(.post, "/events/\(id)/ticket-category", token: h.admin, json: category).status == .conflict)
            #expect(try await client.call(.post, "/events/ev_nope/ticket-category", token: h.admin, json: category).status == .notFound)
            for bad: [String: Any] in [
                ["name": "floor|x", "total_stock": 1, "price": 1], ["name": "b", "total_stock": -1, "price": 1],
                ["name": "b", "total_stock": 1, "price": -5], ["name": "b", "total_stock": 1, "price": 1, "currency": "euro"],
                ["name": "b", "total_stock": 1, "price": 1, "max_per_user": 0], ["name": "b", "total_stock": "many", "price": 1],
            ] {
                #expect(try await client.call(.post, "/events/\(id)/ticket-category", token: h.admin, json: bad).status == .unprocessableContent, "\(bad)")
            }

            let event = try await client.call(.get, "/events/\(id)")
            #expect(event.status == .ok)
            #expect((event.json["categories"] as? [[String: Any]])?.first?["name"] as? String == "floor")
            #expect(try await client.call(.get, "/events/ev_0000000000000000").problemCode == "not_found")
            #expect(try await client.call(.get, "/events/%20bad%2F..").status == .notFound)

            let availability = try await client.call(.get, "/events/\(id)/availability")
            let floor = try #require((availability.json["categories"] as? [[String: Any]])?.first)
            #expect(floor["total"] as? Int == 100 && floor["available"] as? Int == 100 && floor["price"] as? Int == 8_900)
            #expect(try await client.call(.get, "/events/ev_0000000000000000/availability").status == .notFound)

            let list = try await client.call(.get, "/events?limit=100")
            #expect(list.status == .ok)
            #expect(list.json.keys.contains("next_cursor"))
            #expect(try await client.call(.get, "/events?limit=0").status == .unprocessableContent)
            #expect(try await client.call(.get, "/events?cursor=garbage!").status == .unprocessableContent)
        }
    }

    @Test func eventListPaginatesWithCursor() async throws {
        try await withAPI { client, h in
            for _ in 0..<3 {
                #expect(try await client.call(.post, "/events", token: h.admin, json: ["name": "P", "venue": "V", "starts_at": "2090-01-01T00:00:00Z"]).status == .created)
            }
            var seen = Set<String>()
            var cursor: String? = nil
            var pages = 0
            repeat {
                let page = try await client.call(.get, "/events?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == .ok)
                for item in page.json["items"] as? [[String: Any]] ?? [] { #expect(seen.insert(item["id"] as? String ?? "").inserted, "no repeats") }
                cursor = page.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10_000
            #expect(seen.count >= 3)
        }
    }

    // MARK: Reservations

    @Test func reserveConfirmCancelAndTheirErrors() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h, stock: 6, maxPerUser: 3)
            let reserve: [String: Any] = ["event_id": event, "category": "floor", "qty": 2]
            #expect(try await client.call(.post, "/reserve", json: reserve).status == .unauthorized)

            let held = try await client.call(.post, "/reserve", token: h.buyer, json: reserve)
            #expect(held.status == .created)
            #expect(held.json["status"] as? String == "held" && held.json["amount"] as? Int == 10_000 && held.json["currency"] as? String == "EUR")
            let rid = try #require(held.json["reservation_id"] as? String)
            #expect(RFC3339Check.valid(held.json["expires_at"] as? String))

            #expect(try await client.call(.post, "/reserve", token: h.buyer, json: reserve).problemCode == "limit_exceeded")
            #expect(try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": event, "category": "floor", "qty": 3]).status == .created)
            let third = try await h.token(sub: "third-" + randomHex(bytes: 4))
            #expect(try await client.call(.post, "/reserve", token: third, json: ["event_id": event, "category": "floor", "qty": 2]).problemCode == "sold_out")
            #expect(try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": event, "category": "balcony", "qty": 1]).status == .notFound)
            #expect(try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": "ev_0000000000000000", "category": "floor", "qty": 1]).status == .notFound)
            for bad: [String: Any] in [
                ["event_id": event, "category": "floor", "qty": 0], ["event_id": event, "category": "floor", "qty": -1],
                ["event_id": event, "category": "floor", "qty": 11], ["event_id": event, "category": "floor", "qty": 1_000_000_000_000],
                ["event_id": event, "category": "floor", "qty": 1.5], ["event_id": event, "category": "floor", "qty": "2"],
                ["event_id": event, "category": "floor"], ["event_id": "bad id!", "category": "floor", "qty": 1],
            ] {
                let r = try await client.call(.post, "/reserve", token: h.buyer, json: bad)
                #expect(r.status == .unprocessableContent, "\(bad) → \(r.status)")
            }
            let huge = try await client.call(.post, "/reserve", token: h.buyer, raw: "{\"pad\":\"" + String(repeating: "x", count: 20_000) + "\"}")
            #expect(huge.status == .contentTooLarge)

            // Someone else's reservation.
            #expect(try await client.call(.get, "/reservations/\(rid)", token: h.otherBuyer).status == .forbidden)
            #expect(try await client.call(.post, "/confirm", token: h.otherBuyer, json: ["reservation_id": rid, "payment_ok": true]).status == .forbidden)
            #expect(try await client.call(.post, "/reservations/\(rid)/cancel", token: h.otherBuyer).status == .forbidden)
            #expect(try await client.call(.get, "/reservations/\(event).00000000000000000000", token: h.buyer).status == .notFound)
            #expect(try await client.call(.get, "/reservations/garbage", token: h.buyer).status == .notFound)
            #expect(try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": "garbage", "payment_ok": true]).status == .notFound)

            // A declined payment keeps the hold; then pay; a repeat returns the first result.
            let declined = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": rid, "payment_ok": false])
            #expect(declined.status.code == 402 && declined.problemCode == "payment_failed")
            #expect(try await client.call(.get, "/reservations/\(rid)", token: h.buyer).json["status"] as? String == "held")
            let paid = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": rid, "payment_ok": true])
            #expect(paid.status == .ok && paid.json["status"] as? String == "confirmed")
            let again = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": rid, "payment_ok": true])
            #expect(again.status == .ok && again.json["payment_ref"] as? String == paid.json["payment_ref"] as? String)
            #expect(try await client.call(.post, "/reservations/\(rid)/cancel", token: h.buyer).problemCode == "not_held")

            // Cancel a fresh hold, then confirming it is a conflict.
            let second = try await client.call(.post, "/reserve", token: third, json: ["event_id": event, "category": "floor", "qty": 1])
            let rid2 = try #require(second.json["reservation_id"] as? String)
            let cancelled = try await client.call(.post, "/reservations/\(rid2)/cancel", token: third)
            #expect(cancelled.status == .ok && cancelled.json["status"] as? String == "cancelled")
            #expect(try await client.call(.post, "/confirm", token: third, json: ["reservation_id": rid2, "payment_ok": true]).problemCode == "not_held")

            let availability = try await client.call(.get, "/events/\(event)/availability")
            let floor = try #require((availability.json["categories"] as? [[String: Any]])?.first)
            #expect(floor["available"] as? Int == 1)
        }
    }

    @Test func idempotencyKeyReturnsTheSameReservation() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h, stock: 10)
            let body: [String: Any] = ["event_id": event, "category": "floor", "qty": 1]
            let first = try await client.call(.post, "/reserve", token: h.buyer, json: body, headers: [HTTPField.Name("Idempotency-Key")!: "abc-1"])
            let second = try await client.call(.post, "/reserve", token: h.buyer, json: body, headers: [HTTPField.Name("Idempotency-Key")!: "abc-1"])
            #expect(first.status == .created && second.status == .created)
            #expect(first.json["reservation_id"] as? String == second.json["reservation_id"] as? String)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let badKey = try await client.call(.post, "/reserve", token: h.buyer, json: body, headers: [HTTPField.Name("Idempotency-Key")!: String(repeating: "k", count: 300)])
            #expect(badKey.status == .unprocessableContent)
        }
    }

    /// A payment after the hold's time whose tickets were sold meanwhile is refused (410) and owed
    /// back; one whose tickets are still there is accepted late (SeatAPITests has both).
    @Test func confirmAfterExpiryIsGone() async throws {
        try await withAPI(["BOXOFFICE_HOLD_TTL_SECONDS": "1"]) { client, h in
            let event = try await makeEvent(client, h, stock: 1)
            let held = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": event, "category": "floor", "qty": 1])
            let rid = try #require(held.json["reservation_id"] as? String)
            let expiresAt = try #require(RFC3339Check.date(held.json["expires_at"] as? String))
            // No sweeper runs in this harness: wait until the expiry has passed.
            #expect(await eventually(timeout: .seconds(5)) { Date() > expiresAt.addingTimeInterval(0.2) })
            // Another buyer takes the one ticket (the reserve lapses the due hold first).
            let other = try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": event, "category": "floor", "qty": 1])
            #expect(other.status == .created)
            let late = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": rid, "payment_ok": true])
            #expect(late.status == .gone && late.problemCode == "expired")
        }
    }

    @Test func myBookingsAreReadFromPostgresNewestFirst() async throws {
        try await withAPI { client, h in
            #expect(try await client.call(.get, "/me/bookings").status == .unauthorized)
            let empty = try await client.call(.get, "/me/bookings", token: h.buyer)
            #expect(empty.status == .ok && (empty.json["items"] as? [Any])?.isEmpty == true)
            // Rows as the worker writes them.
            let event = "ev_" + randomHex(bytes: 8)
            for i in 0..<5 {
                try await h.dependencies.postgres.query("""
                    INSERT INTO bookings (reservation_id, event_id, category, user_id, qty, amount, currency, status, created_at)
                    VALUES (\("\(event).\(randomHex(bytes: 10))"), \(event), \("floor"), \(h.buyerID), \(1), \(100), \("EUR"), \("confirmed"),
                            now() - make_interval(secs => \(Double(i))))
                    """)
            }
            var ids: [String] = []
            var cursor: String? = nil
            repeat {
                let page = try await client.call(.get, "/me/bookings?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: h.buyer)
                #expect(page.status == .ok)
                let items = page.json["items"] as? [[String: Any]] ?? []
                #expect(items.count <= 2)
                ids += items.compactMap { $0["reservation_id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(ids.count == 5 && Set(ids).count == 5)
            #expect(try await client.call(.get, "/me/bookings", token: h.otherBuyer).json["items"].map { ($0 as? [Any])?.isEmpty } == true)
        }
    }

    // MARK: Cross-cutting

    /// Redis or PostgreSQL down is a 503 `unavailable` with `Retry-After`, naming the request id the
    /// client was given, not a generic 500: the request may be retried (a reserve with its
    /// Idempotency-Key).
    @Test func backingServiceDownIsA503ThatInvitesARetry() async throws {
        let closed = "127.0.0.1:\(freePort())"
        let values = ProcessInfo.processInfo.environment
        guard let database = values["BOXOFFICE_DATABASE_URL"] else { throw TestStackMissing() }
        let nowhere = database.replacingOccurrences(of: #"@[^/]+/"#, with: "@\(closed)/", options: .regularExpression)
        try await withAPI(["BOXOFFICE_REDIS_URL": "redis://\(closed)", "BOXOFFICE_DATABASE_URL": nowhere]) { client, h in
            let requestID = HTTPField.Name("X-Request-ID")!
            let reserve = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": "ev_0000000000000000", "category": "floor", "qty": 1],
                                                headers: [requestID: "down-1"])
            #expect(reserve.status == .serviceUnavailable && reserve.problemCode == "inventory_unavailable", "\(reserve.status) \(String(buffer: reserve.body))")
            #expect(reserve.headers[.retryAfter] == "1")
            #expect(reserve.headers[requestID] == "down-1")
            #expect((reserve.json["detail"] as? String)?.contains("request id down-1") == true)
            #expect(!String(buffer: reserve.body).contains(closed), "the document names no host")
            let bookings = try await client.call(.get, "/me/bookings", token: h.buyer)
            #expect(bookings.status == .serviceUnavailable && bookings.problemCode == "unavailable", "\(bookings.status) \(String(buffer: bookings.body))")
        }
    }

    @Test func unknownRoutesRequestIDsAndHeaders() async throws {
        try await withAPI { client, _ in
            let missing = try await client.call(.get, "/no/such/route")
            #expect(missing.status == .notFound && missing.problemCode == "not_found")
            let wrongMethod = try await client.call(.delete, "/reserve")
            #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.problemCode == "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "POST")
            let wrongOnTemplate = try await client.call(.put, "/events/ev_0000000000000000")
            #expect(wrongOnTemplate.status == .methodNotAllowed && wrongOnTemplate.headers[.allow] == "GET")
            let echoed = try await client.call(.get, "/health", headers: [HTTPField.Name("X-Request-ID")!: "req-123"])
            #expect(echoed.headers[HTTPField.Name("X-Request-ID")!] == "req-123")
            let generated = try await client.call(.get, "/health", headers: [HTTPField.Name("X-Request-ID")!: "bad id with spaces"])
            #expect(generated.headers[HTTPField.Name("X-Request-ID")!] != nil && generated.headers[HTTPField.Name("X-Request-ID")!] != "bad id with spaces")
            #expect(missing.headers[HTTPField.Name("X-Request-ID")!] != nil, "errors carry the request id too")
            #expect(echoed.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            let cors = try await client.call(.get, "/health", headers: [.origin: "https://tickets.example"])
            #expect(cors.headers[.accessControlAllowOrigin] == "https://tickets.example")
            let foreign = try await client.call(.get, "/health", headers: [.origin: "https://evil.example"])
            #expect(foreign.headers[.accessControlAllowOrigin] == nil)
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.status == .ok)
            let docs = try await client.call(.get, "/docs")
            #expect(docs.status == .ok && String(buffer: docs.body).contains("/openapi.yaml"))
        }
    }

    @Test func everyRouteIsInTheServedOpenAPIDocument() async throws {
        let values = ProcessInfo.processInfo.environment
        guard values["BOXOFFICE_REDIS_URL"] != nil else { throw TestStackMissing() }
        let settings = try BoxOfficeSettings(values: values)
        let dependencies = try Dependencies(settings: settings, process: "openapi-test", logger: TestStack.logger)
        let router = await buildAPIRouter(settings: settings, dependencies: dependencies, registry: .init(), logger: TestStack.logger)
        let app = Application(router: router, logger: TestStack.logger)
        let spec = try await app.test(.router) { client in String(buffer: try await client.call(.get, "/openapi.yaml").body) }
        #expect(spec.hasPrefix("openapi: 3.1"))
        #expect(spec.contains("maximum: \(settings.maxQuantityPerRequest)  # BOXOFFICE_MAX_QTY_PER_REQUEST\n"),
                "the served document states the server's qty cap")
        for route in router.routes {
            let path = route.path.description.hasPrefix("/") ? route.path.description : "/" + route.path.description
            #expect(spec.contains("\n  \(path):\n"), "\(route.method) \(path) is missing from openapi.yaml")
            let method = route.method.rawValue.lowercased()
            if let section = spec.components(separatedBy: "\n  \(path):\n").dropFirst().first?.components(separatedBy: "\n  /").first {
                #expect(("\n" + section).contains("\n    \(method):"), "\(route.method) \(path) has no operation in openapi.yaml")
            }
        }
        await dependencies.kafkaProbe.shutdown()
        await dependencies.postgres.shutdown()
        dependencies.redis.shutdown()
    }

    @Test func fuzzedBodiesNeverCauseA5xxOrAWrite() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h, stock: 1_000)
            var rng = SystemRandomNumberGenerator()
            let routes = ["/reserve", "/confirm", "/users", "/auth/login", "/events", "/events/\(event)/ticket-category"]
            func randomJSON(_ depth: Int) -> Any {
                switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &rng) {
                case 0: return Int.random(in: Int.min...Int.max, using: &rng)
                case 1: return Double.random(in: -1e300...1e300, using: &rng)
                case 2: return String((0..<Int.random(in: 0..<40, using: &rng)).map { _ in Character(UnicodeScalar(UInt8.random(in: 32...126, using: &rng))) })
                case 3: return Bool.random(using: &rng)
                case 4: return NSNull()
                case 5: return (0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomJSON(depth + 1) }
                default:
                    var d: [String: Any] = [:]
                    for key in ["event_id", "category", "qty", "reservation_id", "payment_ok", "name", "email", "password", "venue", "starts_at", "total_stock", "price"].shuffled(using: &rng).prefix(Int.random(in: 0..<6, using: &rng)) {
                        d[key] = randomJSON(depth + 1)
                    }
                    return d
                }
            }
            for i in 0..<300 {
                let route = routes[i % routes.count]
                let token = [h.buyer, h.admin, nil].randomElement(using: &rng)!
                let r: TestResponse
                if i % 3 == 0 {
                    let bytes = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    r = try await client.call(.post, route, token: token, raw: String(decoding: bytes, as: UTF8.self))
                } else {
                    let value = randomJSON(0)
                    let data = try JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed])
                    let text = String(decoding: data, as: UTF8.self)
                    r = try await client.call(.post, route, token: token, raw: String(text.dropFirst().dropLast()))
                }
                #expect(r.status.code < 500, "\(route) answered \(r.status) to fuzz #\(i): \(String(buffer: r.body).prefix(200))")
                if r.status.code >= 400 { #expect(r.problemCode != nil, "errors are problem documents") }
            }
            let availability = try await client.call(.get, "/events/\(event)/availability")
            let floor = try #require((availability.json["categories"] as? [[String: Any]])?.first)
            #expect(floor["total"] as? Int == 1_000)
        }
    }
}

enum RFC3339Check {
    static func date(_ s: String?) -> Date? {
        guard let s else { return nil }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s)) ?? (try? Date.ISO8601FormatStyle().parse(s))
    }

    static func valid(_ s: String?) -> Bool { date(s) != nil && s?.hasSuffix("Z") == true }
}

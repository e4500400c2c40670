import BoxOfficeAPI
import BoxOfficeDomain
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The waiting room over HTTP on a live server: settings, joining, admission tokens and the
/// reserves they allow.
@Suite("Waiting room API (live server)")
struct WaitingRoomAPITests {
    static let admission = HTTPField.Name("Admission-Token")!

    static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    @Test func settingsAreValidatedShownAndRemoved() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h)
            let path = "/events/\(event)/queue"
            #expect(try await client.call(.get, path).status == .notFound)
            #expect(try await client.call(.put, path, token: h.buyer, json: ["opens_at": Self.iso(Date()), "admit_per_minute": 10]).status == .forbidden)
            for bad: [String: Any] in [["opens_at": "soon", "admit_per_minute": 10], ["opens_at": Self.iso(Date()), "admit_per_minute": 0],
                                       ["opens_at": Self.iso(Date()), "admit_per_minute": 10, "session_minutes": 0],
                                       ["opens_at": Self.iso(Date()), "admit_per_minute": 10, "max_active": -1]] {
                let r = try await client.call(.put, path, token: h.admin, json: bad)
                #expect(r.status == .unprocessableContent && r.problemCode == "validation_failed", "\(bad)")
            }
            #expect(try await client.call(.put, "/events/ev_0000000000000000/queue", token: h.admin,
                                          json: ["opens_at": Self.iso(Date()), "admit_per_minute": 10]).status == .notFound)
            let opens = Date().addingTimeInterval(3_600)
            let put = try await client.call(.put, path, token: h.admin, json: ["opens_at": Self.iso(opens), "admit_per_minute": 600, "max_active": 50])
            #expect(put.status == .ok)
            let shown = try await client.call(.get, path)
            #expect(shown.status == .ok)
            #expect(shown.json["state"] as? String == "scheduled" && shown.json["admit_per_minute"] as? Int == 600)
            #expect(shown.json["pre_queue_minutes"] as? Int == 15 && shown.json["session_minutes"] as? Int == 10 && shown.json["max_active"] as? Int == 50)
            let early = try await client.call(.post, path + "/join", token: h.buyer)
            #expect(early.status == .conflict && early.problemCode == "queue_not_open")
            #expect(try await client.call(.delete, path, token: h.admin).status == .noContent)
            #expect(try await client.call(.get, path).status == .notFound)
        }
    }

    /// A buyer joins, waits, is admitted and reserves with the token; every other token is
    /// refused with 403 `not_admitted`, and nothing is held for it.
    @Test func onlyTheBuyersOwnAdmissionForThisEventLetsThemReserve() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h, stock: 10)
            let other = try await makeEvent(client, h, stock: 10)
            // The other event's room admits everyone at once; this one is paused at first.
            for (id, paused) in [(event, true), (other, false)] {
                let put = try await client.call(.put, "/events/\(id)/queue", token: h.admin,
                                                json: ["opens_at": Self.iso(Date().addingTimeInterval(-5)), "admit_per_minute": 60_000, "paused": paused])
                #expect(put.status == .ok)
            }
            let reserve: [String: Any] = ["event_id": event, "category": "floor", "qty": 1]
            func reserveWith(_ token: String?, as buyer: String? = nil) async throws -> TestResponse {
                try await client.call(.post, "/reserve", token: buyer ?? h.buyer, json: reserve, headers: token.map { [Self.admission: $0] } ?? [:])
            }
            let none = try await reserveWith(nil)
            #expect(none.status == .forbidden && none.problemCode == "not_admitted")

            let joined = try await client.call(.post, "/events/\(event)/queue/join", token: h.buyer)
            #expect(joined.status == .accepted)
            #expect(joined.json["state"] as? String == "waiting" && joined.json["position"] as? Int == 1)
            #expect(joined.headers[.retryAfter] == String(joined.json["poll_after_seconds"] as? Int ?? -1))
            let again = try await client.call(.post, "/events/\(event)/queue/join", token: h.buyer)
            #expect(again.json["ticket"] as? String == joined.json["ticket"] as? String && again.json["position"] as? Int == 1, "one place per buyer")
            let waiting = try await client.call(.get, "/events/\(event)/queue/me", token: h.buyer)
            #expect(waiting.status == .ok && waiting.json["admission_token"] == nil)
            #expect(try await client.call(.get, "/events/\(event)/queue/me", token: h.otherBuyer).status == .notFound)

            // Tokens that must not work: forged, an access token, another buyer's, another event's, expired.
            let otherJoin = try await client.call(.post, "/events/\(other)/queue/join", token: h.otherBuyer)
            #expect(otherJoin.status == .accepted)
            _ = try await client.call(.post, "/events/\(other)/queue/join", token: h.buyer)
            let otherEvents = try await client.call(.get, "/events/\(other)/queue/me", token: h.buyer)
            let otherEventToken = try #require(otherEvents.json["admission_token"] as? String, "admitted at once: \(otherEvents.json)")
            let otherBuyers = try await h.tokens.issueAdmission(subject: "someone-else", event: event, expiresAt: Date().addingTimeInterval(600))
            let expired = try await h.tokens.issueAdmission(subject: h.buyerID, event: event, expiresAt: Date().addingTimeInterval(-10))
            let forgedIssuer = await TokenIssuer(secret: String(repeating: "x", count: 48))
            let forged = try await forgedIssuer.issueAdmission(subject: h.buyerID, event: event, expiresAt: Date().addingTimeInterval(600))
            for (name, token) in [("forged", forged), ("an access token", h.buyer), ("another buyer's", otherBuyers),
                                  ("another event's", otherEventToken), ("expired", expired), ("garbage", "x.y.z")] {
                let r = try await reserveWith(token)
                #expect(r.status == .forbidden && r.problemCode == "not_admitted", "\(name) token: \(r.status)")
            }
            let availability = try await client.call(.get, "/events/\(event)/availability")
            #expect(String(buffer: availability.body).contains("\"available\":10"), "nothing was held")

            // Resumed: the buyer is admitted on the next poll and reserves with the token.
            #expect(try await client.call(.put, "/events/\(event)/queue", token: h.admin,
                                          json: ["opens_at": Self.iso(Date().addingTimeInterval(-5)), "admit_per_minute": 60_000]).status == .ok)
            let admitted = try await client.call(.get, "/events/\(event)/queue/me", token: h.buyer)
            #expect(admitted.json["state"] as? String == "admitted" && admitted.json["position"] as? Int == 0)
            let token = try #require(admitted.json["admission_token"] as? String)
            #expect(admitted.json["admission_expires_at"] is String)
            #expect(try await reserveWith(token, as: h.otherBuyer).problemCode == "not_admitted", "the token is the buyer's own")
            let held = try await reserveWith(token)
            #expect(held.status == .created, "\(held.status) \(String(buffer: held.body))")
            let status = try await client.call(.get, "/events/\(event)/queue")
            #expect(status.json["state"] as? String == "open" && status.json["admitted"] as? Int == 1)
        }
    }

    @Test func joinsFromOneAddressAreRateLimited() async throws {
        try await withAPI(["BOXOFFICE_RATE_QUEUE_JOIN_PER_MINUTE": "3"]) { client, h in
            let event = try await makeEvent(client, h)
            _ = try await client.call(.put, "/events/\(event)/queue", token: h.admin, json: ["opens_at": Self.iso(Date()), "admit_per_minute": 10])
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<5 { statuses.append(try await client.call(.post, "/events/\(event)/queue/join", token: try await h.token(sub: "j\(i)")).status) }
            #expect(statuses.filter { $0 == .accepted }.count == 3 && statuses.last == .tooManyRequests, "\(statuses)")
        }
    }
}

import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeInventory
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Seat maps, seated reserves, refunds, late payments and per-event settings over HTTP on a live server.
@Suite("Seats, refunds and late payments (live server)")
struct SeatAPITests {
    static func mapJSON(rows: Int, width: Int) -> [String: Any] {
        ["sections": [["name": "Stalls", "rows": (1...rows).map { r in
            ["name": "\(r)", "seats": (1...width).map(String.init), "x": 0, "y": r * 10] as [String: Any]
        }]]]
    }

    /// An event whose category `floor` (created with `stock`) gets a map of `rows` × `width` seats.
    static func seatedEvent(_ client: any TestClientProtocol, _ h: APIHarness, rows: Int, width: Int) async throws -> String {
        let event = try await makeEvent(client, h, stock: 1)
        let put = try await client.call(.put, "/events/\(event)/categories/floor/seats", token: h.admin, json: mapJSON(rows: rows, width: width))
        #expect(put.status == .ok, "\(put.json)")
        #expect(put.json["seats"] as? Int == rows * width)
        return event
    }

    @Test func eventSettingsAreValidatedShownAndUsedForHolds() async throws {
        try await withAPI { client, h in
            for bad: [String: Any] in [["hold_ttl_seconds": 29], ["hold_ttl_seconds": 3_601], ["refund_cutoff_hours": -1]] {
                var body: [String: Any] = ["name": "Tour", "venue": "Arena", "starts_at": "2027-06-01T19:30:00Z"]
                body.merge(bad) { $1 }
                let r = try await client.call(.post, "/events", token: h.admin, json: body)
                #expect(r.status == .unprocessableContent && r.problemCode == "validation_failed", "\(bad)")
            }
            let created = try await client.call(.post, "/events", token: h.admin, json: [
                "name": "Tour", "venue": "Arena", "starts_at": "2027-06-01T19:30:00Z", "hold_ttl_seconds": 45, "refund_cutoff_hours": 48])
            #expect(created.status == .created)
            #expect(created.json["hold_ttl_seconds"] as? Int == 45 && created.json["refund_cutoff_hours"] as? Int == 48)
            let id = try #require(created.json["id"] as? String)
            #expect(try await client.call(.post, "/events/\(id)/ticket-category", token: h.admin,
                                          json: ["name": "floor", "total_stock": 5, "price": 100]).status == .created)
            let r = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": id, "category": "floor", "qty": 1])
            #expect(r.status == .created)
            let iso = ISO8601DateFormatter()
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let createdAt = try #require(iso.date(from: r.json["created_at"] as? String ?? ""))
            let expiresAt = try #require(iso.date(from: r.json["expires_at"] as? String ?? ""))
            #expect(abs(expiresAt.timeIntervalSince(createdAt) - 45) < 0.01)
            // Without the setting, the server's default.
            let plain = try await makeEvent(client, h)
            #expect(try await client.call(.get, "/events/\(plain)").json["hold_ttl_seconds"] as? Int == h.settings.holdTTLSeconds)
        }
    }

    @Test func seatMapsAreValidatedAndSeatsReservedPickedOrBest() async throws {
        try await withAPI { client, h in
            let event = try await makeEvent(client, h, stock: 1)
            let path = "/events/\(event)/categories/floor/seats"
            #expect(try await client.call(.put, path, token: h.buyer, json: Self.mapJSON(rows: 1, width: 2)).status == .forbidden)
            #expect(try await client.call(.put, "/events/\(event)/categories/nope/seats", token: h.admin, json: Self.mapJSON(rows: 1, width: 2)).status == .notFound)
            for bad: [String: Any] in [["sections": []], ["sections": [["name": "A", "rows": []]]],
                                       ["sections": [["name": "A", "rows": [["name": "1", "seats": ["1", "1"]]]]]],
                                       ["sections": [["name": "A,B", "rows": [["name": "1", "seats": ["1"]]]]]],
                                       ["sections": [["name": "A", "rows": [["name": "1", "seats": [""]]]]]]] {
                let r = try await client.call(.put, path, token: h.admin, json: bad)
                #expect(r.status == .unprocessableContent && r.problemCode == "validation_failed", "\(bad)")
            }
            #expect(try await client.call(.put, path, token: h.admin, json: Self.mapJSON(rows: 3, width: 6)).status == .ok)
            let shown = try await client.call(.get, "/events/\(event)")
            let category = try #require((shown.json["categories"] as? [[String: Any]])?.first)
            #expect(category["seated"] as? Bool == true && category["total_stock"] as? Int == 18)

            // Picked seats, then a collision naming the seat taken, then best available.
            let picked = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": event, "category": "floor", "seats": ["Stalls-1-3", "Stalls-1-4"]])
            #expect(picked.status == .created && picked.json["seats"] as? [String] == ["Stalls-1-3", "Stalls-1-4"] && picked.json["qty"] as? Int == 2)
            let clash = try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": event, "category": "floor", "seats": ["Stalls-1-4", "Stalls-1-5"]])
            #expect(clash.status == .conflict && clash.problemCode == "seats_taken" && clash.json["seats"] as? [String] == ["Stalls-1-4"])
            let best = try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": event, "category": "floor", "qty": 3, "best_available": true])
            // Row 1 has no three together; in row 2, 3-5 and 2-4 would leave a lone seat, 1-3 and 4-6
            // do not and are as near the middle: the left one.
            #expect(best.status == .created && best.json["seats"] as? [String] == ["Stalls-2-1", "Stalls-2-2", "Stalls-2-3"], "\(best.json)")
            // A plain qty on a seated category is best available: row 1's free pairs, the left one.
            let plain = try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": event, "category": "floor", "qty": 2])
            #expect(plain.status == .created && plain.json["seats"] as? [String] == ["Stalls-1-1", "Stalls-1-2"])
            for bad: [String: Any] in [["seats": ["Stalls-9-9"]], ["seats": ["Stalls-1-1", "Stalls-1-1"]], ["seats": []],
                                       ["seats": ["Stalls-1-1"], "qty": 2], ["seats": ["Stalls-1-1"], "best_available": true]] {
                var body: [String: Any] = ["event_id": event, "category": "floor"]
                body.merge(bad) { $1 }
                let r = try await client.call(.post, "/reserve", token: h.buyer, json: body)
                #expect(r.status == .unprocessableContent, "\(bad): \(r.status)")
            }
            // Seats asked of general admission.
            let ga = try await makeEvent(client, h)
            let notSeated = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": ga, "category": "floor", "qty": 1, "best_available": true])
            #expect(notSeated.status == .unprocessableContent && notSeated.problemCode == "not_seated")
            // The map no longer changes once seats are held.
            let again = try await client.call(.put, path, token: h.admin, json: Self.mapJSON(rows: 1, width: 2))
            #expect(again.status == .conflict && again.problemCode == "stock_committed")

            // The seats document: states per row as runs.
            let seats = try await client.call(.get, "/events/\(event)/seats")
            #expect(seats.status == .ok)
            let cat = try #require((seats.json["categories"] as? [[String: Any]])?.first)
            #expect(cat["held"] as? Int == 7 && cat["available"] as? Int == 11 && cat["sold"] as? Int == 0)
            let rows = try #require(((cat["sections"] as? [[String: Any]])?.first?["rows"]) as? [[String: Any]])
            #expect(rows.first?["states"] as? String == "4h2a" && rows.first?["first"] as? Int == 1 && rows.first?["count"] as? Int == 6)
            // Confirming sells exactly those seats.
            let id = try #require(picked.json["reservation_id"] as? String)
            #expect(try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": id, "payment_ok": true]).status == .ok)
            try await Task.sleep(for: .milliseconds(250))  // the seats document is shared for 200 ms
            let after = try await client.call(.get, "/events/\(event)/seats")
            let row1 = (((after.json["categories"] as? [[String: Any]])?.first?["sections"] as? [[String: Any]])?.first?["rows"] as? [[String: Any]])?.first
            #expect(row1?["states"] as? String == "2h2s2a")
        }
    }

    /// 100,000 seats (500 rows of 200) read back in well under 50 KB, compressed or not.
    @Test func theSeatsOfAHundredThousandSeatMapAreSmallOnTheWire() async throws {
        try await withAPI { client, h in
            let event = try await Self.seatedEvent(client, h, rows: 500, width: 200)
            for _ in 0..<20 {
                let r = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": event, "category": "floor", "qty": 4, "best_available": true])
                #expect(r.status == .created)
            }
            let plain = try await client.call(.get, "/events/\(event)/seats")
            #expect(plain.status == .ok && plain.body.readableBytes <= 50_000, "\(plain.body.readableBytes) bytes")
            let gzipped = try await client.call(.get, "/events/\(event)/seats", headers: [.acceptEncoding: "gzip"])
            #expect(gzipped.headers[.contentEncoding] == "gzip" && gzipped.body.readableBytes <= 50_000)
            let cat = try #require((plain.json["categories"] as? [[String: Any]])?.first)
            #expect(cat["total"] as? Int == 100_000 && cat["held"] as? Int == 80)
            // The event's seats are capped: a second map would pass 100,000.
            #expect(try await client.call(.post, "/events/\(event)/ticket-category", token: h.admin,
                                          json: ["name": "balcony", "total_stock": 1, "price": 100]).status == .created)
            let over = try await client.call(.put, "/events/\(event)/categories/balcony/seats", token: h.admin, json: Self.mapJSON(rows: 1, width: 1))
            #expect(over.status == .unprocessableContent)
        }
    }

    @Test func refundsByOwnerUntilTheCutOffAndByAdminAnyTime() async throws {
        try await withAPI { client, h in
            // Starts in an hour, refunds close 24 h before: the owner is too late, an admin is not.
            let soon = Date().addingTimeInterval(3_600).formatted(Date.ISO8601FormatStyle())
            let closed = try #require(try await client.call(.post, "/events", token: h.admin, json: ["name": "Soon", "venue": "Club", "starts_at": soon]).json["id"] as? String)
            #expect(try await client.call(.post, "/events/\(closed)/ticket-category", token: h.admin, json: ["name": "floor", "total_stock": 2, "price": 100]).status == .created)
            let open = try await makeEvent(client, h, stock: 3, maxPerUser: 2)

            func buy(_ event: String, _ token: String) async throws -> String {
                let r = try await client.call(.post, "/reserve", token: token, json: ["event_id": event, "category": "floor", "qty": 2])
                #expect(r.status == .created)
                let id = try #require(r.json["reservation_id"] as? String)
                #expect(try await client.call(.post, "/confirm", token: token, json: ["reservation_id": id, "payment_ok": true]).status == .ok)
                return id
            }
            let held = try #require(try await client.call(.post, "/reserve", token: h.otherBuyer, json: ["event_id": open, "category": "floor", "qty": 1]).json["reservation_id"] as? String)
            let notConfirmed = try await client.call(.post, "/reservations/\(held)/refund", token: h.otherBuyer)
            #expect(notConfirmed.status == .conflict && notConfirmed.problemCode == "not_confirmed")

            let mine = try await buy(open, h.buyer)
            #expect(try await client.call(.post, "/reservations/\(mine)/refund", token: h.otherBuyer).status == .forbidden)
            #expect(try await client.call(.post, "/reservations/\(open).nope/refund", token: h.buyer).status == .notFound)
            let refunded = try await client.call(.post, "/reservations/\(mine)/refund", token: h.buyer)
            #expect(refunded.status == .ok && refunded.json["status"] as? String == "refunded")
            let twice = try await client.call(.post, "/reservations/\(mine)/refund", token: h.buyer)
            #expect(twice.status == .ok && String(buffer: twice.body) == String(buffer: refunded.body))
            // The stock and the buyer's allowance are back: the limit of 2 lets them buy 2 again.
            let availability = try await client.call(.get, "/events/\(open)/availability")
            #expect((availability.json["categories"] as? [[String: Any]])?.first?["available"] as? Int == 2)
            _ = try await buy(open, h.buyer)

            let tooLate = try await buy(closed, h.buyer)
            let refused = try await client.call(.post, "/reservations/\(tooLate)/refund", token: h.buyer)
            #expect(refused.status == .conflict && refused.problemCode == "refund_closed")
            #expect(try await client.call(.post, "/reservations/\(tooLate)/refund", token: h.admin).status == .ok)

            // Cancelling an event refunds every confirmed booking and stops its sales.
            let cancelled = try await client.call(.post, "/events/\(open)/cancel", token: h.admin)
            #expect(cancelled.status == .ok && cancelled.json["refunded"] as? Int == 1, "\(cancelled.json)")
            let after = try await client.call(.post, "/reserve", token: h.buyer, json: ["event_id": open, "category": "floor", "qty": 1])
            #expect(after.status == .conflict && after.problemCode == "event_cancelled")
            // A hold made before the cancel can no longer be paid for.
            let late = try await client.call(.post, "/confirm", token: h.otherBuyer, json: ["reservation_id": held, "payment_ok": true])
            #expect(late.status == .conflict && late.problemCode == "event_cancelled")
            #expect(try await client.call(.post, "/events/\(open)/cancel", token: h.buyer).status == .forbidden)
            #expect(try await client.call(.get, "/events/\(open)").json["status"] as? String == "cancelled")
        }
    }

    @Test func aLatePaymentIsConfirmedWhenTheTicketIsFreeAndRefusedWhenNot() async throws {
        try await withAPI(["BOXOFFICE_HOLD_TTL_SECONDS": "1"]) { client, h in
            let event = try await makeEvent(client, h, stock: 1)
            func reserve(_ token: String) async throws -> String {
                let r = try await client.call(.post, "/reserve", token: token, json: ["event_id": event, "category": "floor", "qty": 1])
                #expect(r.status == .created, "\(r.json)")
                return try #require(r.json["reservation_id"] as? String)
            }
            func lapsed(_ id: String, _ token: String) async throws {
                let gone = try await eventually(timeout: .seconds(5), every: .milliseconds(100)) {
                    _ = try await client.call(.get, "/events/\(event)/stock", token: h.admin)  // lapses due holds
                    return try await client.call(.get, "/reservations/\(id)", token: token).json["status"] as? String == "expired"
                }
                #expect(gone)
            }
            let first = try await reserve(h.buyer)
            try await lapsed(first, h.buyer)
            let declined = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": first, "payment_ok": false])
            #expect(declined.status == .gone && declined.problemCode == "expired")
            let accepted = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": first, "payment_ok": true])
            #expect(accepted.status == .ok && accepted.json["status"] as? String == "confirmed" && accepted.json["late"] as? Bool == true)
            #expect(try await client.call(.post, "/reservations/\(first)/refund", token: h.buyer).status == .ok)

            let second = try await reserve(h.buyer)
            try await lapsed(second, h.buyer)
            _ = try await reserve(h.otherBuyer)
            let refused = try await client.call(.post, "/confirm", token: h.buyer, json: ["reservation_id": second, "payment_ok": true])
            #expect(refused.status == .gone && refused.problemCode == "expired")
            #expect((refused.json["detail"] as? String)?.contains("refunded") == true)
            let rid = try #require(ReservationID(second))
            let outbox = try await h.dependencies.redis.send(["XRANGE", .string(InventoryKeys(event: rid.event).outbox), "-", "+"])
            let records = (outbox.array ?? []).compactMap { $0.array?.last?.array?.last?.string }
            #expect(records.contains { $0.contains("payment.refund_required") && $0.contains(second) })
        }
    }
}


import Foundation
@testable import BoxOfficeAPI
import BoxOfficeDomain
@testable import BoxOfficeHTTP
@testable import BoxOfficePipeline
@testable import BoxOfficeRuntime
import Testing

/// The byte-level readers of the reserve path agree with the rules they stand for.
@Suite struct RequestParsingTests {
    /// Printable ASCII names take the byte path; others the character path; both apply one rule:
    /// 1–64 characters, no `|`, no control character, no blank at either end.
    @Test func categoryNamesFollowOneRuleOnBothPaths() {
        let valid = ["floor", "A", "Block C|D".replacingOccurrences(of: "|", with: "/"), String(repeating: "x", count: 64),
                     "Tribüne Nord", "première loge", "🎟️ VIP", String(repeating: "é", count: 64)]
        let invalid = ["", " floor", "floor ", "a|b", String(repeating: "x", count: 65), "tab\there", "nl\n", "\u{7F}del",
                       "é|é", " é", "é ", String(repeating: "é", count: 65), "\u{85}é", "\u{3000}é", "é\u{3000}"]
        for name in valid { #expect(CategoryName(name)?.rawValue == name, "\(name.debugDescription) is valid") }
        for name in invalid { #expect(CategoryName(name) == nil, "\(name.debugDescription) is invalid") }
    }

    /// The reserve body's scanner reads what JSONDecoder reads, seats and best_available included,
    /// and gives up (leaving the decoder to decide) on anything else.
    @Test func reserveBodiesScanAsTheyDecode() throws {
        typealias R = ReservationRoutes.ReserveRequest
        for body in [#"{"event_id":"e","category":"c","qty":2}"#, #"{"event_id":"e","category":"c","qty":2,"best_available":true}"#,
                     #"{"event_id":"e","category":"c","seats":["A-1-1","A-1-2"]}"#, #"{ "event_id" : "e", "category":"c", "seats" : [ ] , "qty":1 }"#,
                     #"{"event_id":"e","category":"c","qty":1,"best_available":false}"#] {
            let bytes = Array(body.utf8)
            let scanned = try #require(bytes.withUnsafeBytes { R.scanned(from: $0) }, "\(body)")
            let decoded = try JSONDecoder().decode(R.self, from: Data(bytes))
            #expect(scanned.event_id == decoded.event_id && scanned.qty == decoded.qty && scanned.seats == decoded.seats
                    && scanned.best_available == decoded.best_available, "\(body)")
        }
        for body in [#"{"event_id":"e","category":"c","best_available":"yes","qty":1}"#, #"{"event_id":"e","category":"c","seats":[1]}"#,
                     #"{"event_id":"e","category":"c","best_available":true}"#, #"{"event_id":"e","category":"c","seats":["a"],"x":1}"#] {
            #expect(Array(body.utf8).withUnsafeBytes { R.scanned(from: $0) } == nil, "\(body)")
        }
    }

    @Test func theBearerSchemeIsReadInAnyCase() {
        #expect(AuthenticationMiddleware.bearerToken("Bearer abc.def.ghi") == "abc.def.ghi")
        #expect(AuthenticationMiddleware.bearerToken("bEaReR x") == "x")
        for header in ["Bearer", "Bearer ", "Bearer  x", "Basic abc", "Bearerx abc", "Token abc", "", String(repeating: "b", count: 10),
                       "Bearer " + String(repeating: "t", count: 4097)] {
            #expect(AuthenticationMiddleware.bearerToken(header) == nil, "\(header.prefix(20).debugDescription) is refused")
        }
        #expect(AuthenticationMiddleware.bearerToken("Bearer " + String(repeating: "t", count: 4096))?.utf8.count == 4096)
    }

    /// The worker counts an event id once whatever its case, without copying the lowercase ones.
    @Test func eventIdsAreCaseFolded() {
        #expect(BookingWriter.caseFolded("0f8fad5b-d9cb-469f-a165-70867728950e") == "0f8fad5b-d9cb-469f-a165-70867728950e")
        #expect(BookingWriter.caseFolded("0F8FAD5B-D9CB-469F-A165-70867728950E") == "0f8fad5b-d9cb-469f-a165-70867728950e")
    }

    @Test func contentTypesAreComparedWithoutCase() {
        #expect(asciiHasPrefixIgnoringCase("application/json", "application/json"))
        #expect(asciiHasPrefixIgnoringCase("Application/JSON; charset=utf-8", "application/json"))
        #expect(!asciiHasPrefixIgnoringCase("application/jso", "application/json"))
        #expect(!asciiHasPrefixIgnoringCase("text/plain", "application/json"))
        #expect(!asciiHasPrefixIgnoringCase("applicatioN/jsoÑ", "application/json"))
    }
}

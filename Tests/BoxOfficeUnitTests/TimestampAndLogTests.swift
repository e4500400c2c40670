@testable import BoxOfficeAPI
import BoxOfficeDomain
@testable import BoxOfficeHTTP
@testable import BoxOfficeInventory
@testable import BoxOfficePipeline
import BoxOfficeRedis
@testable import BoxOfficeRuntime
import BoxOfficeSupport
import Foundation
import Logging
import Testing

@Suite struct TimestampTests {
    /// Foundation formats whole seconds exactly (they are exact in a `Double`); its milliseconds go
    /// through floating point and are sometimes one off, so the reference takes them from integers.
    @Test func matchesFoundationsISO8601Formatting() {
        var g = SystemRandomNumberGenerator()
        let fixed: [Int64] = [0, 999, 1000, -1, -1001, 951_782_400_000 /* 2000-02-29 */, 4_102_444_799_999, 1_795_247_418_123]
        let random = (0..<2_000).map { _ in Int64.random(in: -2_000_000_000_000...8_000_000_000_000, using: &g) }
        for ms in fixed + random {
            let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
            let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
            let expected = String(whole.dropLast()) + "." + String(String(ms - seconds * 1000 + 1000).dropFirst()) + "Z"
            #expect(RFC3339Timestamp.string(milliseconds: ms) == expected, "ms \(ms)")
        }
        #expect(RFC3339Timestamp.string(seconds: 1_795_247_418) == "2026-11-21T07:50:18Z")
    }

    /// Whole seconds count as well as the fraction (a batch of 1.25 s records 1.25 s, not 0.25 s).
    @Test func durationsConvertWithTheirWholeSeconds() {
        #expect(Duration.milliseconds(1250).inNanoseconds == 1_250_000_000)
        #expect(Duration.seconds(3).inNanoseconds == 3_000_000_000)
        #expect(Duration.nanoseconds(999).inNanoseconds == 999)
        #expect(Duration.milliseconds(1250).inMilliseconds == 1250)
        #expect(Duration.milliseconds(1250).inSeconds == 1.25)
    }
}

@Suite struct AccessLogTests {
    /// The access line's duration_ms reads as `String(format: "%.2f")` did.
    @Test func millisecondsHaveTwoDecimals() {
        #expect(RequestMiddleware.milliseconds(0) == "0.00")
        #expect(RequestMiddleware.milliseconds(0.000_04) == "0.04")
        #expect(RequestMiddleware.milliseconds(0.000_1) == "0.10")
        #expect(RequestMiddleware.milliseconds(0.012_345_6) == "12.35")
        #expect(RequestMiddleware.milliseconds(1.5) == "1500.00")
        #expect(RequestMiddleware.milliseconds(0.099_999) == "100.00")
        for seconds in stride(from: 0.000_013_7, to: 2.0, by: 0.013_37) {
            #expect(RequestMiddleware.milliseconds(seconds) == String(format: "%.2f", seconds * 1000))
        }
    }
}

@Suite struct LogSinkTests {
    /// Lines reach the descriptor in order, with the handler's metadata sorted, and `flush` writes at once.
    @Test func writesLinesInOrderThroughItsThread() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let sink = LogSink(fd: fds[1], gather: .milliseconds(1))
        var handler = SinkLogHandler(label: "test", sink: sink, logLevel: .info)
        handler.metadataProvider = nil
        handler[metadataKey: "b"] = "2"
        var logger = Logger(label: "test") { _ in handler }
        logger[metadataKey: "a"] = "1"
        for i in 0..<500 { logger.info("line \(i)", metadata: ["c": "\(i)"]) }
        logger.debug("below the level")
        sink.flush()

        // Read until all 500 lines are there, with a deadline.
        var text = ""
        let deadline = ContinuousClock.now + .seconds(5)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let flags = fcntl(fds[0], F_GETFL)
        _ = fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)
        while text.components(separatedBy: "\n").count <= 500 && ContinuousClock.now < deadline {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 { text += String(decoding: buffer[0..<n], as: UTF8.self) } else { usleep(1_000) }
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 500)
        #expect(lines.first?.hasSuffix(" info test: a=1 b=2 c=0 [BoxOfficeUnitTests] line 0") == true)
        #expect(lines.last?.hasSuffix("c=499 [BoxOfficeUnitTests] line 499") == true)
        #expect(!text.contains("below the level"))
    }
}

@Suite struct JSONObjectWriterTests {
    /// The encoder the relay and the HTTP bodies used before the writer, with the same options.
    static let reference: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Text the writer must escape exactly as Foundation does: quotes, backslashes, every
    /// control character, slashes (left alone), non-ASCII and an empty string.
    static let awkward: [String] = [
        "", "floor", "a\"b", "back\\slash", "sl/ash", "tab\tnew\nline\rret", "\u{8}\u{c}",
        String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), "é ü 票 🎟️", "\u{7f}\u{2028}\u{2029}", "-0",
    ]

    @Test func envelopesMatchJSONEncoderByteForByte() throws {
        var events: [ReservationEvent] = []
        for (n, text) in Self.awkward.enumerated() {
            let payment = n % 3 == 0 ? nil : PaymentInfo(ref: "pay_\(text)", status: n % 2 == 0 ? "failed" : "succeeded", amount: n * 1000,
                                                         currency: "EUR", reason: n % 2 == 0 ? text : nil, attempt: n % 2 == 0 ? n : nil)
            events.append(ReservationEvent(
                id: "8f0e7c52-1d7a-5b3e-9c1a-\(String(repeating: "0", count: 12))", type: ReservationEventType.allCases[n % 5],
                occurredAt: RFC3339Timestamp.string(milliseconds: 1_795_247_418_123 + Int64(n)), reservationID: "rs_\(n)", eventID: "ev_x",
                category: text, userID: "user \(text)", quantity: n + 1, amount: n == 1 ? -5 : Int.max / 20 * n, currency: "EUR",
                createdAt: n % 2 == 0 ? nil : "2026-11-21T07:50:18.000Z", expiresAt: n % 4 == 0 ? nil : "2026-11-21T08:00:18.000Z",
                payment: payment))
        }
        for event in events {
            let expected = Array(try Self.reference.encode(event))
            #expect(event.jsonBytes == expected, "\(String(decoding: expected, as: UTF8.self))")
        }
    }

    @Test func reservationBodiesMatchJSONEncoderByteForByte() throws {
        for (n, text) in Self.awkward.enumerated() {
            let reservation = Reservation(
                id: ReservationID("ev_x.\(String(format: "%020x", n))")!, event: EventID("ev_x")!, category: text, buyer: "user",
                quantity: n + 1, price: Money(amount: n * 250, currency: "EUR"), status: .held,
                createdAtMs: 1_795_247_418_123, expiresAtMs: 1_795_248_018_123, paymentReference: n % 2 == 0 ? nil : "pay_\(text)")
            let body = ReservationRoutes.ReservationBody(reservation)
            let expected = Array(try Self.reference.encode(body))
            #expect(body.json == expected, "\(String(decoding: expected, as: UTF8.self))")
        }
    }
}

@Suite struct JSONScannerTests {
    static func envelopes() -> [ReservationEvent] {
        JSONObjectWriterTests.awkward.enumerated().map { n, text in
            ReservationEvent(
                id: "8f0e7c52-1d7a-5b3e-9c1a-\(String(repeating: "0", count: 12))", type: ReservationEventType.allCases[n % 5],
                occurredAt: RFC3339Timestamp.string(milliseconds: 1_795_247_418_123 + Int64(n)), reservationID: "rs_\(n)", eventID: "ev_x",
                category: text, userID: "user \(text)", quantity: n + 1, amount: n == 1 ? -5 : Int.max / 20 * n, currency: "EUR",
                createdAt: n % 2 == 0 ? nil : "2026-11-21T07:50:18.000Z", expiresAt: n % 4 == 0 ? nil : "2026-11-21T08:00:18.000Z",
                payment: n % 3 == 0 ? nil : PaymentInfo(ref: "pay_\(n)", status: "failed", amount: n, currency: "EUR",
                                                        reason: n % 2 == 0 ? text : nil, attempt: n % 2 == 0 ? n : nil))
        }
    }

    /// What the scanner reads equals what JSONDecoder reads; it reads every envelope the relay writes
    /// whose text needs no escape, and gives up on the others.
    @Test func readsEnvelopesAsJSONDecoderDoes() throws {
        var read = 0
        for event in Self.envelopes() {
            let bytes = event.jsonBytes
            let scanned = bytes.withUnsafeBytes { ReservationEvent.scanned(from: $0) }
            let needsEscape = bytes.contains(UInt8(ascii: "\\"))
            #expect((scanned == nil) == needsEscape, "\(String(decoding: bytes, as: UTF8.self))")
            if let scanned {
                #expect(scanned == (try JSONDecoder().decode(ReservationEvent.self, from: Data(bytes))))
                read += 1
            }
        }
        #expect(read >= 5)
    }

    /// Shapes the scanner must leave to JSONDecoder (it returns nil for each).
    @Test func givesUpOnAnythingButThePlainShape() {
        let base = #"{"event_id":"ev_x","category":"floor","qty":1}"#
        let plain = Array(base.utf8).withUnsafeBytes { ReservationRoutes.ReserveRequest.scanned(from: $0) }
        #expect(plain?.event_id == "ev_x" && plain?.category == "floor" && plain?.qty == 1)
        let refused = [
            #"{"event_id":"ev_x","category":"fl\u006for","qty":1}"#,   // escape
            #"{"event_id":"ev_x","category":"floor","qty":1.0}"#,        // fraction
            #"{"event_id":"ev_x","category":"floor","qty":1e0}"#,        // exponent
            #"{"event_id":"ev_x","category":"floor","qty":01}"#,         // leading zero
            #"{"event_id":"ev_x","category":"floor","qty":99999999999999999999}"#,  // overflow
            #"{"event_id":"ev_x","category":"floor","qty":true}"#,       // boolean
            #"{"event_id":"ev_x","category":"floor","qty":[1]}"#,        // array
            #"{"event_id":"ev_x","category":"floor","qty":1,"qty":2}"#,  // repeated member
            #"{"event_id":"ev_x","category":"floor","qty":1,"x":0}"#,    // unknown member
            #"{"event_id":"ev_x","category":"floor"}"#,                  // missing member
            #"{"event_id":"ev_x","category":"floor","qty":1} x"#,        // trailing bytes
            #"{"event_id":"ev_x","category":"floor","qty":1,}"#,         // trailing comma
            #"{"event_id":"ev_x","category":null,"qty":1}"#,             // null for a string
            "{\"event_id\":\"ev_x\",\"category\":\"fl\too\",\"qty\":1}", // control character
            #"[{"event_id":"ev_x","category":"floor","qty":1}]"#,
            "",
        ]
        for text in refused {
            #expect(Array(text.utf8).withUnsafeBytes { ReservationRoutes.ReserveRequest.scanned(from: $0) } == nil, "\(text)")
        }
        let invalidUTF8: [UInt8] = Array(#"{"event_id":"ev_x","category":""#.utf8) + [0xC3, 0x28] + Array(#"","qty":1}"#.utf8)
        #expect(invalidUTF8.withUnsafeBytes { ReservationRoutes.ReserveRequest.scanned(from: $0) } == nil)
    }

    /// Random damage to valid documents: whenever the scanner still reads one, JSONDecoder reads the same.
    @Test func neverAcceptsWhatJSONDecoderRejects() throws {
        var g = SystemRandomNumberGenerator()
        let seeds: [[UInt8]] = Self.envelopes().map(\.jsonBytes) + [Array(#" { "event_id" : "ev_x" , "category":"floor","qty": -12 } "#.utf8)]
        let alphabet = Array(#"{}[]":,.-+0123456789eEnulltrfs \"#.utf8)
        var read = 0
        for i in 0..<20_000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...3, using: &g) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &g)
                switch Int.random(in: 0..<3, using: &g) {
                case 0: bytes[at] = alphabet.randomElement(using: &g)!
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet.randomElement(using: &g)!, at: at)
                }
            }
            if let scanned = bytes.withUnsafeBytes({ ReservationEvent.scanned(from: $0) }) {
                read += 1
                let decoded = try? JSONDecoder().decode(ReservationEvent.self, from: Data(bytes))
                #expect(decoded == scanned, "\(String(decoding: bytes, as: UTF8.self))")
            }
            if let scanned = bytes.withUnsafeBytes({ ReservationRoutes.ReserveRequest.scanned(from: $0) }) {
                read += 1
                let decoded = try? JSONDecoder().decode(ReservationRoutes.ReserveRequest.self, from: Data(bytes))
                #expect(decoded?.event_id == scanned.event_id && decoded?.category == scanned.category && decoded?.qty == scanned.qty,
                        "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(read > 100, "the damage left too few readable documents to compare")
    }
}

@Suite struct OutboxEntryTests {
    func bulk(_ s: String) -> RESPValue { .bulkString(Array(s.utf8)) }

    static let entry = OutboxEntry(
        id: "8f0e7c52-1d7a-5b3e-9c1a-000000000000", type: "payment.failed", rid: "ev_x.00ab", event: "ev_x", category: "Floor é|票",
        user: "user with spaces | and bars", qty: "2", amount: "9000", currency: "EUR", at: "1795247418123", created: "1795247418000",
        expires: "1795248018000", paymentRef: "pay_1", paymentStatus: "failed", reason: "card declined", attempt: "3")

    /// What reserve.lua writes (one field, 17 values joined by U+001F) reads back field for field,
    /// and a record of the 16 fields written before seats still reads.
    @Test func packedEntriesReadBack() throws {
        let read = try #require(OutboxEntry(fields: [bulk("e"), bulk(Self.entry.packed)]))
        #expect(read == Self.entry)
        var held = Self.entry
        (held.type, held.paymentRef, held.paymentStatus, held.reason, held.attempt) = ("reservation.held", nil, nil, nil, nil)
        #expect(OutboxEntry(fields: [bulk("e"), bulk(held.packed)]) == held)
        #expect(held.packed.utf8.filter { $0 == OutboxEntry.separator }.count == 16)
        let older = String(held.packed.dropLast())  // no seats field at all
        #expect(OutboxEntry(fields: [bulk("e"), bulk(older)]) == held)
        var seated = held
        seated.seats = "A-1-1,A-1-2"
        #expect(OutboxEntry(fields: [bulk("e"), bulk(seated.packed)])?.seats == "A-1-1,A-1-2")
        #expect(OutboxEntry(fields: [bulk("e"), bulk("a\u{1F}b")]) == nil, "a wrong field count is refused")
    }

    /// A reserve batch's holds share an entry: their records joined by U+001E, read back in order;
    /// one malformed record refuses the entry.
    @Test func entriesOfSeveralEventsReadBackInOrder() throws {
        var held = Self.entry
        (held.type, held.paymentRef, held.paymentStatus, held.reason, held.attempt) = ("reservation.held", nil, nil, nil, nil)
        var second = held
        (second.id, second.rid, second.user) = ("8f0e7c52-1d7a-5b3e-9c1a-000000000001", "ev_x.00ac", "another buyer")
        let both = held.packed + "\u{1E}" + second.packed
        #expect(OutboxEntry.events(fields: [bulk("e"), bulk(both)]) == [held, second])
        #expect(OutboxEntry.events(fields: [bulk("e"), bulk(held.packed)]) == [held])
        #expect(OutboxEntry.events(fields: [bulk("e"), bulk(both + "\u{1E}a\u{1F}b")]) == nil)
        #expect(OutboxEntry.events(fields: [bulk("e"), bulk(both + "\u{1E}")]) == nil, "an empty record is malformed")
        let flat = OutboxEntry.order.flatMap { name -> [RESPValue] in held.fields[name].map { [bulk(name), bulk($0)] } ?? [] }
        #expect(OutboxEntry.events(fields: flat) == [held], "the older layout is one event")
    }

    /// Entries of the layout before packing (one stream field per value) still read, so a stream
    /// written before an upgrade drains after it.
    @Test func olderLayoutStillReads() throws {
        let flat = OutboxEntry.order.flatMap { name -> [RESPValue] in
            guard let value = Self.entry.fields[name] else { return [] }
            return [bulk(name), bulk(value)]
        }
        #expect(OutboxEntry(fields: flat) == Self.entry)
        let envelope = try OutboxRelay.envelope(try #require(OutboxEntry(fields: flat)))
        #expect(envelope.payment?.attempt == 3 && envelope.user_id == Self.entry.user && envelope.category == Self.entry.category)
    }

    /// Free text a script writes into an entry loses its control characters; buyer ids with one are refused.
    @Test func separatorCannotReachAnEntry() {
        #expect(OutboxEntry.clean("declined\u{1F}by\nbank\u{85}") == "declined by bank ")
        #expect(OutboxEntry.clean("plain é") == "plain é")
        #expect(BuyerID("user\u{1F}x") == nil && BuyerID("user\u{7F}") == nil && BuyerID("u\u{85}") == nil)
        #expect(BuyerID("user | é 票") != nil)
    }
}

@Suite struct IdentifierTests {
    @Test func reservationIDsParseAndMintAlike() throws {
        let event = try #require(EventID("ev_x-1"))
        for _ in 0..<1_000 {
            let minted = ReservationID.fresh(in: event)
            let parsed = try #require(ReservationID(minted.rawValue))
            #expect(parsed == minted && parsed.event == event && parsed.token.utf8.count == 20)
        }
        let id = try #require(ReservationID("ev_x.0123456789abcdef0123"))
        #expect(id.event.rawValue == "ev_x" && id.token == "0123456789abcdef0123")
        for bad in ["", ".", "ev_x", "ev_x.", ".0123456789abcdef0123", "ev_x.0123456789ABCDEF0123", "ev_x.0123456789abcdef012",
                    "ev.x.0123456789abcdef0123", "év.0123456789abcdef0123", "ev_x.0123456789abcdef012é", "ev_x\u{301}.0123456789abcdef0123"] {
            #expect(ReservationID(bad) == nil, "\(bad)")
        }
    }

    /// New ids of one event sort by their creation time (PostgreSQL appends them to the
    /// primary key's last page), and ids of one millisecond still differ.
    @Test func reservationIDsSortByCreationTime() throws {
        let event = try #require(EventID("ev_x"))
        let ms: Int64 = 1_700_000_000_000
        let prefix = String(ms, radix: 16).leftPadded(to: 11)
        let sameMillisecond = Set((0..<1_000).map { _ in ReservationID.fresh(in: event, milliseconds: ms) })
        #expect(sameMillisecond.count == 1_000)
        let later = ReservationID.fresh(in: event, milliseconds: ms + 1)
        for id in sameMillisecond {
            #expect(id.token.hasPrefix(prefix) && id.rawValue < later.rawValue && ReservationID(id.rawValue) == id)
        }
        #expect(ReservationID.fresh(in: event, milliseconds: 0).token.hasPrefix("00000000000"))
        #expect(ReservationID.fresh(in: event).rawValue > later.rawValue)  // now is after 2023-11-14
    }

    /// An outbox entry's age comes from its stream id's milliseconds.
    @Test func streamIDsGiveTheirMilliseconds() {
        #expect(OutboxRelay.milliseconds(of: "1795292423274-9") == 1_795_292_423_274)
        #expect(OutboxRelay.milliseconds(of: "a-1") == nil)
    }

    /// The reservation.held event's id: a lowercase version-4 UUID, a fresh one each time.
    @Test func randomUUIDsAreVersion4() {
        let ids = (0..<1_000).map { _ in randomUUID() }
        #expect(Set(ids).count == 1_000)
        for id in ids {
            let groups = id.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(id)")
            #expect(id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2D }, "\(id)")
            #expect(groups[2].first == "4" && "89ab".contains(groups[3].first!), "\(id)")
        }
    }
}

@Suite struct PreludeTests {
    static let prelude = Prelude(source: """
        -- header: says emit( and gcra( in a comment, which calls nothing
        local function now_ms()
          return 1
        end

        -- the next helper's comment
        local function uuid(seed)
          return seed
        end
        local function emit(k)
          -- a comment inside: gcra(
          return uuid(k) .. now_ms()
        end
        local function gcra(k)
          return k
        end
        local function my_emit(k) return k end
        """)

    /// A script gets the helpers it calls, directly or through another, in the prelude's order
    /// (a Lua local function sees only those before it), and nothing else.
    @Test func scriptsCarryOnlyTheHelpersTheyCall() {
        let p = Self.prelude
        #expect(p.helpers.map(\.name) == ["now_ms", "uuid", "emit", "gcra", "my_emit"])
        func names(_ body: String) -> [String] {
            p.helpers(for: body).split(separator: "\n").compactMap { line in
                line.hasPrefix("local function ") ? String(line.dropFirst(15).prefix { $0 != "(" }) : nil
            }
        }
        #expect(names("return emit('x')") == ["now_ms", "uuid", "emit"])
        #expect(names("return gcra(1), now_ms()") == ["now_ms", "gcra"])
        #expect(names("-- emit(\nreturn 1") == [])
        #expect(names("return my_emit(1)") == ["my_emit"])
        #expect(names("return redis.call('GET', KEYS[1]) -- then gcra(") == [])
        #expect(p.helpers(for: "return uuid(1)") == "local function uuid(seed)\n  return seed\nend\n")
    }

    /// Every inventory script defines each helper it calls, and no script defines one it does not use.
    @Test func inventoryScriptsDefineWhatTheyCall() {
        let all = InventoryScripts.prelude.helpers.map(\.name)
        #expect(all.count >= 8)
        for script in InventoryScripts.all {
            let defined = all.filter { script.source.contains("local function \($0)(") }
            for name in all {
                let body = script.source.components(separatedBy: "\n").filter { !$0.hasPrefix("local function \(name)(") }.joined(separator: "\n")
                if Prelude.calls(body, name) { #expect(defined.contains(name), "\(script.name) calls \(name)") }
            }
        }
        let reserve = InventoryScripts.reserve.source
        #expect(reserve.contains("local function gcra_decide(") && reserve.contains("local function event_uuid("))
        #expect(!reserve.contains("local function gcra("), "reserve.lua keeps its buyers' times itself")
        #expect(InventoryScripts.rateLimit.source.contains("local function gcra_decide(") && InventoryScripts.rateLimit.source.contains("local function gcra("))
        #expect(!reserve.contains("local function load_live_hold(") && !reserve.contains("local function release("))
        let availability = InventoryScripts.availability.source
        #expect(availability.contains("local function reclaim_due(") && !availability.contains("local function release("),
                "availability.lua lapses due holds and carries nothing else")
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

@testable import BoxOfficeApp
import BoxOfficeDomain
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

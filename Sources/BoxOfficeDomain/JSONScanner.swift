/// Reads the simplest JSON objects straight from bytes: the fast path for the two
/// documents read on every reservation, the `POST /reserve` body and the Kafka
/// envelope, where Foundation's `JSONDecoder` was the largest single cost of the
/// worker and a large one of the API.
///
/// It understands objects whose member values are strings without escapes,
/// integers, `null` and nested objects of the same kind. Anything else (an
/// escape, a fraction or exponent, a boolean, an array, invalid UTF-8, a repeated
/// or unknown member, trailing bytes) makes it give up, and the caller decodes
/// the same bytes with `JSONDecoder`, whose acceptance and errors are the ones
/// that count. So the scanner never accepts what `JSONDecoder` rejects, and
/// never reads a value differently: it only skips work on the common shape.
public struct JSONScanner {
    /// Thrown inside a scan to give up; `scan` turns it into `nil`.
    public struct GiveUp: Error {
        public init() {}
    }

    private let bytes: UnsafeRawBufferPointer
    private var i = 0

    private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Runs `body` over `bytes`; `nil` when it gives up or bytes other than
    /// whitespace follow the value it read.
    public static func scan<T>(_ bytes: UnsafeRawBufferPointer, _ body: (inout JSONScanner) throws -> T) -> T? {
        var scanner = JSONScanner(bytes)
        do {
            let value = try body(&scanner)
            scanner.skipWhitespace()
            return scanner.i == bytes.count ? value : nil
        } catch {
            return nil
        }
    }

    /// Most members of an object the scanner reads; more make it give up (no
    /// plain shape has that many).
    static let maxMembers = 16

    /// Reads the object at the cursor, calling `member` with each key (its raw
    /// bytes); `member` must read the value, or throw `GiveUp`. A key that comes
    /// twice makes the scan give up (`JSONDecoder` has its own rule for repeats),
    /// as do more than `maxMembers` members.
    public mutating func object(_ member: (inout JSONScanner, UnsafeRawBufferPointer) throws -> Void) throws {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        // The keys seen so far, on the stack: this runs for every reserve body and every event
        // the worker reads, where an array would be a heap allocation per object.
        try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: Self.maxMembers) { keys in
            var count = 0
            while true {
                skipWhitespace()
                let key = try rawString()
                guard count < keys.count else { throw GiveUp() }
                for seen in keys[..<count] where seen.count == key.count && seen.elementsEqual(key) { throw GiveUp() }
                keys.initializeElement(at: count, to: key)
                count += 1
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                try member(&self, key)
                skipWhitespace()
                guard i < bytes.count else { throw GiveUp() }
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") { return }
                throw GiveUp()
            }
        }
    }

    /// A string value without escapes, in valid UTF-8.
    public mutating func string() throws -> String {
        skipWhitespace()
        guard let s = String(validating: try rawString(), as: UTF8.self) else { throw GiveUp() }
        return s
    }

    /// A string value, or `nil` for `null`.
    public mutating func optionalString() throws -> String? {
        try null() ? nil : string()
    }

    /// An integer value: an optional minus, then `0` or digits without a leading
    /// zero, no fraction or exponent, within `Int`.
    public mutating func int() throws -> Int {
        skipWhitespace()
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let start = i
        var value = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw GiveUp() }
            value = a
            i += 1
        }
        let digits = i - start
        guard digits > 0, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else { throw GiveUp() }
        if i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { throw GiveUp() }
        }
        return negative ? -value : value
    }

    /// An integer value, or `nil` for `null`.
    public mutating func optionalInt() throws -> Int? {
        try null() ? nil : int()
    }

    /// `true` or `false`.
    public mutating func bool() throws -> Bool {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        throw GiveUp()
    }

    /// An array of plain strings (as `string()` reads them), at most `limit` of them.
    public mutating func strings(limit: Int) throws -> [String] {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
        var out: [String] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return out
        }
        while true {
            guard out.count < limit else { throw GiveUp() }
            out.append(try string())
            skipWhitespace()
            guard i < bytes.count else { throw GiveUp() }
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { return out }
            throw GiveUp()
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard bytes.count - i >= n else { return false }
        let matches = word.withUTF8Buffer { w in (0..<n).allSatisfy { bytes[i + $0] == w[$0] } }
        if matches { i += n }
        return matches
    }

    /// Consumes `null` and returns true, or returns false and consumes nothing.
    public mutating func null() -> Bool {
        skipWhitespace()
        guard bytes.count - i >= 4, bytes[i] == UInt8(ascii: "n"), bytes[i + 1] == UInt8(ascii: "u"),
              bytes[i + 2] == UInt8(ascii: "l"), bytes[i + 3] == UInt8(ascii: "l") else { return false }
        i += 4
        return true
    }

    /// Whether a raw key is `name`.
    public static func key(_ raw: UnsafeRawBufferPointer, is name: StaticString) -> Bool {
        guard raw.count == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { n in
            for k in 0..<raw.count where raw[k] != n[k] { return false }
            return true
        }
    }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func expect(_ c: UInt8) throws {
        guard i < bytes.count, bytes[i] == c else { throw GiveUp() }
        i += 1
    }

    /// The bytes between the quotes of a string at the cursor, which must
    /// contain no escape and no control character.
    private mutating func rawString() throws -> UnsafeRawBufferPointer {
        try expect(UInt8(ascii: "\""))
        let start = i
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)])
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { throw GiveUp() }
            i += 1
        }
        throw GiveUp()
    }
}

/// A seat map as an admin gives it: sections of rows, rows best first, seats in order along the row.
public struct SeatMap: Codable, Sendable, Hashable {
    public struct Row: Codable, Sendable, Hashable {
        public var name: String
        public var seats: [String]
        /// Where to draw the row (any unit the client chooses); optional.
        public var x: Double?
        public var y: Double?

        public init(name: String, seats: [String], x: Double? = nil, y: Double? = nil) {
            self.name = name
            self.seats = seats
            self.x = x
            self.y = y
        }
    }

    public struct Section: Codable, Sendable, Hashable {
        public var name: String
        public var rows: [Row]

        public init(name: String, rows: [Row]) {
            self.name = name
            self.rows = rows
        }
    }

    public var sections: [Section]

    public init(sections: [Section]) { self.sections = sections }

    public var seatCount: Int { sections.reduce(0) { $0 + $1.rows.reduce(0) { $0 + $1.seats.count } } }

    /// Most seats of one event, over all its categories.
    public static let maxSeatsPerEvent = 100_000

    /// Why the map cannot be used, or `nil`: every name 1–40 printable characters (labels 1–16)
    /// without `,` `|` or control characters and without spaces at either end, at least one seat,
    /// and every seat id (`section-row-label`) distinct.
    public var problem: String? {
        if sections.isEmpty { return "sections must not be empty." }
        var ids = Set<String>()
        for section in sections {
            if let p = Self.nameProblem(section.name, max: 40) { return "section name '\(section.name.prefix(40))' \(p)" }
            if section.rows.isEmpty { return "section '\(section.name)' has no rows." }
            for row in section.rows {
                if let p = Self.nameProblem(row.name, max: 40) { return "row name '\(row.name.prefix(40))' in section '\(section.name)' \(p)" }
                if row.seats.isEmpty { return "row '\(row.name)' of section '\(section.name)' has no seats." }
                if row.x.map({ !$0.isFinite }) == true || row.y.map({ !$0.isFinite }) == true { return "x and y must be finite numbers." }
                for label in row.seats {
                    if let p = Self.nameProblem(label, max: 16) { return "seat label '\(label.prefix(16))' in row '\(row.name)' \(p)" }
                    let id = SeatMap.seatID(section: section.name, row: row.name, label: label)
                    if !ids.insert(id).inserted { return "seat '\(id)' appears twice." }
                }
                if ids.count > Self.maxSeatsPerEvent { return "a map has at most \(Self.maxSeatsPerEvent) seats." }
            }
        }
        return nil
    }

    /// A seat's id: `section-row-label`.
    public static func seatID(section: String, row: String, label: String) -> String { "\(section)-\(row)-\(label)" }

    static func nameProblem(_ s: String, max: Int) -> String? {
        guard (1...max).contains(s.count) else { return "must be 1 to \(max) characters." }
        if s.contains(",") || s.contains("|") || s.unicodeScalars.contains(where: \.isControlCharacter) {
            return "must not contain ',', '|' or control characters."
        }
        if s.first?.isWhitespace == true || s.last?.isWhitespace == true { return "must not start or end with a space." }
        return nil
    }
}

/// A seat map laid out as Redis keeps it: each seat is an offset into the category's seat
/// string, rows one after another in the map's order, each followed by a separator.
public struct SeatLayout: Sendable {
    public struct Row: Sendable {
        public var section: String
        public var name: String
        public var labels: [String]
        public var x: Double?
        public var y: Double?
        /// The offset of the row's first seat.
        public var start: Int
    }

    public let map: SeatMap
    /// The map's version (a token Redis keeps with it; reserves name the version they read).
    public let version: String
    public let rows: [Row]
    /// Seat id → offset.
    public let offsets: [String: Int]
    /// The widest seat id in bytes: each id's slot in Redis.
    public let width: Int

    public init(map: SeatMap, version: String) {
        self.map = map
        self.version = version
        var rows: [Row] = []
        var offsets: [String: Int] = [:]
        var offset = 0, width = 1
        for section in map.sections {
            for row in section.rows {
                rows.append(Row(section: section.name, name: row.name, labels: row.seats, x: row.x, y: row.y, start: offset))
                for label in row.seats {
                    let id = SeatMap.seatID(section: section.name, row: row.name, label: label)
                    offsets[id] = offset
                    width = max(width, id.utf8.count)
                    offset += 1
                }
                offset += 1  // the row's separator
            }
        }
        self.rows = rows
        self.offsets = offsets
        self.width = width
    }

    /// The id of the seat at `offset`, or nil for a row's separator or past the end (the row is
    /// found by its start: rows are in offset order).
    public func id(at offset: Int) -> String? {
        var lo = 0, hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if rows[mid].start <= offset { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let row = rows[lo - 1]
        let i = offset - row.start
        guard i < row.labels.count else { return nil }
        return SeatMap.seatID(section: row.section, row: row.name, label: row.labels[i])
    }

    /// The seat string with every seat available: `a` per seat, `|` after each row.
    public var freshStates: String {
        rows.map { String(repeating: "a", count: $0.labels.count) }.joined(separator: "|") + "|"
    }

    /// The seat ids, each padded with spaces to `width` bytes, at their offsets (separators blank).
    public var idSlots: String {
        var out = ""
        out.reserveCapacity((offsets.count + rows.count) * width)
        for row in rows {
            for label in row.labels {
                let id = SeatMap.seatID(section: row.section, row: row.name, label: label)
                out += id + String(repeating: " ", count: width - id.utf8.count)
            }
            out += String(repeating: " ", count: width)
        }
        return out
    }
}

/// What a seated reserve asks for.
public enum SeatRequest: Sendable, Hashable {
    /// General admission (for a seated category, the best available).
    case none
    /// The best `qty` seats, against the map version read.
    case best(version: String)
    /// These offsets, against the map version read.
    case pick(offsets: [Int], version: String)
}

/// One seated category's seats as Redis holds them at one instant.
public struct SeatStates: Sendable, Hashable {
    public var category: String
    public var version: String
    /// One character per seat: `a` available, `h` held, `s` sold; `|` after each row.
    public var states: String
    public var stock: StockLevels

    public init(category: String, version: String, states: String, stock: StockLevels) {
        self.category = category
        self.version = version
        self.states = states
        self.stock = stock
    }

    /// Seats available, held and sold, counted from the seat string.
    public var counts: (available: Int, held: Int, sold: Int) {
        var a = 0, h = 0, s = 0
        for c in states.utf8 {
            switch c {
            case UInt8(ascii: "a"): a += 1
            case UInt8(ascii: "h"): h += 1
            case UInt8(ascii: "s"): s += 1
            default: break
            }
        }
        return (a, h, s)
    }

    /// The seat string's runs, as `<count><state>` pairs, e.g. `12a3h5s` (the wire form of a row).
    public static func runs<S: Sequence>(_ states: S) -> String where S.Element == UInt8 {
        var out = ""
        var current: UInt8 = 0, count = 0
        for c in states {
            if c == current { count += 1; continue }
            if count > 0 { out += String(count); out.unicodeScalars.append(UnicodeScalar(current)) }
            current = c
            count = 1
        }
        if count > 0 { out += String(count); out.unicodeScalars.append(UnicodeScalar(current)) }
        return out
    }
}

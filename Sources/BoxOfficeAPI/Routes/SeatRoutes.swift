import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficeInventory
import BoxOfficePersistence
import BoxOfficeRuntime
import Foundation
import Hummingbird
import Logging

/// The seat maps this API has read from Redis, by event and category, each with its version:
/// picked seats are reserved by their offsets in the map read, against its version.
struct SeatMaps: Sendable {
    let inventory: RedisInventory
    let cache = SingleFlightCache<String, SeatLayout?>(ttl: .seconds(30), maxEntries: 1_000)

    /// The category's map (nil: it has none), from the cache unless `fresh`.
    func layout(event: EventID, category: String, fresh: Bool = false) async throws -> SeatLayout? {
        let key = "\(event.rawValue)|\(category)"
        if fresh { cache.invalidate(key) }
        return try await cache.value(for: key) { [inventory] in try await inventory.seatLayout(event: event, category: category) }
    }

    func forget(event: EventID, category: String) { cache.invalidate("\(event.rawValue)|\(category)") }
}

/// Seat maps (admin) and the seats of an event with their states (anyone).
struct SeatRoutes {
    let catalog: any CatalogRepository
    let inventory: RedisInventory
    let seatMaps: SeatMaps
    let catalogCache: CatalogRoutes
    /// The seats document of an event, briefly shared by concurrent readers.
    let documents = SingleFlightCache<String, CompressibleBody>(ttl: .milliseconds(200), maxEntries: 1_000)

    /// A seat map document may be large: 100,000 seats.
    static let maxMapBytes = 8 * 1024 * 1024

    struct MapBody: ResponseEncodable, Sendable {
        var event_id: String
        var category: String
        var version: String
        var seats: Int
        var sections: [String]
    }

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.put("/events/{id}/categories/{name}/seats") { request, context in try await setMap(request, context) }
        router.get("/events/{id}/seats") { request, context in try await seats(request, context) }
    }

    func setMap(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> MapBody {
        _ = try context.requireAdmin()
        let eventID = try context.pathEvent()
        guard let raw = context.parameters.get("name"), let name = CategoryName(raw.removingPercentEncoding ?? raw) else {
            throw Problem.notFound("No such category.")
        }
        let map = try await decodeJSON(SeatMap.self, from: request, context: context, limit: Self.maxMapBytes)
        if let problem = map.problem { throw Problem.validation(problem) }
        guard let event = try await catalog.event(eventID) else { throw Problem.notFound("No event \(eventID).") }
        guard event.categories.contains(where: { $0.name == name.rawValue }) else {
            throw Problem.notFound("No category '\(name)' in event \(eventID).")
        }
        let others = event.categories.filter { $0.seated && $0.name != name.rawValue }.reduce(0) { $0 + $1.totalStock }
        guard others + map.seatCount <= SeatMap.maxSeatsPerEvent else {
            throw Problem.validation("An event has at most \(SeatMap.maxSeatsPerEvent) seats; its other maps have \(others).")
        }
        switch try await inventory.setSeatMap(event: eventID, category: name, map: map) {
        case .set(let version):
            try await catalog.setSeatMap(map, category: name.rawValue, event: eventID)
            seatMaps.forget(event: eventID, category: name.rawValue)
            documents.invalidate(eventID.rawValue)
            catalogCache.forget(eventID)
            context.logger.info("seat map set", metadata: [LogKey.eventID: "\(eventID)", "category": "\(name)", "seats": "\(map.seatCount)"])
            return MapBody(event_id: eventID.rawValue, category: name.rawValue, version: version, seats: map.seatCount,
                           sections: map.sections.map(\.name))
        case .noCategory:
            throw Problem.notFound("No category '\(name)' in event \(eventID).")
        case .committed(let held, let confirmed):
            throw Problem(status: .conflict, code: "stock_committed", title: "Conflict",
                          detail: "\(held + confirmed) tickets of '\(name)' are already held or sold; its map can no longer change.")
        }
    }

    /// Every seated category's seats: per row the labels once (or the first number of a row numbered
    /// 1, 2, 3…) and the states as runs (`12a3h5s`: a available, h held, s sold), gzipped when the
    /// client accepts it.
    func seats(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Response {
        let event = try await catalogCache.existingEvent(context)
        let document = try await documents.value(for: event.id.rawValue) { [inventory, seatMaps] in
            let names = event.categories.filter(\.seated).map(\.name)
            var categories: [SeatsDocument.Category] = []
            for states in try await inventory.seatStates(event: event.id, categories: names) {
                var layout = try await seatMaps.layout(event: event.id, category: states.category)
                if layout?.version != states.version {
                    layout = try await seatMaps.layout(event: event.id, category: states.category, fresh: true)
                }
                guard let layout, layout.version == states.version else { continue }
                categories.append(SeatsDocument.Category(layout: layout, states: states))
            }
            return CompressibleBody(Array(try responseEncoder.encode(SeatsDocument(event_id: event.id.rawValue, categories: categories))))
        }
        return document.response(to: request, headers: [.contentType: "application/json", .cacheControl: "no-cache", .vary: "Accept-Encoding"])
    }
}

/// `GET /events/{id}/seats`: each seated category's sections and rows, and every seat's state.
struct SeatsDocument: Encodable, Sendable {
    struct Row: Encodable, Sendable {
        var name: String
        var x: Double?
        var y: Double?
        /// The labels in order, unless they are `first`, `first + 1`, …
        var labels: [String]?
        var first: Int?
        var count: Int
        /// The states along the row as runs: `12a3h5s`.
        var states: String
    }

    struct Section: Encodable, Sendable {
        var name: String
        var rows: [Row]
    }

    struct Category: Encodable, Sendable {
        var name: String
        var version: String
        var total: Int
        var available: Int
        var held: Int
        var sold: Int
        var sections: [Section]

        init(layout: SeatLayout, states: SeatStates) {
            name = states.category
            version = layout.version
            total = states.stock.total
            available = states.stock.available
            held = states.stock.held
            sold = states.stock.confirmed
            let bytes = Array(states.states.utf8)
            var sections: [Section] = []
            for row in layout.rows {
                let end = min(bytes.count, row.start + row.labels.count)
                let runs = SeatStates.runs(bytes[min(row.start, end)..<end])
                let first = Int(row.labels[0])
                let numbered = first.map { f in row.labels.enumerated().allSatisfy { $0.element == String(f + $0.offset) } } ?? false
                let r = Row(name: row.name, x: row.x, y: row.y, labels: numbered ? nil : row.labels, first: numbered ? first : nil,
                            count: row.labels.count, states: runs)
                if sections.last?.name == row.section { sections[sections.count - 1].rows.append(r) } else {
                    sections.append(Section(name: row.section, rows: [r]))
                }
            }
            self.sections = sections
        }
    }

    var legend = ["a": "available", "h": "held", "s": "sold"]
    var event_id: String
    var categories: [Category]
}

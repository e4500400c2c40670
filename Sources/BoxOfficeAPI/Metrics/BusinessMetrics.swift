import Metrics
import Synchronization

/// The business counters of docs/architecture.md, labelled by outcome.
enum BusinessMetrics {
    private static let reservations = CounterFamily(label: "reservation_total", dimension: "result")
    private static let failedReservations = CounterFamily(label: "failed_reservation_total", dimension: "reason")
    private static let confirmations = CounterFamily(label: "confirmation_total", dimension: "result")
    private static let refunds = CounterFamily(label: "refund_total", dimension: "by")
    private static let lateConfirmations = CounterFamily(label: "late_confirmation_total", dimension: "result")

    static func reservation(_ result: String) { reservations.counter(result).increment() }
    static func failedReservation(_ reason: String) { failedReservations.counter(reason).increment() }
    static func confirmation(_ result: String) { confirmations.counter(result).increment() }
    /// A booking refunded, by `owner` or `admin`.
    static func refund(by: String) { refunds.counter(by).increment() }
    /// A payment after the hold's time: `accepted` (confirmed late) or `refused` (refund owed).
    static func lateConfirmation(_ result: String) { lateConfirmations.counter(result).increment() }
}

/// The counters of one label over the values of one dimension, each made once.
final class CounterFamily: Sendable {
    private let label: String
    private let dimension: String
    private let made = MadeOnce<String, Counter>()

    init(label: String, dimension: String) {
        self.label = label
        self.dimension = dimension
    }

    func counter(_ value: String) -> Counter {
        made.value(for: value) { Counter(label: label, dimensions: [(dimension, value)]) }
    }
}

/// Metric handles by key, each made once and then reused: the metrics factory's
/// lookup by label and dimensions is not free per request, and the keys are few.
final class MadeOnce<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let values = Mutex<[Key: Value]>([:])

    func value(for key: Key, make: () -> Value) -> Value {
        if let found = values.withLock({ $0[key] }) { return found }
        let made = make()
        return values.withLock { d in
            if let raced = d[key] { return raced }
            d[key] = made
            return made
        }
    }
}

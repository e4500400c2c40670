import BoxOfficeKafka
import Logging
import Synchronization

/// The relay's current Kafka producer: made on first use, replaced when it stalls,
/// closed on shutdown.
final class ProducerSlot: Sendable {
    private struct State {
        var producer: KafkaProducer?
        var closed = false
    }

    private let configuration: KafkaProducerConfiguration
    private let logger: Logger
    private let state = Mutex(State())

    init(configuration: KafkaProducerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The current producer, made now if there is none. `rd_kafka_new` only starts
    /// librdkafka's threads; it does not wait on the network.
    func producer() throws -> KafkaProducer {
        try state.withLock { s in
            if s.closed { throw KafkaError(.closed, "the relay is shutting down") }
            if let p = s.producer { return p }
            let p = try KafkaProducer(configuration: configuration, logger: logger)
            s.producer = p
            return p
        }
    }

    /// The current producer's fatal error, if any.
    var fatalError: KafkaError? { state.withLock { $0.producer }?.fatalError }

    /// Takes the current producer out and shuts it down without waiting for the broker
    /// (what it still held fails); the next `producer()` makes a new one.
    func replace() async {
        let old = state.withLock { s in
            defer { s.producer = nil }
            return s.producer
        }
        await old?.shutdown(flushTimeout: .zero)
    }

    /// No producer is made any more, and the current one's batch in flight fails at once.
    func close() {
        state.withLock { s in
            s.closed = true
            return s.producer
        }?.abort()
    }

    /// Closes the slot and shuts the producer down.
    func shutdown() async {
        close()
        await replace()
    }
}

/// When the relay's producer has stopped delivering: a value-type state machine the relay
/// feeds each round's outcome; it answers when to replace the producer and how long to pause.
struct ProducerHealth {
    let stallTimeout: Duration
    let restartDelay: Duration
    let maximumRestartDelay: Duration
    /// The last time the producer was known to be fine: it delivered, or had nothing to send.
    private(set) var lastProgress: ContinuousClock.Instant
    /// Replacements since the last delivery.
    private(set) var restartsInARow = 0

    init(stallTimeout: Duration, restartDelay: Duration, maximumRestartDelay: Duration, now: ContinuousClock.Instant) {
        self.stallTimeout = stallTimeout
        self.restartDelay = restartDelay
        self.maximumRestartDelay = maximumRestartDelay
        self.lastProgress = now
    }

    /// One round: `delivered` events went out and `failures` did not; `fatal` is the
    /// producer's fatal error, if any. Returns why the producer is to be replaced, or nil.
    mutating func record(delivered: Int, failures: [KafkaError], fatal: KafkaError?, at now: ContinuousClock.Instant) -> String? {
        if let fatal { return "fatal producer error: \(fatal.message)" }
        if let lost = failures.first(where: { $0.code.meansProducerStateLost }) {
            return "the broker lost the producer's state: \(lost.message)"
        }
        if delivered > 0 || failures.isEmpty {
            if delivered > 0 { restartsInARow = 0 }
            lastProgress = now
            return nil
        }
        if now - lastProgress >= stallTimeout {
            return "nothing delivered for \(stallTimeout) with entries waiting (last error: \(failures[0].message))"
        }
        return nil
    }

    /// The producer was replaced at `now`: returns the pause before the next round.
    mutating func restarted(at now: ContinuousClock.Instant) -> Duration {
        let pause = min(restartDelay * (1 << min(restartsInARow, 16)), maximumRestartDelay)
        restartsInARow += 1
        lastProgress = now + pause
        return pause
    }
}

/// An event's waiting room: when it opens and how fast it admits buyers.
public struct QueueSettings: Sendable, Hashable {
    /// When admission starts (ms since 1970).
    public var opensAtMs: Int64
    /// Buyers admitted a minute, spread evenly over the minute.
    public var admitPerMinute: Int
    /// How long before `opensAtMs` buyers may join (they get a random place at the opening).
    public var preQueueMinutes: Int
    /// How long an admission lasts.
    public var sessionMinutes: Int
    /// At most this many admissions running at once; nil: no cap.
    public var maxActive: Int?
    /// Whether admission is paused.
    public var paused: Bool

    public init(opensAtMs: Int64, admitPerMinute: Int, preQueueMinutes: Int = 15, sessionMinutes: Int = 10, maxActive: Int? = nil, paused: Bool = false) {
        self.opensAtMs = opensAtMs
        self.admitPerMinute = admitPerMinute
        self.preQueueMinutes = preQueueMinutes
        self.sessionMinutes = sessionMinutes
        self.maxActive = maxActive
        self.paused = paused
    }

    /// `scheduled` before the pre-queue opens, `pre_queue` until the opening, then `open`;
    /// `paused` whenever admission is paused.
    public func phase(atMs now: Int64) -> String {
        if paused { return "paused" }
        if now < opensAtMs - Int64(preQueueMinutes) * 60_000 { return "scheduled" }
        return now < opensAtMs ? "pre_queue" : "open"
    }
}

/// A waiting room as anyone may see it.
public struct QueueStatus: Sendable, Hashable {
    public var settings: QueueSettings
    /// Redis time when it was read (ms).
    public var nowMs: Int64
    /// Buyers waiting.
    public var waiting: Int
    /// Admissions running.
    public var admitted: Int
    /// Admissions made so far.
    public var admittedTotal: Int

    public init(settings: QueueSettings, nowMs: Int64, waiting: Int, admitted: Int, admittedTotal: Int) {
        self.settings = settings
        self.nowMs = nowMs
        self.waiting = waiting
        self.admitted = admitted
        self.admittedTotal = admittedTotal
    }
}

/// Where one buyer stands in a waiting room.
public struct QueuePlace: Sendable, Hashable {
    public enum State: String, Sendable { case waiting, admitted, expired }
    public var state: State
    /// From 1 at the front among those waiting; 0 once admitted.
    public var position: Int
    public var etaSeconds: Int
    public var pollAfterSeconds: Int
    /// When the admission ends (ms), once admitted.
    public var admissionEndsMs: Int64?
    /// Redis time of the answer (ms).
    public var nowMs: Int64

    public init(state: State, position: Int, etaSeconds: Int, pollAfterSeconds: Int, admissionEndsMs: Int64?, nowMs: Int64) {
        self.state = state
        self.position = position
        self.etaSeconds = etaSeconds
        self.pollAfterSeconds = pollAfterSeconds
        self.admissionEndsMs = admissionEndsMs
        self.nowMs = nowMs
    }
}

/// What joining or polling a waiting room came to.
public enum QueueOutcome: Sendable, Hashable {
    /// The buyer's place (`joined`: a new one), and how many buyers this call admitted.
    case place(QueuePlace, joined: Bool, admittedNow: Int)
    /// The event has no waiting room.
    case noQueue
    /// Too early: the pre-queue starts at `startsAtMs`.
    case notOpen(startsAtMs: Int64)
    /// The buyer has no place (poll without a join), after `admittedNow` admissions.
    case notJoined(admittedNow: Int)
}

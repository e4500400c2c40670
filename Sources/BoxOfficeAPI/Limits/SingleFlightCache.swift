import Synchronization

/// A small in-process cache with a time to live and single flight: while a
/// value is being loaded, other callers for the same key wait for that load
/// instead of starting their own, so a storm of reads costs one backend call
/// per key per `ttl`.
final class SingleFlightCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private enum Entry {
        case ready(Value, expires: ContinuousClock.Instant)
        case loading(Task<Value, any Error>)
    }

    private enum Lookup {
        case hit(Value)
        case wait(Task<Value, any Error>)
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let ttl: Duration
    private let maxEntries: Int

    init(ttl: Duration, maxEntries: Int = 10_000) {
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    func value(for key: Key, load: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = ContinuousClock.now
        let lookup: Lookup = entries.withLock { entries in
            switch entries[key] {
            case .ready(let value, let expires) where expires > now:
                return .hit(value)
            case .loading(let task):
                return .wait(task)
            default:
                if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
                let task = Task { try await load() }
                entries[key] = .loading(task)
                return .wait(task)
            }
        }
        let task: Task<Value, any Error>
        switch lookup {
        case .hit(let value): return value
        case .wait(let loading): task = loading
        }
        do {
            let value = try await task.value
            entries.withLock { entries in
                if case .loading = entries[key] { entries[key] = .ready(value, expires: ContinuousClock.now + ttl) }
            }
            return value
        } catch {
            entries.withLock { entries in
                if case .loading = entries[key] { entries[key] = nil }
            }
            throw error
        }
    }

    /// Forgets `key` (after a write this process made).
    func invalidate(_ key: Key) { _ = entries.withLock { $0.removeValue(forKey: key) } }

    /// Forgets everything.
    func removeAll() { entries.withLock { $0.removeAll() } }
}

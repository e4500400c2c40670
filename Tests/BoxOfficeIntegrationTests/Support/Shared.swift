import Synchronization

/// Shared mutable state for concurrent test tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// A flag and a counter shared across tasks.
final class Flag: Sendable {
    private let v = Atomic<Bool>(false)
    func set() { v.store(true, ordering: .relaxed) }
    var isSet: Bool { v.load(ordering: .relaxed) }
}

final class Counter64: Sendable {
    private let v = Atomic<Int>(0)
    func add(_ n: Int = 1) { v.add(n, ordering: .relaxed) }
    var value: Int { v.load(ordering: .relaxed) }
}

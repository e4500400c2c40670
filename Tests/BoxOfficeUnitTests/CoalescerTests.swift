@testable import BoxOfficeInventory
import Synchronization
import Testing

/// Concurrent calls of one lane go to `run` together: alone on an idle lane, and as one
/// batch of whatever arrived while the lane's previous batch was under way.
@Suite struct CoalescerTests {
    struct Failure: Error, Equatable { let batch: [Int] }

    /// A `run` that records each batch, answers each item with item × 10 (or fails a batch
    /// holding `failing`), and holds its first batch until `release()`.
    final class Runner: Sendable {
        let batches = Mutex<[[Int]]>([])
        private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
        let failing: Int?
        let wrongCount: Bool

        init(failing: Int? = nil, wrongCount: Bool = false) {
            self.failing = failing
            self.wrongCount = wrongCount
        }

        func run(_ lane: String, _ items: [Int]) async throws -> [Int] {
            let first = batches.withLock { $0.append(items); return $0.count == 1 }
            if first {
                await withCheckedContinuation { c in
                    let open = gate.withLock { g in
                        if !g.open { g.waiting.append(c) }
                        return g.open
                    }
                    if open { c.resume() }
                }
            }
            if let failing, items.contains(failing) { throw Failure(batch: items) }
            return wrongCount ? [] : items.map { $0 * 10 }
        }

        func release() {
            for c in gate.withLock({ g in g.open = true; defer { g.waiting = [] }; return g.waiting }) { c.resume() }
        }

        var started: Int { batches.withLock { $0.count } }
    }

    /// Waits until `condition` holds, for at most two seconds.
    func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(2)
        while !condition() {
            try #require(ContinuousClock.now < deadline, "condition not met within 2 s")
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test func aCallOnAnIdleLaneRunsAloneAtOnce() async throws {
        let runner = Runner()
        runner.release()
        let coalescer = Coalescer<String, Int, Int>(maxBatch: 8) { try await runner.run($0, $1) }
        #expect(try await coalescer.submit(7, lane: "a") == 70)
        #expect(try await coalescer.submit(8, lane: "a") == 80)
        #expect(runner.batches.withLock { $0 } == [[7], [8]])
        #expect(coalescer.waiting(in: "a") == nil)  // idle again
    }

    /// Calls that arrive during a batch wait for it, then go in arrival order, at most
    /// `maxBatch` per batch; each gets its own reply.
    @Test func callsArrivingDuringABatchGoTogetherInTheNext() async throws {
        let runner = Runner()
        let coalescer = Coalescer<String, Int, Int>(maxBatch: 3) { try await runner.run($0, $1) }
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            group.addTask { (0, try await coalescer.submit(0, lane: "a")) }
            try await until { runner.started == 1 }
            for i in 1...5 {
                group.addTask { (i, try await coalescer.submit(i, lane: "a")) }
                try await until { coalescer.waiting(in: "a") == i }  // arrival order is submission order
            }
            #expect(runner.started == 1)  // nobody overtakes the batch under way
            runner.release()
            var replies: [Int: Int] = [:]
            for try await (i, reply) in group { replies[i] = reply }
            #expect(replies == [0: 0, 1: 10, 2: 20, 3: 30, 4: 40, 5: 50])
        }
        #expect(runner.batches.withLock { $0 } == [[0], [1, 2, 3], [4, 5]])
        #expect(coalescer.waiting(in: "a") == nil)
    }

    @Test func lanesDoNotWaitForEachOther() async throws {
        let runner = Runner()
        let coalescer = Coalescer<String, Int, Int>(maxBatch: 8) { try await runner.run($0, $1) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask { try await coalescer.submit(1, lane: "held") }
            try await until { runner.started == 1 }
            // Lane "b" is idle: its call runs while lane "held"'s first batch is still held.
            #expect(try await coalescer.submit(2, lane: "b") == 20)
            runner.release()
            #expect(try await group.next() == 10)
        }
    }

    /// A failed batch's error reaches each of its members, and the lane goes on.
    @Test func aFailedBatchFailsEachMemberAndTheLaneGoesOn() async throws {
        let runner = Runner(failing: 2)
        let coalescer = Coalescer<String, Int, Int>(maxBatch: 8) { try await runner.run($0, $1) }
        try await withThrowingTaskGroup(of: (Int, Result<Int, Failure>).self) { group in
            group.addTask { (0, await Self.result { try await coalescer.submit(0, lane: "a") }) }
            try await until { runner.started == 1 }
            for i in 1...3 {
                group.addTask { (i, await Self.result { try await coalescer.submit(i, lane: "a") }) }
                try await until { coalescer.waiting(in: "a") == i }
            }
            runner.release()
            var results: [Int: Result<Int, Failure>] = [:]
            for try await (i, r) in group { results[i] = r }
            #expect(results[0] == .success(0))
            for i in 1...3 { #expect(results[i] == .failure(Failure(batch: [1, 2, 3]))) }
        }
        #expect(try await coalescer.submit(4, lane: "a") == 40)
    }

    @Test func aRunAnsweringTheWrongNumberOfRepliesFailsItsBatch() async throws {
        let runner = Runner(wrongCount: true)
        runner.release()
        let coalescer = Coalescer<String, Int, Int>(maxBatch: 8) { try await runner.run($0, $1) }
        await #expect(throws: CoalescerError.self) { try await coalescer.submit(1, lane: "a") }
        #expect(coalescer.waiting(in: "a") == nil)
    }

    static func result(_ body: () async throws -> Int) async -> Result<Int, Failure> {
        do { return .success(try await body()) } catch let f as Failure { return .failure(f) } catch { return .failure(Failure(batch: [])) }
    }
}

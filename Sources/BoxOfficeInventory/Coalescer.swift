import Synchronization

/// Groups concurrent calls of one lane into batches, each handed to `run` at once.
///
/// A call on an idle lane runs at once, alone: no waiting is added where there is no
/// queue. Calls that arrive while a batch of their lane is under way wait, and when it
/// returns, the first of them runs the next batch: itself and up to `maxBatch - 1`
/// others, in arrival order. So under load each round trip carries what arrived during
/// the one before (group commit), and a lane never has more than one batch under way.
///
/// The caller that runs a batch is one of its members (no task of its own is made), and
/// it hands every other member its reply, or the batch's error, before returning its own.
final class Coalescer<Lane: Hashable & Sendable, Item: Sendable, Reply: Sendable>: Sendable {
    typealias Run = @Sendable (Lane, [Item]) async throws -> [Reply]

    private enum Turn: Sendable {
        case lead(followers: [Waiter])
        case done(Result<Reply, any Error>)
    }

    /// A call waiting for its turn. Its continuation is resumed exactly once: with `.lead`
    /// when it runs the next batch, or with `.done` when the batch it went in has ended.
    private struct Waiter: Sendable {
        let item: Item
        let continuation: UnsafeContinuation<Turn, Never>
    }

    /// A lane is busy while it has an entry: the calls waiting for its next batch.
    private let lanes = Mutex<[Lane: [Waiter]]>([:])
    let maxBatch: Int
    private let run: Run

    init(maxBatch: Int, run: @escaping Run) {
        precondition(maxBatch >= 1, "a batch holds at least one call")
        self.maxBatch = maxBatch
        self.run = run
    }

    /// Batches run so far, and the calls they carried.
    private let counts = Atomic<Int>(0), carried = Atomic<Int>(0)
    var batchesRun: (batches: Int, calls: Int) { (counts.load(ordering: .relaxed), carried.load(ordering: .relaxed)) }

    /// How many calls wait for `lane`'s next batch; nil when the lane is idle.
    func waiting(in lane: Lane) -> Int? { lanes.withLock { $0[lane]?.count } }

    /// `item`'s reply, from a batch of its lane.
    func submit(_ item: Item, lane: Lane) async throws -> Reply {
        var followers: [Waiter] = []
        if !lanes.withLock({ Self.claim(lane, in: &$0) }) {
            let turn = await withUnsafeContinuation { (continuation: UnsafeContinuation<Turn, Never>) in
                let leads = lanes.withLock { lanes in
                    if lanes[lane] != nil {
                        lanes[lane]!.append(Waiter(item: item, continuation: continuation))
                        return false
                    }
                    return Self.claim(lane, in: &lanes)  // the batch ended in between
                }
                if leads { continuation.resume(returning: .lead(followers: [])) }
            }
            switch turn {
            case .done(let reply): return try reply.get()
            case .lead(let others): followers = others
            }
        }

        counts.add(1, ordering: .relaxed)
        carried.add(followers.count + 1, ordering: .relaxed)
        let replies: Result<[Reply], any Error>
        do {
            let r = try await run(lane, [item] + followers.map(\.item))
            guard r.count == followers.count + 1 else { throw CoalescerError(items: followers.count + 1, replies: r.count) }
            replies = .success(r)
        } catch {
            replies = .failure(error)
        }
        // The next batch goes first, so that it is on its way while this one's replies are read.
        let next = lanes.withLock { lanes -> [Waiter] in
            guard let waiting = lanes[lane], !waiting.isEmpty else {
                lanes[lane] = nil
                return []
            }
            let batch = Array(waiting.prefix(maxBatch))
            lanes[lane] = Array(waiting.dropFirst(batch.count))
            return batch
        }
        if let leader = next.first { leader.continuation.resume(returning: .lead(followers: Array(next.dropFirst()))) }
        for (i, follower) in followers.enumerated() {
            follower.continuation.resume(returning: .done(replies.map { $0[i + 1] }))
        }
        return try replies.get()[0]
    }

    /// Marks an idle `lane` busy; false when it already is.
    private static func claim(_ lane: Lane, in lanes: inout [Lane: [Waiter]]) -> Bool {
        guard lanes[lane] == nil else { return false }
        lanes[lane] = []
        return true
    }
}

/// A batch's `run` answered a different number of replies than it was given calls.
struct CoalescerError: Error, CustomStringConvertible {
    let items: Int, replies: Int
    var description: String { "a batch of \(items) calls got \(replies) replies" }
}

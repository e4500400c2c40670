import ArgumentParser
import BoxOfficeAllocator
import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import BoxOfficeSupport
import Foundation
import Logging
import NIOCore
import NIOPosix

@main
enum BenchMain {
    /// Like the servers, the benchmarks run Swift concurrency on SwiftNIO's event loops
    /// (`BOXOFFICE_NIO_EXECUTOR=0` keeps Swift's default pool, for comparison).
    static func main() async {
        if ProcessInfo.processInfo.environment["BOXOFFICE_NIO_EXECUTOR"] != "0" {
            _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        await BoxOfficeBench.main()
    }
}

struct BoxOfficeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxoffice-bench",
        abstract: "Benchmarks that print figures (driven by scripts/bench-*.sh).",
        subcommands: [InventoryBench.self, WorkerBench.self, RelayBench.self, RepairBench.self, WaveBench.self, ScriptSource.self])
}

/// Prints the exact source of an inventory script (prelude included), for redis-benchmark.
struct ScriptSource: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "script-source", abstract: "Print an inventory script's source.")
    @Argument var name: String = "reserve"

    func run() throws {
        guard let s = InventoryScripts.all.first(where: { $0.name == name }) else { throw ValidationError("no script \(name)") }
        print(s.source, terminator: "")
    }
}

struct InventoryBench: AsyncParsableCommand {
    /// User + system CPU time of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }

    static let configuration = CommandConfiguration(
        commandName: "inventory", abstract: "Reserve operations through the Swift client at a given concurrency.")

    @Option(help: "Redis URL.") var redis = "redis://127.0.0.1:6379"
    @Option(help: "Reserve calls in total.") var requests = 100_000
    @Option(help: "Concurrent callers.") var concurrency = 64
    @Option(help: "Pipelined connections in the client pool.") var connections = 4
    @Option(help: "Event id to use (its keys are created and deleted).") var event = "bench"
    @Option(help: "SwiftNIO event loops for the client (0: one per core).") var eventLoops = 0

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var c = try RedisConfiguration(url: redis)
        c.poolSize = connections
        let group: any EventLoopGroup = eventLoops > 0 ? MultiThreadedEventLoopGroup(numberOfThreads: eventLoops) : MultiThreadedEventLoopGroup.singleton
        let client = RedisClient(configuration: c, eventLoopGroup: group, logger: logger)
        defer { client.shutdown() }
        let inventory = RedisInventory(redis: client)
        let eventID = EventID(event)!
        let category = CategoryName("floor")!
        _ = try await inventory.initCategory(event: eventID, category: category, totalStock: 1_000_000_000,
                                             price: Money(amount: 1, currency: "EUR"), maxPerUser: nil)
        // Warm-up: load the script and open the connections.
        for i in 0..<200 { _ = try await inventory.reserve(event: eventID, category: category, buyer: BuyerID("w\(i)")!, quantity: 1) }

        let cpuBefore = Self.processCPUSeconds()
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for w in 0..<concurrency {
                group.addTask {
                    var mine: [Double] = []
                    mine.reserveCapacity(requests / concurrency + 1)
                    for i in stride(from: w, to: requests, by: concurrency) {
                        let t0 = ContinuousClock.now
                        let outcome = try await inventory.reserve(event: eventID, category: category, buyer: BuyerID("b\(i)")!, quantity: 1)
                        guard case .held = outcome else { throw ValidationError("unexpected \(outcome)") }
                        let d = t0.duration(to: .now)
                        mine.append(d.inSeconds * 1e3)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let seconds = start.duration(to: .now).inSeconds
        let cpu = Self.processCPUSeconds() - cpuBefore
        let sorted = latencies.sorted()
        func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(String(format: "swift-client reserve: %d requests, concurrency %d, %d connections: %.0f ops/s  p50 %.3f ms  p99 %.3f ms",
                     requests, concurrency, connections, Double(requests) / seconds, pct(0.50), pct(0.99)))
        print(String(format: "swift-client CPU: %.1f µs per reserve (%.0f%% of one core), ", cpu / Double(requests) * 1e6, cpu / seconds * 100)
              + Allocator.description)
        print(String(format: "RESULT ops_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f", Double(requests) / seconds, pct(0.50), pct(0.99)))
        try await client.send(["EVAL", "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end return 0", 0,
                               .string("bo:{ev:\(event)}:*")])
    }
}

import BoxOfficeRedis
import BoxOfficeSupport
import Foundation

/// A private Redis Cluster (3 primaries, 3 replicas) for tests that move slots or kill nodes,
/// started by `scripts/redis-cluster.sh` on six free ports, its data in a temporary folder.
final class RedisClusterProcess: Sendable {
    let firstPort: Int
    let directory: URL

    /// The six nodes' ports; the first three start as primaries.
    var ports: [Int] { Array(firstPort..<firstPort + 6) }
    /// The seed list for `BOXOFFICE_REDIS_URL`.
    var url: String { "redis://" + ports.prefix(3).map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../scripts/redis-cluster.sh").standardized.path
    }

    /// Starts the cluster and waits until every node says it is ok. `nodeTimeout` is how long a
    /// primary may be silent before its replica takes over.
    init(nodeTimeout: Duration = .milliseconds(1000)) throws {
        var base = 0
        for _ in 0..<100 {
            // Each node also listens on its port + 10000 (the cluster bus); both stay below the
            // ephemeral range.
            let candidate = Int.random(in: 20_000...22_700)
            if (candidate..<candidate + 6).allSatisfy({ canBind($0) && canBind($0 + 10_000) }) { base = candidate; break }
        }
        guard base > 0 else { throw RedisError(.unavailable, "no six free ports for a test cluster") }
        firstPort = base
        // scripts/test.sh kills what a crashed test process left running by the pid files under this prefix.
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-redis-cluster-\(UUID().uuidString)")
        var env = ProcessInfo.processInfo.environment
        env["BOXOFFICE_REDIS_CLUSTER_NODE_TIMEOUT_MS"] = "\(nodeTimeout.inMilliseconds)"
        env["BOXOFFICE_REDIS_APPENDFSYNC"] = "always"
        let result = try runScript(["start", directory.path, "\(base)"], environment: env)
        guard result.status == 0 else { throw RedisError(.unavailable, "test cluster did not start: \(result.output.suffix(800))") }
    }

    /// SIGKILLs the node on `port` (a crash).
    func kill(port: Int) {
        if let pid = try? String(contentsOf: directory.appendingPathComponent("\(port)/redis.pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), let n = Int32(pid) {
            Foundation.kill(n, SIGKILL)
        }
    }

    private func runScript(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Self.script] + arguments
        if let environment { p.environment = environment }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        // Reaped here: Foundation's own watch missed this script's exit (its redis-servers
        // daemonize), and waitUntilExit then waited forever.
        var status: Int32 = 0
        if waitpid(p.processIdentifier, &status, 0) == p.processIdentifier {
            return ((status >> 8) & 0xff, String(decoding: data, as: UTF8.self))
        }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    deinit {
        for port in ports { kill(port: port) }
        try? FileManager.default.removeItem(at: directory)
    }
}


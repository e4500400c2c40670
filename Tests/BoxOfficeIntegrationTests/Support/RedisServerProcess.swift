import BoxOfficeRedis
import Foundation

/// A private redis-server for tests that stop and restart Redis, so the shared
/// test server is never disturbed. Its data lives in a temporary folder.
final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: the Process is touched only by the test task that owns this object.
    let port: Int
    let directory: URL
    private var process: Process?

    init(appendOnly: Bool = true) throws {
        self.port = freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-redis-\(port)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.appendOnly = appendOnly
    }

    private let appendOnly: Bool

    var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts the server and waits until it answers PING.
    func start() async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        p.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
                       "--appendonly", appendOnly ? "yes" : "no", "--appendfsync", "always",
                       "--logfile", directory.appendingPathComponent("redis.log").path,
                       // scripts/test.sh kills what a crashed test process left running by this file.
                       "--pidfile", directory.appendingPathComponent("redis.pid").path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        var c = RedisConfiguration()
        c.port = port
        c.poolSize = 1
        var logger = TestStack.logger
        logger.logLevel = .critical
        let probe = RedisClient(configuration: c, logger: logger)
        defer { probe.shutdown() }
        let up = await eventually(timeout: .seconds(10)) { (try? await probe.ping()) != nil }
        guard up else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
            throw RedisError(.unavailable, "test redis-server did not start on \(port): \(log.suffix(800))")
        }
    }

    /// Stops the server with SIGKILL (a crash) or SIGTERM, and waits for it to exit.
    func stop(kill: Bool = false) {
        guard let p = process else { return }
        if kill { Foundation.kill(p.processIdentifier, SIGKILL) } else { p.terminate() }
        p.waitUntilExit()
        process = nil
    }

    deinit {
        stop(kill: true)
        try? FileManager.default.removeItem(at: directory)
    }
}

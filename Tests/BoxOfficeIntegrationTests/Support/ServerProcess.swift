import Foundation

/// One of our executables run as a child process (so a test can SIGKILL it).
final class ServerProcess: @unchecked Sendable {
    // @unchecked: the Process is only touched by the test task that owns this object.
    let name: String
    let environment: [String: String]
    let logURL: URL
    private var process: Process?

    init(_ name: String, environment overrides: [String: String]) throws {
        guard let dir = ProcessInfo.processInfo.environment["BOXOFFICE_BIN_DIR"] else { throw TestStackMissing() }
        self.name = dir + "/" + name
        var env = ProcessInfo.processInfo.environment
        env["BOXOFFICE_LOG_LEVEL"] = "warning"
        env["BOXOFFICE_ENV_FILE"] = "/nonexistent"
        for (k, v) in overrides { env[k] = v }
        self.environment = env
        self.logURL = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).log")
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: name)
        p.environment = environment
        if !FileManager.default.fileExists(atPath: logURL.path) { FileManager.default.createFile(atPath: logURL.path, contents: nil) }
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
    }

    var isRunning: Bool { process?.isRunning ?? false }

    /// SIGKILL: a crash, no cleanup.
    func kill() {
        guard let p = process else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// SIGTERM and wait: a graceful stop.
    func terminate() {
        guard let p = process else { return }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    deinit { kill() }
}

/// A free TCP port on loopback (best effort).
func freePort() -> Int { Int.random(in: 40_000...49_999) }

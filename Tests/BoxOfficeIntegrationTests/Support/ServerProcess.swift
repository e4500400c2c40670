import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    /// SIGSTOP: the process freezes (a long GC-like pause, a VM stall) without exiting.
    func pause() {
        guard let p = process else { return }
        Foundation.kill(p.processIdentifier, SIGSTOP)
    }

    /// SIGCONT: a paused process carries on.
    func resume() {
        guard let p = process else { return }
        Foundation.kill(p.processIdentifier, SIGCONT)
    }

    /// SIGTERM and wait: a graceful stop.
    func terminate() {
        guard let p = process else { return }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }

    /// SIGTERM, then waits up to `limit` for the process to exit; a process still running then
    /// is killed and the answer is false.
    func terminate(within limit: Duration) async -> Bool {
        guard let p = process else { return true }
        p.terminate()
        let exited = await eventually(timeout: limit, every: .milliseconds(50)) { !p.isRunning }
        if !exited { kill() }
        process = nil
        return exited
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    deinit { kill() }
}

/// A TCP port on loopback that is free now, below the kernel's ephemeral range
/// (32768 and up) so outgoing connections do not take it meanwhile.
func freePort() -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: 20_000...32_000)
        if canBind(port) { return port }
    }
    return Int.random(in: 20_000...32_000)
}

func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

import BoxOfficeKafka
import Foundation

/// A private Tansu broker (memory storage) for a test that stops the broker,
/// so the shared test broker is never disturbed.
final class TansuProcess: @unchecked Sendable {
    // @unchecked: the Process is touched only by the test task that owns this object.
    let port = freePort()
    private var process: Process?

    var address: String { "127.0.0.1:\(port)" }

    func start() async throws {
        guard let tansu = TestStack.tansu else { throw TestStackMissing() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tansu)
        p.arguments = ["broker", "--listener-url", "tcp://\(address)", "--advertised-listener-url", "tcp://\(address)",
                       "--storage-engine", "memory://tansu/"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let probe = try KafkaProbe(kafka: KafkaConfiguration(brokers: address), logger: TestStack.logger)
        defer { Task { await probe.shutdown() } }
        let up = await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
            (try? await probe.check(timeout: .milliseconds(500))) != nil
        }
        guard up else { throw KafkaError(.transport, "private tansu did not start on \(address)") }
    }

    /// SIGSTOP: the broker freezes; clients see timeouts.
    func pause() { if let p = process { kill(p.processIdentifier, SIGSTOP) } }
    /// SIGCONT.
    func resume() { if let p = process { kill(p.processIdentifier, SIGCONT) } }

    func stop() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGCONT)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    deinit { stop() }
}

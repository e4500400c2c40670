import BoxOfficeAPI
import BoxOfficeHTTP
import BoxOfficeKafka
import BoxOfficePersistence
import BoxOfficePostgres
import BoxOfficeRedis
import BoxOfficeRuntime
import Foundation
import Logging
import Testing

/// The servers `make test` started (scripts/test.sh), read from BOXOFFICE_* variables.
enum TestStack {
    /// Settings of the test stack; a test fails with a clear message when run outside `make test`.
    static func settings() throws -> BoxOfficeSettings {
        let env = ProcessInfo.processInfo.environment
        guard env["BOXOFFICE_REDIS_URL"] != nil, env["BOXOFFICE_DATABASE_URL"] != nil, env["BOXOFFICE_KAFKA_BROKERS"] != nil else {
            throw TestStackMissing()
        }
        return try BoxOfficeSettings.load()
    }

    static var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = .warning
        return l
    }

    /// A unique suffix for keys, topics, groups and ids of one test.
    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(UInt64.random(in: 0..<UInt64.max).hexString)"
    }

    static var tansu: String? { ProcessInfo.processInfo.environment["BOXOFFICE_TANSU_BIN"] }
}

struct TestStackMissing: Error, CustomStringConvertible {
    var description: String { "integration tests need the test stack: run `make test` (scripts/test.sh starts Redis, PostgreSQL and Kafka)" }
}

extension UInt64 {
    var hexString: String { String(self, radix: 16) }
}

/// A Redis client to the test stack for the duration of `body`.
func withRedis<T>(_ body: (RedisClient) async throws -> T) async throws -> T {
    let client = RedisClient(configuration: try TestStack.settings().redis(), logger: TestStack.logger)
    defer { client.shutdown() }
    return try await body(client)
}

/// A PostgreSQL client to the test stack for the duration of `body`.
func withPostgres<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
    let client = PostgresClient(configuration: try TestStack.settings().postgres(applicationName: "tests"), logger: TestStack.logger)
    do {
        let value = try await body(client)
        await client.shutdown()
        return value
    } catch {
        await client.shutdown()
        throw error
    }
}

/// Polls `condition` until it is true or `timeout` passes; returns whether it became true.
func eventually(timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Runs a command to completion; returns its exit status and output.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Creates a topic on the test broker with the Tansu CLI.
func createTopic(_ name: String, partitions: Int, brokers: String? = nil) throws {
    guard let tansu = TestStack.tansu else { throw TestStackMissing() }
    let brokers = try brokers ?? TestStack.settings().kafkaBrokers
    let result = try run(tansu, ["topic", "create", name, "--partitions", "\(partitions)", "--broker", "tcp://\(brokers)"])
    guard result.status == 0 else { throw TopicCreationFailed(output: result.output) }
}

struct TopicCreationFailed: Error { var output: String }

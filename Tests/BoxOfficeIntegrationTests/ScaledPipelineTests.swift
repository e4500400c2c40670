import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeRedis
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// The scaled shape's processes on the test cluster: two API replicas and two workers in one
/// consumer group, buyers going to either replica over HTTP and to the other one when theirs
/// fails, as a load balancer does.
@Suite("Scaled pipeline (two API replicas, two workers, Redis Cluster)")
struct ScaledPipelineTests {
    /// One API replica killed mid-war, then one worker: the dead API's relay lease moves to the
    /// other replica, and every 2xx confirm reaches PostgreSQL exactly once.
    @Test(.timeLimit(.minutes(4)))
    func apiReplicaAndWorkerKilledMidWarLoseNoConfirm() async throws {
        try await withPipeline(redisURL: RedisClusterTests.sharedClusterURL()) { f in
            let apiPorts = [freePort(), freePort()]
            let apis = try apiPorts.map { port in
                try ServerProcess("boxoffice-api", environment: f.environment([
                    "BOXOFFICE_API_PORT": "\(port)", "BOXOFFICE_RATE_RESERVE_PER_SECOND": "100000", "BOXOFFICE_RATE_RESERVE_BURST": "100000"]))
            }
            let workers = try (0..<2).map { _ in
                try ServerProcess("boxoffice-worker", environment: f.environment(["BOXOFFICE_WORKER_BATCH_SIZE": "50", "BOXOFFICE_WORKER_BATCH_WAIT_MS": "5"]))
            }
            for p in apis + workers { try p.start() }
            defer { for p in apis + workers { p.kill() } }
            for port in apiPorts {
                let ready = await eventually(timeout: .seconds(60), every: .milliseconds(200)) {
                    (try? await Self.send(port: port, .get, "/ready", token: nil))?.status == .ok
                }
                #expect(ready, "API on \(port) ready: \(apis[apiPorts.firstIndex(of: port)!].log.suffix(1500))")
            }
            let tokens = await TokenIssuer(secret: f.settings.jwtSecret)

            let confirmed = Locked<Set<String>>([])
            let failures = Locked<[String]>([])
            let buyers = 12, rounds = 60
            let war = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for b in 0..<buyers {
                        group.addTask {
                            let token = try await tokens.issue(subject: "scaled-\(b)-\(f.event.rawValue)", role: .user)
                            var replica = b % 2
                            for round in 0..<rounds {
                                // Each step is retried on the other replica until it is answered 2xx,
                                // the reserve with its Idempotency-Key, the confirm as it is.
                                let reserve = try await Self.untilAnswered(&replica, apiPorts, failures) { port in
                                    try await Self.send(port: port, .post, "/reserve", token: token,
                                                        json: ["event_id": f.event.rawValue, "category": "floor", "qty": 1],
                                                        headers: [HTTPField.Name("Idempotency-Key")!: "k-\(b)-\(round)"])
                                }
                                guard let id = reserve["reservation_id"] as? String else { throw RedisError(.protocolError, "reserve: \(reserve)") }
                                _ = try await Self.untilAnswered(&replica, apiPorts, failures) { port in
                                    try await Self.send(port: port, .post, "/confirm", token: token, json: ["reservation_id": id, "payment_ok": true])
                                }
                                confirmed.withLock { _ = $0.insert(id) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let some = await eventually(timeout: .seconds(60), every: .milliseconds(20)) { confirmed.withLock { $0.count } >= 150 }
            #expect(some)
            apis[0].kill()
            let more = await eventually(timeout: .seconds(60), every: .milliseconds(20)) { confirmed.withLock { $0.count } >= 350 }
            #expect(more, "buyers carry on through the other replica")
            workers[0].kill()
            try await war.value

            let total = buyers * rounds
            #expect(confirmed.withLock { $0.count } == total)
            let all = try await eventually(timeout: .seconds(120), every: .milliseconds(250)) {
                try await f.bookingsByStatus() == ["confirmed": total]
            }
            let got = try await f.bookingsByStatus()
            #expect(all, "every 2xx confirm reached PostgreSQL: \(got), api-2: \(apis[1].log.suffix(1500))")
            let payments = try await f.succeededPayments()
            #expect(payments.rows == total && payments.distinctReservations == total, "each paid once: \(payments)")
            #expect(apis[1].isRunning && workers[1].isRunning)
            #expect(failures.withLock { $0.count } > 0, "some requests met the dead replica")
        }
    }

    /// Runs `call` on the current replica until it answers 2xx; a refused connection or a 5xx
    /// moves the buyer to the other replica. Returns the 2xx body.
    static func untilAnswered(
        _ replica: inout Int, _ ports: [Int], _ failures: Locked<[String]>, _ call: (Int) async throws -> TestClient.Response
    ) async throws -> [String: Any] {
        for _ in 0..<50 {
            do {
                let response = try await call(ports[replica])
                if (200..<300).contains(response.status.code) {
                    return (try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body ?? ByteBuffer()).utf8))) as? [String: Any] ?? [:]
                }
                guard response.status.code >= 500 else {
                    throw RedisError(.protocolError, "answered \(response.status): \(String(buffer: response.body ?? ByteBuffer()))")
                }
                failures.withLock { $0.append("\(response.status)") }
            } catch let error as RedisError {
                throw error
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
            replica = 1 - replica
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RedisError(.unavailable, "no replica answered")
    }

    /// One HTTP request on a connection of its own.
    static func send(
        port: Int, _ method: HTTPRequest.Method, _ path: String, token: String?, json: [String: Any]? = nil, headers extra: HTTPFields = [:]
    ) async throws -> TestClient.Response {
        let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(10)))
        client.connect()
        let (headers, body) = try jsonRequest(token: token, json: json, headers: extra)
        do {
            let response = try await client.execute(TestClient.Request(path, method: method, authority: "127.0.0.1:\(port)", headers: headers, body: body))
            try? await client.shutdown()
            return response
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

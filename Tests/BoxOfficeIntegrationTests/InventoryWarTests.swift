import BoxOfficeDomain
import BoxOfficeInventory
import BoxOfficeRedis
import Logging
import Metrics
import Synchronization
import Testing

@Suite("Inventory under war conditions (real Redis)")
struct InventoryWarTests {
    enum Plan: CaseIterable { case confirm, cancel, abandon }
    struct Outcome: Sendable { var status: ReservationStatus; var qty: Int }

    @Test(.timeLimit(.minutes(5)))
    func mixedWarKeepsTheLawAndExpiresEachAbandonedHoldOnce() async throws {
        try await withInventory(stock: 4_000, holdTTL: .seconds(2)) { f in
            let inv = f.inventory
            // Three sweepers, as three API replicas would run them.
            let sweepers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 {
                        var c = HoldSweeper.Configuration()
                        c.interval = .milliseconds(100)
                        c.events = [f.event]  // other tests' holds are theirs to expire
                        let sweeper = HoldSweeper(inventory: inv, configuration: c, expiredCounter: Counter(label: "test_holds_expired"), logger: TestStack.logger)
                        group.addTask { try await sweeper.run() }
                    }
                    try await group.waitForAll()
                }
            }
            let stop = Flag()
            let violations = Locked<[StockLevels]>([])
            let auditCount = Counter64()
            let auditor = Task {
                while !stop.isSet {
                    let s = try await f.stock()
                    auditCount.add()
                    if !s.isConserved || s.total != 4_000 { violations.withLock { $0.append(s) } }
                }
            }

            let operations = 20_000, workers = 64
            let expected = Locked<[ReservationID: Outcome]>([:])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<workers {
                    group.addTask {
                        var rng = SystemRandomNumberGenerator()
                        for _ in stride(from: w, to: operations, by: workers) {
                            let buyer = f.buyer(Int.random(in: 0..<2_000, using: &rng))
                            let qty = Int.random(in: 1...3, using: &rng)
                            guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: buyer, quantity: qty) else { continue }
                            let final: ReservationStatus
                            switch Plan.allCases.randomElement(using: &rng)! {
                            case .confirm:
                                switch try await inv.confirm(r.id, buyer: buyer, paymentReference: "pay-\(r.id.token)") {
                                case .confirmed: final = .confirmed
                                case .refused(.expired): final = .expired
                                case let other: throw RedisError(.protocolError, "confirm: \(other)")
                                }
                            case .cancel:
                                switch try await inv.cancel(r.id, buyer: buyer) {
                                case .cancelled: final = .cancelled
                                case let other: throw RedisError(.protocolError, "cancel: \(other)")
                                }
                            case .abandon:
                                final = .expired
                            }
                            expected.withLock { $0[r.id] = Outcome(status: final, qty: qty) }
                        }
                    }
                }
                try await group.waitForAll()
            }

            // Quiescence: every hold has lapsed (2 s TTL) and been swept.
            let drained = try await eventually(timeout: .seconds(15), every: .milliseconds(100)) {
                try await inv.redis.send(["ZCARD", .string(f.keys.holds)]).int == 0
            }
            #expect(drained)
            stop.set()
            try await auditor.value
            sweepers.cancel()
            _ = try? await sweepers.value

            #expect(violations.withLock { $0 }.isEmpty, "available + held + confirmed == total and available >= 0 at every audit")
            #expect(auditCount.value > 10)

            let plan = expected.withLock { $0 }
            #expect(plan.count > 1_000, "the war made many reservations")
            let confirmedQty = plan.values.filter { $0.status == .confirmed }.reduce(0) { $0 + $1.qty }
            #expect(try await f.stock() == StockLevels(total: 4_000, available: 4_000 - confirmedQty, held: 0, confirmed: confirmedQty))

            let expiredEvents = try await f.outbox().filter { $0["type"] == "reservation.expired" }
            let expiredCounts = Dictionary(grouping: expiredEvents, by: { $0["rid"] ?? "" }).mapValues(\.count)
            var late = 0
            for (id, outcome) in plan {
                let status = outcome.status
                let raw = try await inv.redis.send(["HMGET", .string(f.keys.reservation(id)), "status", "expires", "expired_at"]).array ?? []
                #expect(raw.first?.string == status.rawValue, "\(id) ends \(status)")
                #expect(expiredCounts[id.rawValue, default: 0] == (status == .expired ? 1 : 0), "\(id): one reservation.expired per lapsed hold")
                if status == .expired, let expires = raw[1].int, let at = raw[2].int, at - expires > 2_000 { late += 1 }
            }
            #expect(late == 0, "every lapsed hold returned its stock within hold_ttl + 2 s")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func redisRestartMidWarLosesNoConfirmedHold() async throws {
        let server = try RedisServerProcess(appendOnly: true)
        try await server.start()
        var c = try RedisConfiguration(url: server.url)
        c.poolSize = 4
        c.commandTimeout = .seconds(1)
        var quiet = TestStack.logger
        quiet.logLevel = .critical
        let redis = RedisClient(configuration: c, logger: quiet)
        defer { redis.shutdown() }

        try await withInventory(stock: 100_000, redis: redis) { f in
            let inv = f.inventory
            let confirmed = Locked<[ReservationID]>([])
            let stop = Flag()
            let war = Task {
                await withTaskGroup(of: Void.self) { group in
                    for w in 0..<16 {
                        group.addTask {
                            var n = 0
                            while !stop.isSet {
                                n += 1
                                do {
                                    let buyer = f.buyer(w * 1_000_000 + n)
                                    guard case .held(let r, _) = try await inv.reserve(event: f.event, category: f.category, buyer: buyer, quantity: 1) else { continue }
                                    if case .confirmed = try await inv.confirm(r.id, buyer: buyer, paymentReference: "p-\(r.id.token)") {
                                        confirmed.withLock { $0.append(r.id) }
                                    }
                                } catch {
                                    // The crash: back off briefly; the client reconnects by itself.
                                    try? await Task.sleep(for: .milliseconds(20))
                                }
                            }
                        }
                    }
                }
            }
            #expect(await eventually(timeout: .seconds(30)) { confirmed.withLock { $0.count } >= 300 })
            // Whether one of the war's own commands is on the wire at the instant of the kill depends
            // on scheduling (under a loaded test run, none may be). A blocking command is: it must
            // fail when the server dies, rather than hang or succeed.
            // (On a client of its own, so that no command of the war queues behind it.)
            let runID = try await serverRunID(redis)
            var single = c
            single.poolSize = 1
            let blocker = RedisClient(configuration: single, logger: quiet)
            defer { blocker.shutdown() }
            let inFlight = Task { try await blocker.send(["BLPOP", "bo:test:never", "0"], timeout: .seconds(20)) }
            #expect(await eventually(timeout: .seconds(10)) {
                ((try? await redis.send(["CLIENT", "LIST"]).string) ?? "").contains("cmd=blpop")
            })
            server.stop(kill: true)   // a crash, mid-war
            await #expect(throws: (any Error).self, "a command in flight at the crash fails") { _ = try await inFlight.value }
            try await server.start()  // AOF replays
            #expect(await eventually(timeout: .seconds(10)) {
                let now = (try? await serverRunID(redis)) ?? ""
                return !now.isEmpty && now != runID
            }, "a new server process answers")
            let before = confirmed.withLock { $0.count }
            #expect(await eventually(timeout: .seconds(30)) { confirmed.withLock { $0.count } >= before + 300 }, "the war goes on after the restart")
            stop.set()
            await war.value

            let s = try await f.stock()
            #expect(s.isConserved && s.total == 100_000)
            let ids = confirmed.withLock { $0 }
            for id in ids {
                #expect(try await inv.redis.send(["HGET", .string(f.keys.reservation(id)), "status"]).string == "confirmed", "\(id) kept")
            }
            #expect(s.confirmed >= ids.count)
        }
    }

    private func serverRunID(_ redis: RedisClient) async throws -> String {
        let info = try await redis.send(["INFO", "server"]).string ?? ""
        return info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("run_id:") }.map(String.init) ?? ""
    }
}

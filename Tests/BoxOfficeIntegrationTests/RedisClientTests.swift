import BoxOfficeRedis
import Testing

@Suite("Redis client against a real Redis")
struct RedisClientTests {
    @Test func setThenGet() async throws {
        try await withRedis { redis in
            let key = TestStack.unique("t:setget")
            try await redis.set(key, "hello wörld", expiresIn: .seconds(60))
            #expect(try await redis.get(key) == "hello wörld")
            #expect(try await redis.get(key + ":missing") == nil)
        }
    }

    @Test func binarySafeArguments() async throws {
        try await withRedis { redis in
            let key = TestStack.unique("t:bin")
            let bytes: [UInt8] = [0, 1, 13, 10, 255, 36, 42]
            try await redis.send(["SET", .string(key), RedisArgument(bytes: bytes), "EX", 60])
            #expect(try await redis.send(["GET", .string(key)]) == .bulkString(bytes))
        }
    }

    @Test func evalshaFallsBackToEvalOnNoscript() async throws {
        try await withRedis { redis in
            let key = TestStack.unique("t:script")
            let script = RedisScript(name: "incr-by", source: "return redis.call('INCRBY', KEYS[1], ARGV[1]) -- \(key)")
            // A script Redis has never seen: EVALSHA answers NOSCRIPT and the client falls back to EVAL.
            #expect(try await redis.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(0)]))
            #expect(try await redis.eval(script, keys: [.string(key)], arguments: [5]).int == 5)
            // EVAL cached it under the SHA1 we computed, so EVALSHA now succeeds directly.
            #expect(try await redis.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(1)]))
            #expect(try await redis.eval(script, keys: [.string(key)], arguments: [2]).int == 7)
            try await redis.send(["DEL", .string(key)])
        }
    }

    /// Many calls of one script in one round trip: a script Redis has not cached is loaded
    /// once and those calls run again; replies keep the calls' order; an error reply of one
    /// call is returned in its place, not thrown.
    @Test func evalPipelineLoadsTheScriptOnceAndKeepsTheOrder() async throws {
        try await withRedis { redis in
            let key = TestStack.unique("t:evalpipe")
            let script = RedisScript(name: "incr-by", source: "return redis.call('INCRBY', KEYS[1], ARGV[1]) -- \(key)")
            #expect(try await redis.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(0)]))
            let keys = (0..<50).map { "\(key):\($0)" }
            try await redis.send(["SET", .string(keys[7]), "not a number"])
            let replies = try await redis.evalPipeline(script, keys.enumerated().map { (keys: [.string($0.element)], arguments: [.int($0.offset)]) })
            #expect(replies.count == 50)
            for (i, reply) in replies.enumerated() where i != 7 { #expect(reply.int == i, "call \(i): \(reply)") }
            guard case .error(let message) = replies[7] else { Issue.record("call 7 answered \(replies[7])"); return }
            #expect(message.contains("not an integer"))
            #expect(try await redis.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(1)]))
            #expect(try await redis.evalPipeline(script, [(keys: [.string(keys[0])], arguments: [2])]).map(\.int) == [2])
            #expect(try await redis.evalPipeline(script, []).isEmpty)
            try await redis.send(["DEL"] + keys.map { .string($0) })
        }
    }

    @Test func serverErrorsAreTyped() async throws {
        try await withRedis { redis in
            let key = TestStack.unique("t:wrongtype")
            try await redis.send(["LPUSH", .string(key), "x"])
            await #expect { try await redis.send(["INCR", .string(key)]) } throws: { error in
                (error as? RedisError)?.serverErrorPrefix == "WRONGTYPE"
            }
            try await redis.send(["DEL", .string(key)])
        }
    }

    @Test func concurrentCommandsArePipelinedAndMatchedInOrder() async throws {
        try await withRedis { redis in
            let key = TestStack.unique("t:incr")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<2_000 {
                    group.addTask {
                        // Each caller checks it got its own reply, not a neighbour's.
                        let echo = try await redis.send(["ECHO", .string("v\(i)")])
                        #expect(echo.string == "v\(i)")
                        try await redis.send(["INCR", .string(key)])
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await redis.get(key) == "2000")
            try await redis.send(["DEL", .string(key)])
        }
    }

    @Test func deadlineFailsOneCallWithoutDesynchronisingTheConnection() async throws {
        var c = try TestStack.settings().redis()
        c.poolSize = 1
        let redis = RedisClient(configuration: c, logger: TestStack.logger)
        defer { redis.shutdown() }
        let list = TestStack.unique("t:blpop")
        await #expect { try await redis.send(["BLPOP", .string(list), "1"], timeout: .milliseconds(100)) } throws: { error in
            (error as? RedisError)?.code == .timeout
        }
        // The late BLPOP reply (nil) must be matched to the timed-out call, not to this one.
        #expect(try await redis.send(["ECHO", "after"]).string == "after")
    }

    /// A call with a short deadline queued behind one with a long deadline still fails on
    /// time (the connection's one timer is re-armed earlier), and the long call is answered.
    @Test func shorterDeadlineBehindALongerOneFiresOnTime() async throws {
        var c = try TestStack.settings().redis()
        c.poolSize = 1
        let redis = RedisClient(configuration: c, logger: TestStack.logger)
        defer { redis.shutdown() }
        try await redis.ping()
        let list = TestStack.unique("t:brpop")
        async let long = redis.send(["BRPOP", .string(list), "1"], timeout: .seconds(5))
        // Wait until Redis holds the BRPOP (no other test uses BRPOP), so the ECHO queues behind it.
        let observer = RedisClient(configuration: try TestStack.settings().redis(), logger: TestStack.logger)
        defer { observer.shutdown() }
        let blocked = await eventually(timeout: .seconds(5)) {
            ((try? await observer.send(["CLIENT", "LIST"]).string) ?? "").contains("cmd=brpop")
        }
        #expect(blocked)
        let start = ContinuousClock.now
        await #expect { try await redis.send(["ECHO", "short"], timeout: .milliseconds(150)) } throws: { error in
            (error as? RedisError)?.code == .timeout
        }
        #expect(start.duration(to: .now) < .milliseconds(800), "the short deadline waited for the long one")
        #expect(try await long.isNull)
        #expect(try await redis.send(["ECHO", "after"]).string == "after")
    }

    @Test func unreachableServerFailsFastWithUnavailable() async throws {
        var c = RedisConfiguration()
        c.port = 1  // nothing listens there
        let redis = RedisClient(configuration: c, logger: TestStack.logger)
        defer { redis.shutdown() }
        await #expect { try await redis.ping() } throws: { error in (error as? RedisError)?.code == .unavailable }
    }

    @Test func reconnectsAfterTheServerRestarts() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        var c = try RedisConfiguration(url: server.url)
        c.poolSize = 2
        let redis = RedisClient(configuration: c, logger: TestStack.logger)
        defer { redis.shutdown() }
        try await redis.set("k", "before")
        server.stop(kill: true)
        await #expect(throws: RedisError.self) { try await redis.get("k") }
        try await server.start()
        let back = await eventually(timeout: .seconds(10)) { (try? await redis.get("k")) == "before" }
        #expect(back, "the AOF kept the key and the client reconnected")
    }
}

import BoxOfficeSupport
import NIOCore
import NIOPosix

/// One TCP connection to Redis on which any number of callers pipeline commands.
final class RedisConnection: Sendable {
    let channel: any Channel
    private let configuration: RedisConfiguration

    private init(channel: any Channel, configuration: RedisConfiguration) {
        self.channel = channel
        self.configuration = configuration
    }

    /// Connects to `node`, authenticates and selects the database.
    static func connect(
        configuration: RedisConfiguration, node: RedisEndpoint, eventLoop: any EventLoop
    ) async throws -> RedisConnection {
        let endpoint = node.description
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.nanoseconds(configuration.connectTimeout.inNanoseconds))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(endpoint: endpoint))
                    }
                }
                .connect(host: node.host, port: node.port)
                .get()
        } catch {
            throw RedisError(.unavailable, "cannot connect to Redis at \(endpoint)", underlying: error)
        }
        let connection = RedisConnection(channel: channel, configuration: configuration)
        do {
            if let password = configuration.password {
                _ = try await connection.send(["AUTH", .string(password)]).throwingOnError()
            }
            if configuration.database != 0 {
                _ = try await connection.send(["SELECT", .int(configuration.database)]).throwingOnError()
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    var isActive: Bool { channel.isActive }

    /// Sends one command; the reply may be an `.error` value.
    func send(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        try await send(RedisCommand(arguments), timeout: timeout)
    }

    /// Sends one command; the reply may be an `.error` value.
    func send(_ command: RedisCommand, timeout: Duration? = nil) async throws -> RESPValue {
        let encoded = try Self.encode(command, allocator: channel.allocator)
        return try await send(encoded: encoded, timeout: timeout)
    }

    func send(encoded: ByteBuffer, timeout: Duration?) async throws -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let deadline = NIODeadline.now() + .nanoseconds((timeout ?? configuration.commandTimeout).inNanoseconds)
        channel.writeAndFlush(RedisOutboundCommand(encoded: encoded, promise: promise, deadline: deadline))
            .cascadeFailure(to: promise)
        return try await Self.reply(promise.futureResult)
    }

    /// Sends several commands back to back in one flush; replies come back in order.
    func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws -> [RESPValue] {
        let deadline = NIODeadline.now() + .nanoseconds((timeout ?? configuration.commandTimeout).inNanoseconds)
        var futures: [EventLoopFuture<RESPValue>] = []
        futures.reserveCapacity(commands.count)
        for command in commands {
            let encoded = try Self.encode(command, allocator: channel.allocator)
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            channel.write(RedisOutboundCommand(encoded: encoded, promise: promise, deadline: deadline))
                .cascadeFailure(to: promise)
            futures.append(promise.futureResult)
        }
        channel.flush()
        var replies: [RESPValue] = []
        replies.reserveCapacity(futures.count)
        for f in futures { replies.append(try await Self.reply(f)) }
        return replies
    }

    /// The reply `future` completes with, awaited through a continuation of the caller's own
    /// isolation rather than `EventLoopFuture.get()`: that is a concurrent async function, so
    /// the task would be enqueued on the event loop once to enter it and once to come back.
    private static func reply(_ future: EventLoopFuture<RESPValue>) async throws -> RESPValue {
        try await withUnsafeThrowingContinuation { continuation in
            future.whenComplete { continuation.resume(with: $0) }
        }
    }

    func close() {
        channel.close(promise: nil)
    }

    static func encode(_ command: RedisCommand, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try HiredisCommandEncoder.withEncoded(command) { bytes in
            var buffer = allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            return buffer
        }
    }
}

extension RESPValue {
    /// Throws a `.server` `RedisError` when this is an error reply; returns self otherwise.
    public func throwingOnError() throws -> RESPValue {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }

    /// Whether this is Redis's answer to `EVALSHA` of a script it has not cached.
    var isNoScript: Bool {
        if case .error(let message) = self { message.hasPrefix("NOSCRIPT") } else { false }
    }
}

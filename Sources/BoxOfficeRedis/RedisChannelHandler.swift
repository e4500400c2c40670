import NIOCore

/// A command on its way to Redis: its RESP bytes, the promise of its reply and its deadline.
struct RedisOutboundCommand: Sendable {
    var encoded: ByteBuffer
    var promise: EventLoopPromise<RESPValue>
    var deadline: NIODeadline
}

/// Pipelines commands on one connection: writes them as they come, matches replies
/// to requests in order (RESP is strictly ordered), and fails a request whose
/// deadline passes without disturbing the others.
///
/// Confined to its channel's event loop, like every `ChannelHandler`.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisOutboundCommand
    typealias OutboundOut = ByteBuffer

    /// One in-flight request. A timed-out request keeps its place in the queue
    /// so that the reply that eventually arrives is matched to it and dropped.
    private final class Pending {
        let promise: EventLoopPromise<RESPValue>
        var timeout: Scheduled<Void>?
        var done = false
        init(promise: EventLoopPromise<RESPValue>) { self.promise = promise }

        func succeed(_ value: RESPValue) {
            guard !done else { return }
            done = true
            timeout?.cancel()
            promise.succeed(value)
        }

        func fail(_ error: any Error) {
            guard !done else { return }
            done = true
            timeout?.cancel()
            promise.fail(error)
        }
    }

    private let reader = HiredisReader()
    private var flushPending = false
    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private let endpoint: String

    init(endpoint: String) { self.endpoint = endpoint }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        let entry = Pending(promise: command.promise)
        pending.append(entry)
        entry.timeout = context.eventLoop.assumeIsolated().scheduleTask(deadline: command.deadline) { [endpoint] in
            entry.fail(RedisError(.timeout, "no reply from \(endpoint) before the deadline"))
        }
        context.write(wrapOutboundOut(command.encoded), promise: promise)
    }

    /// Coalesces the flushes of commands written in the same event-loop tick
    /// into one syscall: under load many callers share a write.
    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute {
            self.flushPending = false
            context.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { try reader.feed($0) }
            while let reply = try reader.next() {
                guard let entry = pending.popFirst() else {
                    throw RedisError(.protocolError, "reply from \(endpoint) without a request")
                }
                entry.succeed(reply)
            }
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, "connection to \(endpoint) closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError(.connectionClosed, "connection to \(endpoint) failed", underlying: error))
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let entry = pending.popFirst() { entry.fail(error) }
    }
}

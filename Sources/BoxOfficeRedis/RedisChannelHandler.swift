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
/// Deadlines cost one timer per connection, not one per command: the timer is
/// armed for the earliest deadline of the requests in flight, and when it fires
/// it fails those that are due and re-arms for the next. Under load it fires
/// about once per command timeout instead of being scheduled and cancelled for
/// every command.
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
        let deadline: NIODeadline
        var done = false
        init(promise: EventLoopPromise<RESPValue>, deadline: NIODeadline) {
            self.promise = promise
            self.deadline = deadline
        }

        func succeed(_ value: RESPValue) {
            guard !done else { return }
            done = true
            promise.succeed(value)
        }

        func fail(_ error: any Error) {
            guard !done else { return }
            done = true
            promise.fail(error)
        }
    }

    private let reader = HiredisReader()
    private var flushPending = false
    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private let endpoint: String
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(endpoint: String) { self.endpoint = endpoint }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        pending.append(Pending(promise: command.promise, deadline: command.deadline))
        if timerDeadline.map({ command.deadline < $0 }) ?? true { arm(at: command.deadline, context: context) }
        context.write(wrapOutboundOut(command.encoded), promise: promise)
    }

    private func arm(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.expireDue(context: context)
        }
    }

    /// Fails the requests whose deadline has passed; re-arms for the earliest one left.
    private func expireDue(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        let now = NIODeadline.now()
        var next: NIODeadline?
        for entry in pending where !entry.done {
            if entry.deadline <= now {
                entry.fail(RedisError(.timeout, "no reply from \(endpoint) before the deadline"))
            } else if next.map({ entry.deadline < $0 }) ?? true {
                next = entry.deadline
            }
        }
        if let next { arm(at: next, context: context) }
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
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        while let entry = pending.popFirst() { entry.fail(error) }
    }
}

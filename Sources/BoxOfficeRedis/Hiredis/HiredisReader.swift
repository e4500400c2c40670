// Every hiredis call of BoxOffice lives in this folder. hiredis is used for
// RESP only: its reader parses replies, its formatter encodes commands. The
// socket I/O is SwiftNIO's, so nothing here ever blocks.

import CHiredis

/// A hiredis `redisReader`, owned and freed by this object.
///
/// Not thread safe: each instance is confined to one channel's event loop.
final class HiredisReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let r = redisReaderCreate() else { fatalError("redisReaderCreate: out of memory") }
        self.reader = r
    }

    deinit { redisReaderFree(reader) }

    /// Hands bytes read from the socket to the parser.
    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) != REDIS_OK {
            throw RedisError(.protocolError, lastError)
        }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    func next() throws -> RESPValue? {
        var raw: UnsafeMutableRawPointer? = nil
        if redisReaderGetReply(reader, &raw) != REDIS_OK {
            throw RedisError(.protocolError, lastError)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private var lastError: String {
        withUnsafeBytes(of: reader.pointee.errstr) { buf in
            String(decoding: buf.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .bulkString(bytes(reply.str, reply.len))
        case REDIS_REPLY_STATUS:
            return .simpleString(String(decoding: bytes(reply.str, reply.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(reply.str, reply.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            var values: [RESPValue] = []
            values.reserveCapacity(reply.elements)
            for i in 0..<reply.elements {
                if let e = reply.element[i] { values.append(convert(e)) } else { values.append(.null) }
            }
            return .array(values)
        default:
            return .null
        }
    }

    private static func bytes(_ p: UnsafeMutablePointer<CChar>?, _ len: Int) -> [UInt8] {
        guard let p, len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: len))
    }
}

/// Encodes commands with hiredis's `redisFormatSdsCommandArgv`: it writes the RESP length
/// headers with sds's own integer formatting, where `redisFormatCommandArgv` calls
/// `sprintf` once per argument (docs/performance.md).
enum HiredisCommandEncoder {
    /// Calls `body` with the RESP encoding of `command`; the bytes are valid only inside `body`.
    static func withEncoded<T>(_ command: RedisCommand, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        // hiredis reads each argument where it lies in the command's packed bytes; the pointer
        // and length arrays live in temporary allocations (on the stack for the usual command).
        try command.withArguments { base, ends in
            try withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: ends.count) { pointers in
                try withUnsafeTemporaryAllocation(of: Int.self, capacity: ends.count) { lengths in
                    var start = 0
                    for (i, end) in ends.enumerated() {
                        pointers[i] = UnsafeRawPointer(base + start).assumingMemoryBound(to: CChar.self)
                        lengths[i] = end - start
                        start = end
                    }
                    var target: sds? = nil
                    let len = redisFormatSdsCommandArgv(&target, Int32(ends.count), pointers.baseAddress, lengths.baseAddress)
                    guard len > 0, let target else { throw RedisError(.protocolError, "could not encode command") }
                    defer { redisFreeSdsCommand(target) }
                    return try body(UnsafeRawBufferPointer(start: target, count: Int(len)))
                }
            }
        }
    }
}

/// The hiredis version compiled in.
public enum HiredisInfo {
    /// `major.minor.patch` of the hiredis headers this binary was built with.
    public static var version: String { "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)" }
}

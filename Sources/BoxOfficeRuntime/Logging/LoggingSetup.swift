import BoxOfficeDomain
import BoxOfficeSupport
import Foundation
import Logging

/// Process-wide logging setup for the executables (stderr, configured level).
public enum LoggingSetup {
    /// Bootstraps swift-log once and returns the root logger of `label`.
    public static func bootstrap(label: String, level: String) -> Logger {
        let level = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            SinkLogHandler(label: label, sink: .standardError, logLevel: level)
        }
        // Whatever is still buffered when the process exits is written first.
        atexit { LogSink.standardError.flush() }
        return Logger(label: label)
    }
}

/// Log lines in the format of swift-log's `StreamLogHandler`
/// (`2026-11-21T07:54:38.123Z info boxoffice-api: key=value … [Module] message`),
/// formatted on the caller's thread and handed to a `LogSink`.
struct SinkLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider

    init(label: String, sink: LogSink, logLevel: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        // Explicit metadata wins over the provider's, which wins over the logger's; a few
        // pairs in an array (no dictionary merges) keep a line cheap on the event loop.
        var pairs: [(key: String, value: Logger.Metadata.Value)] = []
        pairs.reserveCapacity(metadata.count + (event.metadata?.count ?? 0) + 1)
        func add(_ key: String, _ value: Logger.Metadata.Value) {
            if !pairs.contains(where: { $0.key == key }) { pairs.append((key, value)) }
        }
        if let error = event.error { add("error", "\(error)") }
        if let explicit = event.metadata { for (k, v) in explicit { add(k, v) } }
        if let provided = metadataProvider?.get() { for (k, v) in provided { add(k, v) } }
        for (k, v) in metadata { add(k, v) }
        pairs.sort { $0.key < $1.key }

        var line = RFC3339Timestamp.string(milliseconds: unixMilliseconds())
        line.reserveCapacity(160)
        line += " "
        line += event.level.rawValue
        line += " "
        line += label
        line += ":"
        for (key, value) in pairs {
            line += " "
            line += key
            line += "="
            line += value.description
        }
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line += "\n"
        sink.append(line, urgent: event.level >= .warning)
    }
}

/// Writes log lines to a file descriptor from a thread of its own.
///
/// A `write(2)` to stderr can block (a full pipe, a slow terminal), and under
/// load one per request plus the lock around it cost the event loops real time.
/// Callers only append to a buffer; the writer thread wakes when the buffer
/// stops being empty, lets lines gather for a few milliseconds (not when a
/// warning or error arrives), and writes them in one call. If the descriptor
/// cannot keep up, the buffer stops growing at `limit` bytes and the number of
/// lines dropped is written once it drains. `flush()` writes synchronously; it
/// runs at exit.
final class LogSink: @unchecked Sendable {
    // @unchecked: `buffer`, `dropped` and `urgent` are only touched with `condition` locked;
    // writes to `fd` are ordered by `writing`.
    static let standardError = LogSink(fd: 2)

    private let fd: Int32
    private let limit: Int
    private let gather: TimeInterval
    private let condition = NSCondition()
    private let writing = NSLock()
    private var buffer: [UInt8] = []
    private var dropped = 0
    private var urgent = false

    init(fd: Int32, limit: Int = 8 << 20, gather: Duration = .milliseconds(10)) {
        self.fd = fd
        self.limit = limit
        self.gather = gather.inSeconds
        buffer.reserveCapacity(64 * 1024)
        // The thread keeps its sink alive: a sink lives as long as the process.
        let thread = Thread { self.writerLoop() }
        thread.name = "log-writer"
        thread.start()
    }

    func append(_ line: String, urgent: Bool) {
        condition.lock()
        let wasEmpty = buffer.isEmpty
        if buffer.count + line.utf8.count > limit {
            dropped += 1
        } else {
            buffer.append(contentsOf: line.utf8)
        }
        if urgent { self.urgent = true }
        if wasEmpty || urgent { condition.signal() }
        condition.unlock()
    }

    /// Writes everything buffered now, on the caller's thread. Gives up after `patience`
    /// if the writer thread is stuck in a write (a full pipe nobody reads): exiting matters more.
    func flush(patience: TimeInterval = 1) {
        guard writing.lock(before: Date(timeIntervalSinceNow: patience)) else { return }
        defer { writing.unlock() }
        writeOut(take())
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while buffer.isEmpty && dropped == 0 { condition.wait() }
            let hurry = urgent
            condition.unlock()
            if !hurry { Thread.sleep(forTimeInterval: gather) }
            writing.lock()
            writeOut(take())
            writing.unlock()
        }
    }

    private func take() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        var out = buffer
        buffer.removeAll(keepingCapacity: true)
        urgent = false
        if dropped > 0 {
            out.append(contentsOf: "\(RFC3339Timestamp.string(milliseconds: unixMilliseconds())) warning log: \(dropped) log lines dropped: stderr did not keep up\n".utf8)
            dropped = 0
        }
        return out
    }

    private func writeOut(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

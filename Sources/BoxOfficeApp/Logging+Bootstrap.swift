import Logging

/// Process-wide logging setup for the executables (stderr, configured level).
public enum LoggingSetup {
    /// Bootstraps swift-log once and returns the root logger of `label`.
    public static func bootstrap(label: String, level: String) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: level) ?? .info
            return handler
        }
        return Logger(label: label)
    }
}

import BoxOfficeDomain
import HummingbirdBcrypt
import NIOPosix

/// The rules an account follows wherever one is made (`POST /users`,
/// `boxofficectl create-admin`) and the password work done for it.
public enum Accounts {
    /// Password length in bytes (bcrypt reads at most 72).
    public static let passwordBytes = 8...72

    /// A fresh user id: `usr_` and 20 hex digits.
    public static func newUserID() -> String { "usr_" + randomHex(bytes: 10) }

    /// The bcrypt hash (cost 12) of `password`. Bcrypt takes a quarter of a second
    /// of CPU: it runs on NIO's blocking thread pool, never on an event loop or Swift's pool.
    public static func hash(password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: 12) }
    }

    /// Whether `password` matches `hash`, checked on NIO's blocking thread pool like `hash(password:)`.
    static func verify(password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A plausible address: one `@`, a local part of 1–64 bytes, a dotted domain of
    /// letters, digits and inner hyphens; 3–254 bytes, no whitespace.
    public static func isEmail(_ s: String) -> Bool {
        guard (3...254).contains(s.utf8.count), !s.contains(where: { $0.isWhitespace }) else { return false }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return false }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
            && domain.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }
}

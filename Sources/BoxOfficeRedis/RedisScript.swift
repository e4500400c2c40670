import Crypto

/// A Lua script, identified by the SHA1 of its source for `EVALSHA`.
public struct RedisScript: Sendable, Hashable {
    /// A short name for logs.
    public let name: String
    /// The Lua source.
    public let source: String
    /// Lowercase hex SHA1 of `source`, as Redis computes it.
    public let sha1: String

    /// A script from its source text.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8))
            .map { byte in String(byte, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// A Redis command's arguments packed into one byte array.
///
/// Appending an argument copies its bytes; there is no allocation per argument
/// (a reserve has 23, each of which was an array of its own, and its keys a string
/// of their own before that). `HiredisCommandEncoder` hands hiredis pointers into
/// the packed bytes.
public struct RedisCommand: Sendable {
    /// Every argument's bytes, back to back.
    private(set) var bytes: [UInt8] = []
    /// Where each argument ends in `bytes`.
    private(set) var ends: [Int] = []

    /// An empty command with room for `capacity` bytes in `arguments` arguments.
    public init(capacity: Int = 128, arguments: Int = 4) {
        bytes.reserveCapacity(capacity)
        ends.reserveCapacity(arguments)
    }

    /// The command of `arguments`.
    public init(_ arguments: [RedisArgument]) {
        self.init(capacity: arguments.reduce(0) { $0 + $1.bytes.count }, arguments: arguments.count)
        for argument in arguments { append(argument) }
    }

    /// How many arguments the command has (its name included).
    public var count: Int { ends.count }

    /// Appends one argument.
    public mutating func append(_ argument: RedisArgument) {
        bytes.append(contentsOf: argument.bytes)
        ends.append(bytes.count)
    }

    /// Appends one argument: the UTF-8 of `first`, `second` and `third` joined, e.g. a
    /// key's prefix and name, without making the joined string.
    public mutating func append(_ first: String, _ second: String = "", _ third: String = "") {
        bytes.append(contentsOf: first.utf8)
        bytes.append(contentsOf: second.utf8)
        bytes.append(contentsOf: third.utf8)
        ends.append(bytes.count)
    }

    /// Appends one argument: `value` in decimal.
    public mutating func append(_ value: Int) {
        append(String(value))
    }

    /// Calls `body` with each argument's bytes, in order; the pointers are valid only inside it.
    func withArguments<T>(_ body: (_ base: UnsafePointer<UInt8>, _ ends: [Int]) throws -> T) rethrows -> T {
        if bytes.isEmpty {
            // Only empty arguments (or none): no array storage to point into.
            var empty: UInt8 = 0
            return try withUnsafePointer(to: &empty) { try body($0, ends) }
        }
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!, ends) }
    }
}

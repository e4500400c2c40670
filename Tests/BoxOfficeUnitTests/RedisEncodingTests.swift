@testable import BoxOfficeRedis
import Testing

@Suite struct RedisEncodingTests {
    /// The RESP hiredis writes for a command: an array of bulk strings, each prefixed by its
    /// byte length, binary-safe (CR, LF and NUL inside an argument), empty arguments included.
    @Test func commandsAreEncodedAsRESPArraysOfBulkStrings() throws {
        let arguments: [RedisArgument] = ["SET", .string("bo:{ev:e}:r:é"), RedisArgument(bytes: [0x61, 0x0D, 0x0A, 0x00, 0x62]), "", .int(1_234_567_890)]
        let encoded = try HiredisCommandEncoder.withEncoded(RedisCommand(arguments)) { Array($0) }
        var expected = Array("*5\r\n$3\r\nSET\r\n$14\r\nbo:{ev:e}:r:é\r\n$5\r\n".utf8)
        expected += [0x61, 0x0D, 0x0A, 0x00, 0x62]
        expected += Array("\r\n$0\r\n\r\n$10\r\n1234567890\r\n".utf8)
        #expect(encoded == expected)
    }

    /// A reserve's 23 arguments (lengths of one, two and three digits) in one encoding.
    @Test func manyArgumentsKeepTheirOrderAndLengths() throws {
        let arguments = (0..<23).map { RedisArgument(bytes: Array(repeating: UInt8(ascii: "x"), count: $0 * 7)) }
        let encoded = try HiredisCommandEncoder.withEncoded(RedisCommand(arguments)) { Array($0) }
        var expected = Array("*23\r\n".utf8)
        for i in 0..<23 { expected += Array("$\(i * 7)\r\n\(String(repeating: "x", count: i * 7))\r\n".utf8) }
        #expect(encoded == expected)
    }

    /// A command built in place: joined parts make one argument, integers are decimal.
    @Test func packedCommandsJoinPartsIntoOneArgument() throws {
        var command = RedisCommand()
        command.append("EVALSHA")
        command.append("bo:{ev:e}:", "r:", "0123")
        command.append(-42)
        command.append(RedisArgument(bytes: [0x00]))
        #expect(command.count == 4)
        let encoded = try HiredisCommandEncoder.withEncoded(command) { Array($0) }
        #expect(encoded == Array("*4\r\n$7\r\nEVALSHA\r\n$16\r\nbo:{ev:e}:r:0123\r\n$3\r\n-42\r\n$1\r\n\u{0}\r\n".utf8))
    }

    /// Only empty arguments: nothing to point into, still a well-formed command.
    @Test func commandsOfEmptyArgumentsEncode() throws {
        let encoded = try HiredisCommandEncoder.withEncoded(RedisCommand(["", ""])) { Array($0) }
        #expect(encoded == Array("*2\r\n$0\r\n\r\n$0\r\n\r\n".utf8))
    }
}

import BoxOfficeKafka
import Testing

@Suite("librdkafka wrapper against the real broker")
struct KafkaClientTests {
    @Test(.timeLimit(.minutes(3)))
    func idempotentProducerAndGroupConsumerWithManualCommits() async throws {
        let settings = try TestStack.settings()
        let topic = TestStack.unique("t-orders")
        try createTopic(topic, partitions: 3)
        let keys = (0..<20).map { "key-\($0)" }
        let perKey = 50

        // Produce 1,000 keyed messages; each key's messages are sent in order.
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: settings.kafka(clientID: "test-producer")), logger: TestStack.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for key in keys {
                group.addTask {
                    for seq in 0..<perKey {
                        let report = try await producer.send(topic: topic, key: Array(key.utf8), value: Array("\(key):\(seq)".utf8))
                        #expect(report.topic == topic && report.offset >= 0)
                    }
                }
            }
            try await group.waitForAll()
        }
        await producer.shutdown()

        // Consume them back in a group; commit only the first half of each partition.
        let group = TestStack.unique("t-group")
        var consumerConfig = KafkaConsumerConfiguration(kafka: settings.kafka(clientID: "test-consumer"), groupID: group, topics: [topic])
        consumerConfig.autoOffsetReset = "earliest"
        let first = try KafkaConsumer(configuration: consumerConfig, logger: TestStack.logger)
        var received: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while received.count < keys.count * perKey, ContinuousClock.now < deadline {
            received += try await first.poll(maxMessages: 500, maxWait: .milliseconds(200))
        }
        #expect(received.count == keys.count * perKey, "all messages arrive")

        var sequences: [String: [Int]] = [:]
        for m in received {
            let parts = String(decoding: m.value, as: UTF8.self).split(separator: ":")
            #expect(String(decoding: m.key ?? [], as: UTF8.self) == String(parts[0]))
            sequences[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        for key in keys { #expect(sequences[key] == Array(0..<perKey), "order of \(key) is kept") }

        let byPartition = Dictionary(grouping: received, by: \.partition).mapValues { $0.sorted { $0.offset < $1.offset } }
        var committed: [KafkaMessage] = []
        var expectedRest = Set<String>()
        for (_, messages) in byPartition {
            let half = messages.count / 2
            committed += messages.prefix(half)
            for m in messages.dropFirst(half) { expectedRest.insert("\(m.partition)/\(m.offset)") }
        }
        try await first.commit(committed)
        await first.close()

        // A second member of the same group resumes after the committed offsets.
        let second = try KafkaConsumer(configuration: consumerConfig, logger: TestStack.logger)
        var rest = Set<String>()
        let deadline2 = ContinuousClock.now + .seconds(90)
        while rest.count < expectedRest.count, ContinuousClock.now < deadline2 {
            for m in try await second.poll(maxMessages: 500, maxWait: .milliseconds(200)) { rest.insert("\(m.partition)/\(m.offset)") }
        }
        // Anything more would arrive right behind; give it one more short poll.
        for m in try await second.poll(maxMessages: 500, maxWait: .milliseconds(500)) { rest.insert("\(m.partition)/\(m.offset)") }
        #expect(rest == expectedRest)
        await second.close()
    }

    @Test func metadataProbeFailsAgainstADeadBroker() async throws {
        let probe = try KafkaProbe(kafka: KafkaConfiguration(brokers: "127.0.0.1:1"), logger: TestStack.logger)
        await #expect(throws: KafkaError.self) { _ = try await probe.check(timeout: .milliseconds(500)) }
        await probe.shutdown()
    }

    @Test func libraryVersionIsSupported() throws {
        try KafkaLibrary.requireSupportedVersion()
        #expect(KafkaLibrary.versionNumber >= 0x0201_0000)
    }
}

import BoxOfficeKafka
@testable import BoxOfficePipeline
import Testing

@Suite("The relay's producer health and the repair loop's memory (no servers)")
struct PipelineHealthTests {
    let t0 = ContinuousClock.now

    func health() -> ProducerHealth {
        ProducerHealth(stallTimeout: .seconds(15), restartDelay: .seconds(1), maximumRestartDelay: .seconds(8), now: t0)
    }

    @Test func aLostProducerStateIsReplacedAtOnce() {
        var h = health()
        let lost = KafkaError(.unknownProducerID, "Broker: Unknown producer id")
        #expect(h.record(delivered: 0, failures: [lost], fatal: nil, at: t0 + .seconds(1)) != nil)
        #expect(h.record(delivered: 5, failures: [KafkaError(.producerFenced, "fenced")], fatal: nil, at: t0) != nil)
        #expect(h.record(delivered: 0, failures: [], fatal: KafkaError(.fatal, "fatal"), at: t0) != nil)
    }

    @Test func timeoutsReplaceTheProducerOnlyAfterTheStallTimeout() {
        var h = health()
        let timedOut = KafkaError(.messageTimedOut, "Local: Message timed out")
        #expect(h.record(delivered: 0, failures: [timedOut], fatal: nil, at: t0 + .seconds(14)) == nil)
        #expect(h.record(delivered: 0, failures: [timedOut], fatal: nil, at: t0 + .seconds(15)) != nil)
    }

    @Test func anIdleOrDeliveringRoundIsProgress() {
        var h = health()
        let timedOut = KafkaError(.messageTimedOut, "timed out")
        #expect(h.record(delivered: 0, failures: [], fatal: nil, at: t0 + .seconds(20)) == nil, "nothing to send")
        #expect(h.record(delivered: 0, failures: [timedOut], fatal: nil, at: t0 + .seconds(30)) == nil, "15 s after the idle round")
        #expect(h.record(delivered: 3, failures: [timedOut], fatal: nil, at: t0 + .seconds(34)) == nil, "some delivered")
        #expect(h.record(delivered: 0, failures: [timedOut], fatal: nil, at: t0 + .seconds(48)) == nil)
        #expect(h.record(delivered: 0, failures: [timedOut], fatal: nil, at: t0 + .seconds(49)) != nil)
    }

    @Test func replacementsInARowPauseLongerUpToTheMaximumAndADeliveryResetsThem() {
        var h = health()
        let pauses = (0..<6).map { _ in h.restarted(at: t0) }
        #expect(pauses == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        #expect(h.lastProgress == t0 + .seconds(8), "the new producer gets a whole stall timeout after its pause")
        _ = h.record(delivered: 1, failures: [], fatal: nil, at: t0 + .seconds(9))
        #expect(h.restarted(at: t0 + .seconds(10)) == .seconds(1))
    }

    func entry(_ id: String) -> RepairEntry { RepairEntry(id: id, events: [], republished: 0) }

    @Test func repairMemoryAsksOnceSettledThenAtTheRecheckInterval() {
        var m = RepairMemory()
        m.saw(entry("100-0"), at: t0)
        #expect(m.readThrough == "100-0", "the next read starts after it")
        #expect(m.due(at: t0 + .seconds(1), settleAfter: .seconds(2), recheck: .seconds(5)).isEmpty)
        #expect(m.due(at: t0 + .seconds(2), settleAfter: .seconds(2), recheck: .seconds(5)).map(\.id) == ["100-0"])
        m.asked(["100-0"], at: t0 + .seconds(2)) { _ in false }
        #expect(m.due(at: t0 + .seconds(6), settleAfter: .seconds(2), recheck: .seconds(5)).isEmpty)
        #expect(m.due(at: t0 + .seconds(7), settleAfter: .seconds(2), recheck: .seconds(5)).map(\.id) == ["100-0"])
        m.asked(["100-0"], at: t0 + .seconds(7)) { _ in true }
        #expect(m.entries.first?.persisted == true)
        #expect(m.due(at: t0 + .seconds(60), settleAfter: .seconds(2), recheck: .seconds(5)).isEmpty, "never asked again")
    }

    @Test func repairMemoryForgetsRemovedEntriesByStreamOrder() {
        var m = RepairMemory()
        for id in ["9-5", "10-0", "10-1", "100-0"] { m.saw(entry(id), at: t0) }
        m.forget(through: "10-0")
        #expect(m.entries.map(\.entry.id) == ["10-1", "100-0"], "numeric, not text, order")
        #expect(m.readThrough == "100-0", "what was read stays read")
        m.forget(through: "100-0")
        #expect(m.entries.isEmpty)
    }
}

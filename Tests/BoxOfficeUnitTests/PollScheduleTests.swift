import BoxOfficeDomain
@testable import BoxOfficePipeline
import Testing

/// When the relay reads each event's outbox stream: quiet streams back off, busy ones are read every round.
@Suite struct PollScheduleTests {
    let a = EventID("ev_aaaaaaaaaaaaaaaa")!
    let b = EventID("ev_bbbbbbbbbbbbbbbb")!
    let t0 = ContinuousClock.now

    @Test func aStreamNotSeenBeforeIsDue() {
        let schedule = PollSchedule(quickest: .milliseconds(10), slowest: .milliseconds(100))
        #expect(schedule.isDue(a, at: t0))
    }

    /// Each empty read doubles the wait, from the quickest up to the slowest.
    @Test func emptyReadsDoubleTheWaitUpToTheSlowest() {
        var schedule = PollSchedule(quickest: .milliseconds(10), slowest: .milliseconds(100))
        var now = t0
        var waits: [Duration] = []
        for _ in 0..<7 {
            schedule.record(a, found: false, at: now)
            var wait = Duration.zero
            while !schedule.isDue(a, at: now + wait) { wait += .milliseconds(1) }
            waits.append(wait)
            now += wait
        }
        #expect(waits == [10, 20, 40, 80, 100, 100, 100].map { Duration.milliseconds($0) })
    }

    /// A read that finds entries makes the stream due at once, and the next empty read starts
    /// from the quickest wait again.
    @Test func entriesEndTheWait() {
        var schedule = PollSchedule(quickest: .milliseconds(10), slowest: .milliseconds(100))
        for i in 0..<5 { schedule.record(a, found: false, at: t0 + .milliseconds(i)) }
        #expect(!schedule.isDue(a, at: t0 + .milliseconds(50)))
        schedule.record(a, found: true, at: t0 + .milliseconds(50))
        #expect(schedule.isDue(a, at: t0 + .milliseconds(50)))
        schedule.record(a, found: false, at: t0 + .milliseconds(60))
        #expect(!schedule.isDue(a, at: t0 + .milliseconds(69)))
        #expect(schedule.isDue(a, at: t0 + .milliseconds(70)))
    }

    /// Streams wait independently; an event no longer listed is forgotten (due again if it comes back).
    @Test func streamsWaitIndependentlyAndUnlistedOnesAreForgotten() {
        var schedule = PollSchedule(quickest: .milliseconds(10), slowest: .milliseconds(100))
        schedule.record(a, found: false, at: t0)
        #expect(!schedule.isDue(a, at: t0 + .milliseconds(5)))
        #expect(schedule.isDue(b, at: t0 + .milliseconds(5)))
        schedule.keep(only: [b])
        #expect(schedule.isDue(a, at: t0 + .milliseconds(5)))
    }

    /// The relay sleeps until the earliest stream is due: one found empty waits, one never read
    /// or just found with entries is due now, and with no streams there is nothing to wait for.
    @Test func theNextDueIsTheEarliestOfTheStreams() {
        var schedule = PollSchedule(quickest: .milliseconds(10), slowest: .milliseconds(100))
        #expect(schedule.nextDue(of: [EventID](), now: t0) == nil)
        #expect(schedule.nextDue(of: [a], now: t0) == t0)
        schedule.record(a, found: false, at: t0)
        schedule.record(a, found: false, at: t0)
        #expect(schedule.nextDue(of: [a], now: t0) == t0 + .milliseconds(20))
        schedule.record(b, found: false, at: t0 + .milliseconds(5))
        #expect(schedule.nextDue(of: [a, b], now: t0) == t0 + .milliseconds(15))
        schedule.record(b, found: true, at: t0 + .milliseconds(6))
        #expect(schedule.nextDue(of: [a, b], now: t0 + .milliseconds(6)) == t0 + .milliseconds(6))
    }

    /// A slowest wait below the quickest is the quickest.
    @Test func theSlowestWaitIsAtLeastTheQuickest() {
        var schedule = PollSchedule(quickest: .milliseconds(10), slowest: .milliseconds(1))
        schedule.record(a, found: false, at: t0)
        #expect(!schedule.isDue(a, at: t0 + .milliseconds(9)))
        #expect(schedule.isDue(a, at: t0 + .milliseconds(10)))
    }
}

/// When the relay asks Redis about each stream's lease.
@Suite struct LeaseBookTests {
    let a = EventID("ev_aaaaaaaaaaaaaaaa")!
    let b = EventID("ev_bbbbbbbbbbbbbbbb")!
    let t0 = ContinuousClock.now

    /// A lease held is renewed once a quarter of the lease time has run; one held by another
    /// relay is asked for again every tenth; one never asked about is due at once.
    @Test func heldLeasesRenewAtAQuarterOthersAreAskedForEveryTenth() {
        var book = LeaseBook(leaseTime: .seconds(10))
        #expect(book.due(among: [a, b], at: t0) == [a, b])
        #expect(book.nextDue == nil)
        book.record(a, held: true, at: t0)
        book.record(b, held: false, at: t0)
        #expect(book.held == [a])
        #expect(book.due(among: [a, b], at: t0 + .milliseconds(999)).isEmpty)
        #expect(book.due(among: [a, b], at: t0 + .seconds(1)) == [b])
        #expect(book.due(among: [a, b], at: t0 + .milliseconds(2_500)) == [a, b])
        #expect(book.nextDue == t0 + .seconds(1))
        book.record(a, held: false, at: t0 + .seconds(3))
        #expect(book.held.isEmpty, "a lease lost is no longer held")
    }

    /// An event no longer listed is forgotten, so a lease time left in the past cannot keep an
    /// idle relay waking every round; after a failed round every lease is asked about again.
    @Test func unlistedEventsAreForgottenAndAFailedRoundForgetsAll() {
        var book = LeaseBook(leaseTime: .seconds(10))
        book.record(a, held: true, at: t0)
        book.record(b, held: true, at: t0 + .seconds(1))
        book.keep(only: [b])
        #expect(book.held == [b])
        #expect(book.nextDue == t0 + .milliseconds(3_500))
        book.keep(only: [])
        #expect(book.held.isEmpty && book.nextDue == nil)
        book.record(a, held: true, at: t0)
        book.forget()
        #expect(book.held.isEmpty && book.nextDue == nil)
        #expect(book.due(among: [a], at: t0) == [a])
    }
}

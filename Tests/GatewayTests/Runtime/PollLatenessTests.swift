import FireSafety
import Testing

@testable import Gateway

/// The one judge of a late poll: a whole poll interval or more after it was due, two records an episode.
struct PollLatenessTests {
    let second = Duration.seconds(1)
    func at(_ ms: Int64) -> Timestamp { Timestamp(nanoseconds: ms * 1_000_000) }

    @Test("a poll less than a whole interval late is only a metric; one interval or more starts an episode")
    func threshold() {
        let judge = PollLateness(clearAfter: .seconds(10))
        #expect(judge.pollStarted(device: "ups", lateness: .milliseconds(999), interval: second, at: at(1_000)) == nil)
        #expect(!judge.isLate)
        #expect(
            judge.pollStarted(device: "bms", lateness: second, interval: second, at: at(2_000))
                == .late(device: "bms", lateness: second, interval: second))
        #expect(judge.isLate)
    }

    @Test("however short the interval, a poll is late only from the floor (a second of real time) on")
    func floor() {
        let judge = PollLateness(clearAfter: .seconds(10), floor: .seconds(1))
        let fast = Duration.milliseconds(150)
        #expect(judge.pollStarted(device: "gas", lateness: .milliseconds(999), interval: fast, at: at(1_000)) == nil)
        #expect(!judge.isLate)
        #expect(
            judge.pollStarted(device: "gas", lateness: .seconds(1), interval: fast, at: at(2_000))
                == .late(device: "gas", lateness: .seconds(1), interval: fast))
        // At 20× site time the floor is 20 site seconds.
        let sped = PollLateness(clearAfter: .seconds(10), floor: .seconds(20))
        #expect(sped.pollStarted(device: "gas", lateness: .seconds(19), interval: .seconds(1), at: at(0)) == nil)
    }

    @Test("an episode is one poll.late however many devices are late, and one poll.on_time with the worst")
    func oneEpisode() {
        let judge = PollLateness(clearAfter: .seconds(10))
        #expect(judge.pollStarted(device: "d1", lateness: .seconds(2), interval: second, at: at(5_000)) != nil)
        for device in 2...50 {
            let lateness = Duration.milliseconds(1_000 + Int64(device) * 10)
            #expect(judge.pollStarted(device: "d\(device)", lateness: lateness, interval: second, at: at(5_100)) == nil)
        }
        #expect(judge.pollStarted(device: "d7", lateness: .seconds(3), interval: second, at: at(6_000)) == nil)
        // On-time polls before `clearAfter` since the last late one change nothing.
        #expect(judge.pollStarted(device: "d1", lateness: .zero, interval: second, at: at(15_999)) == nil)
        #expect(judge.isLate)
        #expect(
            judge.pollStarted(device: "d1", lateness: .zero, interval: second, at: at(16_000))
                == .onTime(latePolls: 51, worst: .seconds(3), worstDevice: "d7"))
        #expect(!judge.isLate)
        // The next episode counts afresh.
        #expect(
            judge.pollStarted(device: "d3", lateness: .seconds(1), interval: second, at: at(17_000))
                == .late(device: "d3", lateness: .seconds(1), interval: second))
        #expect(
            judge.pollStarted(device: "d3", lateness: .zero, interval: second, at: at(27_000))
                == .onTime(latePolls: 1, worst: .seconds(1), worstDevice: "d3"))
    }

    @Test("a late poll while late pushes the end of the episode out; a reload's clearAfter applies to it")
    func clearing() {
        let judge = PollLateness(clearAfter: .seconds(10))
        _ = judge.pollStarted(device: "a", lateness: .seconds(1), interval: second, at: at(0))
        _ = judge.pollStarted(device: "a", lateness: .seconds(1), interval: second, at: at(8_000))
        #expect(judge.pollStarted(device: "a", lateness: .zero, interval: second, at: at(12_000)) == nil)
        judge.configure(clearAfter: .seconds(30))
        #expect(judge.pollStarted(device: "a", lateness: .zero, interval: second, at: at(18_000)) == nil)
        #expect(judge.isLate)
        #expect(judge.pollStarted(device: "a", lateness: .zero, interval: second, at: at(38_000)) != nil)
    }

    @Test("a poll is due at its tick, or one interval after the previous poll started if earlier")
    func due() {
        // The first poll: its tick.
        #expect(PollLateness.due(tick: at(0), previous: nil, interval: second) == at(0))
        // On time, or woken 300 ms late every tick: measured from the tick.
        #expect(PollLateness.due(tick: at(2_000), previous: at(1_300), interval: second) == at(2_000))
        // Stopped from 1 s to 4.2 s: the poll for tick 2 s starts at 4.2 s, due at 2 s, 2.2 s late; the next, at
        // its tick 5 s, is due at 5 s and not late again although ticks 3 s and 4 s were skipped.
        let stalled = PollLateness.due(tick: at(2_000), previous: at(1_000), interval: second)
        #expect(PollLateness.lateness(startedAt: at(4_200), due: stalled) == .milliseconds(2_200))
        let next = PollLateness.due(tick: at(5_000), previous: at(4_200), interval: second)
        #expect(PollLateness.lateness(startedAt: at(5_000), due: next) == .zero)
        // A device taking 1.5 s a poll at a 1 s interval: polled at 0 s, then at tick 2 s (tick 1 s skipped): due at
        // 1 s, a whole interval late.
        let overran = PollLateness.due(tick: at(2_000), previous: at(0), interval: second)
        #expect(PollLateness.lateness(startedAt: at(2_000), due: overran) == second)
    }

    @Test("lateness is measured from when the poll was due, never negative")
    func lateness() {
        #expect(PollLateness.lateness(startedAt: at(1_250), due: at(1_000)) == .milliseconds(250))
        #expect(PollLateness.lateness(startedAt: at(999), due: at(1_000)) == .zero)
    }
}

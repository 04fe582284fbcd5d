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

    @Test("lateness is measured from the due tick, never negative")
    func lateness() {
        #expect(PollLateness.lateness(startedAt: at(1_250), due: at(1_000)) == .milliseconds(250))
        #expect(PollLateness.lateness(startedAt: at(999), due: at(1_000)) == .zero)
    }
}

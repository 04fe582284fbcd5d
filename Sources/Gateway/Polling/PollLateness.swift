import FireSafety
import Synchronization

/// Whether the site's polling keeps its schedule: the one judge of a late poll, shared by every device's poll task.
///
/// A poll's lateness is how long after it was due it started, and it is due at its tick or one interval after the
/// previous poll started, whichever is earlier: so a gateway short of CPU (the task woke late), a device slower
/// than its interval (the last poll overran and a tick was skipped) and a stall all show as the delay the reading
/// has beyond what `poll_interval` promises, and the polls after a stall, back on their ticks, are not counted again.
/// A poll is *late* when that is a whole poll interval or more (at least one poll of the device was not made), and
/// at least `floor` (a second of real time: a hiccup shorter than that delays no decision anyone could act on, and
/// a site polled every 150 ms would otherwise call every scheduler pause trouble).
///
/// The site turns late at its first late poll (one `poll.late`, naming that device) and on time again after
/// `clearAfter` of site time with no late poll (one `poll.on_time`, with how many were late and the worst): two
/// records per episode however many devices are late, so a busy box with 2,000 devices does not flood the log.
/// Pure apart from its lock: times come in, changes go out; the caller logs them.
final class PollLateness: Sendable {
    /// What changed at a poll.
    enum Change: Equatable, Sendable {
        /// The first late poll of an episode.
        case late(device: String, lateness: Duration, interval: Duration)
        /// No late poll for `clearAfter`: how many polls were late in the episode and the worst lateness.
        case onTime(latePolls: Int, worst: Duration, worstDevice: String)
    }

    private struct State {
        var clearAfter: Duration
        var floor: Duration
        var late = false
        var lastLate = Timestamp(nanoseconds: 0)
        var latePolls = 0
        var worst: Duration = .zero
        var worstDevice = ""
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - clearAfter: site time without a late poll before polling is on time again.
    ///   - floor: the least lateness (site time) that counts, however short the interval.
    init(clearAfter: Duration, floor: Duration = .seconds(1)) {
        state = Mutex(State(clearAfter: clearAfter, floor: floor))
    }

    /// A reload may change the intervals; an episode under way goes on (a reload forgets nothing).
    func configure(clearAfter: Duration) {
        state.withLock { $0.clearAfter = clearAfter }
    }

    /// Whether an episode of late polling is under way.
    var isLate: Bool { state.withLock { $0.late } }

    /// One poll of `device` started `lateness` after it was due (`interval` its poll interval), at site time `now`.
    func pollStarted(device: String, lateness: Duration, interval: Duration, at now: Timestamp) -> Change? {
        state.withLock { state in
            if lateness >= max(interval, state.floor) {
                state.lastLate = now
                state.latePolls += 1
                if lateness > state.worst {
                    state.worst = lateness
                    state.worstDevice = device
                }
                guard !state.late else { return nil }
                state.late = true
                return .late(device: device, lateness: lateness, interval: interval)
            }
            guard state.late, now - state.lastLate >= state.clearAfter else { return nil }
            let change = Change.onTime(latePolls: state.latePolls, worst: state.worst, worstDevice: state.worstDevice)
            state.late = false
            state.latePolls = 0
            state.worst = .zero
            state.worstDevice = ""
            return change
        }
    }

    /// When a poll was due: its `tick`, or one `interval` after the `previous` poll started if that is earlier.
    static func due(tick: Timestamp, previous: Timestamp?, interval: Duration) -> Timestamp {
        guard let previous else { return tick }
        return min(tick, previous + interval)
    }

    /// How long after it was `due` a poll starting at `now` is (never negative).
    static func lateness(startedAt now: Timestamp, due: Timestamp) -> Duration {
        max(.zero, now - due)
    }
}

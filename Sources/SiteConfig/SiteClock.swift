import FireSafety

#if canImport(Glibc)
import Glibc
#endif

/// Site time as the daemon and the simulator see it.
///
/// Everything in the shell that waits or measures a duration (poll schedules, `stale_after`, delays, verify
/// windows, retry backoff, the engine's deadlines, scenario timelines) uses `now()`, which runs on the
/// monotonic clock and never steps. The wall clock (`wallNow()`) only stamps records. `firewatch demo`
/// compresses time by sharing a `ScaledSiteClock` between the simulator and the daemon. Network timeouts stay
/// in real time: a socket cannot be made faster.
public protocol SiteClock: Sendable {
    /// The current site time: monotonic (it never steps back or forward), anchored to the wall clock when the
    /// clock was made so that timestamps read naturally.
    func now() -> Timestamp
    /// Wall time, only for the `time` of records. A clock without a wall of its own (a simulated one) returns
    /// `now()`.
    func wallNow() -> Timestamp
    /// Suspends until `deadline` in site time (returns at once if it has passed). Throws on cancellation.
    func sleep(until deadline: Timestamp) async throws
    /// Site seconds per real second (1 for the real clock).
    var speed: Double { get }
}

extension SiteClock {
    /// Suspends for `duration` of site time.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now() + duration)
    }

    public func wallNow() -> Timestamp { now() }
}

/// Reads `CLOCK_REALTIME` in nanoseconds.
func realtimeNow() -> Timestamp {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
}

/// The real clock: the monotonic clock for site time and waiting, the wall clock only for `wallNow()`.
///
/// Site time equals wall time when the clock is made and then follows the monotonic clock, so stepping the
/// wall clock (NTP, an operator, a bad RTC at boot) neither stalls a poll loop nor shortens a countdown.
public struct SystemSiteClock: SiteClock {
    private let origin: Timestamp
    private let start: ContinuousClock.Instant

    public init() {
        start = ContinuousClock.now
        origin = realtimeNow()
    }

    public var speed: Double { 1 }
    public func now() -> Timestamp { origin + (ContinuousClock.now - start) }
    public func wallNow() -> Timestamp { realtimeNow() }
    public func sleep(until deadline: Timestamp) async throws {
        let remaining = deadline - now()
        if remaining > .zero { try await Task.sleep(for: remaining) }
    }
}

/// Site time that runs `speed` times faster than real time from `origin` on; shared by the simulator
/// and the daemon in `firewatch demo` so both see the same compressed timeline.
public struct ScaledSiteClock: SiteClock {
    public let speed: Double
    /// Site time at `start`.
    public let origin: Timestamp
    private let start: ContinuousClock.Instant

    public init(speed: Double, origin: Timestamp? = nil) {
        precondition(speed > 0 && speed.isFinite, "speed must be a positive number")
        self.speed = speed
        self.origin = origin ?? realtimeNow()
        self.start = ContinuousClock.now
    }

    public func now() -> Timestamp {
        let real = ContinuousClock.now - start
        return origin + real * speed
    }

    /// Site time elapsed since `origin`.
    public var elapsed: Duration { now() - origin }

    public func sleep(until deadline: Timestamp) async throws {
        let remaining = deadline - now()
        if remaining > .zero { try await Task.sleep(for: remaining / speed) }
    }
}

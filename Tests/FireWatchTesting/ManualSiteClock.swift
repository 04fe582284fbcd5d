import FireSafety
import Gateway
import SiteConfig
import Synchronization

/// Site time that moves only when a test says so, with a wall clock a test can step apart from it.
/// `sleep(until:)` yields until the test has moved time past the deadline (or the task is cancelled).
public final class ManualSiteClock: SiteClock {
    private let current: Mutex<Timestamp>
    private let wallOffset = Mutex(Duration.zero)
    public let speed: Double

    public init(_ time: Timestamp = Timestamp(seconds: 1_800_000_000), speed: Double = 1) {
        current = Mutex(time)
        self.speed = speed
    }

    public func now() -> Timestamp { current.withLock { $0 } }
    public func wallNow() -> Timestamp { now() + wallOffset.withLock { $0 } }
    public func set(_ time: Timestamp) { current.withLock { $0 = time } }
    public func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }
    /// Steps the wall clock by `step` (an operator, NTP); site time does not move.
    public func stepWall(by step: Duration) { wallOffset.withLock { $0 += step } }

    public func sleep(until deadline: Timestamp) async throws {
        while now() < deadline {
            try Task.checkCancellation()
            await Task.yield()
        }
    }
}

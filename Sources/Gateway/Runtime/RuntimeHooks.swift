import FireSafety
import Modbus
import ServiceLifecycle
import SiteConfig

/// What the daemon tells whoever watches it (metrics). Every method has a no-op default, is called on the
/// daemon's own tasks, and must return quickly without blocking: an observer never delays actuation.
public protocol RuntimeObserver: Sendable {
    /// A poll of `device` starts, `lateness` after it was due (`PollLateness`).
    func pollStarted(device: String, lateness: Duration)
    /// Polling turned late (a `poll.late` record) or on time again (`poll.on_time`).
    func pollingLate(_ late: Bool)
    /// One poll of a device finished (`error` nil when every request succeeded).
    func pollFinished(device: String, duration: Duration, error: ModbusError?, at: Timestamp)
    /// The points a poll of `device` decoded (after `pollFinished` succeeded), for per-source value metrics.
    func pointsRead(device: String, readings: [PointReading], at: Timestamp)
    /// A device's reachability changed (once per transition).
    func deviceAvailability(device: String, up: Bool, at: Timestamp)
    /// A procedure step ended.
    func stepFinished(zone: String, procedure: ProcedureKind, index: Int, outcome: StepOutcome)
    /// A record reached the alert log (`durable` false when it is only in the in-memory backlog).
    func recordAppended(_ record: AlertRecord, fsyncLatency: Duration, durable: Bool)
    /// The engine evaluated; `zones` is the state after the evaluation.
    func engineEvaluated(zones: [ZoneStatus], at: Timestamp)
    /// A notification channel failed to deliver (a `notify.failed` record is logged too).
    func notificationFailed(channel: String)
    /// A hot-standby pair's gateway changed role (`owner`, `standby` or `unknown`) or learned a newer epoch.
    func standbyRole(_ role: String, epoch: Int64, etcdReachable: Bool)
}

extension RuntimeObserver {
    public func pollStarted(device: String, lateness: Duration) {}
    public func pollingLate(_ late: Bool) {}
    public func pollFinished(device: String, duration: Duration, error: ModbusError?, at: Timestamp) {}
    public func pointsRead(device: String, readings: [PointReading], at: Timestamp) {}
    public func deviceAvailability(device: String, up: Bool, at: Timestamp) {}
    public func stepFinished(zone: String, procedure: ProcedureKind, index: Int, outcome: StepOutcome) {}
    public func recordAppended(_ record: AlertRecord, fsyncLatency: Duration, durable: Bool) {}
    public func engineEvaluated(zones: [ZoneStatus], at: Timestamp) {}
    public func notificationFailed(channel: String) {}
    public func standbyRole(_ role: String, epoch: Int64, etcdReachable: Bool) {}
}

/// An observer that ignores everything.
public struct NoRuntimeObserver: RuntimeObserver {
    public init() {}
}

/// Delivers alert records to people on the configured channels.
///
/// `send` queues and returns at once: notifications never delay or block actuation, and a slow or dead
/// channel never delays the others. A failed delivery is reported through `failures`, which the daemon
/// turns into a `notify.failed` record (fail open: a duplicate beats a miss).
///
/// It is one of the daemon's services: `run()` delivers until graceful shutdown (then what is queued is sent or
/// reported as not sent) or cancellation.
public protocol AlertNotifier: Service {
    /// Queues `record` for each of `channels`.
    func send(_ record: AlertRecord, to channels: [NotifyChannel])
    /// Delivers `record` on each channel (one attempt, behind what is queued there) and says, per channel in the
    /// order given, nil when delivered or why not. A failure is also reported like any other (`notify.failed`).
    func test(_ record: AlertRecord, on channels: [NotifyChannel]) async -> [(channel: String, failure: String?)]
    /// Shows a channel that keeps state (an Alertmanager's firing alerts) a record the daemon logged, notified or
    /// not, so a reset resolves what a latch fired. Returns at once, like `send`.
    func follow(_ record: AlertRecord, on channels: [NotifyChannel])
}

extension AlertNotifier {
    /// Channels without state have nothing to follow.
    public func follow(_ record: AlertRecord, on channels: [NotifyChannel]) {}
}

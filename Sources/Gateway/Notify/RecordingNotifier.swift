import FireSafety
import SiteConfig
import ServiceLifecycle
import Synchronization

/// A notification the daemon handed to its notifier.
public struct SentNotification: Sendable, Hashable {
    public var event: AlertEvent
    /// The channels it was for, in the order the site file names them.
    public var channels: [String]
    public var time: Timestamp
    public var message: String
}

/// A notifier that sends nothing anywhere and remembers what it was asked to send: the demo, the scenario runs
/// and the tests must not need a webhook or a pager (`Daemon.Builder.notifier`).
public final class RecordingNotifier: AlertNotifier {
    private let state = Mutex<[SentNotification]>([])

    public init() {}

    public func send(_ record: AlertRecord, to channels: [NotifyChannel]) {
        let sent = SentNotification(
            event: record.event, channels: channels.map(\.name), time: record.time, message: record.message)
        state.withLock { $0.append(sent) }
    }

    /// Records the test and says it was not sent: nothing leaves this notifier.
    public func test(_ record: AlertRecord, on channels: [NotifyChannel]) async -> [(channel: String, failure: String?)] {
        send(record, to: channels)
        return channels.map { ($0.name, "not sent: this daemon records notifications instead (demo or scenario run)") }
    }

    public func run() async throws {
        // Nothing is queued, so there is nothing to deliver: wait for the daemon's shutdown.
        do { try await gracefulShutdown() } catch is CancellationError { return }
    }

    /// Everything asked so far, oldest first.
    public var sent: [SentNotification] { state.withLock { $0 } }

    /// The channel names (sorted) of each notification of `event`, oldest first.
    public func sends(_ event: AlertEvent) -> [[String]] {
        sent.filter { $0.event == event }.map { $0.channels.sorted() }
    }
}

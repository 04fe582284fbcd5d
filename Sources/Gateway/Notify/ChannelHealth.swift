import FireSafety
import Synchronization

/// Whether each notification channel works, as its last delivery (a notification or a heartbeat) said: what
/// `status` shows per channel and `firewatch_notify_channel_up` exports.
///
/// A channel is unknown until it has been tried; any failure (after its retries, a timeout, a drop) makes it down,
/// the next delivery up again.
final class ChannelHealth: Sendable {
    struct Entry: Sendable, Equatable {
        /// Nil until the channel has been tried.
        var up: Bool?
        var delivered = 0
        var failed = 0
        var lastError: String?
        /// Site time of the last delivery and of the last failure.
        var lastDelivered: Timestamp?
        var lastFailed: Timestamp?
    }

    private let entries = Mutex<[String: Entry]>([:])

    func delivered(_ channel: String, at now: Timestamp) {
        entries.withLock { all in
            var entry = all[channel, default: Entry()]
            entry.up = true
            entry.delivered += 1
            entry.lastDelivered = now
            all[channel] = entry
        }
    }

    func failed(_ channel: String, reason: String, at now: Timestamp) {
        entries.withLock { all in
            var entry = all[channel, default: Entry()]
            entry.up = false
            entry.failed += 1
            entry.lastError = reason
            entry.lastFailed = now
            all[channel] = entry
        }
    }

    func entry(_ channel: String) -> Entry {
        entries.withLock { $0[channel] ?? Entry() }
    }
}

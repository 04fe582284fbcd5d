import FireSafety
import Logging
import SiteConfig

/// The notifier used when none is given: it only tells stderr (journald). Real channels (webhooks, commands)
/// come from the notification helper's `AlertNotifier`.
public struct LoggingNotifier: AlertNotifier {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func send(_ record: AlertRecord, to channels: [NotifyChannel]) {
        logger.notice(
            "notify: \(record.message)",
            metadata: [
                "channels": "\(channels.map(\.name).joined(separator: ","))", "severity": "\(record.severity.name)",
                "zone": "\(record.zone ?? "-")",
            ])
    }

    public func run() async throws {
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

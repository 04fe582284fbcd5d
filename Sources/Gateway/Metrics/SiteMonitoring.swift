import FireSafety
import Logging
import ServiceLifecycle
import SiteConfig
import Synchronization

/// The metrics observer, the notification channels and the metrics server of one site, built from its
/// `LoadedSite` and bound to the daemon they watch once it exists.
///
/// ```swift
/// let monitoring = SiteMonitoring(site: site, logger: logger)
/// monitoring.configure(&options)
/// let daemon = try Daemon(site: site, options: options)
/// monitoring.attach(daemon)
/// ```
/// Failures of a channel go to `Daemon.notificationFailed` (a `notify.failed` record and the failure metric);
/// `/status` serves `Daemon.status()`; `/healthz` is healthy while every device of the running configuration
/// finished a poll within `healthMaxAge` of site time.
public final class SiteMonitoring: Sendable {
    public let observer: MetricsObserver
    public let notifier: ChannelNotifier
    /// Nil when the site has no `metrics:`.
    public let server: MetricsServer?
    private let daemon: DaemonSlot

    /// - Parameter healthMaxAge: how long (site time) a device may go without a finished poll before `/healthz`
    ///   says 503; nil derives it from the site (three poll intervals plus the slowest device's request
    ///   timeouts, at least 30 s, the unit's `WatchdogSec=`).
    public init(
        site: LoadedSite, logger: Logger, healthMaxAge: Duration? = nil,
        notifierOptions: ChannelNotifier.Options = ChannelNotifier.Options(),
        onListening: @escaping @Sendable (HostPort) async -> Void = { _ in }
    ) {
        let observer = MetricsObserver(site: site.model.site, devices: site.devices.map(\.name))
        let daemon = DaemonSlot()
        self.observer = observer
        self.daemon = daemon
        notifier = ChannelNotifier(
            channels: site.notify, options: notifierOptions, logger: logger,
            onDelivered: { channel, _ in observer.notificationDelivered(channel: channel) },
            onFailure: { channel, record, reason in
                // The notifier runs only inside `Daemon.run()`, after `attach`; until then the log says it.
                guard let target = daemon.get() else {
                    logger.error("notification failed", metadata: ["channel": "\(channel)", "reason": "\(reason)"])
                    return
                }
                await target.notificationFailed(channel: channel, record: record, error: reason)
            })
        let maxAge = healthMaxAge ?? Self.defaultHealthMaxAge(site)
        server = site.metrics.map { address in
            MetricsServer(
                address: address, registry: observer.registry, logger: logger,
                status: { () async -> DaemonStatus? in
                    guard let target = daemon.get() else { return nil }
                    return await target.status()
                },
                // From the daemon's own device list, which follows SIGHUP reloads (a removed device must not
                // keep /healthz at 503).
                health: { await Self.health(of: daemon.get(), maxAge: maxAge) },
                // A taken metrics port must never stop fire safety: log it, retry, let Prometheus see the gap.
                bindRetry: .seconds(30), onListening: onListening)
        }
    }

    /// Puts the observer, the notifier and the server into the daemon's options.
    public func configure(_ options: inout DaemonOptions) {
        options.observer = observer
        options.notifier = notifier
        if let server { options.extraServices.append(server) }
    }

    /// Binds failure reports and `/status` to the daemon.
    public func attach(_ daemon: Daemon) {
        self.daemon.set(daemon)
    }

    /// Healthy while every device of the running configuration finished a poll within `maxAge` (site time).
    static func health(of daemon: Daemon?, maxAge: Duration) async -> Health {
        guard let daemon else { return .unhealthy("the daemon is starting") }
        let status = await daemon.status()
        let limit = Double(maxAge.components.seconds) + Double(maxAge.components.attoseconds) / 1e18
        var late: [String] = []
        for device in status.devices {
            guard let age = device.lastPollAgeSeconds else {
                late.append("\(device.name) (never polled)")
                continue
            }
            if age > limit { late.append("\(device.name) (last poll \(Int(age)) s ago)") }
        }
        if late.isEmpty { return .healthy }
        return .unhealthy("no poll finished within \(maxAge) for " + late.joined(separator: ", "))
    }

    static func defaultHealthMaxAge(_ site: LoadedSite) -> Duration {
        var slowest: Duration = .zero
        for device in site.devices {
            let requests = site.readPlan(for: device).requests.count
            slowest = max(slowest, site.pollInterval(of: device) * 3 + site.timeout(of: device) * (requests + 1))
        }
        return max(slowest, .seconds(30))
    }
}

/// The daemon, set once it exists; closures made before it capture this box.
private final class DaemonSlot: Sendable {
    private let value = Mutex<Daemon?>(nil)
    func set(_ daemon: Daemon) { value.withLock { $0 = daemon } }
    func get() -> Daemon? { value.withLock { $0 } }
}

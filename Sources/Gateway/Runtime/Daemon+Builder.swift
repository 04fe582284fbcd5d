import FireSafety
import Logging
import ServiceLifecycle
import SiteConfig
import Synchronization

extension Daemon {
    /// The one place a daemon is put together from a loaded site, for `firewatch run`, `firewatch demo`, the
    /// scenario runner and the tests alike: the alert log, the engine, the actuator behind its gate, the poller and
    /// the control socket (in `Daemon`), the site's notification channels, its metrics observer and, with
    /// `metrics:`, the HTTP server for `/metrics`, `/status`, `/records`, `/healthz` and the annunciator page `/`.
    ///
    /// ```swift
    /// let site = try SiteLoader().load(path: "site.yaml")
    /// let daemon = try Daemon.Builder(site: site, options: DaemonOptions(dryRun: true)).build()
    /// try await daemon.run()
    /// ```
    /// A channel that fails reaches `Daemon.notificationFailed` (a `notify.failed` record, the failure metric and
    /// the notice on every other channel).
    public struct Builder: Sendable {
        public var site: LoadedSite
        public var options: DaemonOptions
        /// Where notifications go instead of the site's channels: a recorder in tests and scenario runs. Nil (the
        /// default) sends them on the site file's `notify:` channels.
        public var notifier: (any AlertNotifier)?
        /// Who hears about polls, steps and records instead of the site's metrics: nil (the default) is a
        /// `MetricsObserver`, served over HTTP when the site has `metrics:`.
        public var observer: (any RuntimeObserver)?
        /// How long (site time) a device may go without a finished poll before `/healthz` says 503; nil derives it
        /// from the site (three poll intervals plus the slowest device's request timeouts, at least 30 s, the
        /// unit's `WatchdogSec=`).
        public var healthMaxAge: Duration?
        /// Timeouts and retries of the site's channels.
        public var notifierOptions = ChannelNotifier.Options()
        /// Told the metrics server's bound address (port 0 in tests).
        public var onMetricsListening: @Sendable (HostPort) async -> Void = { _ in }

        public init(site: LoadedSite, options: DaemonOptions = DaemonOptions()) {
            self.site = site
            self.options = options
        }

        /// Builds the daemon: opens its alert log and binds its control socket (see `Daemon.run()` for what runs).
        /// Throws `ControlServerError` when the socket cannot be set up, for example because another daemon
        /// answers on it.
        public func build() throws -> Daemon {
            let logger = options.logger
            // The channel notifier and the metrics server exist before the daemon they report to; this box hands
            // them the daemon once it does (neither runs before `Daemon.run()`).
            let slot = BuiltDaemon()
            var options = self.options
            let metrics = observer == nil ? MetricsObserver(site: site.model.site, devices: site.devices.map(\.name)) : nil
            let notifier =
                self.notifier
                ?? ChannelNotifier(
                    channels: site.notify, options: notifierOptions, logger: logger,
                    onDelivered: { channel, _ in
                        metrics?.notificationDelivered(channel: channel)
                        slot.get()?.notificationDelivered(channel: channel)
                    },
                    onFailure: { channel, record, reason in
                        guard let daemon = slot.get() else {
                            logger.error(
                                "notification failed", metadata: ["channel": "\(channel)", "reason": "\(reason)"])
                            return
                        }
                        await daemon.notificationFailed(channel: channel, record: record, error: reason)
                    })
            if let metrics, let address = site.metrics {
                let maxAge = healthMaxAge ?? SiteHealth.defaultMaxAge(site)
                let server = MetricsServer(
                    address: address, registry: metrics.registry, logger: logger,
                    status: { () async -> DaemonStatus? in await slot.get()?.status() },
                    // From the daemon's own device list, which follows SIGHUP reloads (a removed device must not
                    // keep /healthz at 503).
                    health: { await SiteHealth.of(slot.get(), maxAge: maxAge) },
                    records: { slot.get()?.recentRecords() ?? [] },
                    // A taken metrics port must never stop fire safety: log it, retry, let Prometheus see the gap.
                    bindRetry: .seconds(30), onListening: onMetricsListening)
                options.extraServices.append(server)
            }
            let daemon = try Daemon(
                site: site, options: options, observer: observer ?? metrics ?? NoRuntimeObserver(), notifier: notifier)
            slot.set(daemon)
            return daemon
        }
    }
}

/// The daemon, set once it exists; closures made before it capture this box.
private final class BuiltDaemon: Sendable {
    private let value = Mutex<Daemon?>(nil)
    func set(_ daemon: Daemon) { value.withLock { $0 = daemon } }
    func get() -> Daemon? { value.withLock { $0 } }
}

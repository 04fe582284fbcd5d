import Logging
import ServiceLifecycle
import SiteConfig

/// How a `Daemon` runs: everything that is not the site file.
///
/// `firewatch run` uses the defaults (the real clock, signals handled); `firewatch demo` passes a `ScaledSiteClock`
/// shared with the simulator. What comes from the site file (channels, metrics) `Daemon.Builder` adds.
public struct DaemonOptions: Sendable {
    /// Poll and decide, but write nothing and run nothing: every step is logged `skipped`.
    public var dryRun: Bool
    /// Site time for records, poll schedules, delays, verify windows and retry backoff.
    public var clock: any SiteClock
    /// For people (stderr/journald); the alert log is the record of truth.
    public var logger: Logger
    /// More services to run and shut down with the daemon (e.g. the metrics HTTP server). They are started
    /// after the daemon's own and shut down before them.
    public var extraServices: [any Service]
    /// `sd_notify`; the default reads `NOTIFY_SOCKET`/`WATCHDOG_USEC` from the environment.
    public var systemd: SystemdNotifier
    /// Rotate the alert log before it grows past this many bytes; nil takes the site's `alert_log_max_size`.
    public var alertLogMaxBytes: Int?
    /// Rotated alert-log files kept; nil takes the site's `alert_log_keep`.
    public var alertLogKeep: Int?
    /// Attempts of a `command` step (write + verify) before it is logged `failed`.
    public var commandAttempts: Int
    /// Whether the daemon reacts to SIGTERM/SIGINT (graceful stop) and SIGHUP (reload) itself. `firewatch demo`,
    /// which runs the daemon in-process beside other work, may turn it off and cancel `run()` instead.
    public var handleSignals: Bool
    /// Asked before every step and every write whether this gateway may act now (a standby pair's lease plugs in
    /// here); nil acts alone. `dryRun` overrides it: a dry run never acts.
    public var actuationGate: (any ActuationGate)?
    /// Which gateway of the site's hot-standby pair this is (`run --gateway NAME`); required when the site file has
    /// `standby:`, refused when it has not.
    public var gateway: String?

    public init(
        dryRun: Bool = false, clock: any SiteClock = SystemSiteClock(),
        logger: Logger = Logger(label: "firewatch"), extraServices: [any Service] = [],
        systemd: SystemdNotifier = SystemdNotifier(), alertLogMaxBytes: Int? = nil, alertLogKeep: Int? = nil,
        commandAttempts: Int = 3, handleSignals: Bool = true, actuationGate: (any ActuationGate)? = nil
    ) {
        self.dryRun = dryRun
        self.clock = clock
        self.logger = logger
        self.extraServices = extraServices
        self.systemd = systemd
        self.alertLogMaxBytes = alertLogMaxBytes
        self.alertLogKeep = alertLogKeep
        self.commandAttempts = max(1, commandAttempts)
        self.handleSignals = handleSignals
        self.actuationGate = actuationGate
    }

    /// The gate the actuator asks: never under a dry run, else the pair's lease, else `actuationGate`, else always.
    func gate(standby: StandbyPair?) -> any ActuationGate {
        dryRun ? DryRunGate() : (standby?.gate ?? actuationGate ?? OpenGate())
    }
}

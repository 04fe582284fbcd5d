import FireSafety
import Gateway
import Foundation
import Logging
import Simulator
import SiteConfig
import Synchronization

/// One scenario, end to end, in one process: a `SimulatorHost` on free loopback ports and the real
/// `Daemon` on one `ScaledSiteClock`, with the alert log and control socket in `directory`.
/// `firewatch demo` runs it with a live view beside it; the scenario tests run it to check expectations.
public struct ScenarioRun: Sendable {
    /// The site as loaded from its file; `run()` moves its state into `directory` and its devices to free ports.
    public var site: LoadedSite
    public var scenario: Scenario
    /// Site seconds per real second.
    public var speed: Double
    /// Where the alert log (`alerts.jsonl`) and the control socket go; must exist.
    public var directory: String
    public var seed: UInt64
    /// The daemon's logger (people's messages; the alert log is the record).
    public var logger: Logger
    /// The least real time a point may go unread before it is stale. Compressing time must not compress
    /// the tolerance for a busy machine's scheduling jitter: at 40x the site's 3 s would be 75 ms of real
    /// time, and one slow moment (a loaded 2-core box stalls for a quarter second) would turn every point stale
    /// and degrade every vote.
    public var staleFloor: Duration = .milliseconds(1500)
    /// The least real time between two polls of one device. At the speeds of a month-long scenario a 1 s poll
    /// would be a few microseconds of real time; what such a run is about (records, rotation, memory,
    /// restore) does not need every second polled, and the machine cannot poll that fast. The default changes
    /// nothing up to 200x (see `pollFloor(at:)`).
    public var pollFloor: Duration
    /// Overrides the site's `alert_log_max_size` (bytes) and `alert_log_keep`, so a long run rotates its log.
    public var alertLogMaxBytes: Int?
    public var alertLogKeep: Int?
    /// Where the run's daemon serves its metrics listener (the annunciator page, `/status`, `/metrics`); port 0
    /// picks a free one, which a restarted daemon binds again. Nil (the default): no listener, as `isolated` says.
    public var metrics: HostPort?
    /// Told the metrics listener's bound address each time a daemon of the run binds it.
    public var onMetricsListening: (@Sendable (HostPort) async -> Void)?

    public init(
        site: LoadedSite, scenario: Scenario, speed: Double, directory: String, seed: UInt64 = 1,
        logger: Logger = Logger(label: "firewatch", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.site = site
        self.scenario = scenario
        self.speed = speed
        self.directory = directory
        self.seed = seed
        self.logger = logger
        pollFloor = Self.pollFloor(at: speed)
    }

    /// 5 ms up to 1,000x (which changes nothing up to 200x on a 1 s poll), 40 ms above: at a month's
    /// compression the example site's 18 devices are then polled about 450 times a second, which a 2-core box
    /// can do beside the simulator.
    public static func pollFloor(at speed: Double) -> Duration {
        speed > 1000 ? .milliseconds(40) : .milliseconds(5)
    }

    /// The alert log the run writes.
    public var alertLog: String { directory + "/alerts.jsonl" }

    /// `site` as the run's daemon sees it: state in `directory` and no metrics listener, so nothing collides with
    /// another run or a `make run` (also for a site a scenario reloads).
    public func isolated(_ site: LoadedSite) -> LoadedSite {
        var site = site
        site.alertLog = alertLog
        site.controlSocket = directory + "/control.sock"
        site.metrics = nil
        site.model.staleAfter = max(site.model.staleAfter, staleFloor * speed)
        let poll = pollFloor * speed
        site.model.pollInterval = max(site.model.pollInterval, poll)
        for index in site.devices.indices {
            site.devices[index].pollInterval = site.devices[index].pollInterval.map { max($0, poll) }
        }
        if let alertLogMaxBytes { site.alertLogMaxBytes = alertLogMaxBytes }
        if let alertLogKeep { site.alertLogKeep = alertLogKeep }
        return site
    }

    /// Runs the scenario to its end, then stops the daemon (which logs `daemon.stopped` last) and the
    /// simulator, and judges the expectations from the alert log and the simulator's writes.
    /// - Parameters:
    ///   - onEvent: the simulator's events as they happen (scenario, model, writes).
    ///   - onStart: called once both are running, with the host (its devices and ports).
    ///   - afterScenario: called when the scenario's time is up (or the run is cancelled), with the report so
    ///     far, while the simulator and the daemon still run (`firewatch demo --keep` waits here).
    public func run(
        onEvent: (@Sendable (HostEvent) -> Void)? = nil, onStart: (@Sendable (SimulatorHost) -> Void)? = nil,
        afterScenario: (@Sendable (ScenarioReport) async -> Void)? = nil
    ) async throws -> ScenarioReport {
        let shared = ScaledSiteClock(speed: speed)
        let clock = shared
        // The daemon's own wall clock is the one a `clock_step` event moves; site time stays shared.
        let daemonClock = SteppedWallClock(base: shared)
        let problems = ReloadProblems()
        let host = try SimulatorHost(
            site: site, scenario: scenario, clock: clock, seed: seed, ports: .ephemeral, held: true, onEvent: onEvent)
        defer { host.stop() }
        let notifier = RecordingNotifier()
        let options = DaemonOptions(
            clock: daemonClock, logger: logger, systemd: SystemdNotifier(environment: [:]), handleSignals: false)
        // The site's channels are not called (no pager goes off for a rehearsal) and it has no metrics listener
        // but the one `metrics` asks for.
        let isolated = self.isolated
        let listener = MetricsListener(metrics)
        let onMetricsListening = self.onMetricsListening
        let makeDaemon: @Sendable (LoadedSite) throws -> Daemon = { site in
            var builder = Daemon.Builder(site: host.rewrite(isolated(site)), options: options)
            builder.notifier = notifier
            if let address = listener.address {
                builder.site.metrics = address
                builder.onMetricsListening = { bound in
                    listener.address = bound
                    await onMetricsListening?(bound)
                }
            } else {
                builder.observer = NoRuntimeObserver()
            }
            return try builder.build()
        }
        let daemons = DaemonSlot(try makeDaemon(site), site: site)
        let began = ContinuousClock.now
        let duration = scenario.duration
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // One daemon after another: a `restart` event stops the current one and this loop starts the next
                // on the same alert log (and the site file last reloaded, as a real restart would read it).
                var daemon = daemons.current
                while true {
                    try await daemon.run()
                    guard daemons.takeRestart() else { return }
                    daemon = try makeDaemon(daemons.site)
                    daemons.current = daemon
                }
            }
            group.addTask {
                // Until every device has been polled once, the engine rightly reports its points as
                // "no reading yet" (trouble); the scenario starts once FireWatch is watching.
                for _ in 0..<3000 {
                    let status = await daemons.current.status()
                    if status.ready, !status.zones.contains(where: \.trouble) { break }
                    do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
                }
                host.begin()
                onStart?(host)
                // What happens to the daemon itself: its wall clock stepped, its configuration reloaded, a restart.
                for item in scenario.timeline where item.at <= duration {
                    switch item.event {
                    case .clockStep(let step):
                        do { try await clock.sleep(until: host.start + item.at) } catch { return }
                        daemonClock.step(by: step)
                    case .reload(let file):
                        do { try await clock.sleep(until: host.start + item.at) } catch { return }
                        do {
                            let next = try SiteLoader().load(path: file)
                            daemons.site = next
                            await daemons.current.reload(to: host.rewrite(isolated(next)))
                        } catch {
                            problems.add("reload of \(file) at line \(item.line) failed: \(error)")
                        }
                    case .restart:
                        do { try await clock.sleep(until: host.start + item.at) } catch { return }
                        let stopping = daemons.current
                        daemons.requestRestart()
                        await stopping.shutdown()
                        // The next event waits for the new daemon, so that nothing is sent to the one stopping.
                        for _ in 0..<3000 where daemons.current === stopping {
                            do { try await Task.sleep(for: .milliseconds(5)) } catch { return }
                        }
                    default:
                        continue
                    }
                }
            }
            await host.run(until: duration)
            if let afterScenario {
                await afterScenario(
                    try report(host: host, notifier: notifier, realDuration: ContinuousClock.now - began))
            }
            // As SIGTERM does: the queued records are logged and `daemon.stopped` is the last line.
            await daemons.current.shutdown()
            try await group.waitForAll()
        }
        host.stop()
        if let problem = problems.first {
            throw ConfigError(file: scenario.file, line: 0, column: 0, field: "timeline", message: problem, hint: "fix the site file")
        }
        return try report(host: host, notifier: notifier, realDuration: ContinuousClock.now - began)
    }

    private func report(host: SimulatorHost, notifier: RecordingNotifier, realDuration: Duration) throws
        -> ScenarioReport
    {
        // Every file the log kept (a long run rotates it), oldest first.
        let records = Self.onSiteTime(try AlertRecord.readLog(at: alertLog))
        let start = host.start
        // The scenario's own time only: before it the daemon was starting up, after it everything stops.
        let end = start + scenario.duration
        let observations =
            Observation.fromAlertLog(records.filter { $0.time >= start && $0.time <= end }, since: start)
            + host.observations
        let evaluator = ExpectationEvaluator(escalation: ZoneState.allCases.map(\.rawValue))
        return ScenarioReport(
            scenario: scenario, start: start, speed: speed, realDuration: realDuration, ran: host.elapsed,
            records: records, events: host.events, writes: host.writes, observations: observations,
            results: scenario.evaluate(observations, with: evaluator),
            zones: site.model.zones.compactMap { host.zone($0.name) }, devices: host.devices,
            notifications: notifier.sent, alertLog: alertLog)
    }
}

/// What a scenario run saw and how its expectations fared.
public struct ScenarioReport: Sendable {
    public var scenario: Scenario
    /// Site time at which the scenario started; record times are offsets from it.
    public var start: Timestamp
    public var speed: Double
    public var realDuration: Duration
    /// How much of the scenario ran (less than its duration when the run was interrupted).
    public var ran: Duration
    /// The alert log, oldest first.
    public var records: [AlertRecord]
    /// The simulator's events: scenario, model, writes.
    public var events: [HostEvent]
    public var writes: [SimWrite]
    public var observations: [Observation]
    public var results: [ExpectationResult]
    /// Each zone's model at the end.
    public var zones: [ZoneSnapshot]
    public var devices: [ServedDevice]
    /// Notifications the daemon sent (channel names and the record's message).
    public var notifications: [SentNotification]
    public var alertLog: String

    /// Whether every expectation held, over the whole scenario.
    public var passed: Bool { !interrupted && results.allSatisfy(\.passed) }

    /// Whether the run stopped before the scenario's end (Ctrl-C).
    public var interrupted: Bool { ran < scenario.duration }

    /// Site time of a record since the scenario started.
    public func offset(_ record: AlertRecord) -> Duration { max(.zero, record.time - start) }

    /// Each restart of the daemon during the scenario, from its alert log.
    public var restarts: [ScenarioRestart] {
        var restarts: [ScenarioRestart] = []
        var stopped: AlertRecord?
        for record in records {
            switch record.event {
            case .daemonStopped: stopped = record
            case .daemonStarted:
                guard let stop = stopped else { continue }
                // `detail` is "version V, N records read".
                let read = record.detail?.split(separator: ",").last?.split(separator: " ").first.flatMap { Int($0) }
                restarts.append(
                    ScenarioRestart(at: offset(record), down: (record.time - stop.time) / speed, recordsRead: read))
                stopped = nil
            default: continue
            }
        }
        return restarts
    }
}

/// One restart in a scenario run.
public struct ScenarioRestart: Sendable, Hashable {
    /// Scenario time of the new daemon's `daemon.started`.
    public var at: Duration
    /// Real time from `daemon.stopped` to the next `daemon.started`: stopping, reading the log back, restoring.
    public var down: Duration
    /// Records the new daemon folded after the checkpoint it restored from.
    public var recordsRead: Int?
}

extension Observation {
    /// What the daemon was seen doing in its alert log: `zone.state` records as zone states, and lost
    /// devices, stale or invalid points (and any other trouble record naming a device) as trouble.
    /// Times are site time since `start`.
    public static func fromAlertLog(_ records: [AlertRecord], since start: Timestamp) -> [Observation] {
        records.compactMap { record in
            let at = max(.zero, record.time - start)
            switch record.event {
            case .zoneState:
                // A zone's trouble is a flag beside its tier (`to: trouble`, then `from: trouble` when it
                // clears), not a state; the device and point records say what the trouble was.
                guard let zone = record.zone, let state = record.to, state != "trouble", record.from != "trouble"
                else { return nil }
                return .zoneState(zone, state, at: at)
            case .deviceCommLost, .pointInvalid, .pointStale:
                guard let device = record.device else { return nil }
                return .trouble(device, point: record.point, at: at)
            case .pollLate:
                // The gateway's trouble (short of CPU, or a slow answer), not the device's: its `device` is only
                // the first one polled late.
                return nil
            default:
                guard record.severity == .trouble, let device = record.device else { return nil }
                return .trouble(device, point: record.point, at: at)
            }
        }
    }
}

extension ScenarioRun {
    /// Record times back on site time: after each `clock.stepped` the daemon stamps records on the stepped wall
    /// clock, and the record says by how much (`detail`, e.g. `+1h`), so observations stay on the scenario's timeline.
    static func onSiteTime(_ records: [AlertRecord]) -> [AlertRecord] {
        var offset = Duration.zero
        return records.map { record in
            if record.event == .clockStepped, let detail = record.detail, let sign = detail.first,
                let size = DurationText.parse(String(detail.dropFirst()))
            {
                offset += sign == "-" ? .zero - size : size
            }
            var shifted = record
            shifted.time = record.time - offset
            shifted.until = record.until.map { $0 - offset }
            return shifted
        }
    }
}

/// The daemon's clock in a scenario: the shared site time, with a wall clock of its own that `clock_step` moves.
final class SteppedWallClock: SiteClock {
    let base: ScaledSiteClock
    private let offset = Mutex(Duration.zero)

    init(base: ScaledSiteClock) {
        self.base = base
    }

    var speed: Double { base.speed }
    func now() -> Timestamp { base.now() }
    func wallNow() -> Timestamp { base.now() + offset.withLock { $0 } }
    func sleep(until deadline: Timestamp) async throws { try await base.sleep(until: deadline) }
    func step(by step: Duration) { offset.withLock { $0 += step } }
}

/// The daemon a scenario run is talking to, and the site file it would start from; a `restart` replaces it.
final class DaemonSlot: Sendable {
    private struct State {
        var current: Daemon
        var site: LoadedSite
        var restarting = false
    }
    private let state: Mutex<State>

    init(_ daemon: Daemon, site: LoadedSite) {
        state = Mutex(State(current: daemon, site: site))
    }

    var current: Daemon {
        get { state.withLock { $0.current } }
        set { state.withLock { $0.current = newValue } }
    }
    var site: LoadedSite {
        get { state.withLock { $0.site } }
        set { state.withLock { $0.site = newValue } }
    }
    func requestRestart() { state.withLock { $0.restarting = true } }
    /// Whether a restart was asked for (and forgets it).
    func takeRestart() -> Bool {
        state.withLock { state in
            defer { state.restarting = false }
            return state.restarting
        }
    }
}

/// Where a run's metrics listener is: as asked until the first daemon binds it, then the bound address, so that a
/// restarted daemon serves the page where the first one did.
final class MetricsListener: Sendable {
    private let value: Mutex<HostPort?>

    init(_ address: HostPort?) {
        value = Mutex(address)
    }

    var address: HostPort? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// What went wrong with a scenario's reloads, reported once the run is over.
final class ReloadProblems: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ problem: String) { list.withLock { $0.append(problem) } }
    var first: String? { list.withLock { $0.first } }
}

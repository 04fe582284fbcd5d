import AlertLog
import FireSafety
import Foundation
import Synchronization

/// Builds `DaemonStatus` from the parts that know it; shared by `Daemon.status()` and the control socket.
final class StatusSource: Sendable {
    let time: MonotonicSiteTime
    let core: SafetyCore
    let health: DeviceHealth
    let writer: AlertLogWriter
    let startedAt: Timestamp
    let dryRun: Bool
    /// This gateway's part in a hot-standby pair, if the site has one.
    let standby: StandbyPair?
    /// Every device has finished its first poll.
    let ready = Mutex(false)
    /// Whether each notification channel works; set by the daemon.
    let channels: ChannelHealth
    /// Whether polls start when due (shared with the poller).
    let polling: PollLateness

    init(
        time: MonotonicSiteTime, core: SafetyCore, health: DeviceHealth, writer: AlertLogWriter,
        startedAt: Timestamp, dryRun: Bool, standby: StandbyPair? = nil, channels: ChannelHealth = ChannelHealth(),
        polling: PollLateness = PollLateness(clearAfter: .seconds(10))
    ) {
        self.polling = polling
        self.standby = standby
        self.channels = channels
        self.time = time
        self.core = core
        self.health = health
        self.writer = writer
        self.startedAt = startedAt
        self.dryRun = dryRun
    }

    func status() async -> DaemonStatus {
        let zones = await core.zoneStatus
        let stepTexts = await core.runningStepTexts
        let site = await core.site
        let now = time.now()
        let devices = health.snapshot().map { name, entry in
            DaemonStatus.Device(
                name: name, endpoint: entry.endpoint, up: entry.up, lastPoll: entry.lastPoll.map(time.wall)?.description,
                lastPollAgeSeconds: entry.lastPoll.map { max(0, Double((now - $0).nanosecondCount) / 1e9) },
                polls: entry.polls, failedPolls: entry.failedPolls, lastError: entry.lastError)
        }
        let log = writer.status
        var summary = DaemonStatus.summaryLine(
            zones: zones, devicesUp: devices.filter { $0.up == true }.count, devices: devices.count)
        if log.isDegraded { summary += "; ALERT LOG NOT DURABLE (\(log.backlogCount) records held in memory)" }
        var status = DaemonStatus(
            site: site.model.site, version: BuildInfo.version, configFile: site.file,
            startedAt: time.wall(startedAt).description, now: time.wall(now).description, dryRun: dryRun, ready: ready.withLock { $0 },
            summary: summary,
            zones: zones.map { Self.zone($0, stepText: stepTexts[$0.name], time: time) }, devices: devices,
            alertLog: DaemonStatus.AlertLogState(
                path: writer.configuration.path, degraded: log.isDegraded, backlog: log.backlogCount,
                lastError: log.lastError?.description, nextSeq: log.nextSeq))
        status.channels = site.notify.map { channel in
            let entry = channels.entry(channel.name)
            return DaemonStatus.Channel(
                name: channel.name, target: channel.target.summary, heartbeat: channel.heartbeat?.configText,
                up: entry.up, delivered: entry.delivered, failed: entry.failed, lastError: entry.lastError,
                lastDelivered: entry.lastDelivered.map(time.wall)?.description,
                lastFailed: entry.lastFailed.map(time.wall)?.description)
        }
        status.pollingLate = polling.isLate
        if status.pollingLate { status.summary += "; POLLING LATE" }
        let down = status.channels.filter { $0.up == false }.count
        if down > 0 { status.summary += "; \(down) notify channel\(down == 1 ? "" : "s") DOWN" }
        if let standby {
            let pair = standby.status(now: .now)
            status.standby = pair
            if pair.actingWithoutLease {
                status.summary += "; ACTING WITHOUT A LEASE (etcd unreachable)"
            } else if !pair.acting {
                status.summary += "; standby (\(pair.owner.map { "\($0) acts" } ?? "no owner known"))"
            }
        }
        return status
    }

    static func zone(_ zone: ZoneStatus, stepText: String?, time: MonotonicSiteTime) -> DaemonStatus.Zone {
        var causes: [String] = []
        for signal in zone.signals where signal.condition != .normal || signal.degraded {
            let degraded = signal.degraded ? " (degraded: a source is failed or stale)" : ""
            causes.append("\(signal.name): \(signal.condition.rawValue)\(degraded)")
        }
        func phase(_ phase: ProcedurePhase) -> String {
            switch phase {
            case .idle: return "idle"
            case .running(let next): return "running step \(next + 1)"
            case .done: return "done"
            case .aborted: return "aborted"
            }
        }
        let running = zone.running.map { running in
            DaemonStatus.Step(
                procedure: running.procedure.rawValue, index: running.index,
                text: stepText ?? "?",
                startedAt: time.wall(running.startedAt).description, until: running.delayEnds.map(time.wall)?.description)
        }
        return DaemonStatus.Zone(
            name: zone.name, state: zone.state.rawValue, latched: zone.latched?.description, trouble: zone.trouble,
            acknowledged: zone.acknowledged, inhibitedUntil: zone.inhibitedUntil.map(time.wall)?.description,
            inhibitReason: zone.inhibitReason, testUntil: zone.testUntil.map(time.wall)?.description,
            testReason: zone.testReason, testBy: zone.testBy, causes: causes, isolate: phase(zone.isolate),
            suppress: phase(zone.suppress), powerCut: phase(zone.powerCut), running: running)
    }
}

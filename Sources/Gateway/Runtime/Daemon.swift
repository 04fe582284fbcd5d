import AlertLog
import FireSafety
import Foundation
import Logging
import Modbus
import ServiceLifecycle
import SiteConfig
import Synchronization
import UnixSignals

/// `firewatch run`: polls the site's devices, feeds the engine, logs every decision before acting on it,
/// performs procedure steps, and answers the control socket — until SIGTERM (or cancellation of `run()`).
///
/// A swift-service-lifecycle `ServiceGroup` of: the journal (engine output → alert log → actuator, plus the
/// engine's timers), the notifier, the actuator, the poller, the control socket, systemd notifications, the
/// SIGHUP reloader, and `DaemonOptions.extraServices`. Shutdown runs in reverse: STOPPING=1 first, the journal
/// last, so every record produced while stopping is logged and `daemon.stopped` is the final line.
///
/// ```swift
/// let site = try SiteLoader().load(path: "site.yaml")
/// let daemon = try Daemon.Builder(site: site, options: DaemonOptions(clock: ScaledSiteClock(speed: 10))).build()
/// try await daemon.run()
/// ```
public final class Daemon: Sendable {
    public let options: DaemonOptions
    let time: MonotonicSiteTime
    let writer: AlertLogWriter
    /// The state the log holds so far, for the checkpoints the writer starts every file with.
    let logState: LogState
    let journal: Journal
    let core: SafetyCore
    let clients = DeviceClients()
    let health = DeviceHealth()
    let actuator: Actuator
    let poller: Poller
    let notifier: any AlertNotifier
    let control: ControlServer
    let initialSite: LoadedSite
    let startedAt: Timestamp
    let statusSource: StatusSource
    /// Whether each notification channel works, from its deliveries and failures.
    let channelHealth = ChannelHealth()
    let stoppedLogged = Mutex(false)
    /// The writer's durability changes, handed from under its lock to `runDurabilityNotices`.
    let durabilityChanges: AsyncStream<LogDurabilityChange>
    /// The running group, for `shutdown()`.
    let group = Mutex<ServiceGroup?>(nil)
    /// This gateway's part in the site's hot-standby pair; nil when it acts alone.
    let standby: StandbyPair?
    /// Role changes of the pair, handed from the election's task to `runStandbyNotices`.
    let roleChanges: AsyncStream<(StandbyRole, StandbyRole)>
    /// What the actuator, the notifications and the records' `owner`/`epoch` answer to.
    let gate: any ActuationGate

    /// Opens the alert log (a failure to open is not fatal: records are held in memory and the status says so)
    /// and binds the control socket. Throws `ControlServerError` when the socket cannot be set up, for example
    /// because another daemon answers on it. `Daemon.Builder` is how a daemon is made.
    init(site: LoadedSite, options: DaemonOptions, observer: any RuntimeObserver, notifier: any AlertNotifier) throws {
        ignoreBrokenPipes()
        self.options = options
        self.initialSite = site
        let logger = options.logger
        // The alert log's folder is made if missing (systemd's StateDirectory= does it on a gateway).
        let folder = (site.alertLog as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try? FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        let time = MonotonicSiteTime(clock: options.clock)
        self.time = time
        self.startedAt = time.now()
        let (durabilityChanges, durabilityInput) = AsyncStream.makeStream(of: LogDurabilityChange.self)
        self.durabilityChanges = durabilityChanges
        let logState = LogState()
        self.logState = logState
        let siteName = site.model.site
        writer = AlertLogWriter(
            configuration: AlertLogConfiguration(
                path: site.alertLog, maxBytes: options.alertLogMaxBytes ?? site.alertLogMaxBytes,
                keep: options.alertLogKeep ?? site.alertLogKeep, site: siteName,
                now: { Date(timeIntervalSince1970: Double(time.clock.wallNow().nanoseconds) / 1e9) },
                checkpoint: { why in
                    logState.checkpointMembers(site: siteName, time: time.clock.wallNow(), why: why)
                },
                onWritten: { members in logState.fold(members) }),
            logger: logger, onDurabilityChange: { durabilityInput.yield($0) })
        let (roleChanges, roleInput) = AsyncStream.makeStream(of: (StandbyRole, StandbyRole).self)
        self.roleChanges = roleChanges
        let standby = try Self.standbyPair(site: site, options: options) { roleInput.yield(($0, $1)) }
        self.standby = standby
        journal = Journal(writer: writer, observer: observer, progress: standby?.progressSink, logger: logger)
        let gate = options.gate(standby: standby)
        self.gate = gate
        core = SafetyCore(site: site, time: time, journal: journal, observer: observer, gate: gate, logger: logger)
        self.notifier = notifier
        actuator = Actuator(
            core: core, clients: clients, site: site, time: time, notifier: notifier,
            gate: gate, progress: standby?.progress, attempts: options.commandAttempts, logger: logger)
        let systemd = options.systemd
        // The floor is a second of real time: on a sped-up site clock (the simulator's), that many site seconds.
        let polling = PollLateness(clearAfter: Poller.clearAfter(site), floor: .seconds(1) * max(time.clock.speed, 1))
        let statusSource = StatusSource(
            time: time, core: core, health: health, writer: writer, startedAt: startedAt, dryRun: options.dryRun,
            standby: standby, channels: channelHealth, polling: polling)
        self.statusSource = statusSource
        poller = Poller(
            site: site, core: core, clients: clients, health: health, time: time, observer: observer, logger: logger,
            lateness: polling, onFirstCycle: {
                let first = statusSource.ready.withLock { ready in
                    defer { ready = true }
                    return !ready
                }
                if first { logger.notice("every device has been polled once; ready") }
                do { try systemd.ready() } catch { logger.warning("sd_notify READY=1 failed: \(error)") }
            })
        let handler = ControlHandler(
            core: core, status: statusSource, relay: standby?.commands, notifier: notifier)
        control = try ControlServer(path: site.controlSocket, logger: logger) { request, peer in
            await handler.handle(request, peer: peer)
        }
    }

    /// Recovers from the alert log, then runs every service until SIGTERM/SIGINT (graceful: `daemon.stopped` is
    /// logged last, STOPPING=1 is sent), `shutdown()`, or until the calling task is cancelled. Throws when a
    /// service fails.
    ///
    /// - Parameter alongside: services run and stopped with the daemon, after `DaemonOptions.extraServices`; for
    ///   one that needs the daemon itself (a metrics server serving `status()`), made after `init`.
    public func run(alongside: [any Service] = []) async throws {
        let logger = options.logger
        var recovery = LogRecovery(state: EngineCheckpoint(), recordsRead: 0, checkpoint: nil, problems: [])
        var problem: String?
        do {
            recovery = try LogRecovery.read(logAt: initialSite.alertLog)
        } catch {
            // Protecting the site without its history beats not protecting it: latched zones re-latch if their
            // cause is still present. The record and the status say so.
            problem = "\(error)"
            logger.critical(
                "the alert log could not be read back; starting without its history",
                metadata: ["path": "\(initialSite.alertLog)", "error": "\(error)"])
        }
        // Before anything new is written: the lines written from now on fold into what the log already holds.
        logState.reset(to: recovery.state)
        await core.recover(from: recovery, readProblem: problem)
        await followRestoredLatches()
        logger.notice(
            "firewatch started",
            metadata: [
                "site": "\(initialSite.model.site)", "records": "\(recovery.recordsRead)", "dry_run": "\(options.dryRun)",
                "devices": "\(initialSite.devices.count)", "zones": "\(initialSite.model.zones.count)",
            ])

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ClosureService { await self.runJournal() }, serviceName: "journal"),
        ]
        if let standby {
            // Started before the actuator and shut down after it: the lease is held until the steps under way have
            // finished, then handed over at once.
            services.append(
                .init(
                    service: standby.service { [core] command, user, from in
                        await core.commandRelayed(command, user: user, from: from)
                    },
                    serviceName: "standby"))
            services.append(
                .init(
                    service: ClosureService { try await quietly { await self.runStandbyNotices() } },
                    serviceName: "standby-notices"))
        }
        services += [
            // A notifier whose run() returns early must not stop the daemon: watching goes on without it.
            .init(service: notifier, successTerminationBehavior: .ignore, serviceName: "notifier"),
            // Not cancelled on shutdown: the step under way finishes, so its outcome is logged.
            .init(service: actuator, serviceName: "actuator"),
            .init(service: poller, serviceName: "poller"),
            .init(service: control, serviceName: "control"),
            .init(
                service: ClosureService { try await quietly { try await self.runSystemd() } }, serviceName: "systemd"),
            .init(
                service: ClosureService { try await quietly { await self.runDurabilityNotices() } },
                serviceName: "log-durability"),
            .init(service: ClosureService { try await quietly { try await self.runCheckpoints() } }, serviceName: "checkpoints"),
            .init(service: ClosureService { try await quietly { try await self.runHeartbeats() } }, serviceName: "heartbeats"),
        ]
        if options.handleSignals {
            services.append(
                .init(service: ClosureService { try await quietly { await self.runReloads() } }, serviceName: "sighup"))
        }
        services.append(
            .init(
                service: ClosureService {
                    do { try await gracefulShutdown() } catch { return }
                    logger.notice("stopping")
                    do { try self.options.systemd.stopping() } catch { logger.warning("sd_notify failed: \(error)") }
                }, serviceName: "stopping"))
        services += (options.extraServices + alongside).map { .init(service: $0) }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: options.handleSignals ? [.sigterm, .sigint] : [],
                cancellationSignals: [], logger: logger))
        self.group.withLock { $0 = group }
        try await group.run()
        await logStopped()
    }

    /// Stops the daemon as SIGTERM does: STOPPING=1, services stop in reverse order, the journal logs what is
    /// still queued and `daemon.stopped` last; `run()` then returns. (Cancelling `run()` instead stops at once,
    /// like a crash: a restart recovers from the log.)
    public func shutdown() async {
        let group = self.group.withLock { $0 }
        await group?.triggerGracefulShutdown()
    }

    /// A snapshot of zones, devices and the alert log.
    public func status() async -> DaemonStatus {
        await statusSource.status()
    }

    /// The last 20 records this daemon logged (each as its alert-log members, `seq` first once written), newest
    /// last: what `GET /records` serves to the annunciator page.
    public func recentRecords() -> [JSONValue] {
        journal.recent.all
    }

    /// Applies an operator command (what the control socket does); answers once its records are logged.
    /// `user` is the name of the command's uid, when known.
    public func submit(_ command: OperatorCommand, user: String? = nil) async -> ControlResponse {
        await ControlHandler.submit(command, user: user, to: core)
    }

    /// Reloads the site file (what SIGHUP does). A bad file keeps the running configuration and logs why (each
    /// error with its file:line) in a `daemon.config_reloaded` record with outcome `refused`.
    public func reload() async {
        let logger = options.logger
        let systemd = options.systemd
        do { try systemd.reloading() } catch { logger.warning("sd_notify RELOADING=1 failed: \(error)") }
        let current = await core.site
        let file = current.file
        do {
            let next = try SiteLoader().load(path: file)
            if next.alertLog != current.alertLog || next.controlSocket != current.controlSocket
                || next.standby != current.standby
            {
                logger.warning(
                    "alert_log, control_socket and standby changes take effect only after a restart",
                    metadata: ["file": "\(file)"])
            }
            await reload(to: next)
        } catch {
            for problem in error.errors { logger.error("\(problem.description)") }
            logger.error(
                "configuration reload refused; the previous configuration keeps running",
                metadata: ["file": "\(file)", "errors": "\(error.errors.count)"])
            await core.reloadRefused(file: file, errors: error.errors.map(\.description))
        }
        do { try systemd.ready() } catch { logger.warning("sd_notify READY=1 failed: \(error)") }
    }

    /// Takes over an already loaded site, as a good SIGHUP does (the scenario runner reloads sites it rewrote).
    public func reload(to next: LoadedSite) async {
        let previous = await core.site
        await core.reload(next, file: next.file)
        followRemovedZones(from: previous, to: next)
        actuator.update(site: next)
        poller.restart(with: next)
        options.logger.notice("configuration reloaded", metadata: ["file": "\(next.file)"])
    }

    /// For a notifier: a channel failed to deliver `record`. Logs a `notify.failed` record, then sends it on every
    /// other channel (fail open). A failed `notify.failed` is only logged, so two dead channels cannot ping-pong.
    public func notificationFailed(channel: String, record: AlertRecord?, error: String) async {
        channelHealth.failed(channel, reason: error, at: time.now())
        let failed = await core.notificationFailed(channel: channel, about: record, error: error)
        guard record?.event != .notifyFailed, gate.notifies() else { return }
        let others = actuator.site.withLock { $0.notify }.filter { $0.name != channel }
        if !others.isEmpty { notifier.send(failed, to: others) }
    }

    /// For a notifier: a channel delivered a record (a notification or a heartbeat).
    public func notificationDelivered(channel: String) {
        channelHealth.delivered(channel, at: time.now())
    }

    /// Sends each supervised channel (`heartbeat:`) its heartbeat: one at start, so a dead path is known within its
    /// timeout, then every `heartbeat` of site time. Follows reloads (a channel's schedule starts when it appears).
    /// Both gateways of a pair send theirs: each one's own path to the channel is what is supervised.
    private func runHeartbeats() async throws {
        var due: [String: Timestamp] = [:]
        while !Task.isCancelled {
            let channels = await core.site.notify.filter { $0.heartbeat != nil }
            let now = time.now()
            due = due.filter { entry in channels.contains { $0.name == entry.key } }
            let status = await statusSource.status().summary
            for channel in channels {
                guard let every = channel.heartbeat, due[channel.name].map({ $0 <= now }) ?? true else { continue }
                let record = await core.heartbeat(on: channel, every: every, status: status, gateway: options.gateway)
                notifier.send(record, to: [channel])
                due[channel.name] = now + every
            }
            // At most a minute of site time between looks, so a reload's new channel is heard of soon.
            let next = due.values.min().map { min($0, now + NotifyChannel.minimumHeartbeat) } ?? now + NotifyChannel.minimumHeartbeat
            try await options.clock.sleep(until: next)
        }
    }

    /// Logs each change of the pair's roles (and tells the channels, if this gateway notifies).
    private func runStandbyNotices() async {
        guard let standby else { return }
        observerOfRoles(standby.election.role)
        for await (old, new) in roleChanges {
            await core.standbyChanged(standby.records(from: old, to: new, site: initialSite.model.site, at: time.now()))
            observerOfRoles(new)
        }
    }

    private func observerOfRoles(_ role: StandbyRole) {
        core.observer.standbyRole(role.kind.rawValue, epoch: role.epoch, etcdReachable: role.etcdProblem == nil)
    }

    /// The site's pair for this gateway, or nil when the site has no `standby:`.
    static func standbyPair(
        site: LoadedSite, options: DaemonOptions, onChange: @escaping @Sendable (StandbyRole, StandbyRole) -> Void
    ) throws -> StandbyPair? {
        guard let config = site.standby else {
            if let gateway = options.gateway { throw StandbyPair.NameError(gateway: gateway, peers: []) }
            return nil
        }
        guard let gateway = options.gateway else { throw StandbyPair.NameError(gateway: "", peers: config.peers) }
        return try StandbyPair(
            config: config, site: site.model.site, gateway: gateway, logger: options.logger, onChange: onChange)
    }

    /// Tells every channel when the alert log stops being durable and when it is durable again.
    private func runDurabilityNotices() async {
        for await change in durabilityChanges {
            await core.logDurabilityChanged(change)
        }
    }

    // MARK: - Services

    private func runJournal() async {
        await withGracefulShutdownHandler {
            await journal.drain(
                dispatch: { action, resumed in self.dispatch(action, resumed: resumed) },
                logged: { records in self.follow(records) })
        } onGracefulShutdown: {
            self.journal.finish()
        }
        await logStopped()
    }

    /// Logs `daemon.stopped` once, as the last record, and closes the log and the device connections.
    private func logStopped() async {
        let first = stoppedLogged.withLock { logged in
            defer { logged = true }
            return !logged
        }
        guard first else { return }
        await core.stop()
        let site = await core.site
        let record = AlertRecord(
            time: time.clock.wallNow(), site: site.model.site, severity: .info, event: .daemonStopped,
            message: "firewatch \(BuildInfo.version) stopped")
        await journal.write(JournalEntry(records: [record], actions: []))
        writer.close()
        await clients.closeAll()
        options.logger.notice("stopped")
    }

    private func dispatch(_ action: Action, resumed: Bool) {
        switch action {
        case .runStep(let zone, let procedure, let index, let step):
            var job = Actuator.Job(zone: zone, procedure: procedure, index: index, step: step)
            job.resumed = resumed
            actuator.enqueue(job)
        case .cancelStep(let zone, let procedure, let index):
            actuator.cancel(zone: zone, procedure: procedure, index: index)
        case .notify(let record):
            // A standby's notifications are the owner's to send.
            guard gate.notifies() else { return }
            notifier.send(record, to: actuator.site.withLock { $0.notify })
        }
    }

    /// WATCHDOG=1 every `watchdogPingInterval` while every device keeps finishing polls; STATUS= on change.
    private func runSystemd() async throws {
        let systemd = options.systemd
        let ping = systemd.watchdogPingInterval
        let period = min(ping ?? .seconds(1), .seconds(1))
        var lastStatus = ""
        var lastPing = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let ready = statusSource.ready.withLock { $0 }
            if let ping, ready, now - lastPing >= ping, health.progressing(now: now) {
                lastPing = now
                do { try systemd.watchdog() } catch { options.logger.warning("sd_notify WATCHDOG=1 failed: \(error)") }
            }
            // Records held in memory are also retried without waiting for the next record to come along.
            if writer.isDegraded, writer.retry() {
                options.logger.notice("alert log writable again; held records written")
            }
            let line = await status().summary
            if line != lastStatus {
                lastStatus = line
                do { try systemd.status(line) } catch { options.logger.warning("sd_notify STATUS failed: \(error)") }
            }
            try await Task.sleep(for: period)
        }
    }

    /// How often a `state.checkpoint` is written besides the first line of every file and the one at start.
    static let checkpointEvery: Duration = .seconds(3600)

    /// A `state.checkpoint` every `checkpointEvery` of site time, so a restart after a long quiet stretch reads an
    /// hour of records at most. On the site clock's own schedule (a compressed clock gets one per site hour too);
    /// after a stall it starts a fresh hour rather than writing the missed ones back to back.
    private func runCheckpoints() async throws {
        var next = time.now() + Self.checkpointEvery
        while !Task.isCancelled {
            try await options.clock.sleep(until: next)
            await core.checkpoint(why: "hourly")
            next = next + Self.checkpointEvery
            if next <= time.now() { next = time.now() + Self.checkpointEvery }
        }
    }

    private func runReloads() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            options.logger.notice("SIGHUP: reloading the configuration")
            await reload()
        }
    }
}

/// Runs a service body until graceful shutdown cancels it. Cancellation is how these services end, not a
/// failure; any other error propagates, so the group stops and `firewatch run` exits 1.
private func quietly(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError {
        return
    }
}

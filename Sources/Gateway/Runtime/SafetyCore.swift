import AlertLog
import FireSafety
import Logging
import SiteConfig
import Synchronization

/// The daemon's one view of time: site time (`now()`, monotonic) for every timer, and the wall clock only to
/// stamp records (`wall(_:)`).
///
/// The two are compared on every `checkStep()`: when the wall clock has moved against site time by more than
/// `reportableStep` (either way) since the last look, that is a step of the wall clock (NTP at boot, an
/// operator, a bad RTC). It is reported once and changes no timer; record times follow the new wall clock.
final class MonotonicSiteTime: Sendable {
    let clock: any SiteClock
    /// Wall minus site time as last seen.
    private let offset: Mutex<Duration>

    init(clock: any SiteClock) {
        self.clock = clock
        self.offset = Mutex(clock.wallNow() - clock.now())
        // The two clocks are read a few microseconds apart; on a compressed clock (a scenario at 14,400x) that
        // is seconds of site time, so the threshold grows with the speed: 10 ms of real time, at least 1 s.
        reportableStep = max(Self.reportableStep, .milliseconds(10) * clock.speed)
    }

    /// Smaller moves are the two clocks' reading jitter, not a step of the wall clock.
    static let reportableStep: Duration = .seconds(1)
    /// `reportableStep` on this clock.
    let reportableStep: Duration

    /// Site time: monotonic, for every duration and deadline.
    func now() -> Timestamp { clock.now() }

    /// The wall time of the site-time instant `time`, for the `time` and `until` of records and status.
    func wall(_ time: Timestamp) -> Timestamp {
        time + offset.withLock { $0 }
    }

    /// How far the wall clock stepped since the last call (forward positive), when it stepped more than
    /// `reportableStep`; nil otherwise. Each step is reported once.
    func checkStep() -> Duration? {
        let current = clock.wallNow() - clock.now()
        return offset.withLock { offset -> Duration? in
            let moved = current - offset
            guard moved >= reportableStep || moved <= .zero - reportableStep else { return nil }
            offset = current
            return moved
        }
    }
}

/// The engine's owner: every call into the `Engine` happens here, one at a time, and every `Output` goes to the
/// journal in the order it was produced. Also runs the engine's timers (`Output.nextDeadline`).
///
/// Nothing here suspends between an engine call and handing its output to the journal, so no other call can
/// slip in between: log order is decision order.
actor SafetyCore {
    private(set) var engine: Engine
    private(set) var site: LoadedSite
    /// Bumped when the engine is rebuilt (reload): readings carrying an older generation's slots are dropped.
    private(set) var generation = 0
    let time: MonotonicSiteTime
    let journal: Journal
    let observer: any RuntimeObserver
    /// Asked for the `owner`/`epoch` that `step.*` and `standby.*` records and every notification carry.
    let gate: any ActuationGate
    let logger: Logger
    /// The latest `zone.state` record of each zone: what a `notify` step tells people.
    private var latestZoneRecord: [String: AlertRecord] = [:]
    private var timer: Task<Void, Never>?
    private var timerDeadline: Timestamp?
    private var stopped = false
    /// Building every zone's status for an observer that ignores it would cost each poll for nothing.
    private let observes: Bool
    /// Whether the observer has seen the zones once; after that it hears of them only when something changed.
    private var observedZones = false
    /// Devices whose first poll of this configuration has not arrived yet. Until all have, readings are held
    /// and evaluated together, so a start (or reload) does not report every not-yet-polled source as stale.
    private var awaitingFirstPoll: Set<String>
    private var heldReadings: [SlottedReading] = []

    init(
        site: LoadedSite, time: MonotonicSiteTime, journal: Journal, observer: any RuntimeObserver,
        gate: any ActuationGate = OpenGate(), logger: Logger
    ) {
        self.gate = gate
        self.site = site
        self.engine = Engine(model: site.model)
        self.awaitingFirstPoll = Set(site.devices.map(\.name))
        self.time = time
        self.journal = journal
        self.observer = observer
        self.observes = !(observer is NoRuntimeObserver)
        self.logger = logger
    }

    // MARK: - Start, reload, stop

    /// Rebuilds the engine from what the alert log holds and logs `daemon.started` (and `daemon.recovered` after
    /// an unclean stop) before whatever the restore decided (resumed steps, procedures that go on).
    func recover(from recovery: LogRecovery, readProblem: String?) {
        let now = time.now()
        let (restored, out) = Engine.restore(model: site.model, from: recovery.state, at: now)
        engine = restored
        let count = recovery.recordsRead
        var problems = recovery.problems
        if let readProblem { problems.append("the log could not be read back: \(readProblem)") }
        var message =
            "firewatch \(BuildInfo.version) started for site \(site.model.site); "
            + (recovery.checkpoint.map { "restored from the checkpoint at \($0) and " } ?? "")
            + "\(count) record\(count == 1 ? "" : "s") read from the alert log"
        if !problems.isEmpty { message += "; " + problems.joined(separator: "; ") }
        var records = [
            AlertRecord(
                time: now, site: site.model.site, severity: problems.isEmpty ? .info : .trouble, event: .daemonStarted,
                message: message, reason: problems.isEmpty ? nil : problems.joined(separator: "\n"),
                detail: "version \(BuildInfo.version), \(count) records read")
        ]
        var actions: [Action] = problems.isEmpty ? [] : [.notify(records[0])]
        if recovery.state.daemonRunning {
            let since = recovery.state.daemonStartedAt.map { " (started \($0))" } ?? ""
            let recovered = AlertRecord(
                time: now, site: site.model.site, severity: .trouble, event: .daemonRecovered,
                message: "the previous run\(since) did not stop cleanly (no daemon.stopped after its daemon.started: "
                    + "a crash, kill -9, watchdog or power loss); latches, inhibits, aborts and procedures under way "
                    + "were restored from the alert log",
                reason: "unclean stop")
            records.append(recovered)
            actions.append(.notify(recovered))
        }
        var entry = out
        entry.records.insert(contentsOf: records, at: 0)
        entry.actions.insert(contentsOf: actions, at: 0)
        var resumed: Set<String> = []
        for record in entry.records where record.event == .stepResumed {
            if let zone = record.zone, let procedure = record.procedure, let index = record.step {
                resumed.insert(JournalEntry.key(zone, procedure, index))
            }
        }
        emit(
            entry,
            extras: [
                0: [JSONMember("version", .string(BuildInfo.version)), JSONMember("records_read", .int(count))]
            ], checkpoint: "start", resumed: resumed)
    }

    /// Swaps in a new site. The engine keeps its state (by zone and signal name); a procedure under way finishes
    /// on the steps it started with, so the actuator's step under way simply goes on. `daemon.config_reloaded`
    /// names the zones that keep older steps until their procedure ends.
    func reload(_ newSite: LoadedSite, file: String) {
        let now = time.now()
        let (rebuilt, waiting) = engine.reloaded(with: newSite.model)
        var message = "configuration reloaded from \(file)"
        if !waiting.isEmpty {
            message +=
                "; \(waiting.joined(separator: ", ")) \(waiting.count == 1 ? "keeps" : "keep") the steps of the "
                + "procedure under way until it ends, then take the new configuration"
        }
        let accepted = AlertRecord(
            time: now, site: newSite.model.site, severity: .info, event: .daemonConfigReloaded,
            message: message, reason: waiting.isEmpty ? nil : "waiting: " + waiting.joined(separator: ", "),
            outcome: "accepted")
        engine = rebuilt
        site = newSite
        generation += 1
        awaitingFirstPoll = Set(newSite.devices.map(\.name))
        heldReadings = []
        emit(Output(records: [accepted], nextDeadline: engine.nextDeadline()))
    }

    /// Logs that a reload was refused; the running configuration stays.
    func reloadRefused(file: String, errors: [String]) {
        let record = AlertRecord(
            time: time.now(), site: site.model.site, severity: .trouble, event: .daemonConfigReloaded,
            message: "configuration reload refused: \(errors.count) error\(errors.count == 1 ? "" : "s") in \(file); "
                + "the previous configuration keeps running",
            reason: errors.joined(separator: "\n"), outcome: "refused")
        emit(Output(records: [record], nextDeadline: timerDeadline))
    }

    /// Asks the journal for a `state.checkpoint` after what is queued (hourly, so a restart reads little).
    func checkpoint(why: String) {
        emit(Output(nextDeadline: timerDeadline), checkpoint: why)
    }

    /// No more timers; called when the daemon stops.
    func stop() {
        stopped = true
        timer?.cancel()
        timer = nil
    }

    // MARK: - Inputs

    /// The device's sources with their slots in the current engine, for `evaluate(slotted:)`.
    func sources(of device: String) -> (generation: Int, sources: [(SourceRef, SourceSlot)]) {
        let refs = engine.allSources.filter { $0.device == device }
        return (generation, refs.compactMap { ref in engine.slot(of: ref).map { (ref, $0) } })
    }

    /// One poll's readings. Their time is the core's (monotonic) now, so a clock stepped back cannot make the
    /// engine take fresh readings for late ones.
    func ingest(_ readings: [SlottedReading], from device: String, generation: Int) {
        guard generation == self.generation, !stopped else { return }
        let now = time.now()
        var stamped = readings
        for index in stamped.indices { stamped[index].reading.time = now }
        if !awaitingFirstPoll.isEmpty {
            awaitingFirstPoll.remove(device)
            heldReadings += stamped
            guard awaitingFirstPoll.isEmpty else { return }
            stamped = heldReadings
            heldReadings = []
        }
        let out = engine.evaluate(slotted: stamped, at: now)
        emit(out)
        observeZones(after: out, at: now)
    }

    /// Tells the observer the zones' status when it can have changed. A zone's state, latch, overlays, signal
    /// levels and running step change only with a record, so a quiet poll (nearly all of them) costs nothing
    /// here: building every zone's status on every device poll made the daemon's CPU grow devices × zones.
    private func observeZones(after out: Output, at now: Timestamp) {
        guard observes, !observedZones || !out.records.isEmpty else { return }
        observedZones = true
        observer.engineEvaluated(zones: engine.status, at: now)
    }

    /// An operator command (`user`: the name of its uid, when known); returns once its records are logged, so
    /// the answer follows the record.
    func command(_ command: OperatorCommand, user: String? = nil) async -> Output {
        let now = time.now()
        let out = engine.command(command, user: user, at: now)
        await emitLogged(out)
        observeZones(after: out, at: now)
        return out
    }

    /// An operator command given on the other gateway of the pair, relayed through etcd: carried out here as if
    /// given here, and its records say where it was given. One this engine refuses is a `standby.command_refused`
    /// record (trouble: the two gateways no longer agree on the zone, and an operator must look).
    func commandRelayed(_ command: OperatorCommand, user: String?, from gateway: String) async {
        let now = time.now()
        var out = engine.command(command, user: user, at: now)
        let given = "given on \(gateway) by uid \(command.uid)" + (user.map { " (\($0))" } ?? "")
        for index in out.records.indices { out.records[index].message += " — \(given), relayed through etcd" }
        if let refused = out.refused {
            let kind = RelayedCommand(gateway: gateway, command: command, user: user).command
            out.records.append(
                AlertRecord(
                    time: now, site: site.model.site, zone: command.zone, severity: .trouble,
                    event: .standbyCommandRefused,
                    message: "\(kind) of \(command.zone) \(given) was refused here: \(refused); the two gateways no "
                        + "longer agree on \(command.zone) — compare `firewatch status` on both",
                    uid: command.uid, reason: refused, user: user))
        }
        await emitLogged(out)
        observeZones(after: out, at: now)
    }

    /// The actuator is about to write a command step again: logs `step.retried` and returns once it is logged
    /// (fsynced, or held if the disk refuses), true when the write may go ahead; false when the step no longer
    /// runs (aborted, cancelled), and then nothing may be written.
    func stepRetrying(
        zone: String, procedure: ProcedureKind, index: Int, attempt: Int, of attempts: Int, problem: String
    ) async -> Bool {
        guard !stopped else { return false }
        let out = engine.stepRetrying(
            zone: zone, procedure: procedure, index: index, attempt: attempt, of: attempts, problem: problem,
            at: time.now())
        if let refused = out.refused {
            logger.info("retry not made", metadata: ["zone": "\(zone)", "why": "\(refused)"])
            return false
        }
        await emitLogged(out)
        return true
    }

    /// Emits `out` and waits until its records are logged and its actions handed on.
    private func emitLogged(_ out: Output) async {
        let (done, signal) = AsyncStream.makeStream(of: Void.self)
        emit(out, done: signal)
        for await _ in done { break }
    }

    /// The actuator reports a step; the engine's records are logged before its next actions run.
    func stepFinished(zone: String, procedure: ProcedureKind, index: Int, outcome: StepOutcome, detail: String) {
        guard !stopped else { return }
        let now = time.now()
        let out = engine.stepFinished(
            zone: zone, procedure: procedure, index: index, outcome: outcome, detail: detail, at: now)
        if let refused = out.refused {
            logger.debug("step report not taken", metadata: ["zone": "\(zone)", "why": "\(refused)"])
        } else {
            observer.stepFinished(zone: zone, procedure: procedure, index: index, outcome: outcome)
        }
        emit(out)
        observeZones(after: out, at: now)
    }

    /// Records that a notification channel failed; returns the `notify.failed` record once it is logged, for the
    /// daemon to send on every other channel (fail open: people hear about it on the others).
    @discardableResult
    func notificationFailed(channel: String, about record: AlertRecord?, error: String) async -> AlertRecord {
        observer.notificationFailed(channel: channel)
        let about = record.map { " (\($0.event.rawValue): \($0.message))" } ?? ""
        let failed = AlertRecord(
            time: time.now(), site: site.model.site, zone: record?.zone, severity: .trouble, event: .notifyFailed,
            message: "notification channel \(channel) failed: \(error)\(about)", detail: error)
        await emitLogged(Output(records: [failed], nextDeadline: timerDeadline))
        var stamped = failed
        time.stamp(&stamped)
        return stamped
    }

    /// A supervised channel's heartbeat: sent on that channel only, never logged (a failure is `notify.failed`).
    func heartbeat(on channel: NotifyChannel, every: Duration, status: String, gateway: String?) -> AlertRecord {
        let from = gateway.map { " (gateway \($0))" } ?? ""
        var record = AlertRecord(
            time: time.now(), site: site.model.site, severity: .info, event: .notifyHeartbeat,
            message: "heartbeat from firewatch at \(site.model.site)\(from) on \(channel.name): \(status) — the next "
                + "within \(DurationText.format(every)); if none comes, this channel or FireWatch is down")
        time.stamp(&record)
        return record
    }

    /// Logs an operator's `notify test` before the test is sent; returns the record to send, stamped.
    func notificationTest(channels: [String], uid: String, user: String?) async -> AlertRecord {
        let who = user.map { "\($0) (uid \(uid))" } ?? "uid \(uid)"
        let record = AlertRecord(
            time: time.now(), site: site.model.site, severity: .info, event: .notifyTest,
            message: "TEST from firewatch at \(site.model.site), asked by \(who), on "
                + "\(channels.joined(separator: ", ")): whoever reads this on a channel, it works; no action needed",
            uid: uid, user: user)
        await emitLogged(Output(records: [record], nextDeadline: timerDeadline))
        var stamped = record
        time.stamp(&stamped)
        return stamped
    }

    /// The alert log stopped or started taking records again: logged (held in memory until the disk takes it)
    /// and sent on every channel, since the people who must know are not reading the log.
    func logDurabilityChanged(_ change: LogDurabilityChange) {
        let record: AlertRecord
        switch change {
        case .notDurable(let problem, let hint):
            record = AlertRecord(
                time: time.now(), site: site.model.site, severity: .alarm, event: .logNotDurable,
                message: "ALERT LOG NOT DURABLE: \(problem) — records are held in memory and retried every second; "
                    + "actuation goes on. \(hint)",
                reason: problem)
        case .durable(let written):
            record = AlertRecord(
                time: time.now(), site: site.model.site, severity: .info, event: .logDurable,
                message: "alert log durable again: \(written) record\(written == 1 ? "" : "s") held in memory written",
                detail: "\(written) records written from memory")
        }
        emit(Output(records: [record], actions: [.notify(record)], nextDeadline: timerDeadline))
    }

    /// Polling turned late or on time again (`PollLateness`): logged and sent on every channel, since readings older
    /// than `poll_interval` promises delay detection by as much.
    func pollingLateness(_ change: PollLateness.Change) {
        let record: AlertRecord
        switch change {
        case .late(let device, let lateness, let interval):
            let late = DurationText.format(lateness)
            record = AlertRecord(
                time: time.now(), site: site.model.site, severity: .trouble, event: .pollLate, device: device,
                message: "POLLING LATE: \(device) was polled \(late) after it was due (poll_interval "
                    + "\(DurationText.format(interval))) — this gateway is short of CPU or the device answers slower "
                    + "than its interval; every device is still polled, later, so detection is late by as much. "
                    + "Find what else runs on the gateway (top), or give the device a longer poll_interval",
                detail: "late by \(late)")
        case .onTime(let polls, let worst, let device):
            record = AlertRecord(
                time: time.now(), site: site.model.site, severity: .info, event: .pollOnTime, device: device,
                message: "polling on time again: \(polls) poll\(polls == 1 ? " was" : "s were") late, the worst "
                    + "\(device) by \(DurationText.format(worst))",
                detail: "\(polls) late polls, worst \(DurationText.format(worst))")
        }
        emit(Output(records: [record], actions: [.notify(record)], nextDeadline: timerDeadline))
    }

    /// Logs what a change of the pair's roles made (`StandbyPair.records`), and sends it on the channels.
    func standbyChanged(_ records: [AlertRecord]) {
        guard !records.isEmpty else { return }
        emit(Output(records: records, actions: records.map { .notify($0) }, nextDeadline: timerDeadline))
    }

    /// Stamps the pair's owner and epoch on `step.*` and `standby.*` records and on every notification.
    private func fence(_ out: inout Output) {
        guard let token = gate.fence() else { return }
        for index in out.records.indices {
            let event = out.records[index].event.rawValue
            if event.hasPrefix("step.") || event.hasPrefix("standby.") { out.records[index].fence(token) }
        }
        for index in out.actions.indices {
            if case .notify(var record) = out.actions[index] {
                record.fence(token)
                out.actions[index] = .notify(record)
            }
        }
    }

    private func clockStepRecord(_ step: Duration) -> AlertRecord {
        let forward = step > .zero
        let size = DurationText.format(forward ? step : .zero - step)
        return AlertRecord(
            time: time.now(), site: site.model.site, severity: .trouble, event: .clockStepped,
            message: "the wall clock stepped \(forward ? "forward" : "back") by \(size); every timer (polls, "
                + "staleness, delays, verify windows, inhibits) runs on the monotonic clock and is unchanged, "
                + "record times follow the new wall clock",
            detail: "\(forward ? "+" : "-")\(size)")
    }

    // MARK: - Reads

    var zoneStatus: [ZoneStatus] { engine.status }

    /// The text of each zone's step under way, as the engine runs it (a reload may have left it on older steps).
    var runningStepTexts: [String: String] {
        var texts: [String: String] = [:]
        for zone in engine.status {
            guard let running = zone.running,
                let step = engine.step(zone: zone.name, procedure: running.procedure, index: running.index)
            else { continue }
            texts[zone.name] = step.description
        }
        return texts
    }

    /// What a `notify` step of `zone` tells people: the zone's latest state record, or a summary of it now.
    func notification(for zone: String) -> AlertRecord {
        if let record = latestZoneRecord[zone] { return record }
        let state = engine.status(of: zone)
        return AlertRecord(
            time: time.now(), site: site.model.site, zone: zone, severity: state?.state.severity ?? .info,
            event: .zoneState, to: state?.state.rawValue,
            message: "\(zone) is \(state?.state.rawValue ?? "unknown")")
    }

    // MARK: - Output

    private func emit(
        _ out: Output, extras: [Int: [JSONMember]] = [:], done: AsyncStream<Void>.Continuation? = nil,
        checkpoint: String? = nil, resumed: Set<String> = []
    ) {
        var out = out
        var extras = extras
        if let measured = time.checkStep() {
            // The two clocks are read a moment apart: a step is reported to the 0.1 s (whole seconds from 10 s).
            let resolution: Int64 = abs(measured.nanosecondCount) >= 10_000_000_000 ? 1_000_000_000 : 100_000_000
            let rounded = (Double(measured.nanosecondCount) / Double(resolution)).rounded() * Double(resolution)
            let step = Duration.nanoseconds(Int64(rounded))
            // Logged first: the records after it carry the new wall time, and the reader should know why.
            extras = Dictionary(uniqueKeysWithValues: extras.map { ($0.key + 1, $0.value) })
            extras[0] = [JSONMember("step_seconds", .number(Double(step.nanosecondCount) / 1e9))]
            out.records.insert(clockStepRecord(step), at: 0)
            out.actions.insert(.notify(out.records[0]), at: 0)
            logger.warning(
                "the wall clock stepped; timers run on the monotonic clock and are unchanged",
                metadata: ["step": "\(DurationText.format(step))"])
        }
        time.stamp(&out)
        fence(&out)
        for record in out.records where record.event == .zoneState {
            if let zone = record.zone { latestZoneRecord[zone] = record }
        }
        if out.records.isEmpty && out.actions.isEmpty && checkpoint == nil {
            done?.finish()
        } else {
            journal.submit(
                JournalEntry(
                    records: out.records, extras: extras, actions: out.actions, checkpoint: checkpoint,
                    resumed: resumed, done: done))
        }
        schedule(out.nextDeadline)
    }

    /// Arms the one timer for the engine's next deadline (an earlier one replaces a later one).
    private func schedule(_ deadline: Timestamp?) {
        guard !stopped else { return }
        guard let deadline else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if deadline == timerDeadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        // Never re-arm in the past: a deadline that is already due is evaluated a moment from now, not in a spin.
        let target = max(deadline, time.now() + .milliseconds(1))
        let clock = time.clock
        timer = Task { [weak self] in
            do { try await clock.sleep(until: target) } catch { return }
            await self?.fire(deadline)
        }
    }

    private func fire(_ deadline: Timestamp) {
        guard deadline == timerDeadline, !stopped else { return }
        timer = nil
        timerDeadline = nil
        // The evaluation of the first full poll cycle advances every timer anyway.
        guard awaitingFirstPoll.isEmpty else { return }
        let now = time.now()
        let out = engine.evaluate(slotted: [], at: now)
        emit(out)
        observeZones(after: out, at: now)
    }
}

extension MonotonicSiteTime {
    /// Turns the site times of an output's records (and of the records its notifications carry) into wall times.
    func stamp(_ out: inout Output) {
        for index in out.records.indices { stamp(&out.records[index]) }
        for index in out.actions.indices {
            if case .notify(var record) = out.actions[index] {
                stamp(&record)
                out.actions[index] = .notify(record)
            }
        }
    }

    func stamp(_ record: inout AlertRecord) {
        record.time = wall(record.time)
        record.until = record.until.map(wall)
    }
}

import FireSafety
import Logging
import Synchronization

/// Site time that never goes backwards: the engine's timers and the log's order rely on it, and a wall clock
/// can be stepped back (NTP, an operator).
///
/// While the clock reads at or past the last time given out it is followed as is (a step forward included).
/// When it reads earlier, time does not freeze — a frozen clock would stop delays, inhibit expiry and staleness
/// for as long as the step was — it keeps running at the monotonic clock's rate from the last time given out,
/// ahead of the wall clock by the step, and `onStepBack` is told once per step.
final class MonotonicSiteTime: Sendable {
    let clock: any SiteClock
    private struct State {
        var last: Timestamp
        var lastInstant: ContinuousClock.Instant
        var behind = false
    }
    private let state: Mutex<State>
    private let onStepBack: @Sendable (Duration) -> Void

    init(clock: any SiteClock, onStepBack: @escaping @Sendable (Duration) -> Void = { _ in }) {
        self.clock = clock
        self.state = Mutex(State(last: clock.now(), lastInstant: .now))
        self.onStepBack = onStepBack
    }

    /// A reading behind the last time given out by less than this is jitter between the wall and monotonic
    /// clocks, not an operator or NTP stepping the clock: time still never goes backwards, but nobody is told.
    static let reportableStep: Duration = .milliseconds(1)

    func now() -> Timestamp {
        let (time, stepped) = state.withLock { state -> (Timestamp, Duration?) in
            // Both clocks are read under the lock: read outside it, a caller that lost the race for the lock
            // would hold an older reading than the last time given out and look like a step back.
            let reading = clock.now()
            let instant = ContinuousClock.now
            var stepped: Duration?
            if reading >= state.last {
                state.last = reading
                state.behind = false
            } else {
                if !state.behind, state.last - reading >= Self.reportableStep { stepped = state.last - reading }
                state.behind = true
                state.last = state.last + (instant - state.lastInstant) * clock.speed
            }
            state.lastInstant = instant
            return (state.last, stepped)
        }
        if let stepped { onStepBack(stepped) }
        return time
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
    let logger: Logger
    /// Every record so far (read back at start, then produced), for rebuilding the engine on reload.
    private var history: [AlertRecord] = []
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

    init(site: LoadedSite, time: MonotonicSiteTime, journal: Journal, observer: any RuntimeObserver, logger: Logger) {
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

    /// Rebuilds the engine from the alert log's records and logs `daemon.started` before whatever the restore
    /// decided (resumed steps, procedures that go on).
    func recover(from records: [AlertRecord], readProblem: String?) {
        let now = time.now()
        let (restored, out) = Engine.restore(model: site.model, from: records, at: now)
        engine = restored
        history = records
        for record in records where record.event == .zoneState {
            if let zone = record.zone { latestZoneRecord[zone] = record }
        }
        var message =
            "firewatch \(BuildInfo.version) started for site \(site.model.site); "
            + "\(records.count) record\(records.count == 1 ? "" : "s") read from the alert log"
        if let readProblem { message += "; the log could not be read back in full: \(readProblem)" }
        let started = AlertRecord(
            time: now, site: site.model.site, severity: readProblem == nil ? .info : .trouble, event: .daemonStarted,
            message: message, detail: "version \(BuildInfo.version), \(records.count) records read")
        var entry = out
        entry.records.insert(started, at: 0)
        emit(
            entry,
            extras: [
                0: [JSONMember("version", .string(BuildInfo.version)), JSONMember("records_read", .int(records.count))]
            ])
    }

    /// Swaps in a new site: the engine is rebuilt from every record so far under the new model. Steps the
    /// actuator is still running and the new model keeps unchanged go on (no duplicate `step.resumed`); others
    /// are cancelled and resumed under the new model.
    func reload(_ newSite: LoadedSite, file: String) {
        let now = time.now()
        let old = engine
        let (rebuilt, restored) = Engine.restore(model: newSite.model, from: history, at: now)
        var kept: Set<String> = []
        var cancels: [Action] = []
        for zone in old.status {
            guard let running = zone.running else { continue }
            let key = "\(zone.name)/\(running.procedure.rawValue)/\(running.index)"
            let oldStep = Self.step(in: old.model, zone.name, running.procedure, running.index)
            let newStep = Self.step(in: newSite.model, zone.name, running.procedure, running.index)
            if oldStep != nil, oldStep == newStep {
                kept.insert(key)
            } else {
                cancels.append(.cancelStep(zone: zone.name, procedure: running.procedure, index: running.index))
            }
        }
        var out = restored
        out.records.removeAll { record in
            guard record.event == .stepResumed, let zone = record.zone, let kind = record.procedure,
                let index = record.step
            else { return false }
            return kept.contains("\(zone)/\(kind.rawValue)/\(index)")
        }
        out.actions.removeAll { action in
            guard case .runStep(let zone, let kind, let index, _) = action else { return false }
            return kept.contains("\(zone)/\(kind.rawValue)/\(index)")
        }
        out.actions.insert(contentsOf: cancels, at: 0)
        let accepted = AlertRecord(
            time: now, site: newSite.model.site, severity: .info, event: .daemonConfigReloaded,
            message: "configuration reloaded from \(file)", outcome: "accepted")
        out.records.insert(accepted, at: 0)
        engine = rebuilt
        site = newSite
        generation += 1
        awaitingFirstPoll = Set(newSite.devices.map(\.name))
        heldReadings = []
        emit(out)
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

    /// No more timers; called when the daemon stops.
    func stop() {
        stopped = true
        timer?.cancel()
        timer = nil
    }

    static func step(in model: SiteModel, _ zone: String, _ kind: ProcedureKind, _ index: Int) -> Step? {
        guard let spec = model.zones.first(where: { $0.name == zone }) else { return nil }
        let steps: [Step]
        switch kind {
        case .isolate: steps = spec.isolate
        case .suppress: steps = spec.suppress
        case .powerCut: steps = spec.powerCut
        }
        return steps.indices.contains(index) ? steps[index] : nil
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
        return failed
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

    // MARK: - Reads

    var zoneStatus: [ZoneStatus] { engine.status }

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

    private func emit(_ out: Output, extras: [Int: [JSONMember]] = [:], done: AsyncStream<Void>.Continuation? = nil) {
        history += out.records
        for record in out.records where record.event == .zoneState {
            if let zone = record.zone { latestZoneRecord[zone] = record }
        }
        if out.records.isEmpty && out.actions.isEmpty {
            done?.finish()
        } else {
            journal.submit(JournalEntry(records: out.records, extras: extras, actions: out.actions, done: done))
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

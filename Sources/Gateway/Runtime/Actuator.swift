import FireSafety
import Foundation
import Logging
import Modbus
import ServiceLifecycle
import SiteConfig
import Synchronization

/// Performs the engine's `runStep` actions: `command` (write, verify by reading back, retry), `run` (a program,
/// no shell, with its timeout) and `notify` (queued to the notifier). `delay` steps are timed by the engine.
///
/// Steps of one zone run one at a time, in the order the engine asked (one serial runner per zone); zones run
/// independently. Each outcome goes back to the engine (`SafetyCore.stepFinished`), whose records are logged
/// before its next action. A `cancelStep` stops the zone's running step without a report (the engine already
/// logged it aborted); a step cut off by shutdown is not reported either, so a restart resumes it.
final class Actuator: Service {
    struct Job: Sendable {
        var zone: String
        var procedure: ProcedureKind
        var index: Int
        var step: Step
        /// A step resumed after a restart, whose write may already have happened: a command first reads what
        /// would confirm it (its verify point, or its own register or coil) through its `within` window, and
        /// writes only if the device does not show it done.
        var resumed = false
        /// Why a resumed job is resumed, for its record: a restart, or a standby taking over.
        var resumedBecause = "resumed after a restart"
        var key: String { "\(procedure.rawValue)/\(index)" }

        func request(_ action: ActuationRequest.Action) -> ActuationRequest {
            ActuationRequest(zone: zone, procedure: procedure, step: step, action: action)
        }
    }

    private struct Running {
        var key: String
        var task: Task<(StepOutcome, String)?, Never>
        var cancelled = false
    }

    let core: SafetyCore
    let clients: DeviceClients
    let site: Mutex<LoadedSite>
    let time: MonotonicSiteTime
    let notifier: any AlertNotifier
    /// Asked before every step and every write whether this gateway may act now.
    let gate: any ActuationGate
    /// What the other gateway of a hot-standby pair reported finished (nil for a gateway that acts alone): such a
    /// step is not performed again here.
    let progress: SharedProgress?
    let attempts: Int
    let logger: Logger
    private let jobs: AsyncStream<Job>
    private let input: AsyncStream<Job>.Continuation
    private let running = Mutex<[String: Running]>([:])
    /// Set on graceful shutdown: queued steps are not started any more.
    private let stopping = Mutex(false)
    /// Jobs queued and not started yet, by zone (keys, in order).
    private let queued = Mutex<[String: [String]]>([:])
    /// Queued jobs cancelled before they started, by zone.
    private let cancelledEarly = Mutex<[String: Set<String>]>([:])
    /// Zones whose procedure another gateway of the pair was carrying out when this one took it over (a step of
    /// theirs had to wait): every later command of the zone reads first, since the former owner may have been
    /// ahead. Cleared when the zone starts a new incident (its isolate step 0).
    private let inherited = Mutex<Set<String>>([])

    init(
        core: SafetyCore, clients: DeviceClients, site: LoadedSite, time: MonotonicSiteTime,
        notifier: any AlertNotifier, gate: any ActuationGate, progress: SharedProgress? = nil, attempts: Int,
        logger: Logger
    ) {
        self.core = core
        self.clients = clients
        self.site = Mutex(site)
        self.earlierSites = Mutex([site])
        self.time = time
        self.notifier = notifier
        self.gate = gate
        self.progress = progress
        self.attempts = attempts
        self.logger = logger
        (jobs, input) = AsyncStream.makeStream(of: Job.self)
    }

    /// Takes over a reloaded site for the steps that start from now on.
    func update(site newSite: LoadedSite) {
        site.withLock { $0 = newSite }
        earlierSites.withLock { sites in
            sites.insert(newSite, at: 0)
            if sites.count > Self.sitesKept { sites.removeLast(sites.count - Self.sitesKept) }
        }
    }

    /// A procedure under way finishes on the steps it started with, which a reload may have changed: its steps are
    /// checked against (and written with) the newest configuration whose zone uses them.
    private let earlierSites: Mutex<[LoadedSite]>
    static let sitesKept = 4

    /// The newest configuration in which `zone` uses `step`, with the device it names.
    func site(using step: Step, in zone: String) -> LoadedSite? {
        earlierSites.withLock { sites in
            sites.first { site in
                site.model.zones.contains { spec in
                    spec.name == zone && (spec.isolate + spec.suppress + spec.powerCut).contains(step)
                }
            }
        }
    }

    /// Cuts off every step under way (shutdown took too long); nothing is reported for them.
    private func cancelRunning() {
        running.withLock { running in
            for zone in running.keys {
                running[zone]?.cancelled = true
                running[zone]?.task.cancel()
            }
        }
    }

    /// Queues a step on its zone's runner. Never blocks.
    func enqueue(_ job: Job) {
        if job.procedure == .isolate, job.index == 0 { inherited.withLock { _ = $0.remove(job.zone) } }
        queued.withLock { $0[job.zone, default: []].append(job.key) }
        input.yield(job)
    }

    /// Stops the zone's step if it is running or queued; nothing is reported for it.
    func cancel(zone: String, procedure: ProcedureKind, index: Int) {
        let key = "\(procedure.rawValue)/\(index)"
        let hit = running.withLock { running -> Bool in
            guard var entry = running[zone], entry.key == key else { return false }
            entry.cancelled = true
            running[zone] = entry
            entry.task.cancel()
            return true
        }
        // Only a job still waiting in the queue can be cancelled ahead; a step that already finished (its report
        // racing the abort) must not make a later run of the same step be skipped.
        if !hit, queued.withLock({ $0[zone]?.contains(key) ?? false }) {
            cancelledEarly.withLock { _ = $0[zone, default: []].insert(key) }
        }
    }

    /// Runs the zone runners until cancelled, or until graceful shutdown: then no new step starts, and the
    /// steps under way finish (their outcome is logged) for at most `finishLimit` before they are cut off.
    func run(finishLimit: Duration) async {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var zones: [String: AsyncStream<Job>.Continuation] = [:]
                for await job in jobs {
                    if zones[job.zone] == nil {
                        let (stream, continuation) = AsyncStream.makeStream(of: Job.self)
                        zones[job.zone] = continuation
                        group.addTask {
                            for await job in stream where !self.stopping.withLock({ $0 }) { await self.runOne(job) }
                        }
                    }
                    zones[job.zone]?.yield(job)
                }
                for continuation in zones.values { continuation.finish() }
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
            self.input.finish()
            Task {
                try? await Task.sleep(for: finishLimit)
                self.cancelRunning()
            }
        }
    }

    private func runOne(_ job: Job) async {
        queued.withLock { queued in
            if let at = queued[job.zone]?.firstIndex(of: job.key) { queued[job.zone]?.remove(at: at) }
        }
        let skip = cancelledEarly.withLock { $0[job.zone]?.remove(job.key) != nil }
        if skip || Task.isCancelled { return }
        let task = Task { await self.perform(job) }
        running.withLock { $0[job.zone] = Running(key: job.key, task: task) }
        let result = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        let cancelled = running.withLock { running -> Bool in
            defer { running[job.zone] = nil }
            return running[job.zone]?.cancelled ?? false
        }
        guard !cancelled, !Task.isCancelled, let (outcome, detail) = result else {
            logger.info(
                "step stopped before it finished",
                metadata: ["zone": "\(job.zone)", "procedure": "\(job.procedure.rawValue)", "step": "\(job.index)"])
            return
        }
        await core.stepFinished(
            zone: job.zone, procedure: job.procedure, index: job.index, outcome: outcome, detail: detail)
    }

    /// Performs one step; nil when it was cancelled before it could finish.
    func perform(_ job: Job) async -> (StepOutcome, String)? {
        var job = job
        if let done = finishedElsewhere(job) { return done }
        switch await gate.permit(job.request(.perform)) {
        case .granted:
            if !job.resumed, inherited.withLock({ $0.contains(job.zone) }) {
                job.resumed = true
                job.resumedBecause = "after a takeover of \(job.zone)'s procedure from another gateway"
            }
        case .refused(let reason):
            return (.skipped, "\(reason): \(job.step) not performed")
        case .deferred(let reason):
            switch await waitForPermit(job, reason: reason) {
            case .stopped: return nil
            case .finishedElsewhere(let outcome, let detail): return (outcome, detail)
            case .granted(let waited):
                // Another gateway may have done it meanwhile: read first, write only what the devices do not show.
                inherited.withLock { _ = $0.insert(job.zone) }
                job.resumed = true
                job.resumedBecause = "taken over after \(DurationText.format(waited)) waiting (\(reason))"
            }
        }
        switch job.step {
        case .command(let device, let command):
            return await performCommand(job, device: device, command: command)
        case .run(let argv, let timeout):
            let folder = (site.withLock { $0.file } as NSString).deletingLastPathComponent
            let spec = ProcessSpec(argv: argv, timeout: timeout, outputTailBytes: 1024, workingDirectory: folder)
            do {
                let outcome = try await ProcessRunner.run(spec)
                var detail = outcome.termination.description
                if outcome.timedOut { detail += " after its \(DurationText.format(timeout)) timeout" }
                let tail = outcome.outputTail.trimmingCharacters(in: .whitespacesAndNewlines)
                if !tail.isEmpty { detail += "; output: " + String(tail.suffix(400)) }
                return (outcome.succeeded ? .succeeded : .failed, detail)
            } catch {
                return (.failed, error.message)
            }
        case .notify(let names):
            let channels = site.withLock { site in names.compactMap { site.channel(named: $0) } }
            var record = await core.notification(for: job.zone)
            record.fence(gate.fence())
            notifier.send(record, to: channels)
            return (.succeeded, "queued for \(names.joined(separator: ", "))")
        case .delay:
            // The engine times delays itself and never asks for one; say so rather than wait.
            return (.failed, "a delay step was handed to the actuator; the engine times delays")
        }
    }

    /// How often a deferred step asks its gate again.
    static let deferredPoll: Duration = .milliseconds(100)

    /// How a wait for the permit ended.
    enum Waited {
        /// This gateway may act now (it became the owner), after waiting this long.
        case granted(Duration)
        /// The other gateway reported the step finished: it is not performed here.
        case finishedElsewhere(StepOutcome, String)
        /// Cancelled, shutdown began (the step is left for whoever acts next) or the gate refused outright.
        case stopped
    }

    /// Waits until the gate grants `job` (this gateway became the owner) or the owner reports the step finished.
    func waitForPermit(_ job: Job, reason: String) async -> Waited {
        let started = ContinuousClock.now
        logger.info(
            "step waits: another gateway acts",
            metadata: ["zone": "\(job.zone)", "procedure": "\(job.procedure.rawValue)", "step": "\(job.index)",
                "reason": "\(reason)"])
        while !Task.isCancelled, !stopping.withLock({ $0 }) {
            do { try await Task.sleep(for: Self.deferredPoll) } catch { return .stopped }
            if let (outcome, detail) = finishedElsewhere(job) { return .finishedElsewhere(outcome, detail) }
            switch await gate.permit(job.request(.perform)) {
            case .granted: return .granted(ContinuousClock.now - started)
            case .refused: return .stopped
            case .deferred: continue
            }
        }
        return .stopped
    }

    /// The step's outcome as the other gateway of the pair reported it, when it did: the step is not performed
    /// here, and the zone's later commands read first (that gateway may have been further on).
    private func finishedElsewhere(_ job: Job) -> (StepOutcome, String)? {
        guard let finished = progress?.finishedElsewhere(zone: job.zone, procedure: job.procedure, index: job.index),
            let outcome = StepOutcome(rawValue: finished.outcome)
        else { return nil }
        inherited.withLock { _ = $0.insert(job.zone) }
        return (outcome, "\(finished.owner) did it (epoch \(finished.epoch)), not done again here: \(finished.detail)")
    }

    /// What proves a command took effect: its verify point, else its own register or coil read back.
    struct Confirmation {
        var table: Table
        var address: Int
        var count: Int
        /// `device.point` (or `.bit`), or `table address`, for details.
        var what: String
        var within: Duration
        var matches: ([UInt16]) -> (ok: Bool, seen: String)
    }

    /// Writes a command the device's profile declares, confirms it by reading back (its verify point, else its
    /// own register or coil), and retries with back-off; each retry is logged (`step.retried`) before its write.
    /// A resumed job reads first and writes only when the device does not already show the command done.
    func performCommand(
        _ job: Job, device: String, command: String,
        beforeRetry: ((_ attempt: Int, _ problem: String) async -> Bool)? = nil
    ) async -> (StepOutcome, String)? {
        let zone = job.zone
        // The rule "only commands a profile declares AND a zone step uses are written" is the engine's to keep;
        // this is the last line of defence before the wire.
        guard let site = site(using: .command(device: device, command: command), in: zone) else {
            logger.critical(
                "refused to write a command no step of the zone uses",
                metadata: ["zone": "\(zone)", "command": "\(device).\(command)"])
            assertionFailure("engine asked for \(device).\(command), which no step of \(zone) uses")
            return (.failed, "\(device).\(command) is not used by any step of \(zone); refused, nothing written")
        }
        guard let config = site.device(named: device), let profile = site.profile(of: device),
            let spec = profile.command(named: command)
        else {
            return (.failed, "\(device).\(command) is not a command declared by the device's profile; nothing written")
        }
        let values: [UInt16]
        switch spec.value {
        case .coil(let on): values = [on ? 1 : 0]
        case .registers(let registers): values = registers
        }
        let target = "\(spec.table.rawValue) \(spec.address)"
        let confirmation: Confirmation?
        if let verify = spec.verify {
            guard let point = profile.point(named: verify.point) else {
                return (.failed, "the verify point \(verify.point) of \(device).\(command) is not in the profile; "
                    + "nothing written")
            }
            confirmation = Confirmation(
                table: point.table, address: point.address, count: point.width,
                what: "\(device).\(verify.reference)", within: verify.within,
                matches: { raw in
                    let reading = PointReading.decode(point, raw: raw)
                    guard let value = reading.value(bit: verify.bit) else { return (false, reading.validity.description) }
                    return (value == verify.equals, value.description)
                })
        } else if spec.readback {
            // Coils and holding registers (the only tables a command writes) are readable in Modbus.
            confirmation = Confirmation(
                table: spec.table, address: spec.address, count: values.count, what: target,
                within: CommandSpec.readbackWithin,
                matches: { raw in
                    let seen = spec.table == .coil ? (raw.first.map { $0 != 0 ? "true" : "false" } ?? "nothing")
                        : raw.map(String.init).joined(separator: ", ")
                    return (raw.map { spec.table == .coil ? ($0 != 0 ? 1 : 0) : $0 } == values, seen)
                })
        } else {
            confirmation = nil
        }
        let client = clients.client(for: config, timeout: site.timeout(of: config))
        let expected = spec.verify.map { "\($0.equals)" } ?? "\(spec.value)"

        // Reads until the device shows the command done or `within` passes: (done, what was seen, how long).
        // `readable` turns false when the device answers that the register cannot be read at all.
        func confirm(_ check: Confirmation) async -> (done: Bool, seen: String, took: Duration, readable: Bool)? {
            let started = time.now()
            let deadline = started + check.within
            let pause = min(max(check.within / 10, .milliseconds(20)), .milliseconds(250))
            var seen = "nothing"
            while true {
                do {
                    let raw = try await client.read(check.table, address: check.address, count: check.count)
                    let (ok, text) = check.matches(raw)
                    seen = text
                    if ok { return (true, seen, time.now() - started, true) }
                } catch {
                    if case .exception(let code) = error.code, code == .illegalFunction || code == .illegalDataAddress,
                        spec.verify == nil
                    {
                        return (false, "not readable (\(error.description))", time.now() - started, false)
                    }
                    seen = "unreadable (\(error.description))"
                }
                if time.now() >= deadline || Task.isCancelled { break }
                do { try await time.clock.sleep(for: pause) } catch { return nil }
            }
            if Task.isCancelled { return nil }
            return (false, seen, time.now() - started, true)
        }

        var problem = ""
        if job.resumed {
            if let confirmation {
                guard let first = await confirm(confirmation) else { return nil }
                if first.done {
                    return (
                        .succeeded,
                        "\(job.resumedBecause): \(confirmation.what) already reads \(first.seen); not written again"
                    )
                }
                problem = "\(job.resumedBecause): \(confirmation.what) reads \(first.seen), not \(expected), "
                    + "within \(DurationText.format(confirmation.within))"
            } else {
                problem = "\(job.resumedBecause): nothing to read back, so it is written again"
            }
            // The first write of a resumed step may repeat one made before the restart: log it as a retry.
            if !(await retry(job, attempt: 1, problem: problem, beforeRetry: beforeRetry)) { return nil }
        }
        for attempt in 1...attempts {
            if attempt > 1 {
                let backoff = Duration.milliseconds(250) * (1 << min(attempt - 2, 5))
                do { try await time.clock.sleep(for: backoff) } catch { return nil }
                if Task.isCancelled { return nil }
                // Logged (and fsynced) before the write it announces.
                if !(await retry(job, attempt: attempt, problem: problem, beforeRetry: beforeRetry)) { return nil }
            }
            if Task.isCancelled { return nil }
            // Asked again before each write: a gateway that lost the right to act since the step began (a lease
            // taken over) must not put a late write on the wire.
            switch await gate.permit(job.request(.write(attempt: attempt))) {
            case .granted: break
            case .refused(let reason):
                return (.skipped, "\(reason): \(device).\(command) not written (attempt \(attempt))")
            case .deferred(let reason):
                // The lease went to another gateway (or is being renewed) between two writes: wait, and once this
                // gateway may act again, write only if the device does not already show the command done.
                let waited: Duration
                switch await waitForPermit(job, reason: reason) {
                case .stopped: return nil
                case .finishedElsewhere(let outcome, let detail): return (outcome, detail)
                case .granted(let duration): waited = duration
                }
                if let confirmation {
                    guard let check = await confirm(confirmation) else { return nil }
                    if check.done {
                        return (
                            .succeeded,
                            "taken over after \(DurationText.format(waited)) waiting (\(reason)): "
                                + "\(confirmation.what) already reads \(check.seen); not written again")
                    }
                }
            }
            do {
                try await client.write(spec.table, address: spec.address, values: values)
            } catch {
                problem = "writing \(spec.value) to \(target) failed: \(error.description)"
                logger.warning(
                    "command write failed",
                    metadata: ["command": "\(device).\(command)", "attempt": "\(attempt)", "error": "\(error)"])
                continue
            }
            guard let confirmation else {
                return (
                    .succeeded,
                    "wrote \(spec.value) to \(target), acknowledged by the device (attempt \(attempt)); "
                        + "its profile says the register does not read back its state"
                )
            }
            guard let result = await confirm(confirmation) else { return nil }
            if result.done {
                return (
                    .succeeded,
                    "wrote \(spec.value) to \(target); read back \(confirmation.what) = \(result.seen) "
                        + "after \(DurationText.format(result.took)) (attempt \(attempt))"
                )
            }
            if !result.readable {
                return (
                    .succeeded,
                    "wrote \(spec.value) to \(target), acknowledged by the device (attempt \(attempt)); it cannot be "
                        + "read back: \(result.seen)"
                )
            }
            problem =
                "read back \(confirmation.what) = \(result.seen), expected \(expected) within "
                + DurationText.format(confirmation.within)
            logger.warning(
                "command not confirmed",
                metadata: ["command": "\(device).\(command)", "attempt": "\(attempt)", "seen": "\(result.seen)"])
        }
        return (.failed, "not confirmed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(problem)")
    }

    /// Logs that `job` is written again (attempt `attempt`) and says whether the write may go ahead.
    private func retry(
        _ job: Job, attempt: Int, problem: String, beforeRetry: ((Int, String) async -> Bool)?
    ) async -> Bool {
        if let beforeRetry { return await beforeRetry(attempt, problem) }
        return await core.stepRetrying(
            zone: job.zone, procedure: job.procedure, index: job.index, attempt: attempt, of: attempts,
            problem: problem)
    }
}

extension Actuator {
    /// How long the steps under way may take to finish after a graceful shutdown begins.
    static let finishLimit: Duration = .seconds(10)

    /// Runs the zone runners until graceful shutdown or cancellation (see `run(finishLimit:)`).
    func run() async throws {
        await run(finishLimit: Self.finishLimit)
    }
}

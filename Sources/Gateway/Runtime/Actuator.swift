import FireSafety
import Foundation
import Logging
import Modbus
import ServiceLifecycle
import Synchronization

/// Performs the engine's `runStep` actions: `command` (write, verify by reading back, retry), `run` (a program,
/// no shell, with its timeout) and `notify` (queued to the notifier). `delay` steps are timed by the engine.
///
/// Steps of one zone run one at a time, in the order the engine asked (one serial runner per zone); zones run
/// independently. Each outcome goes back to the engine (`SafetyCore.stepFinished`), whose records are logged
/// before its next action. A `cancelStep` stops the zone's running step without a report (the engine already
/// logged it aborted); a step cut off by shutdown is not reported either, so a restart resumes it.
final class Actuator: Sendable {
    struct Job: Sendable {
        var zone: String
        var procedure: ProcedureKind
        var index: Int
        var step: Step
        var key: String { "\(procedure.rawValue)/\(index)" }
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
    let dryRun: Bool
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

    init(
        core: SafetyCore, clients: DeviceClients, site: LoadedSite, time: MonotonicSiteTime,
        notifier: any AlertNotifier, dryRun: Bool, attempts: Int, logger: Logger
    ) {
        self.core = core
        self.clients = clients
        self.site = Mutex(site)
        self.earlierSites = Mutex([site])
        self.time = time
        self.notifier = notifier
        self.dryRun = dryRun
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
    func run(finishLimit: Duration = .seconds(10)) async {
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
        if dryRun { return (.skipped, "dry run: \(job.step) not performed") }
        switch job.step {
        case .command(let device, let command):
            return await performCommand(zone: job.zone, device: device, command: command)
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
            let record = await core.notification(for: job.zone)
            notifier.send(record, to: channels)
            return (.succeeded, "queued for \(names.joined(separator: ", "))")
        case .delay:
            // The engine times delays itself and never asks for one; say so rather than wait.
            return (.failed, "a delay step was handed to the actuator; the engine times delays")
        }
    }

    /// Writes a command the device's profile declares, verifies it by reading back, and retries with back-off.
    func performCommand(zone: String, device: String, command: String) async -> (StepOutcome, String)? {
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
        let client = clients.client(for: config, timeout: site.timeout(of: config))
        let target = "\(spec.table.rawValue) \(spec.address)"
        var problem = ""
        for attempt in 1...attempts {
            if attempt > 1 {
                let backoff = Duration.milliseconds(250) * (1 << min(attempt - 2, 5))
                do { try await time.clock.sleep(for: backoff) } catch { return nil }
            }
            if Task.isCancelled { return nil }
            do {
                try await client.write(spec.table, address: spec.address, values: values)
            } catch {
                problem = "writing \(spec.value) to \(target) failed: \(error.description)"
                logger.warning(
                    "command write failed",
                    metadata: ["command": "\(device).\(command)", "attempt": "\(attempt)", "error": "\(error)"])
                continue
            }
            guard let verify = spec.verify else {
                return (.succeeded, "wrote \(spec.value) to \(target), acknowledged by the device (attempt \(attempt))")
            }
            guard let point = profile.point(named: verify.point) else {
                return (
                    .failed,
                    "wrote \(spec.value) to \(target) but the verify point \(verify.point) is not in the profile"
                )
            }
            let started = time.now()
            let deadline = started + verify.within
            let pause = min(max(verify.within / 10, .milliseconds(20)), .milliseconds(250))
            var seen = "nothing"
            while true {
                do {
                    let raw = try await client.read(point.table, address: point.address, count: point.width)
                    let reading = PointReading.decode(point, raw: raw)
                    if let value = reading.value(bit: verify.bit) {
                        seen = value.description
                        if value == verify.equals {
                            let took = time.now() - started
                            return (
                                .succeeded,
                                "wrote \(spec.value) to \(target); read back \(device).\(verify.reference) = \(seen) "
                                    + "after \(DurationText.format(took)) (attempt \(attempt))"
                            )
                        }
                    } else {
                        seen = reading.validity.description
                    }
                } catch {
                    seen = "unreadable (\(error.description))"
                }
                if time.now() >= deadline || Task.isCancelled { break }
                do { try await time.clock.sleep(for: pause) } catch { return nil }
            }
            if Task.isCancelled { return nil }
            problem =
                "read back \(device).\(verify.reference) = \(seen), expected \(verify.equals) within "
                + DurationText.format(verify.within)
            logger.warning(
                "command not confirmed",
                metadata: ["command": "\(device).\(command)", "attempt": "\(attempt)", "seen": "\(seen)"])
        }
        return (.failed, "not confirmed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(problem)")
    }
}

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

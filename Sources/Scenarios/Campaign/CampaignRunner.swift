import FireSafety
import Simulator
import SiteConfig

/// Plays one `CampaignPlan` in process on a virtual clock: the real engine, the simulator's physical model, and
/// the daemon's actuation as the actuator does it (write, confirm within the command's `within`, retry an
/// unanswered write, read before writing again after a restart). No sockets, no sleeping: a day costs what its
/// computation costs. Every engine call is checked against the invariants as it happens (`CampaignChecker`).
public struct CampaignRunner: Sendable {
    public let site: LoadedSite
    let spec: SimSiteSpec
    /// Every source the engine is fed, by device, in poll order.
    let sources: [PolledDevice]
    /// Each device's request timeout, looked up once.
    let timeouts: [String: Duration]
    let sourceCount: Int
    /// Each zone's isolate steps' model time, worked out once (`isolateTime(of:)`).
    let isolateTimes: [String: Duration]
    /// Time from a write being accepted to its effect showing, besides the model's own lag.
    static let writeLatency: Duration = .milliseconds(50)
    /// How long a command is confirmed for when its profile says nothing.
    static let defaultWithin: Duration = .seconds(5)
    /// How long a `run` step's program takes here.
    static let runTime: Duration = .milliseconds(100)

    public init(site: LoadedSite) throws(SimulationSetupError) {
        self.site = site
        self.spec = try SimSiteSpec(site: site)
        var byDevice: [String: Set<SourceRef>] = [:]
        for zone in site.model.zones {
            for signal in zone.signals {
                for source in signal.sources { byDevice[source.device, default: []].insert(source) }
            }
            for source in zone.abortSwitches { byDevice[source.device, default: []].insert(source) }
        }
        let sim = try SimulatedSite(spec: spec)
        var first = 0
        sources = byDevice.keys.sorted().map { device in
            let polled = PolledDevice(
                name: device, handle: sim.handle(device: device),
                probes: byDevice[device]!.sorted().map { Self.probe(for: $0, in: site, sim) }, first: first)
            first += polled.probes.count
            return polled
        }
        sourceCount = sources.reduce(0) { $0 + $1.probes.count }
        timeouts = Dictionary(uniqueKeysWithValues: site.devices.map { ($0.name, site.timeout(of: $0)) })
        isolateTimes = Self.isolateTimes(site, sim)
    }

    /// What a campaign needs to draw runs for this site.
    public func generator() -> CampaignGenerator {
        CampaignGenerator(
            zones: site.model.zones.map { zone in
                let sensors = zone.signals.flatMap(\.sources).filter { $0.bit == nil }.map { ref in
                    CampaignGenerator.SensorPoint(
                        device: ref.device, point: ref.point, numeric: site.point(for: ref)?.range != nil)
                }
                var devices = Set(zone.signals.flatMap(\.sources).map(\.device))
                for step in zone.isolate + zone.suppress + zone.powerCut {
                    if case .command(let device, _) = step { devices.insert(device) }
                }
                let strings = spec.zones.first { $0.name == zone.name }?.strings ?? 1
                return CampaignGenerator.Zone(
                    name: zone.name, strings: strings, sensors: sensors, devices: devices.sorted())
            })
    }

    /// Plays `plan` to its end (or to its first broken invariant when `stopAtViolation`).
    public func run(_ plan: CampaignPlan, stopAtViolation: Bool = false) throws(SimulationSetupError) -> CampaignTrace {
        var run = try CampaignRun(runner: self, plan: plan)
        run.play(stopAtViolation: stopAtViolation)
        return run.trace
    }

    /// How long a zone's isolate steps take in the model: the lag of each command, each delay, each program.
    func isolateTime(of zone: String) -> Duration { isolateTimes[zone] ?? .zero }

    private static func isolateTimes(_ site: LoadedSite, _ sim: SimulatedSite) -> [String: Duration] {
        var times: [String: Duration] = [:]
        for zone in site.model.zones {
            var total: Duration = .zero
            for step in zone.isolate {
                switch step {
                case .command(let device, let command):
                    total += (sim.lag(device: device, command: command) ?? .zero) + Self.writeLatency
                case .delay(let length, _): total += length
                case .run: total += Self.runTime
                case .notify: break
                }
            }
            times[zone.name] = total
        }
        return times
    }

    func within(device: String, command: String) -> Duration {
        site.profile(of: device)?.commands.first { $0.name == command }?.verify?.within ?? Self.defaultWithin
    }

    /// What a poll of `device` reads now for each of `refs` (looked up here: for the odd read, not the polls).
    func read(_ device: String, _ refs: [SourceRef], in sim: SimulatedSite) -> [Reading.Status] {
        let polled = PolledDevice(
            name: device, handle: sim.handle(device: device), probes: refs.map { Self.probe(for: $0, in: site, sim) },
            first: 0)
        var statuses: [Reading.Status] = []
        var cache = DecodeCache(repeating: nil, count: refs.count)
        read(polled, in: sim, cache: &cache) { _, status in statuses.append(status) }
        return statuses
    }

    /// One polled device and its sources, with everything a poll needs looked up once.
    struct PolledDevice: Sendable {
        var name: String
        var handle: SimulatedSite.DeviceHandle?
        var probes: [Probe]
        /// Its first probe's position in the poll order (`DecodeCache`).
        var first: Int
    }

    /// Per probe in poll order, the last value served and what the daemon's decoder made of it. Decoding is a
    /// function of the point and the registers, and the registers of the value, so a value that has not changed
    /// since the last poll (a smoke level, a contactor, a quiet room's off-gas) decodes to the same status.
    typealias DecodeCache = [(value: SimValue, status: Reading.Status)?]

    /// What a poll needs of one source: its point and the simulator's handle for it. A class, so that a poll
    /// passes a reference along instead of copying the point's strings.
    final class Probe: Sendable {
        let ref: SourceRef
        /// False when the profile has no such point (`point` is then a placeholder, never read).
        let inProfile: Bool
        let point: PointSpec
        let handle: SimulatedSite.PointHandle?
        /// The point's registers all zero: what is served when the value cannot be encoded.
        let zeros: [UInt16]

        init(ref: SourceRef, point: PointSpec?, handle: SimulatedSite.PointHandle?) {
            self.ref = ref
            inProfile = point != nil
            self.point = point ?? PointSpec(name: ref.point, table: .holding, address: 0, type: .uint16)
            self.handle = handle
            zeros = [UInt16](repeating: 0, count: point?.width ?? 0)
        }
    }

    static func probe(for ref: SourceRef, in site: LoadedSite, _ sim: SimulatedSite) -> Probe {
        let key = ref.bit.map { "\(ref.point).\($0)" } ?? ref.point
        return Probe(ref: ref, point: site.point(for: ref), handle: sim.handle(device: ref.device, point: key))
    }

    /// What a poll of `device` reads now, handed to `body` probe by probe in order: the simulated value put into
    /// the point's registers and decoded as the daemon decodes them, or lost / invalid as the device answers.
    func read(
        _ device: PolledDevice, in sim: SimulatedSite, cache: inout DecodeCache, _ body: (Probe, Reading.Status) -> Void
    ) {
        func all(_ status: Reading.Status) { for probe in device.probes { body(probe, status) } }
        guard let handle = device.handle else { return all(.lost(reason: "no answer")) }
        switch sim.condition(handle) {
        case .silent: return all(.lost(reason: "no answer"))
        case .slow(let delay) where delay >= (timeouts[device.name] ?? site.requestTimeout):
            return all(.lost(reason: "timeout"))
        case .exception(let code): return all(.invalid(reason: "exception \(code.rawValue)"))
        case .answering, .slow: break
        }
        // One dead point cannot be left out of a Modbus answer: the device as a whole stops answering.
        if sim.hasOfflinePoint(handle) { return all(.lost(reason: "no answer")) }
        for (offset, probe) in device.probes.enumerated() {
            guard probe.inProfile else {
                body(probe, .invalid(reason: "\(probe.ref) is not in its profile"))
                continue
            }
            let value = probe.handle.flatMap { sim.value($0) }
            let slot = device.first + offset
            if let value, let cached = cache[slot], cached.value == value {
                body(probe, cached.status)
                continue
            }
            let zeros = probe.zeros
            var raw = zeros
            if let value {
                if let bit = probe.ref.bit {
                    if let on = SimulatorHost.flag(value),
                        let bits = try? probe.point.encode(bit: bit, to: on, into: zeros)
                    {
                        raw = bits
                    }
                } else if case .success(let registers) = SimulatorHost.registers(value, for: probe.point) {
                    raw = registers
                }
            }
            let status = PointReading.decode(probe.point, raw: raw).status(of: probe.ref)
            if let value { cache[slot] = (value, status) }
            body(probe, status)
        }
    }

    /// Whether a device already shows `command` done (its verify point reads the verify value).
    func showsDone(device: String, command: String, in sim: SimulatedSite) -> Bool {
        guard let verify = site.profile(of: device)?.commands.first(where: { $0.name == command })?.verify else {
            return false
        }
        let status = read(device, [SourceRef(device: device, point: verify.point, bit: verify.bit)], in: sim)
        return status == [.value(verify.equals)]
    }
}

/// One run in progress: the simulated site, the engine of the daemon process of the moment, the log as written,
/// and the actuator's steps in flight.
struct CampaignRun {
    let runner: CampaignRunner
    let plan: CampaignPlan
    var sim: SimulatedSite
    var engine: Engine?
    var trace = CampaignTrace()
    var checker: CampaignChecker
    var t: Duration = .zero
    /// Wall clock minus the virtual monotonic clock; clock steps move it.
    var wallOffset: Duration = .zero
    /// The wall offset when the running process started: its site time is that wall time plus elapsed time.
    var processOffset: Duration = .zero
    var downUntil: Duration?
    var nextPoll: Duration = .zero
    var nextEvent = 0
    var pending: [Pending] = []
    var decoded: CampaignRunner.DecodeCache

    static let epoch = Timestamp(seconds: 1_790_000_000)

    struct Pending {
        enum Kind {
            case finish(StepOutcome, String)
            case retry(attempt: Int)
        }
        var zone: String
        var procedure: ProcedureKind
        var index: Int
        var step: Step
        var startedAt: Duration
        var due: Duration
        var kind: Kind
    }

    init(runner: CampaignRunner, plan: CampaignPlan) throws(SimulationSetupError) {
        self.runner = runner
        self.plan = plan
        let timeline = plan.events.compactMap { event -> ScheduledEvent? in
            if case .site(let site) = event.action { return ScheduledEvent(at: event.at, event: site) }
            return nil
        }
        let scenario = Scenario(name: "campaign", duration: plan.duration, timeline: timeline)
        // A quiet day's rooms change slowly; a coarser physics grid keeps a day cheap.
        let grid: Duration = plan.kind == .quiet ? .seconds(1) : .zero
        sim = try SimulatedSite(spec: runner.spec, scenario: scenario, seed: plan.seed, minimumStep: grid)
        engine = Engine(model: runner.site.model)
        decoded = Array(repeating: nil, count: runner.sourceCount)
        checker = CampaignChecker(site: runner.site, sources: runner.sources.flatMap { $0.probes.map(\.ref) })
    }

    var siteNow: Timestamp { Self.epoch + processOffset + t }

    mutating func play(stopAtViolation: Bool) {
        let poll = runner.site.model.pollInterval
        var steps = 0
        // Bounded: a run is a fixed number of polls and events; this only guards against a loop that stops moving.
        let limit = Int(plan.duration / poll) * 20 + plan.events.count * 10 + 10_000
        while steps < limit {
            steps += 1
            var next = nextPoll
            if let downUntil { next = max(next, downUntil) }
            if nextEvent < plan.events.count { next = min(next, plan.events[nextEvent].at) }
            if downUntil == nil {
                if let due = pending.map(\.due).min() { next = min(next, due) }
                if let deadline = engine?.nextDeadline() { next = min(next, max(t, deadline - (Self.epoch + processOffset))) }
            }
            if next > plan.duration { break }
            t = max(t, next)
            sim.advance(to: t)
            if let down = downUntil, t >= down { start() }
            while nextEvent < plan.events.count, plan.events[nextEvent].at <= t {
                perform(plan.events[nextEvent].action)
                nextEvent += 1
            }
            if downUntil == nil { finishDue() }
            if downUntil == nil, t >= nextPoll {
                pollAll()
                nextPoll = t + poll
            } else if downUntil != nil, t >= nextPoll {
                nextPoll = t + poll
            }
            if downUntil == nil, let deadline = engine?.nextDeadline(), deadline <= siteNow {
                call { engine, now in engine.evaluate(slotted: [], at: now) }
            }
            if stopAtViolation && !checker.violations.isEmpty { break }
        }
        trace.end = t
        trace.modelEvents = sim.history
        trace.releases = sim.history.filter { $0.kind == .released }.count
        checker.finished(modelEvents: sim.history, at: t)
        trace.violations = checker.violations
        trace.isolationSources = checker.isolationSources
    }

    // MARK: the daemon's side

    /// A start: the engine restored from the log as written so far, as after kill -9.
    private mutating func start() {
        downUntil = nil
        processOffset = wallOffset
        let (restored, out) = Engine.restore(model: runner.site.model, from: trace.records.map(\.record), at: siteNow)
        engine = restored
        checker.restarted(engine: restored, at: t)
        handle(out, before: checker.latches(of: restored))
        nextPoll = t
    }

    private mutating func perform(_ action: CampaignPlan.Action) {
        switch action {
        case .site:
            break  // in the simulator's own timeline
        case .restart(let after):
            guard downUntil == nil else { return }
            // Killed: what was in flight is lost; what was written stays written, in the log and on the devices.
            pending = []
            if let current = engine { checker.killed(latches: checker.latches(of: current)) }
            engine = nil
            downUntil = t + after
        case .clockStep(let by):
            wallOffset += by
        case .reload:
            guard downUntil == nil, let current = engine else { return }
            let before = checker.latches(of: current)
            engine = current.reloaded(with: runner.site.model).engine
            checker.check(reloadOf: before, to: engine!, at: t)
        case .command(let command):
            guard downUntil == nil else { return }
            call { engine, now in engine.command(command, at: now) }
        }
    }

    private mutating func pollAll() {
        var readings: [Reading] = []
        readings.reserveCapacity(runner.sourceCount)
        let now = siteNow
        for device in runner.sources {
            runner.read(device, in: sim, cache: &decoded) { probe, status in
                readings.append(Reading(source: probe.ref, time: now, status: status))
            }
        }
        checker.fed(readings, at: t)
        call { engine, now in engine.evaluate(readings, at: now) }
    }

    /// One engine call, its output made durable, checked, then acted on.
    private mutating func call(_ body: (inout Engine, Timestamp) -> Output) {
        guard var current = engine else { return }
        // Out of `engine` while it is changed, so its state is not copied on write.
        engine = nil
        let before = checker.latches(of: current)
        let out = body(&current, siteNow)
        engine = current
        handle(out, before: before)
    }

    private mutating func handle(_ out: Output, before: [Level?]) {
        // Durable first: the records of a decision are in the log before anything it asks for is done.
        for record in out.records { trace.records.append((t, record)) }
        checker.check(out, before: before, after: checker.latches(of: engine!), at: t)
        for action in out.actions {
            switch action {
            case .runStep(let zone, let procedure, let index, let step):
                let resumed = out.records.contains {
                    $0.event == .stepResumed && $0.zone == zone && $0.procedure == procedure && $0.step == index
                }
                checker.willRun(zone: zone, procedure: procedure, index: index, step: step, records: out.records, at: t)
                begin(zone: zone, procedure: procedure, index: index, step: step, resumed: resumed)
            case .cancelStep(let zone, let procedure, let index):
                pending.removeAll { $0.zone == zone && $0.procedure == procedure && $0.index == index }
            case .notify:
                trace.notifications += 1
            }
        }
    }

    // MARK: the actuator's side

    private mutating func begin(zone: String, procedure: ProcedureKind, index: Int, step: Step, resumed: Bool) {
        var job = Pending(
            zone: zone, procedure: procedure, index: index, step: step, startedAt: t, due: t,
            kind: .finish(.succeeded, ""))
        switch step {
        case .command(let device, let command):
            // A resumed command is read first and written only when the device does not already show it done.
            if resumed && runner.showsDone(device: device, command: command, in: sim) {
                job.kind = .finish(.succeeded, "already done")
                pending.append(job)
                return
            }
            write(job, device: device, command: command)
        case .run:
            job.due = t + CampaignRunner.runTime
            pending.append(job)
        case .notify:
            pending.append(job)
        case .delay:
            job.kind = .finish(.failed, "a delay step was handed to the actuator; the engine times delays")
            pending.append(job)
        }
    }

    private mutating func write(_ job: Pending, device: String, command: String) {
        var job = job
        let within = runner.within(device: device, command: command)
        let effect = sim.effect(device: device, command: command)
        checker.wrote(
            zone: job.zone, procedure: job.procedure, index: job.index, device: device, command: command,
            effect: effect,
            releasesSoFar: trace.writes.filter { $0.zone == job.zone && $0.effect == .release }.count, at: t)
        trace.writes.append(
            CampaignTrace.Write(
                at: t, zone: job.zone, procedure: job.procedure, index: job.index, device: device, command: command,
                effect: effect))
        let deadline = job.startedAt + within
        switch sim.command(device: device, command: command) {
        case .accepted(_, let visibleAt):
            var seen = max(visibleAt, t + CampaignRunner.writeLatency)
            if case .slow(let delay) = sim.condition(device: device) { seen += delay }
            if seen <= deadline {
                job.due = seen
                job.kind = .finish(.succeeded, "confirmed")
            } else {
                job.due = deadline
                job.kind = .finish(.failed, "not confirmed within \(DurationText.format(within))")
            }
        case .notAnswered:
            let attempt: Int
            if case .retry(let previous) = job.kind { attempt = previous + 1 } else { attempt = 2 }
            if t + .seconds(1) < deadline {
                job.due = t + .seconds(1)
                job.kind = .retry(attempt: attempt)
            } else {
                job.due = deadline
                job.kind = .finish(.failed, "no answer within \(DurationText.format(within))")
            }
        case .unknownCommand, .unknownDevice:
            job.kind = .finish(.failed, "\(device) has no command \(command)")
        }
        pending.append(job)
    }

    private mutating func finishDue() {
        while let at = pending.firstIndex(where: { $0.due <= t }) {
            let job = pending.remove(at: at)
            switch job.kind {
            case .finish(let outcome, let detail):
                call { engine, now in
                    engine.stepFinished(
                        zone: job.zone, procedure: job.procedure, index: job.index, outcome: outcome, detail: detail,
                        at: now)
                }
            case .retry(let attempt):
                guard case .command(let device, let command) = job.step else { continue }
                let attempts = Int(runner.within(device: device, command: command) / .seconds(1))
                let logged = trace.records.count
                call { engine, now in
                    engine.stepRetrying(
                        zone: job.zone, procedure: job.procedure, index: job.index, attempt: attempt,
                        of: max(attempts, attempt), problem: "no answer", at: now)
                }
                // The engine logs the retry before it is written; no record means the step is no longer running.
                let retried = trace.records[logged...].contains {
                    $0.record.event == .stepRetried && $0.record.zone == job.zone
                        && $0.record.procedure == job.procedure && $0.record.step == job.index
                }
                guard retried else { continue }
                write(job, device: device, command: command)
            }
        }
    }
}

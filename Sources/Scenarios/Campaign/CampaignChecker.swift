import FireSafety
import Simulator
import SiteConfig

/// The rules that never bend, each checked on every run of a campaign.
public enum CampaignInvariant: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case fireNeedsTwoKinds = "fire-needs-two-kinds"
    case stepsOfTheZone = "steps-of-the-zone"
    case stepOnce = "step-once"
    case stepNotEarly = "step-not-early"
    case ownZoneOnly = "own-zone-only"
    case recordBeforeWrite = "record-before-write"
    case latchHolds = "latch-holds"
    case abortHolds = "abort-holds"
    case oneRelease = "one-release"

    /// The rule in a fire-protection engineer's words.
    public var description: String {
        switch self {
        case .fireNeedsTwoKinds:
            return "no suppression or power cut without two independent kinds (on different devices) at fire"
        case .stepsOfTheZone: return "nothing is run or written that the zone's own steps do not say"
        case .stepOnce: return "no step is started twice while the zone stays latched"
        case .stepNotEarly: return "no step starts before the delay ahead of it has run in full"
        case .ownZoneOnly: return "nothing is written in a zone whose own readings never reached alarm"
        case .recordBeforeWrite: return "every step and every write is preceded by its durable record"
        case .latchHolds: return "a latched zone stays latched until an accepted reset, across restarts and reloads"
        case .abortHolds: return "after an accepted abort, no agent is released until resume or reset"
        case .oneRelease: return "agent is released at most once per zone"
        }
    }
}

/// One broken rule: which, when (run time) and what was seen.
public struct CampaignViolation: Sendable, Hashable, CustomStringConvertible {
    public var invariant: CampaignInvariant
    public var at: Duration
    public var detail: String

    public var description: String { "\(invariant.rawValue) at \(DurationText.format(at)): \(detail)" }
}

/// What one run did: the log as written, every write, and what the model went through.
public struct CampaignTrace: Sendable {
    public struct Write: Sendable, Hashable {
        public var at: Duration
        public var zone: String
        public var procedure: ProcedureKind
        public var index: Int
        public var device: String
        public var command: String
        public var effect: SimEffect?
    }

    /// Each durable record with the run time it was written at.
    public var records: [(at: Duration, record: AlertRecord)] = []
    public var writes: [Write] = []
    public var notifications = 0
    public var violations: [CampaignViolation] = []
    public var modelEvents: [ModelEvent] = []
    public var releases = 0
    public var end: Duration = .zero
    /// For each isolation started, how many of the zone's devices read at alarm or above when it started.
    public var isolationSources: [Int] = []

    /// The first run time a zone reached `state`, from its `zone.state` records.
    public func firstTime(_ zone: String, reaches state: ZoneState) -> Duration? {
        records.first { $0.record.event == .zoneState && $0.record.zone == zone && $0.record.to == state.rawValue }?.at
    }

    /// Procedures of a zone that started (their first step), with when.
    public func starts(of procedure: ProcedureKind, in zone: String? = nil) -> [Duration] {
        records.filter {
            $0.record.event == .stepStarted && $0.record.procedure == procedure && $0.record.step == 0
                && (zone == nil || $0.record.zone == zone)
        }.map(\.at)
    }
}

/// Checks the invariants as a run goes: it sees every reading fed, every engine output before its actions are
/// done, and every write. Its judgement of "at fire" is its own, from the raw readings fed (not the engine's
/// voting), so an engine that latches on stale, invalid or single-device data is caught.
struct CampaignChecker {
    let site: LoadedSite
    let zones: [String: ZoneSpec]
    private(set) var violations: [CampaignViolation] = []
    /// The last reading fed per source (by its position in the poll order), with the run time it was fed at.
    private var lastFed: [(at: Duration, status: Reading.Status)?]
    /// Every source, in poll order, and each one's position in it.
    private let order: [SourceRef]
    private let position: [SourceRef: Int]
    /// Per source position, the zones (model order) and signals that read it: where a reading that changed can
    /// newly reach alarm (one that did not change gives the answer it gave a poll ago).
    private let readers: [[(zone: Int, signal: Int)]]
    private let zoneIndex: [String: Int]
    /// Per zone (model order), whether its own readings reached alarm at some poll: only those may be written to.
    private var sawAlarm: [Bool]
    /// Zones latched at fire that had two independent kinds at fire when they latched.
    private var fireChecked: Set<String> = []
    /// Step identities started while the zone is latched, per zone.
    private var started: [String: Set<String>] = [:]
    /// The last (re)start of a delay under way, per zone and procedure.
    private var delays: [String: (at: Duration, length: Duration, index: Int)] = [:]
    /// Zones with an accepted abort not yet resumed or reset.
    private var aborted: Set<String> = []
    /// Latches held when the process was killed, to compare with what a restart restores.
    private var latchedAtKill: [Level?]?
    /// For each isolation started (in order), how many of the zone's devices read at alarm or above then.
    private(set) var isolationSources: [Int] = []

    /// - Parameter sources: every source the runs feed, in the order each poll feeds them (nil: every source the
    ///   zones' signals read, sorted).
    init(site: LoadedSite, sources: [SourceRef]? = nil) {
        self.site = site
        zones = Dictionary(uniqueKeysWithValues: site.model.zones.map { ($0.name, $0) })
        let sources = sources ?? Set(site.model.zones.flatMap { $0.signals.flatMap(\.sources) }).sorted()
        order = sources
        let position = Dictionary(sources.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.position = position
        lastFed = Array(repeating: nil, count: sources.count)
        var readers: [[(zone: Int, signal: Int)]] = Array(repeating: [], count: sources.count)
        for (zone, spec) in site.model.zones.enumerated() {
            for (signal, signalSpec) in spec.signals.enumerated() {
                for source in signalSpec.sources { if let at = position[source] { readers[at].append((zone, signal)) } }
            }
        }
        self.readers = readers
        zoneIndex = Dictionary(uniqueKeysWithValues: site.model.zones.enumerated().map { ($1.name, $0) })
        sawAlarm = Array(repeating: false, count: site.model.zones.count)
    }

    /// Each zone's latch, in model order.
    func latches(of engine: Engine) -> [Level?] { engine.latches }

    private mutating func fail(_ invariant: CampaignInvariant, _ at: Duration, _ detail: String) {
        violations.append(CampaignViolation(invariant: invariant, at: at, detail: detail))
    }

    // MARK: what the engine is fed

    /// Readings fed to the engine; in the poll order given at init, each is placed without a lookup.
    mutating func fed(_ readings: [Reading], at t: Duration) {
        for index in readings.indices {
            let found = index < order.count && order[index] == readings[index].source
                ? index : position[readings[index].source]
            guard let at = found else { continue }
            let changed = lastFed[at].map { $0.status != readings[index].status } ?? true
            lastFed[at] = (t, readings[index].status)
            guard changed else { continue }
            for (zone, signal) in readers[at] where !sawAlarm[zone] {
                if reaches(.alarm, site.model.zones[zone].signals[signal], at: at, t) { sawAlarm[zone] = true }
            }
        }
    }

    private static let levels: [Level] = [.alert, .alarm, .fire]

    private func reaches(_ level: Level, _ signal: SignalSpec, _ source: SourceRef, at t: Duration) -> Bool {
        guard let index = position[source] else { return false }
        return reaches(level, signal, at: index, t)
    }

    /// Whether the fresh reading at `index` meets `signal`'s threshold at `level` or above (a number within the
    /// deadband below it counts: the engine holds a level until the value falls past the deadband).
    private func reaches(_ level: Level, _ signal: SignalSpec, at index: Int, _ t: Duration) -> Bool {
        guard let (at, status) = lastFed[index], t - at <= site.model.staleAfter else { return false }
        for candidate in Self.levels where candidate >= level {
            guard let threshold = signal.thresholds[candidate] else { continue }
            switch (threshold, status) {
            case (.atLeast(let limit), .value(.number(let value))) where value >= limit - signal.deadband: return true
            case (.atLeast(let limit), .aboveRange(_, let top)) where top >= limit - signal.deadband: return true
            case (.oneOf(let names), .value(.name(let name))) where names.contains(name): return true
            case (.equals(let flag), .value(.flag(let value))) where value == flag: return true
            default: continue
            }
        }
        return false
    }

    /// Two kinds of the zone at fire, on at least two different devices.
    private func twoIndependentKindsAtFire(_ zone: ZoneSpec, at t: Duration) -> (Bool, String) {
        var devicesByKind: [String: Set<String>] = [:]
        for signal in zone.signals {
            let devices = signal.sources.filter { reaches(.fire, signal, $0, at: t) }.map(\.device)
            if !devices.isEmpty { devicesByKind[signal.kind, default: []].formUnion(devices) }
        }
        let kinds = devicesByKind.keys.sorted()
        for (i, a) in kinds.enumerated() {
            for b in kinds[(i + 1)...] where devicesByKind[a]!.union(devicesByKind[b]!).count >= 2 {
                return (true, "")
            }
        }
        let seen = kinds.map { "\($0) on \(devicesByKind[$0]!.sorted().joined(separator: ", "))" }
        return (false, seen.isEmpty ? "no kind at fire in fresh readings" : "at fire: " + seen.joined(separator: "; "))
    }

    /// The zone's devices whose fresh readings meet one of its signals at alarm or above.
    private func devicesAtAlarm(_ zone: ZoneSpec, at t: Duration) -> Set<String> {
        var devices: Set<String> = []
        for signal in zone.signals {
            for source in signal.sources where reaches(.alarm, signal, source, at: t) { devices.insert(source.device) }
        }
        return devices
    }

    // MARK: what the engine decided

    /// After an engine call: latches held or dropped by an accepted reset, fire latched on good grounds, steps
    /// started once and not early, aborts held.
    mutating func check(_ out: Output, before: [Level?], after: [Level?], at t: Duration) {
        func accepted(_ event: AlertEvent, _ zone: String) -> Bool {
            out.records.contains { $0.event == event && $0.zone == zone && $0.outcome == "accepted" }
        }
        for (index, spec) in site.model.zones.enumerated() {
            let zone = spec.name
            if !out.records.isEmpty {
                if accepted(.operatorAbort, zone) { aborted.insert(zone) }
                if accepted(.operatorResume, zone) { aborted.remove(zone) }
            }
            let reset = !out.records.isEmpty && accepted(.operatorReset, zone)
            if reset { aborted.remove(zone) }
            if let held = before[index], (after[index].map { $0 < held } ?? true), !reset {
                fail(.latchHolds, t, "\(zone) was latched at \(held) and is now \(after[index].map { "\($0)" } ?? "unlatched") without an accepted reset")
            }
            if after[index] == nil,
                started[zone] != nil || fireChecked.contains(zone) || delays.keys.contains(where: { $0.hasPrefix(zone + "/") })
            {
                started[zone] = nil
                fireChecked.remove(zone)
                delays = delays.filter { !$0.key.hasPrefix(zone + "/") }
            }
            if after[index] == .fire && before[index] != .fire {
                let (ok, seen) = twoIndependentKindsAtFire(spec, at: t)
                if ok { fireChecked.insert(zone) } else { fail(.fireNeedsTwoKinds, t, "\(zone) latched at fire; \(seen)") }
            }
        }
        for record in out.records {
            guard let zone = record.zone, let procedure = record.procedure, let index = record.step,
                let spec = zones[zone]
            else { continue }
            let steps = Self.steps(of: procedure, in: spec)
            guard steps.indices.contains(index) else {
                fail(.stepsOfTheZone, t, "\(zone) \(procedure.rawValue) has no step \(index + 1): \(record.event.rawValue)")
                continue
            }
            let key = "\(zone)/\(procedure.rawValue)"
            switch record.event {
            case .stepStarted:
                let identity = "\(procedure.rawValue)#\(index) \(steps[index])"
                if started[zone, default: []].contains(identity) {
                    fail(.stepOnce, t, "\(zone) started \(identity) a second time while latched")
                }
                started[zone, default: []].insert(identity)
                if procedure == .isolate && index == 0 { isolationSources.append(devicesAtAlarm(spec, at: t).count) }
                if let delay = delays[key], delay.index == index - 1, t - delay.at < delay.length {
                    fail(
                        .stepNotEarly, t,
                        "\(zone) \(procedure.rawValue) step \(index + 1) (\(steps[index])) started "
                            + "\(DurationText.format(t - delay.at)) into the \(DurationText.format(delay.length)) delay before it")
                }
                fallthrough
            case .stepResumed:
                if case .delay(let length, _) = steps[index] { delays[key] = (t, length, index) }
            default: break
            }
        }
    }

    /// Before the actuator runs a step: it is the zone's own, its record is already durable, a tier 3 step has a
    /// fire latched on good grounds behind it, and no release follows an abort.
    mutating func willRun(
        zone: String, procedure: ProcedureKind, index: Int, step: Step, records: [AlertRecord], at t: Duration
    ) {
        guard let spec = zones[zone] else {
            fail(.stepsOfTheZone, t, "a step for \(zone), which the site does not have")
            return
        }
        let steps = Self.steps(of: procedure, in: spec)
        if !steps.indices.contains(index) || steps[index] != step {
            fail(.stepsOfTheZone, t, "\(zone) was asked to run \(step) as \(procedure.rawValue) step \(index + 1)")
        }
        let logged = records.contains {
            ([.stepStarted, .stepResumed, .stepRetried] as [AlertEvent]).contains($0.event) && $0.zone == zone
                && $0.procedure == procedure && $0.step == index
        }
        if !logged {
            fail(.recordBeforeWrite, t, "\(zone) \(procedure.rawValue) step \(index + 1) (\(step)) ran with no record before it")
        }
        if procedure != .isolate && !fireChecked.contains(zone) {
            fail(
                .fireNeedsTwoKinds, t,
                "\(zone) ran \(procedure.rawValue) step \(index + 1) (\(step)) without a fire latched on two kinds")
        }
    }

    /// A write the actuator is about to make.
    mutating func wrote(
        zone: String, procedure: ProcedureKind, index: Int, device: String, command: String, effect: SimEffect?,
        releasesSoFar: Int, at t: Duration
    ) {
        if !(zoneIndex[zone].map { sawAlarm[$0] } ?? false) {
            fail(.ownZoneOnly, t, "wrote \(device).\(command) for \(zone), whose readings never reached alarm")
        }
        if effect == .release {
            if aborted.contains(zone) {
                fail(.abortHolds, t, "\(device).\(command) written for \(zone) after an accepted abort")
            }
            if releasesSoFar > 0 { fail(.oneRelease, t, "\(device).\(command) written again for \(zone)") }
        }
    }

    /// At the end: the model discharged each zone's agent at most once.
    mutating func finished(modelEvents: [ModelEvent], at t: Duration) {
        for zone in site.model.zones.map(\.name) {
            let releases = modelEvents.filter { $0.zone == zone && $0.kind == .released }
            if releases.count > 1 {
                fail(.oneRelease, releases[1].at, "\(zone)'s agent was discharged \(releases.count) times")
            }
        }
    }

    // MARK: restarts and reloads

    mutating func killed(latches: [Level?]) { latchedAtKill = latches }

    /// A restored engine holds every latch the killed one held.
    mutating func restarted(engine: Engine, at t: Duration) {
        guard let before = latchedAtKill else { return }
        latchedAtKill = nil
        for (zone, level, now) in lost(before, engine) {
            fail(.latchHolds, t, "\(zone) was latched at \(level) when killed; the restart restored \(now)")
        }
    }

    mutating func check(reloadOf before: [Level?], to engine: Engine, at t: Duration) {
        for (zone, level, now) in lost(before, engine) {
            fail(.latchHolds, t, "\(zone) was latched at \(level); the reload left \(now)")
        }
    }

    /// Zones latched in `before` that `engine` holds at a lower level or not at all, with what it holds.
    private func lost(_ before: [Level?], _ engine: Engine) -> [(zone: String, level: Level, now: String)] {
        let after = latches(of: engine)
        return site.model.zones.indices.compactMap { index in
            guard let level = before[index], after[index].map({ $0 < level }) ?? true else { return nil }
            return (site.model.zones[index].name, level, after[index].map { "\($0)" } ?? "nothing")
        }
    }

    static func steps(of procedure: ProcedureKind, in zone: ZoneSpec) -> [Step] {
        switch procedure {
        case .isolate: return zone.isolate
        case .suppress: return zone.suppress
        case .powerCut: return zone.powerCut
        }
    }
}

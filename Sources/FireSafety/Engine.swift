/// The safety engine: readings, time and operator commands in; records, actions and zone states out.
///
/// A value type with no I/O and no clock: every timer runs on the `Timestamp`s passed in, so the same inputs
/// always give the same outputs. The daemon owns one `Engine` inside an actor and calls `evaluate` once per
/// poll cycle (and by `Output.nextDeadline`), `command` for the control socket and `stepFinished` when the
/// actuator reports a step. Records must be appended and fsynced before the actions are performed.
///
/// Rules the engine applies where CONTRACT.md leaves room:
/// - A source is healthy when its last reading is a value of the right type no older than `staleAfter`.
///   With every source healthy a signal votes as configured; with any source failed it votes "any one of the
///   healthy rest" (2oo3 → 1oo2, 2oo2 → 1oo1) and the zone is in trouble; with none healthy it is `trouble`.
///   Trouble never latches, never counts as evidence, and is never reported as normal.
/// - A device is `comm_lost` once `stale_after` passes without a complete poll (every reading of one evaluation
///   answered) and `comm_restored` after two complete polls in a row; its points are trouble at once either way.
/// - A reading above the top of its range (`Reading.Status.aboveRange`) is a healthy source valued at the top:
///   it votes like any reading and puts the zone in trouble, logged once as `point.invalid` when it starts.
/// - Hysteresis is per source: a level is kept until the value falls below threshold − deadband. A rate of
///   rise (least squares over the window's samples, kept by time: ≥ 5 samples covering ≥ half of it, none
///   joined across a gap of over a quarter of it, each reading the median of it and its neighbours) counts as
///   `alert`, and clears below 80 % of the configured rate.
/// - Alarm latches tier 2 (isolate), two kinds at fire latch tier 3 (suppress, then power cut). Procedures
///   run one at a time in tier order: a zone that reaches tier 3 while isolating finishes isolating first.
/// - Inhibit holds procedures *not started* (no step records); they start when it expires or on `enable`, if
///   the tier is still latched. It is refused while a procedure is under way (use `abort` for suppression).
/// - Abort is accepted while the zone is `suppressing` and the last abortable delay of `suppress` has not
///   finished; suppression then stays aborted (no power cut) until `resume` (from the step it stopped at, the
///   countdown in full) or a reset. A panel's hold-to-abort switch does the same while it is held
///   (`Engine+AbortSwitch.swift`).
/// - Reset is refused while a signal is at alarm or fire, a signal has no healthy source, or a step runs.
/// - Notifications (`Action.notify`): state escalations, trouble, failed steps, aborts and inhibits; a latched
///   zone not acknowledged is reminded every `renotifyEvery`; `ack` silences reminders until the next escalation.
public struct Engine: Sendable {
    public let model: SiteModel
    /// How often an unacknowledged latched zone is re-notified (`Action.notify` reminders); nil: never.
    public var renotifyEvery: Duration? { model.remindEvery }

    var sources: [SourceState]
    /// Parallel to `sources`.
    var live: [SourceLive]
    var slotBySource: [SourceRef: Int]
    var devices: [DeviceState]
    var members: [Member]
    var signals: [SignalRuntime]
    var zones: [ZoneRuntime]
    var zoneIndexByName: [String: Int]
    /// Specs by signal index, beside `signals` so the hot array holds plain values only.
    var signalSpecs: [SignalSpec]
    var inhibitReasons: [String?]
    /// Per zone: the walk test under way, if any (its deadline is `ZoneRuntime.testUntil`).
    var walkTests: [WalkTest?]
    /// Per zone: the steps of a procedure that was under way when a reload changed them; it finishes on these.
    var activeSteps: [[ProcedureKind: [Step]]]
    /// The slot of the reading at each position of the previous `evaluate(_:at:)` call (-1: unknown).
    var slotAtPosition: [Int] = []
    /// Earliest moment a currently healthy source turns stale; feeds `Output.nextDeadline`.
    var staleDeadline: Timestamp?
    /// The zones' panel abort switches: read like sources, voted in no signal.
    var abortSwitches: [AbortSwitch] = []
    /// Devices heard of in the evaluation under way (its poll), and devices whose last poll was incomplete and
    /// that are not lost yet (`commCheck`): both short, so quiet cycles never scan every device.
    var heardDevices: [Int] = []
    var suspectDevices: [Int] = []
    /// The zones that read each source (its signals' zones and, for a panel's abort switch, its zone).
    var zonesOfSlot: [[Int]] = []
    /// Per zone: an input changed since its last evaluation (a member's level, a source's health or saturation).
    /// A cycle evaluates these and every zone that is not at rest (`ZoneRuntime.atRest`), so a reading costs the
    /// zones that use it, not the whole site. Every zone starts dirty (a new, restored or reloaded engine).
    var zoneDirty: [Bool] = []
    /// Every zone that is dirty or not at rest (and maybe some at rest again), ascending once `watchedSorted`: the
    /// only zones a cycle looks at and the only ones with a timer, so neither a cycle nor `nextDeadline()` visits
    /// the zones at rest. Starts with every zone.
    var watched: [Int] = []
    var isWatched: [Bool] = []
    var watchedSorted = true
    /// Evaluates every zone and judges every source's staleness every cycle, as before either was skipped: the
    /// reference the differential test compares.
    var evaluatesEveryZone = false
    /// The sources read in the evaluation under way (their health is judged this cycle).
    var ingestedSlots: [Int] = []
    /// The next cycle judges every source's staleness (a new, restored or reloaded engine).
    var needsFullScan = true

    /// Builds the engine's tables once, so the evaluation cycle never touches a string-keyed dictionary.
    public init(model: SiteModel) {
        self.model = model
        var sources: [SourceState] = []
        var slotBySource: [SourceRef: Int] = [:]
        var devices: [DeviceState] = []
        var deviceIndex: [String: Int] = [:]
        var members: [Member] = []
        var signals: [SignalRuntime] = []
        var zones: [ZoneRuntime] = []
        var zoneIndexByName: [String: Int] = [:]
        var zonesOfSource: [[Int]] = []
        var zonesOfDevice: [[Int]] = []

        for (zoneIndex, zone) in model.zones.enumerated() {
            zoneIndexByName[zone.name] = zoneIndex
            let firstSignal = signals.count
            var kindIndex: [String: Int] = [:]
            for spec in zone.signals {
                let kind = kindIndex[spec.kind] ?? kindIndex.count
                kindIndex[spec.kind] = kind
                let firstMember = members.count
                for ref in spec.sources {
                    let slot: Int
                    if let existing = slotBySource[ref] {
                        slot = existing
                    } else {
                        let device: Int
                        if let known = deviceIndex[ref.device] {
                            device = known
                        } else {
                            device = devices.count
                            deviceIndex[ref.device] = device
                            devices.append(DeviceState(name: ref.device))
                            zonesOfDevice.append([])
                        }
                        slot = sources.count
                        slotBySource[ref] = slot
                        sources.append(SourceState(ref: ref, device: device))
                        zonesOfSource.append([])
                    }
                    if !zonesOfSource[slot].contains(zoneIndex) { zonesOfSource[slot].append(zoneIndex) }
                    let device = sources[slot].device
                    if !zonesOfDevice[device].contains(zoneIndex) { zonesOfDevice[device].append(zoneIndex) }
                    if let rate = spec.rateOfRise, !sources[slot].hasRing {
                        // Kept by time, not by count: a device polled faster than the site still covers the window.
                        sources[slot].ring = SampleRing(window: rate.window)
                        sources[slot].hasRing = true
                    }
                    sources[slot].members.append(members.count)
                    members.append(Member(signal: signals.count, source: slot))
                }
                signals.append(
                    SignalRuntime(
                        spec: spec, zone: zoneIndex, kindBit: 1 << UInt64(min(kind, 63)),
                        members: firstMember..<members.count))
            }
            zones.append(ZoneRuntime(signals: firstSignal..<signals.count, hasPowerCut: !zone.powerCut.isEmpty))
        }
        var abortSwitches: [AbortSwitch] = []
        for (zoneIndex, zone) in model.zones.enumerated() {
            let first = abortSwitches.count
            defer { zones[zoneIndex].switches = first..<abortSwitches.count }
            for ref in zone.abortSwitches {
                if slotBySource[ref] == nil {
                    let device = deviceIndex[ref.device] ?? devices.count
                    if device == devices.count {
                        deviceIndex[ref.device] = device
                        devices.append(DeviceState(name: ref.device))
                        zonesOfDevice.append([])
                    }
                    slotBySource[ref] = sources.count
                    sources.append(SourceState(ref: ref, device: device))
                    zonesOfSource.append([])
                }
                let slot = slotBySource[ref]!
                if !zonesOfSource[slot].contains(zoneIndex) { zonesOfSource[slot].append(zoneIndex) }
                let device = sources[slot].device
                if !zonesOfDevice[device].contains(zoneIndex) { zonesOfDevice[device].append(zoneIndex) }
                abortSwitches.append(AbortSwitch(zone: zoneIndex, slot: slot))
            }
        }
        for slot in sources.indices where zonesOfSource[slot].count == 1 {
            sources[slot].zoneName = model.zones[zonesOfSource[slot][0]].name
        }
        for device in devices.indices {
            devices[device].zoneNames = zonesOfDevice[device].map { model.zones[$0].name }
        }
        self.sources = sources
        self.live = Array(repeating: SourceLive(), count: sources.count)
        self.slotBySource = slotBySource
        self.devices = devices
        self.members = members
        self.signals = signals
        self.zones = zones
        self.zoneIndexByName = zoneIndexByName
        self.signalSpecs = model.zones.flatMap(\.signals)
        self.inhibitReasons = Array(repeating: nil, count: model.zones.count)
        self.walkTests = Array(repeating: nil, count: model.zones.count)
        self.activeSteps = Array(repeating: [:], count: model.zones.count)
        self.abortSwitches = abortSwitches
        self.zonesOfSlot = zonesOfSource
        self.zoneDirty = Array(repeating: true, count: zones.count)
        self.watched = Array(zones.indices)
        self.isWatched = Array(repeating: true, count: zones.count)
    }

    /// The steps a zone's procedure runs: the ones it started with when a reload changed them while it was under
    /// way (`activeSteps`), else the model's.
    func steps(_ zone: Int, _ kind: ProcedureKind) -> [Step] {
        activeSteps[zone][kind] ?? modelSteps(zone, kind)
    }

    /// The step a zone's procedure runs at `index`, as the engine runs it (for status and the actuator's checks).
    public func step(zone name: String, procedure: ProcedureKind, index: Int) -> Step? {
        guard let zone = zoneIndexByName[name] else { return nil }
        let steps = steps(zone, procedure)
        return steps.indices.contains(index) ? steps[index] : nil
    }

    func modelSteps(_ zone: Int, _ kind: ProcedureKind) -> [Step] {
        switch kind {
        case .isolate: return model.zones[zone].isolate
        case .suppress: return model.zones[zone].suppress
        case .powerCut: return model.zones[zone].powerCut
        }
    }

    /// The slot of a source the model uses, or nil for a source no signal reads.
    public func slot(of source: SourceRef) -> SourceSlot? {
        slotBySource[source].map(SourceSlot.init(index:))
    }

    /// Every source the model reads, in slot order (`slot(of: allSources[i]).index == i`).
    public var allSources: [SourceRef] { sources.map(\.ref) }

    // MARK: - Evaluation

    /// Ingests readings (sources no signal uses are ignored), recomputes every signal and zone, and advances
    /// timers: delay steps, inhibit expiry, staleness and reminders.
    public mutating func evaluate(_ readings: [Reading], at now: Timestamp) -> Output {
        var out = Output()
        // A poller sends its points in the same order every cycle: checking the slot that sat at this position
        // last time is a comparison of short strings, much cheaper than hashing the reference again.
        if slotAtPosition.count < readings.count {
            slotAtPosition += Array(repeating: -1, count: readings.count - slotAtPosition.count)
        }
        // Indices, not `for reading in`, so each reading is borrowed rather than copied (and retained).
        for index in readings.indices {
            var slot = slotAtPosition[index]
            if slot < 0 || sources[slot].ref != readings[index].source {
                guard let found = slotBySource[readings[index].source] else { continue }
                slot = found
                slotAtPosition[index] = found
            }
            ingest(readings[index], slot: slot, into: &out)
        }
        settlePolls(into: &out)
        cycle(at: now, into: &out)
        markWalkTests(&out, from: (0, 0))
        return out
    }

    /// Like `evaluate(_:at:)` for a poller that looked its slots up once with `slot(of:)`; no hashing per reading.
    public mutating func evaluate(slotted readings: [SlottedReading], at now: Timestamp) -> Output {
        var out = Output()
        for index in readings.indices {
            let slot = readings[index].slot.index
            guard sources.indices.contains(slot) else { continue }
            ingest(readings[index].reading, slot: slot, into: &out)
        }
        settlePolls(into: &out)
        cycle(at: now, into: &out)
        markWalkTests(&out, from: (0, 0))
        return out
    }

    /// The state of every zone, in model order.
    public var status: [ZoneStatus] { zones.indices.map(zoneStatus) }

    /// Each zone's latched level, in model order: what a checker compares before and after a call, cheaply.
    public var latches: [Level?] { zones.map(\.latched) }

    /// The state of one zone, or nil if the model has no such zone.
    public func status(of zone: String) -> ZoneStatus? {
        zoneIndexByName[zone].map(zoneStatus)
    }

    func zoneStatus(_ index: Int) -> ZoneStatus {
        let zone = zones[index]
        return ZoneStatus(
            name: model.zones[index].name, state: zone.reported, latched: zone.latched,
            trouble: zone.trouble || zone.testUntil != nil, inhibitedUntil: zone.inhibitedUntil,
            inhibitReason: inhibitReasons[index], testUntil: zone.testUntil, testReason: walkTests[index]?.reason,
            testBy: walkTests[index].map { operatorName(uid: $0.uid, user: $0.user) },
            acknowledged: zone.acknowledged, isolate: zone.isolate, suppress: zone.suppress,
            powerCut: zone.powerCut, running: zone.running,
            signals: zone.signals.map {
                SignalStatus(
                    name: signalSpecs[$0].name, kind: signalSpecs[$0].kind, condition: signals[$0].condition,
                    degraded: signals[$0].degraded)
            }, abortSwitchHeld: zone.heldSwitch != nil)
    }

    mutating func ingest(_ reading: Reading, slot: Int, into out: inout Output) {
        // Late or reordered readings must not roll a source back in time.
        if live[slot].kind != .never, reading.time < live[slot].time { return }
        ingestedSlots.append(slot)
        let device = sources[slot].device
        switch reading.status {
        case .lost(let reason):
            heard(device, lost: reason, at: reading.time)
            live[slot].kind = .lost
            live[slot].saturated = false
            sources[slot].problem = reason
            live[slot].reported = .lost
        case .invalid(let reason):
            heard(device, lost: nil, at: reading.time)
            live[slot].kind = .invalid
            live[slot].saturated = false
            sources[slot].problem = reason
            if live[slot].reported != .invalid {
                live[slot].reported = .invalid
                out.records.append(pointRecord(slot: slot, event: .pointInvalid, reason: reason, at: reading.time))
            }
        case .value(let value):
            heard(device, lost: nil, at: reading.time)
            live[slot].reported = .none
            accept(value, saturated: false, slot: slot, at: reading.time)
        case .aboveRange(let number, let top):
            heard(device, lost: nil, at: reading.time)
            if live[slot].reported != .aboveRange {
                live[slot].reported = .aboveRange
                out.records.append(aboveRangeRecord(slot: slot, reading: number, top: top, at: reading.time))
            }
            // Evidence of at least the top: a room hotter than its sensor reads keeps its levels mid-fire.
            accept(.number(top), saturated: true, slot: slot, at: reading.time)
        }
        live[slot].time = reading.time
    }

    /// A value the signals judge; `saturated` marks the top of a range standing in for a reading above it.
    @inline(__always)
    private mutating func accept(_ value: Value, saturated: Bool, slot: Int, at time: Timestamp) {
        // A steady value without a rate of rise cannot change any level: skip the judging.
        let unchanged =
            live[slot].kind == .value && !sources[slot].hasRing && sources[slot].value == value
            && live[slot].saturated == saturated
        var changed = live[slot].saturated != saturated
        live[slot].kind = .value
        live[slot].time = time
        live[slot].saturated = saturated
        if unchanged { return }
        sources[slot].value = value
        // A bound is not a measurement: it would flatten the slope, so the rate of rise keeps its last one.
        if case .number(let number) = value, sources[slot].hasRing, !saturated {
            sources[slot].slope = sources[slot].ring!.append(time: time, value: number)
        }
        for member in sources[slot].members {
            if judge(member: member, value: value, slope: sources[slot].slope) { changed = true }
        }
        if changed { markZones(ofSlot: slot) }
    }

    /// The zones reading `slot` must be evaluated this cycle: something they vote on changed.
    @inline(__always)
    mutating func markZones(ofSlot slot: Int) {
        for zone in zonesOfSlot[slot] {
            zoneDirty[zone] = true
            watch(zone)
        }
    }

    /// Puts `zone` among the zones a cycle looks at (a changed input, or a command that took it off rest).
    @inline(__always)
    mutating func watch(_ zone: Int) {
        guard !isWatched[zone] else { return }
        isWatched[zone] = true
        if let last = watched.last, last > zone { watchedSorted = false }
        watched.append(zone)
    }

    /// Notes that a reading of `device` arrived in this evaluation, and whether the device failed to answer it.
    @inline(__always)
    private mutating func heard(_ device: Int, lost reason: String?, at time: Timestamp) {
        if !devices[device].heard {
            devices[device].heard = true
            devices[device].firstHeard = devices[device].firstHeard ?? time
            heardDevices.append(device)
        }
        devices[device].pollTime = max(devices[device].pollTime ?? time, time)
        if let reason {
            devices[device].unanswered = true
            devices[device].reason = reason
        }
    }

    /// Comm state with hysteresis, per poll: the readings of one device in one evaluation are one poll, complete
    /// when none of them is lost. A device is restored after two complete polls in a row (one record); losing it
    /// is judged by `commCheck` once `stale_after` has passed without a complete poll, so a device whose second
    /// request times out on every poll is one `comm_lost`, not one per poll.
    mutating func settlePolls(into out: inout Output) {
        for device in heardDevices {
            devices[device].heard = false
            let time = devices[device].pollTime ?? Timestamp(nanoseconds: 0)
            devices[device].pollTime = nil
            if devices[device].unanswered {
                devices[device].unanswered = false
                devices[device].completeInRow = 0
                if !devices[device].lost, !suspectDevices.contains(device) { suspectDevices.append(device) }
                continue
            }
            devices[device].completeInRow += 1
            devices[device].lastComplete = time
            if devices[device].lost, devices[device].completeInRow >= 2 {
                devices[device].lost = false
                out.records.append(commRecord(device: device, lost: false, reason: nil, at: time))
            }
            suspectDevices.removeAll { $0 == device }
        }
        heardDevices.removeAll(keepingCapacity: true)
    }

    /// Declares lost every device that went `stale_after` without a complete poll (since it was first heard of).
    mutating func commCheck(at now: Timestamp, into out: inout Output) {
        guard !suspectDevices.isEmpty else { return }
        var waiting: [Int] = []
        for device in suspectDevices {
            guard let since = devices[device].lastComplete ?? devices[device].firstHeard,
                now > since + model.staleAfter
            else {
                waiting.append(device)
                continue
            }
            if !devices[device].lost {
                devices[device].lost = true
                out.records.append(commRecord(device: device, lost: true, reason: devices[device].reason, at: now))
            }
        }
        suspectDevices = waiting
    }

    /// One source's level for one signal, with hysteresis: a level reached at its threshold is kept until the
    /// value falls below the threshold minus the deadband. True when the member's level, rise or type fit changed.
    @discardableResult
    mutating func judge(member index: Int, value: Value, slope: Double?) -> Bool {
        let signal = members[index].signal
        let previous = members[index].level
        var level: Level? = nil
        var mismatch = false
        if case .number(let number) = value, signals[signal].numeric {
            // The common case (temperatures, % LFL) without touching the spec's dictionary.
            let limits = signals[signal].limits
            let deadband = signals[signal].deadband
            // Ascending, so the highest level reached wins; a level at or below the previous one is kept down
            // to its threshold minus the deadband. NaN (no threshold) never compares true.
            func reaches(_ candidate: Level, _ limit: Double) -> Bool {
                let keep = previous.map { candidate <= $0 } ?? false
                return number >= limit || (keep && number >= limit - deadband)
            }
            if reaches(.alert, limits.alert) { level = .alert }
            if reaches(.alarm, limits.alarm) { level = .alarm }
            if reaches(.fire, limits.fire) { level = .fire }
        } else {
            level = judgeGeneral(signal: signal, value: value, previous: previous, mismatch: &mismatch)
        }
        var rising = false
        if let perSecond = signals[signal].risePerSecond, let slope {
            // 20 % hysteresis on the slope, for the same reason as the deadband on values.
            rising = slope >= perSecond || (members[index].rising && slope >= perSecond * 0.8)
        }
        let before = (members[index].level, members[index].rising, members[index].mismatch)
        members[index].level = mismatch ? nil : level
        members[index].rising = mismatch ? false : rising
        members[index].mismatch = mismatch
        return before != (members[index].level, members[index].rising, members[index].mismatch)
    }

    func judgeGeneral(signal: Int, value: Value, previous: Level?, mismatch: inout Bool) -> Level? {
        let spec = signalSpecs[signal]
        var level: Level? = nil
        for candidate in Level.allCases {
            guard let threshold = spec.thresholds[candidate] else { continue }
            switch (threshold, value) {
            case (.atLeast(let limit), .number(let number)):
                let keep = previous.map { candidate <= $0 } ?? false
                if number >= limit || (keep && number >= limit - spec.deadband) { level = candidate }
            case (.oneOf(let names), .name(let name)):
                if names.contains(name) { level = candidate }
            case (.equals(let expected), .flag(let flag)):
                if flag == expected { level = candidate }
            default:
                mismatch = true
            }
        }
        return level
    }

    /// The part of an evaluation that does not depend on new readings: staleness, voting, zones, timers.
    ///
    /// Staleness is judged for the sources read in this evaluation, and for every source only once the earliest
    /// moment a healthy one can turn stale (`staleDeadline`) has come: until then no source's health can change
    /// by time alone, so a poll of one device costs its own sources, not the site's.
    mutating func cycle(at now: Timestamp, into out: inout Output) {
        let staleAfter = model.staleAfter.nanosecondCount
        if evaluatesEveryZone || needsFullScan || staleDeadline.map({ now >= $0 }) == true {
            var nextStale = Int64.max
            for slot in sources.indices { judgeHealth(slot, at: now, staleAfter: staleAfter, nextStale: &nextStale, into: &out) }
            staleDeadline = nextStale == .max ? nil : Timestamp(nanoseconds: nextStale)
            needsFullScan = false
        } else if !ingestedSlots.isEmpty {
            // In slot order, as the full scan logs them.
            ingestedSlots.sort()
            var nextStale = staleDeadline?.nanoseconds ?? .max
            var previous = -1
            for slot in ingestedSlots where slot != previous {
                previous = slot
                judgeHealth(slot, at: now, staleAfter: staleAfter, nextStale: &nextStale, into: &out)
            }
            staleDeadline = nextStale == .max ? nil : Timestamp(nanoseconds: nextStale)
        }
        ingestedSlots.removeAll(keepingCapacity: true)
        commCheck(at: now, into: &out)
        if evaluatesEveryZone {
            for zone in zones.indices {
                zoneDirty[zone] = false
                evaluateZone(zone, at: now, into: &out)
            }
        } else {
            // In zone order, as the every-zone engine logs them; then only the zones not at rest stay watched.
            if !watchedSorted {
                watched.sort()
                watchedSorted = true
            }
            var kept = 0
            for index in watched.indices {
                let zone = watched[index]
                if zoneDirty[zone] || !zones[zone].atRest {
                    zoneDirty[zone] = false
                    evaluateZone(zone, at: now, into: &out)
                }
                if zones[zone].atRest {
                    isWatched[zone] = false
                } else {
                    watched[kept] = zone
                    kept += 1
                }
            }
            watched.removeLast(watched.count - kept)
        }
        out.nextDeadline = nextDeadline()
    }

    /// A source is healthy while its last reading is a value no older than `stale_after`; logs `point.stale` when
    /// it turns stale, and marks the zones that read it when its health changes.
    @inline(__always)
    mutating func judgeHealth(
        _ slot: Int, at now: Timestamp, staleAfter: Int64, nextStale: inout Int64, into out: inout Output
    ) {
        let wasHealthy = live[slot].healthy
        defer { if live[slot].healthy != wasHealthy { markZones(ofSlot: slot) } }
        switch live[slot].kind {
        case .value:
            let deadline = live[slot].time.nanoseconds &+ staleAfter
            if now.nanoseconds > deadline {
                live[slot].healthy = false
                if live[slot].reported != .stale {
                    live[slot].reported = .stale
                    out.records.append(
                        pointRecord(
                            slot: slot, event: .pointStale,
                            reason: "last reading \(spoken(now - live[slot].time)) ago", at: now))
                }
            } else {
                live[slot].healthy = true
                nextStale = min(nextStale, deadline &+ 1)
            }
        case .never:
            live[slot].healthy = false
            if live[slot].reported != .stale {
                live[slot].reported = .stale
                out.records.append(pointRecord(slot: slot, event: .pointStale, reason: "no reading yet", at: now))
            }
        case .invalid, .lost:
            live[slot].healthy = false
        }
    }

    /// The earliest timer due (a delay step, an inhibit expiry, a staleness deadline, a reminder).
    public func nextDeadline() -> Timestamp? {
        var earliest = staleDeadline
        func consider(_ time: Timestamp?) {
            guard let time else { return }
            earliest = earliest.map { min($0, time) } ?? time
        }
        for device in suspectDevices {
            let since = devices[device].lastComplete ?? devices[device].firstHeard
            consider(since.map { $0 + model.staleAfter + .nanoseconds(1) })
        }
        // A zone at rest has no timer; every zone that is not at rest is watched.
        for index in watched {
            let zone = zones[index]
            consider(zone.running?.delayEnds)
            consider(zone.inhibitedUntil)
            consider(zone.testUntil)
            if zone.reported >= .isolating, !zone.acknowledged, let last = zone.lastNotified, let every = renotifyEvery {
                consider(last + every)
            }
            consider(zone.quietFlushAt)
        }
        return earliest
    }

    /// Votes one signal from its members' levels and its sources' health; `saturated` says a voting source reads
    /// above its range (it votes, as the top of its range, and the zone is in trouble).
    mutating func vote(signal index: Int) -> (condition: SignalCondition, degraded: Bool, saturated: Bool) {
        // Field access, not a copy of the runtime (its spec holds arrays): this runs for every signal every cycle.
        let range = signals[index].members
        var healthy = 0
        var atAlert = 0
        var atAlarm = 0
        var atFire = 0
        var rising = 0
        var saturated = false
        for member in range {
            let entry = members[member]
            guard live[entry.source].healthy, !entry.mismatch else { continue }
            healthy += 1
            saturated = saturated || live[entry.source].saturated
            if let level = entry.level {
                atAlert += 1
                if level >= .alarm { atAlarm += 1 }
                if level == .fire { atFire += 1 }
            }
            if entry.rising { rising += 1 }
        }
        let total = range.count
        guard healthy > 0 else { return (.trouble, true, false) }
        let degraded = healthy < total
        // A group that lost a source degrades to "any one of the rest" (the safe side), and says so as trouble.
        let required = degraded ? 1 : min(signals[index].required, total)
        let condition: SignalCondition
        if atFire >= required {
            condition = .fire
        } else if atAlarm >= required {
            condition = .alarm
        } else if atAlert >= required || rising >= required {
            condition = .alert
        } else {
            condition = .normal
        }
        return (condition, degraded, saturated)
    }
}

// MARK: - Tables

enum SourceKind: UInt8, Sendable {
    case never, value, invalid, lost
}

/// The fault last written to the log for a source, so each transition is logged once.
enum SourceFault: UInt8, Sendable {
    case none, invalid, stale, lost, aboveRange
}

/// What the per-cycle staleness scan and the votes read, packed small and apart from `SourceState` so that
/// scanning every source touches a few hundred kilobytes instead of every source's strings and rings.
struct SourceLive: Sendable {
    var kind: SourceKind = .never
    var reported: SourceFault = .none
    var healthy = false
    /// The value is the top of the range standing in for a reading above it: evidence, and trouble.
    var saturated = false
    var time = Timestamp(nanoseconds: 0)
}

struct SourceState: Sendable {
    let ref: SourceRef
    let device: Int
    /// The only zone that reads this source, for records; nil when shared.
    var zoneName: String?
    var members: [Int] = []
    /// The latest good value (kept through faults, for messages).
    var value: Value?
    var problem = ""
    /// Samples for the rate of rise; one ring per source, with the window of the first signal that asks for one.
    var ring: SampleRing?
    /// `ring != nil`, kept apart because testing the optional can copy the ring on the reading path.
    var hasRing = false
    var slope: Double?

    init(ref: SourceRef, device: Int) {
        self.ref = ref
        self.device = device
    }
}

struct DeviceState: Sendable {
    let name: String
    var zoneNames: [String] = []
    var lost = false
    /// When the device last answered a whole poll; `firstHeard` until it has.
    var lastComplete: Timestamp?
    var firstHeard: Timestamp?
    /// Complete polls in a row since the last incomplete one.
    var completeInRow = 0
    /// Why the last incomplete poll failed, for the `comm_lost` record.
    var reason: String?
    /// The poll being ingested: heard in this evaluation, its newest reading, and whether any went unanswered.
    var heard = false
    var pollTime: Timestamp?
    var unanswered = false

    init(name: String) {
        self.name = name
    }
}

/// One source as seen by one signal: its level under that signal's thresholds.
struct Member: Sendable {
    let signal: Int
    let source: Int
    var level: Level?
    var rising = false
    /// The value's type does not fit the thresholds (a name for a numeric signal): treated as invalid.
    var mismatch = false

    init(signal: Int, source: Int) {
        self.signal = signal
        self.source = source
    }
}

/// Plain values only (the spec lives in `Engine.signalSpecs`), so touching one costs no reference counting.
struct SignalRuntime: Sendable {
    let zone: Int
    /// One bit per distinct `kind` in the zone (kinds past the 64th share a bit, which can only
    /// under-count kinds, i.e. err away from suppression).
    let kindBit: UInt64
    let members: Range<Int>
    /// The spec compiled into plain values for the per-reading and per-cycle paths.
    let required: Int
    let numeric: Bool
    let limits: (alert: Double, alarm: Double, fire: Double)
    let deadband: Double
    let risePerSecond: Double?
    var condition: SignalCondition = .normal
    var degraded = false

    init(spec: SignalSpec, zone: Int, kindBit: UInt64, members: Range<Int>) {
        self.zone = zone
        self.kindBit = kindBit
        self.members = members
        required = spec.vote.required
        func limit(_ level: Level) -> Double? {
            if case .atLeast(let value)? = spec.thresholds[level] { return value }
            return nil
        }
        numeric = !spec.thresholds.isEmpty && spec.thresholds.keys.allSatisfy { limit($0) != nil }
        limits = (limit(.alert) ?? .nan, limit(.alarm) ?? .nan, limit(.fire) ?? .nan)
        deadband = spec.deadband
        risePerSecond = spec.rateOfRise?.perSecond
    }
}

/// Plain values only (the spec lives in `model.zones`, the inhibit reason in `Engine.inhibitReasons`), so the
/// per-cycle path copies and compares zones without reference counting.
struct ZoneRuntime: Sendable {
    let signals: Range<Int>
    let hasPowerCut: Bool
    var latched: Level?
    var alertPresent = false
    var isolate: ProcedurePhase = .idle
    var suppress: ProcedurePhase = .idle
    var powerCut: ProcedurePhase = .idle
    var running: RunningStep?
    /// The state last written to the log.
    var reported: ZoneState = .normal
    var trouble = false
    var inhibitedUntil: Timestamp?
    /// A walk test's deadline while one runs: the zone's procedures are held (`Engine.walkTests` has who and why).
    var testUntil: Timestamp?
    var acknowledged = false
    /// Since when the zone's escalations have gone unacknowledged (the first escalation after an `ack` or a reset).
    var unacknowledgedSince: Timestamp?
    var lastNotified: Timestamp?
    /// By `Severity.rawValue`: the notification quiet period (`SiteModel.quietPeriod`).
    var quiet = [QuietWindow](repeating: QuietWindow(), count: Severity.allCases.count)
    /// The earliest end of a quiet period that holds records back (a summary is due then).
    var quietFlushAt: Timestamp?
    /// The suppress step an accepted abort stopped at: where `resume` goes on.
    var abortedAt = 0
    /// The abort came from a panel's abort switch, so letting the switch go resumes it.
    var abortedBySwitch = false
    /// The abort switch (index into `Engine.abortSwitches`) seen held, if any.
    var heldSwitch: Int?
    /// The zone's entries in `Engine.abortSwitches`.
    var switches: Range<Int> = 0..<0

    init(signals: Range<Int>, hasPowerCut: Bool) {
        self.signals = signals
        self.hasPowerCut = hasPowerCut
    }

    func phase(_ kind: ProcedureKind) -> ProcedurePhase {
        switch kind {
        case .isolate: return isolate
        case .suppress: return suppress
        case .powerCut: return powerCut
        }
    }

    mutating func setPhase(_ kind: ProcedureKind, _ phase: ProcedurePhase) {
        switch kind {
        case .isolate: isolate = phase
        case .suppress: suppress = phase
        case .powerCut: powerCut = phase
        }
    }

    func inhibited(at now: Timestamp) -> Bool {
        inhibitedUntil.map { now < $0 } ?? false
    }

    /// Nothing latched, under way, timed or held: with no input changed, evaluating the zone again changes nothing,
    /// so a cycle skips it. Any zone with a latch, a procedure past idle, a step, an inhibit, a walk test, a quiet
    /// period holding records or a panel abort switch is evaluated every cycle.
    var atRest: Bool {
        latched == nil && isolate == .idle && suppress == .idle && powerCut == .idle && running == nil
            && inhibitedUntil == nil && testUntil == nil && quietFlushAt == nil && switches.isEmpty
            && !abortedBySwitch && heldSwitch == nil
    }

    /// The state the plan has reached; see `ZoneState`.
    var derived: ZoneState {
        if powerCut != .idle && hasPowerCut { return .powerCut }
        if suppress == .done { return .suppressed }
        if suppress == .aborted { return isolate == .done ? .isolated : .isolating }
        if latched == .fire { return .suppressing }
        if latched == .alarm { return isolate == .done ? .isolated : .isolating }
        return alertPresent ? .alert : .normal
    }
}

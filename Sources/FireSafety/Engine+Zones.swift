/// Why a zone's state changed, for the record's message and severity.
enum Because: Sendable {
    case signals
    case plan
    case abort(uid: String)
    case reset(uid: String)
    case resume(uid: String)
    case abortSwitch(SourceRef)
    case abortSwitchReleased(SourceRef)
    /// A walk test ended: its latch is cleared.
    case testEnded
}

extension Engine {
    /// Votes the zone's signals, updates latches and overlays, logs changes and advances the plan.
    mutating func evaluateZone(_ zone: Int, at now: Timestamp, into out: inout Output) {
        expireWalkTest(zone, at: now, into: &out)
        let firstRecord = out.records.count
        var alert = false
        var alarm = false
        var fireKinds: UInt64 = 0
        var trouble = false
        for signal in zones[zone].signals {
            let (condition, degraded, saturated) = vote(signal: signal)
            signals[signal].degraded = degraded
            if condition != signals[signal].condition {
                let from = signals[signal].condition
                signals[signal].condition = condition
                out.records.append(signalRecord(signal, from: from, at: now))
            }
            trouble = trouble || degraded || saturated
            switch condition {
            case .fire:
                fireKinds |= signals[signal].kindBit
                alarm = true
                alert = true
            case .alarm:
                alarm = true
                alert = true
            case .alert:
                alert = true
            case .normal, .trouble:
                break
            }
        }
        zones[zone].alertPresent = alert
        if trouble != zones[zone].trouble {
            zones[zone].trouble = trouble
            out.records.append(troubleRecord(zone, entering: trouble, at: now))
        }
        expireInhibit(zone, at: now, into: &out)
        // Tier 3 is the double knock: two different kinds of evidence at fire from devices they do not share;
        // one kind alone, or two kinds one device could fake together, is tier 2.
        let doubleKnock = fireKinds.nonzeroBitCount >= 2 && independentFire(zone)
        let demand: Level? = doubleKnock ? .fire : (alarm ? .alarm : nil)
        if let demand, demand > (zones[zone].latched ?? .alert) {
            zones[zone].latched = demand
        }
        syncState(zone, because: .signals, at: now, into: &out)
        followAbortSwitches(zone, at: now, into: &out)
        advancePlan(zone, at: now, into: &out)
        remind(zone, at: now, into: &out)
        flushQuiet(zone, at: now, into: &out)
        notifyNew(zone, from: firstRecord, at: now, into: &out)
    }

    /// True when two signals of different kinds are at fire on evidence from disjoint sets of devices.
    ///
    /// A signal at fire is put there by any `required` of its healthy members at fire (one when it votes
    /// degraded); the zone needs one such choice for each of two kinds with no device in common, because two
    /// points of one device (a BMS, a combined sensor) fail, or lie, together. Runs only when two kinds are at
    /// fire, so its small allocations never touch a quiet cycle.
    func independentFire(_ zone: Int) -> Bool {
        var witnesses: [(kind: UInt64, devices: [Int])] = []
        for signal in zones[zone].signals where signals[signal].condition == .fire {
            let atFire = signals[signal].members.filter { isHealthy($0) && members[$0].level == .fire }
            let total = signals[signal].members.count
            let required = signals[signal].degraded ? 1 : min(signals[signal].required, total)
            for choice in Self.choices(of: required, from: atFire) {
                var devices: [Int] = []
                for member in choice where !devices.contains(sources[members[member].source].device) {
                    devices.append(sources[members[member].source].device)
                }
                witnesses.append((signals[signal].kindBit, devices))
            }
        }
        for (index, first) in witnesses.enumerated() {
            for second in witnesses[(index + 1)...] where second.kind != first.kind {
                if !first.devices.contains(where: second.devices.contains) { return true }
            }
        }
        return false
    }

    /// Every way to pick `count` of `items` (votes need at most two of three, so this stays tiny).
    static func choices(of count: Int, from items: [Int]) -> [[Int]] {
        guard count > 0 else { return [[]] }
        guard items.count >= count else { return [] }
        var result: [[Int]] = []
        for (index, item) in items.enumerated() {
            for rest in choices(of: count - 1, from: Array(items[(index + 1)...])) { result.append([item] + rest) }
        }
        return result
    }

    /// Logs the zone's state if the plan's state differs from the one last logged.
    mutating func syncState(_ zone: Int, because: Because, at now: Timestamp, into out: inout Output) {
        let from = zones[zone].reported
        let to = zones[zone].derived
        guard from != to else { return }
        zones[zone].reported = to
        if to > from {
            if zones[zone].acknowledged || zones[zone].unacknowledgedSince == nil {
                zones[zone].unacknowledgedSince = now
            }
            zones[zone].acknowledged = false
        }
        out.records.append(stateRecord(zone, from: from, to: to, because: because, at: now))
    }

    /// Runs the zone's plan as far as it can go now: finishes elapsed delays, starts the next step.
    ///
    /// Procedures run one at a time in tier order (isolate, suppress, power_cut), so steps of a zone never
    /// interleave; an inhibit or a walk test holds any procedure that has not started a step.
    mutating func advancePlan(_ zone: Int, at now: Timestamp, into out: inout Output) {
        // Each pass finishes or starts one step; the bound is the total number of steps plus procedures.
        let bound = steps(zone, .isolate).count + steps(zone, .suppress).count + steps(zone, .powerCut).count + 4
        for _ in 0..<bound {
            if let running = zones[zone].running {
                guard let ends = running.delayEnds, now >= ends else { return }
                finishStep(zone, running, outcome: .succeeded, detail: "delay elapsed", at: now, into: &out)
                continue
            }
            if zones[zone].inhibited(at: now) || zones[zone].testUntil != nil { return }
            guard let kind = nextProcedure(zone) else { return }
            startNextStep(zone, kind, at: now, into: &out)
        }
    }

    /// The procedure that should run next, if any.
    func nextProcedure(_ zone: Int) -> ProcedureKind? {
        for kind in ProcedureKind.allCases {
            switch zones[zone].phase(kind) {
            case .running:
                return kind
            case .done:
                continue
            case .aborted:
                return nil
            case .idle:
                let demanded: Bool
                switch kind {
                case .isolate: demanded = zones[zone].latched != nil
                case .suppress: demanded = zones[zone].latched == .fire
                case .powerCut: demanded = zones[zone].suppress == .done
                }
                return demanded ? kind : nil
            }
        }
        return nil
    }

    mutating func startNextStep(_ zone: Int, _ kind: ProcedureKind, at now: Timestamp, into out: inout Output) {
        var next = 0
        if case .running(let index) = zones[zone].phase(kind) { next = index }
        let steps = steps(zone, kind)
        guard next < steps.count else {
            zones[zone].setPhase(kind, .done)
            activeSteps[zone][kind] = nil
            syncState(zone, because: .plan, at: now, into: &out)
            return
        }
        zones[zone].setPhase(kind, .running(next: next))
        // Entering power_cut (and any state the phase change implies) is logged before its first step.
        syncState(zone, because: .plan, at: now, into: &out)
        let step = steps[next]
        var delayEnds: Timestamp? = nil
        if case .delay(let duration, _) = step { delayEnds = now + duration }
        zones[zone].running = RunningStep(procedure: kind, index: next, startedAt: now, delayEnds: delayEnds)
        out.records.append(stepRecord(zone, kind, next, event: .stepStarted, detail: nil, at: now, until: delayEnds))
        if delayEnds == nil {
            out.actions.append(.runStep(zone: model.zones[zone].name, procedure: kind, index: next, step: step))
        }
    }

    /// Logs a step's outcome and moves the procedure on; a failure is escalated but never stops the plan.
    mutating func finishStep(
        _ zone: Int, _ running: RunningStep, outcome: StepOutcome, detail: String, at now: Timestamp,
        into out: inout Output
    ) {
        let event: AlertEvent
        switch outcome {
        case .succeeded: event = .stepSucceeded
        case .failed: event = .stepFailed
        case .skipped: event = .stepSkipped
        }
        out.records.append(stepRecord(zone, running.procedure, running.index, event: event, detail: detail, at: now))
        zones[zone].running = nil
        let next = running.index + 1
        if next >= steps(zone, running.procedure).count {
            zones[zone].setPhase(running.procedure, .done)
            // A procedure that finished on steps a reload had changed: the zone takes the new ones from now on.
            activeSteps[zone][running.procedure] = nil
            syncState(zone, because: .plan, at: now, into: &out)
        } else {
            zones[zone].setPhase(running.procedure, .running(next: next))
        }
    }
}

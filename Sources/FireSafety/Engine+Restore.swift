extension Engine {
    /// Rebuilds an engine after a restart by folding the alert log, oldest record first.
    ///
    /// Restores latched states, plan progress, inhibits (with expiry), acknowledgements, the zone trouble
    /// overlay and the last logged level of every signal. Source values are not restored: the first
    /// `evaluate` after a restart judges fresh readings. A step that was started and never finished is
    /// resumed: the returned `Output` holds a `step.resumed` record for it and, unless it is a delay (which
    /// keeps its original end time), a `runStep` action to perform it again. A procedure that stopped between
    /// steps, or a latched tier whose procedure never started, goes on as the live engine would have.
    /// Records of other zones, refused commands and events the engine does not own are ignored.
    public static func restore(
        model: SiteModel, from records: [AlertRecord], at now: Timestamp, renotifyEvery: Duration = .seconds(300)
    ) -> (Engine, Output) {
        var engine = Engine(model: model, renotifyEvery: renotifyEvery)
        for record in records {
            engine.fold(record)
        }
        var out = Output()
        for zone in engine.zones.indices {
            engine.zones[zone].alertPresent = engine.zones[zone].signals.contains {
                engine.signals[$0].condition.level != nil
            }
            if engine.zones[zone].reported >= .isolating && !engine.zones[zone].acknowledged {
                // Reminders resume one interval after the restart, not at once.
                engine.zones[zone].lastNotified = now
            }
            if let running = engine.zones[zone].running {
                out.records.append(
                    engine.stepRecord(
                        zone, running.procedure, running.index, event: .stepResumed, detail: nil, at: now,
                        until: running.delayEnds))
                if running.delayEnds == nil {
                    out.actions.append(
                        .runStep(
                            zone: engine.model.zones[zone].name, procedure: running.procedure, index: running.index,
                            step: engine.steps(zone, running.procedure)[running.index]))
                }
            }
            engine.expireInhibit(zone, at: now, into: &out)
            engine.advancePlan(zone, at: now, into: &out)
        }
        out.nextDeadline = engine.nextDeadline()
        return (engine, out)
    }

    /// Applies one logged record to the engine's state, the way the live engine changed when it wrote it.
    mutating func fold(_ record: AlertRecord) {
        if record.event == .deviceCommLost || record.event == .deviceCommRestored, let name = record.device,
            let device = devices.firstIndex(where: { $0.name == name })
        {
            devices[device].lost = record.event == .deviceCommLost
            return
        }
        guard record.outcome != "refused", let name = record.zone, let zone = zoneIndexByName[name] else { return }
        switch record.event {
        case .zoneState:
            zones[zone].latched = record.level
            if record.from == "inhibited" {
                zones[zone].inhibitedUntil = nil
                inhibitReasons[zone] = nil
            }
            if record.from == "trouble" { zones[zone].trouble = false }
            if record.to == "trouble" { zones[zone].trouble = true }
            guard let to = record.to.flatMap(ZoneState.init(rawValue:)) else { return }
            if let from = record.from.flatMap(ZoneState.init(rawValue:)), to > from {
                zones[zone].acknowledged = false
            }
            zones[zone].reported = to
            switch to {
            case .isolated:
                if zones[zone].suppress != .aborted { zones[zone].isolate = .done }
            case .suppressed:
                zones[zone].isolate = .done
                zones[zone].suppress = .done
            case .powerCut:
                zones[zone].isolate = .done
                zones[zone].suppress = .done
                if zones[zone].powerCut == .idle { zones[zone].powerCut = .running(next: 0) }
            case .normal, .alert, .isolating, .suppressing:
                break
            }
        case .signalLevel:
            guard let signal = zones[zone].signals.first(where: { signalSpecs[$0].name == record.signal }),
                let condition = record.to.flatMap(SignalCondition.init(rawValue:))
            else { return }
            signals[signal].condition = condition
        case .stepStarted, .stepResumed:
            guard let kind = record.procedure, let index = record.step, index >= 0,
                index < steps(zone, kind).count
            else { return }
            zones[zone].setPhase(kind, .running(next: index))
            var startedAt = record.time
            if let running = zones[zone].running, running.procedure == kind, running.index == index {
                startedAt = running.startedAt
            }
            var delayEnds: Timestamp? = nil
            if case .delay(let duration, _) = steps(zone, kind)[index] {
                delayEnds = record.until ?? startedAt + duration
            }
            zones[zone].running = RunningStep(
                procedure: kind, index: index, startedAt: startedAt, delayEnds: delayEnds)
        case .stepSucceeded, .stepFailed, .stepSkipped:
            guard let kind = record.procedure, let index = record.step, let running = zones[zone].running,
                running.procedure == kind, running.index == index
            else { return }
            zones[zone].running = nil
            let next = index + 1
            zones[zone].setPhase(kind, next >= steps(zone, kind).count ? .done : .running(next: next))
        case .stepAborted:
            if let running = zones[zone].running, running.procedure == record.procedure,
                running.index == record.step
            {
                zones[zone].running = nil
            }
        case .operatorAbort:
            // Also undoes a countdown whose `step.aborted` line a crash kept out of the log.
            zones[zone].suppress = .aborted
            zones[zone].abortedAt = record.step ?? 0
            zones[zone].abortedBySwitch = record.uid == nil && record.device != nil
            if zones[zone].running?.procedure == .suppress { zones[zone].running = nil }
        case .operatorResume:
            if zones[zone].suppress == .aborted { zones[zone].suppress = .running(next: record.step ?? 0) }
            zones[zone].abortedBySwitch = false
        case .operatorReset:
            // The `zone.state` line that follows says the same; this holds if a crash cut it off.
            zones[zone].latched = nil
            zones[zone].isolate = .idle
            zones[zone].suppress = .idle
            zones[zone].powerCut = .idle
            zones[zone].acknowledged = false
            zones[zone].abortedBySwitch = false
        case .operatorAck:
            zones[zone].acknowledged = true
        case .operatorInhibit:
            zones[zone].inhibitedUntil = record.until
            inhibitReasons[zone] = record.reason
        case .operatorEnable:
            zones[zone].inhibitedUntil = nil
            inhibitReasons[zone] = nil
        default:
            break
        }
    }

    /// Ends an inhibit whose time has come, and logs it.
    mutating func expireInhibit(_ zone: Int, at now: Timestamp, into out: inout Output) {
        guard let until = zones[zone].inhibitedUntil, now >= until else { return }
        zones[zone].inhibitedUntil = nil
        inhibitReasons[zone] = nil
        let state = zones[zone].reported
        out.records.append(
            zoneRecord(
                zone, severity: max(state.severity, .alert), from: "inhibited", to: state.rawValue,
                message: "inhibit of \(model.zones[zone].name) expired — actuation armed again", at: now))
    }
}

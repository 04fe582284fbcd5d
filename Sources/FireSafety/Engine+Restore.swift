extension Engine {
    /// Rebuilds an engine after a restart by folding the alert log, oldest record first.
    public static func restore(
        model: SiteModel, from records: [AlertRecord], at now: Timestamp
    ) -> (Engine, Output) {
        restore(model: model, from: EngineCheckpoint(folding: records), at: now)
    }

    /// Rebuilds an engine after a restart from the state the alert log holds.
    ///
    /// Restores latched states, plan progress, inhibits and walk tests (with expiry), aborts, acknowledgements, the zone trouble
    /// overlay and the last logged level of every signal. Source values are not restored: the first `evaluate`
    /// judges fresh readings. Procedure progress is matched to `model` by step identity (`step_text`), never by
    /// index:
    /// - a step under way is resumed where the new configuration has it (`step.resumed`, with its reason): a
    ///   countdown starts over with its full duration (people in the room get the whole warning again and an
    ///   operator can still abort), a command is handed on again (the actuator reads before it writes again);
    /// - a step under way that the configuration no longer has is `step.failed` ("configuration changed while it
    ///   ran"), escalated, and the rest of that procedure is not guessed: it ends there;
    /// - a procedure stopped between steps goes on after its last finished step, found the same way.
    /// Zones the model does not have are ignored.
    public static func restore(
        model: SiteModel, from state: EngineCheckpoint, at now: Timestamp
    ) -> (Engine, Output) {
        var engine = Engine(model: model)
        var out = Output()
        for device in engine.devices.indices where state.lostDevices.contains(engine.devices[device].name) {
            engine.devices[device].lost = true
        }
        for saved in state.zones {
            guard let zone = engine.zoneIndexByName[saved.name] else { continue }
            engine.take(saved, zone: zone, at: now, into: &out)
        }
        for zone in engine.zones.indices {
            engine.expireInhibit(zone, at: now, into: &out)
            engine.expireWalkTest(zone, at: now, into: &out)
            engine.advancePlan(zone, at: now, into: &out)
        }
        engine.markWalkTests(&out, from: (0, 0))
        out.nextDeadline = engine.nextDeadline()
        return (engine, out)
    }

    private mutating func take(_ saved: EngineCheckpoint.Zone, zone: Int, at now: Timestamp, into out: inout Output) {
        zones[zone].latched = saved.latched
        zones[zone].reported = saved.state
        zones[zone].trouble = saved.trouble
        zones[zone].acknowledged = saved.acknowledged
        zones[zone].unacknowledgedSince = saved.acknowledged ? nil : saved.unacknowledgedSince
        zones[zone].inhibitedUntil = saved.inhibitedUntil
        inhibitReasons[zone] = saved.inhibitReason
        if let until = saved.testUntil {
            zones[zone].testUntil = until
            walkTests[zone] = WalkTest(uid: saved.testUid ?? "", user: saved.testUser, reason: saved.testReason ?? "")
        }
        for signal in zones[zone].signals {
            if let condition = saved.signals[signalSpecs[signal].name] { signals[signal].condition = condition }
        }
        zones[zone].alertPresent = zones[zone].signals.contains { signals[$0].condition.level != nil }
        if zones[zone].reported >= .isolating && !zones[zone].acknowledged {
            // Reminders resume one interval after the restart, not at once.
            zones[zone].lastNotified = now
        }
        for kind in ProcedureKind.allCases {
            let progress = saved[kind]
            switch progress.phase {
            case .idle: zones[zone].setPhase(kind, .idle)
            case .done: zones[zone].setPhase(kind, .done)
            case .aborted:
                zones[zone].setPhase(kind, .aborted)
                // `resume` goes on after the last step that finished, found by identity.
                let steps = steps(zone, kind)
                zones[zone].abortedAt = progress.done.last.flatMap { last in
                    Self.index(of: last, occurrence: progress.done.filter { $0 == last }.count, in: steps)
                }.map { min($0 + 1, max(steps.count - 1, 0)) } ?? 0
                zones[zone].abortedBySwitch = saved.abortedBySwitch
            case .running: resume(progress, kind, zone: zone, at: now, into: &out)
            }
        }
    }

    /// Places a procedure that was under way onto the model's steps by identity.
    private mutating func resume(
        _ progress: EngineCheckpoint.Progress, _ kind: ProcedureKind, zone: Int, at now: Timestamp,
        into out: inout Output
    ) {
        let steps = steps(zone, kind)
        if let text = progress.running {
            let occurrence = progress.done.filter { $0 == text }.count + 1
            guard let index = Self.index(of: text, occurrence: occurrence, in: steps) else {
                configurationChanged(zone, kind, stepText: text, at: now, into: &out)
                return
            }
            zones[zone].setPhase(kind, .running(next: index))
            // Procedures run one at a time; a second one "under way" (a damaged log) starts at this step later.
            guard zones[zone].running == nil else { return }
            let step = steps[index]
            var delayEnds: Timestamp? = nil
            let reason: String
            if case .delay(let duration, _) = step {
                delayEnds = now + duration
                reason =
                    "the daemon stopped while this \(spoken(duration)) countdown ran; it starts over with its full "
                    + "duration so people in the room get the whole warning again and an operator can still abort"
            } else {
                reason = "the daemon stopped while this step ran; it is performed again (a command first reads "
                    + "back whether the device already shows it)"
            }
            zones[zone].running = RunningStep(procedure: kind, index: index, startedAt: now, delayEnds: delayEnds)
            var record = stepRecord(zone, kind, index, event: .stepResumed, detail: nil, at: now, until: delayEnds)
            record.reason = reason
            out.records.append(record)
            if delayEnds == nil {
                out.actions.append(
                    .runStep(zone: model.zones[zone].name, procedure: kind, index: index, step: step))
            }
            return
        }
        guard let last = progress.done.last else {
            zones[zone].setPhase(kind, .running(next: 0))
            return
        }
        let occurrence = progress.done.filter { $0 == last }.count
        guard let index = Self.index(of: last, occurrence: occurrence, in: steps) else {
            configurationChanged(zone, kind, stepText: last, at: now, into: &out)
            return
        }
        // `advancePlan` starts the next step (an inhibit may hold it); after the last step the procedure is done.
        zones[zone].setPhase(kind, index + 1 < steps.count ? .running(next: index + 1) : .done)
    }

    /// The index of the `occurrence`-th (1-based) step whose identity is `text`.
    static func index(of text: String, occurrence: Int, in steps: [Step]) -> Int? {
        var seen = 0
        for (index, step) in steps.enumerated() where step.description == text {
            seen += 1
            if seen == occurrence { return index }
        }
        return nil
    }

    /// The log says a step of this procedure was under way (or last finished), and the configuration no longer
    /// has it: nothing else is guessed. The procedure ends there, failed and escalated.
    private mutating func configurationChanged(
        _ zone: Int, _ kind: ProcedureKind, stepText: String, at now: Timestamp, into out: inout Output
    ) {
        zones[zone].setPhase(kind, .done)
        let name = model.zones[zone].name
        let record = AlertRecord(
            time: now, site: model.site, zone: name, severity: .fire, event: .stepFailed,
            message: "\(kind.rawValue) in \(name) was at step `\(stepText)` when the daemon stopped, and the "
                + "configuration no longer has that step: FAILED (configuration changed while it ran) — escalated; "
                + "the rest of \(kind.rawValue) is not guessed, check the zone and act by hand",
            procedure: kind, stepText: stepText, reason: "configuration changed while it ran",
            detail: "configuration changed while it ran")
        out.records.append(record)
        out.actions.append(.notify(record))
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

    // MARK: - Reload

    /// The engine for a reloaded configuration, carrying this one's state over by zone and signal name.
    ///
    /// A procedure under way (or aborted and not yet reset) finishes on the steps it started with, even where the
    /// new configuration changed them; everything else — signals, thresholds, votes, the procedures that have not
    /// started — takes the new configuration at once. Returns the zones whose procedure keeps older steps, for the
    /// `daemon.config_reloaded` record. Source values are not carried: the first evaluation judges fresh readings.
    public func reloaded(with newModel: SiteModel) -> (engine: Engine, waiting: [String]) {
        var engine = Engine(model: newModel)
        var waiting: [String] = []
        for device in engine.devices.indices {
            if let old = devices.first(where: { $0.name == engine.devices[device].name }) {
                engine.devices[device].lost = old.lost
            }
        }
        for (zone, spec) in newModel.zones.enumerated() {
            guard let old = zoneIndexByName[spec.name] else { continue }
            let carried = zones[old]
            engine.zones[zone].latched = carried.latched
            engine.zones[zone].alertPresent = carried.alertPresent
            engine.zones[zone].isolate = carried.isolate
            engine.zones[zone].suppress = carried.suppress
            engine.zones[zone].powerCut = carried.powerCut
            engine.zones[zone].running = carried.running
            engine.zones[zone].reported = carried.reported
            engine.zones[zone].trouble = carried.trouble
            engine.zones[zone].inhibitedUntil = carried.inhibitedUntil
            engine.zones[zone].acknowledged = carried.acknowledged
            engine.zones[zone].unacknowledgedSince = carried.unacknowledgedSince
            engine.zones[zone].lastNotified = carried.lastNotified
            engine.zones[zone].quiet = carried.quiet
            engine.zones[zone].quietFlushAt = carried.quietFlushAt
            engine.zones[zone].abortedAt = carried.abortedAt
            engine.zones[zone].abortedBySwitch = carried.abortedBySwitch
            engine.inhibitReasons[zone] = inhibitReasons[old]
            engine.zones[zone].testUntil = carried.testUntil
            engine.walkTests[zone] = walkTests[old]
            var keeps = false
            for kind in ProcedureKind.allCases {
                switch carried.phase(kind) {
                case .running, .aborted:
                    let started = steps(old, kind)
                    engine.activeSteps[zone][kind] = started
                    if started != engine.modelSteps(zone, kind) { keeps = true }
                case .idle, .done:
                    break
                }
            }
            if keeps { waiting.append(spec.name) }
            for signal in engine.zones[zone].signals {
                let name = engine.signalSpecs[signal].name
                guard let before = zones[old].signals.first(where: { signalSpecs[$0].name == name }) else { continue }
                engine.signals[signal].condition = signals[before].condition
                engine.signals[signal].degraded = signals[before].degraded
            }
        }
        return (engine, waiting)
    }
}

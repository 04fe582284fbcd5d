extension Engine {
    /// Applies an operator command. A refused command changes nothing, is logged as `outcome: refused`, and
    /// `Output.refused` says why in words the operator can act on.
    ///
    /// - Parameter user: the user name of `command.uid`, when the system knows one: records then name the operator
    ///   as `root (uid 0)` and carry it in `user`.
    public mutating func command(_ command: OperatorCommand, user: String? = nil, at now: Timestamp) -> Output {
        var out = Output()
        guard let zone = zoneIndexByName[command.zone] else {
            out.refused =
                "no zone named \(command.zone); zones are "
                + model.zones.map(\.name).joined(separator: ", ")
            out.nextDeadline = nextDeadline()
            return out
        }
        let firstRecord = out.records.count
        if let reason = refusal(of: command, zone: zone, at: now) {
            out.refused = reason
            out.records.append(operatorRecord(zone, command, refused: reason, at: now, user: user))
            markWalkTests(&out, from: (0, 0))
            out.nextDeadline = nextDeadline()
            return out
        }
        let who = operatorName(uid: command.uid, user: user)
        switch command {
        case .ack:
            out.records.append(operatorRecord(zone, command, refused: nil, at: now, user: user))
            zones[zone].acknowledged = true
            zones[zone].unacknowledgedSince = nil
        case .reset:
            out.records.append(operatorRecord(zone, command, refused: nil, at: now, user: user))
            clearLatches(zone)
            syncState(zone, because: .reset(uid: who), at: now, into: &out)
        case .abort:
            abortSuppression(
                zone, operatorRecord(zone, command, refused: nil, at: now, user: user), by: who, bySwitch: false,
                because: .abort(uid: who), at: now, into: &out)
        case .resume:
            resumeSuppression(
                zone, operatorRecord(zone, command, refused: nil, at: now, user: user), because: .resume(uid: who),
                at: now, into: &out)
        case .inhibit(_, _, let duration, let reason):
            let until = now + duration
            out.records.append(operatorRecord(zone, command, refused: nil, at: now, until: until, user: user))
            zones[zone].inhibitedUntil = until
            inhibitReasons[zone] = reason
        case .enable:
            out.records.append(operatorRecord(zone, command, refused: nil, at: now, user: user))
            zones[zone].inhibitedUntil = nil
            inhibitReasons[zone] = nil
            advancePlan(zone, at: now, into: &out)
        case .test(_, _, let duration, let reason):
            startWalkTest(zone, command, duration: duration, reason: reason, user: user, at: now, into: &out)
        case .endTest:
            endWalkTest(zone, operatorRecord(zone, command, refused: nil, at: now, user: user), at: now, into: &out)
            // Judged afresh at once: a signal still at alarm latches now, for real.
            evaluateZone(zone, at: now, into: &out)
        }
        notifyNew(zone, from: firstRecord, at: now, into: &out)
        markWalkTests(&out, from: (firstRecord, 0))
        // A command can take a zone off rest (an inhibit, a walk test): cycles and deadlines must see it.
        if !zones[zone].atRest { watch(zone) }
        out.nextDeadline = nextDeadline()
        return out
    }

    /// Why a command cannot be applied now, or nil.
    func refusal(of command: OperatorCommand, zone: Int, at now: Timestamp) -> String? {
        if let refusal = walkTestRefusal(of: command, zone: zone) { return refusal }
        let runtime = zones[zone]
        let name = model.zones[zone].name
        switch command {
        case .ack:
            if runtime.reported == .normal && !runtime.trouble {
                return "\(name) is normal with no trouble; there is nothing to acknowledge"
            }
        case .reset:
            if runtime.latched == nil && runtime.suppress != .aborted {
                return "\(name) has nothing latched (it is \(runtime.reported.rawValue)); alerts clear by themselves"
            }
            var causes: [String] = []
            for signal in runtime.signals {
                switch signals[signal].condition {
                case .alarm, .fire:
                    causes.append(describe(signal))
                case .trouble:
                    causes.append("\(signalSpecs[signal].name) has no healthy source, so its cause cannot be ruled out")
                case .normal, .alert:
                    break
                }
            }
            if !causes.isEmpty {
                return "the cause is still present in \(name): " + causes.joined(separator: "; ")
            }
            if let running = runtime.running {
                return "step \(running.index + 1) of \(running.procedure.rawValue) in \(name) is still running "
                    + "(\(steps(zone, running.procedure)[running.index])); reset once it has finished"
            }
        case .abort:
            // An abort a switch holds becomes the operator's: it stays when the switch is let go.
            if runtime.suppress == .aborted && runtime.abortedBySwitch { return nil }
            guard runtime.reported == .suppressing else {
                return "\(name) is \(runtime.reported.rawValue), not in a pre-discharge countdown; nothing to abort"
            }
            guard
                let last = steps(zone, .suppress).lastIndex(where: {
                    if case .delay(_, true) = $0 { return true }
                    return false
                })
            else {
                return "the suppress procedure of \(name) has no abortable delay, so it cannot be aborted"
            }
            if case .running(let next) = runtime.suppress, next > last {
                return "too late: suppression in \(name) is past its countdown "
                    + "(step \(next + 1), \(steps(zone, .suppress)[next]))"
            }
        case .resume:
            guard runtime.suppress == .aborted else {
                return "\(name) has no aborted suppression to resume (it is \(runtime.reported.rawValue))"
            }
            if let held = runtime.heldSwitch {
                return "the abort switch \(sources[abortSwitches[held].slot].ref) is held in \(name); suppression "
                    + "resumes by itself, with its countdown in full, when it is let go"
            }
            if let until = runtime.inhibitedUntil, runtime.inhibited(at: now) {
                return "\(name) is inhibited until \(until); `firewatch enable \(name)` first, then resume"
            }
        case .inhibit(_, _, let duration, _):
            if duration <= .zero {
                return "an inhibit needs a positive duration (for example --for 2h)"
            }
            for kind in ProcedureKind.allCases {
                if case .running(let next) = runtime.phase(kind) {
                    return "\(kind.rawValue) is under way in \(name) (step \(next + 1)); an inhibit cannot stop a "
                        + "procedure mid-way" + (kind == .suppress ? " — use `firewatch abort \(name)`" : "")
                }
            }
        case .enable:
            if !runtime.inhibited(at: now) {
                return "\(name) is not inhibited"
            }
        case .test(_, _, let duration, _):
            if duration <= .zero {
                return "a walk test needs a positive duration (for example --for 1h)"
            }
            // Extending a test under way is fine; starting one needs a zone with nothing latched or under way.
            if runtime.testUntil != nil { return nil }
            if runtime.inhibited(at: now) {
                return "\(name) is inhibited; `firewatch enable \(name)` first (a walk test holds actuation itself)"
            }
            if let latched = runtime.latched {
                return "\(name) has \(latched) latched (it is \(runtime.reported.rawValue)); a walk test starts on a "
                    + "zone with nothing latched — deal with it and `firewatch reset \(name)` first"
            }
            for kind in ProcedureKind.allCases where runtime.phase(kind) != .idle {
                return "\(kind.rawValue) of \(name) is \(runtime.phase(kind) == .aborted ? "aborted" : "under way"); "
                    + "a walk test starts on a zone with nothing under way — `firewatch reset \(name)` first"
            }
        case .endTest:
            if runtime.testUntil == nil {
                return "\(name) is not in a walk test"
            }
        }
        return nil
    }

    /// The runtime reports how a `command`, `run` or `notify` step ended; the plan goes on with the next step.
    ///
    /// A report for a step that is not the zone's running step (already aborted, or a duplicate) is refused
    /// and changes nothing.
    public mutating func stepFinished(
        zone name: String, procedure: ProcedureKind, index: Int, outcome: StepOutcome, detail: String,
        at now: Timestamp
    ) -> Output {
        var out = Output()
        guard let zone = zoneIndexByName[name] else {
            out.refused = "no zone named \(name)"
            return out
        }
        guard let running = zones[zone].running, running.procedure == procedure, running.index == index,
            running.delayEnds == nil
        else {
            out.refused = "step \(index + 1) of \(procedure.rawValue) is not running in \(name)"
            out.nextDeadline = nextDeadline()
            return out
        }
        let firstRecord = out.records.count
        finishStep(zone, running, outcome: outcome, detail: detail, at: now, into: &out)
        advancePlan(zone, at: now, into: &out)
        notifyNew(zone, from: firstRecord, at: now, into: &out)
        out.nextDeadline = nextDeadline()
        return out
    }

    /// The runtime is about to write a `command` step again (attempt `attempt` of `attempts`) because the last
    /// attempt failed with `problem`: a `step.retried` record, to be logged before that write.
    ///
    /// Refused, with no record, when the step is not the zone's running step (aborted or cancelled meanwhile):
    /// then the runtime must not write.
    public mutating func stepRetrying(
        zone name: String, procedure: ProcedureKind, index: Int, attempt: Int, of attempts: Int, problem: String,
        at now: Timestamp
    ) -> Output {
        var out = Output()
        guard let zone = zoneIndexByName[name], let running = zones[zone].running, running.procedure == procedure,
            running.index == index, running.delayEnds == nil
        else {
            out.refused = "step \(index + 1) of \(procedure.rawValue) is not running in \(name); not retried"
            out.nextDeadline = nextDeadline()
            return out
        }
        out.records.append(
            stepRecord(
                zone, procedure, index, event: .stepRetried,
                detail: "attempt \(attempt) of \(attempts); the last one: \(problem)", at: now))
        out.nextDeadline = nextDeadline()
        return out
    }

    /// Stops the zone's suppression where it stands (logging `record`, the abort, first) and holds it aborted.
    mutating func abortSuppression(
        _ zone: Int, _ record: AlertRecord, by who: String, bySwitch: Bool, because: Because, at now: Timestamp,
        into out: inout Output
    ) {
        var at = 0
        if let running = zones[zone].running, running.procedure == .suppress {
            at = running.index
        } else if case .running(let next) = zones[zone].suppress {
            at = next
        } else if zones[zone].suppress == .aborted {
            at = zones[zone].abortedAt
        }
        var record = record
        record.procedure = .suppress
        record.step = at
        out.records.append(record)
        if let running = zones[zone].running, running.procedure == .suppress {
            out.records.append(
                stepRecord(zone, .suppress, running.index, event: .stepAborted, detail: "aborted by \(who)", at: now))
            out.actions.append(.cancelStep(zone: model.zones[zone].name, procedure: .suppress, index: running.index))
            zones[zone].running = nil
        }
        zones[zone].suppress = .aborted
        zones[zone].abortedAt = at
        zones[zone].abortedBySwitch = bySwitch
        syncState(zone, because: because, at: now, into: &out)
    }

    /// Takes an abort back: suppression goes on from the step it stopped at, so a countdown runs in full again.
    mutating func resumeSuppression(
        _ zone: Int, _ record: AlertRecord, because: Because, at now: Timestamp, into out: inout Output
    ) {
        var record = record
        record.procedure = .suppress
        record.step = zones[zone].abortedAt
        out.records.append(record)
        zones[zone].suppress = .running(next: zones[zone].abortedAt)
        zones[zone].abortedBySwitch = false
        syncState(zone, because: because, at: now, into: &out)
        advancePlan(zone, at: now, into: &out)
    }

    /// How records name an operator: `root (uid 0)`, `uid 1234` without a known name, or a test's name as given.
    func operatorName(uid: String, user: String?) -> String {
        if let user, !user.isEmpty, user != uid { return "\(user) (uid \(uid))" }
        return !uid.isEmpty && uid.allSatisfy(\.isNumber) ? "uid \(uid)" : uid
    }
}

extension Engine {
    /// Applies an operator command. A refused command changes nothing, is logged as `outcome: refused`, and
    /// `Output.refused` says why in words the operator can act on.
    public mutating func command(_ command: OperatorCommand, at now: Timestamp) -> Output {
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
            out.records.append(operatorRecord(zone, command, refused: reason, at: now))
            out.nextDeadline = nextDeadline()
            return out
        }
        switch command {
        case .ack:
            out.records.append(operatorRecord(zone, command, refused: nil, at: now))
            zones[zone].acknowledged = true
        case .reset(_, let uid):
            out.records.append(operatorRecord(zone, command, refused: nil, at: now))
            zones[zone].latched = nil
            zones[zone].isolate = .idle
            zones[zone].suppress = .idle
            zones[zone].powerCut = .idle
            zones[zone].acknowledged = false
            activeSteps[zone] = [:]
            syncState(zone, because: .reset(uid: uid), at: now, into: &out)
        case .abort(_, let uid):
            out.records.append(operatorRecord(zone, command, refused: nil, at: now))
            if let running = zones[zone].running, running.procedure == .suppress {
                out.records.append(
                    stepRecord(
                        zone, .suppress, running.index, event: .stepAborted, detail: "aborted by \(uid)", at: now))
                out.actions.append(
                    .cancelStep(zone: model.zones[zone].name, procedure: .suppress, index: running.index))
                zones[zone].running = nil
            }
            zones[zone].suppress = .aborted
            syncState(zone, because: .abort(uid: uid), at: now, into: &out)
        case .inhibit(_, _, let duration, let reason):
            let until = now + duration
            out.records.append(operatorRecord(zone, command, refused: nil, at: now, until: until))
            zones[zone].inhibitedUntil = until
            inhibitReasons[zone] = reason
        case .enable:
            out.records.append(operatorRecord(zone, command, refused: nil, at: now))
            zones[zone].inhibitedUntil = nil
            inhibitReasons[zone] = nil
            advancePlan(zone, at: now, into: &out)
        }
        notifyNew(zone, from: firstRecord, at: now, into: &out)
        out.nextDeadline = nextDeadline()
        return out
    }

    /// Why a command cannot be applied now, or nil.
    func refusal(of command: OperatorCommand, zone: Int, at now: Timestamp) -> String? {
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
}

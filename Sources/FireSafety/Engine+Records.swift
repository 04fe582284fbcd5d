/// Record builders and the operator-facing wording. Only called when something changed, so string work here
/// never runs on a quiet cycle.
extension Engine {
    func zoneRecord(
        _ zone: Int, severity: Severity, event: AlertEvent = .zoneState, from: String? = nil, to: String? = nil,
        message: String, at now: Timestamp
    ) -> AlertRecord {
        AlertRecord(
            time: now, site: model.site, zone: model.zones[zone].name, severity: severity, event: event, from: from,
            to: to, message: message, level: zones[zone].latched)
    }

    func commRecord(device: Int, lost: Bool, reason: String?, at time: Timestamp) -> AlertRecord {
        let names = devices[device].zoneNames
        let name = devices[device].name
        let zoneText = names.isEmpty ? "" : " (\(names.joined(separator: ", ")))"
        return AlertRecord(
            time: time, site: model.site, zone: names.count == 1 ? names[0] : nil,
            severity: lost ? .trouble : .info, event: lost ? .deviceCommLost : .deviceCommRestored, device: name,
            message: lost
                ? "lost contact with \(name)\(zoneText): \(reason ?? "no answer") — its points are trouble until it "
                    + "answers"
                : "contact with \(name)\(zoneText) restored",
            reason: reason)
    }

    func pointRecord(slot: Int, event: AlertEvent, reason: String, at time: Timestamp) -> AlertRecord {
        let source = sources[slot]
        let what = event == .pointStale ? "stale" : "invalid"
        let zoneText = source.zoneName.map { " in \($0)" } ?? ""
        return AlertRecord(
            time: time, site: model.site, zone: source.zoneName, severity: .trouble, event: event,
            device: source.ref.device, point: pointName(source.ref), value: nil,
            message: "\(source.ref) is \(what)\(zoneText): \(reason) — treated as trouble, never as normal",
            reason: reason)
    }

    /// `point.invalid`, because the contract's events are fixed and consumers already treat it as "this point's
    /// reading is not its face value"; the message and `reason` say it still counts, as the top of its range.
    func aboveRangeRecord(slot: Int, reading: Double, top: Double, at time: Timestamp) -> AlertRecord {
        let source = sources[slot]
        let unit = unitText(slot)
        let zoneText = source.zoneName.map { " in \($0)" } ?? ""
        let reason = "above range: \(rounded(reading))\(unit) is past the top of its range (\(rounded(top))\(unit))"
        return AlertRecord(
            time: time, site: model.site, zone: source.zoneName, severity: .trouble, event: .pointInvalid,
            device: source.ref.device, point: pointName(source.ref), value: Value.number(reading).description,
            message: "\(source.ref) reads above its range\(zoneText): \(rounded(reading))\(unit) on a sensor that "
                + "reads to \(rounded(top))\(unit) — counted as at least \(rounded(top))\(unit) for its thresholds "
                + "and treated as trouble (check the sensor, or use one whose range covers the room)",
            reason: reason)
    }

    /// " °C" for a source's first signal with a unit, for messages.
    func unitText(_ slot: Int) -> String {
        let unit = sources[slot].members.lazy.compactMap { self.signalSpecs[self.members[$0].signal].unit }.first
        return unit.map { $0 == "%" ? $0 : " \($0)" } ?? ""
    }

    func signalRecord(_ index: Int, from: SignalCondition, at now: Timestamp) -> AlertRecord {
        let signal = signals[index]
        let zoneName = model.zones[signal.zone].name
        let to = signal.condition
        var record = AlertRecord(
            time: now, site: model.site, zone: zoneName, severity: to.severity, event: .signalLevel,
            from: from.rawValue, to: to.rawValue, message: "", signal: signalSpecs[index].name, level: to.level)
        switch to {
        case .trouble:
            record.message =
                noHealthySource(index) + " — \(signalSpecs[index].name) cannot be judged (trouble, not normal)"
        case .normal:
            record.message =
                from == .trouble
                ? "\(signalSpecs[index].name) readable again in \(zoneName): normal"
                : "\(signalSpecs[index].name) back to normal in \(zoneName)"
        case .alert, .alarm, .fire:
            record.message = "\(describe(index)) in \(zoneName)"
            if let member = decidingMember(index), let value = sources[members[member].source].value {
                let ref = sources[members[member].source].ref
                record.device = ref.device
                record.point = pointName(ref)
                record.value = value.description
            }
        }
        return record
    }

    func troubleRecord(_ zone: Int, entering: Bool, at now: Timestamp) -> AlertRecord {
        let name = model.zones[zone].name
        let state = zones[zone].reported.rawValue
        guard entering else {
            return zoneRecord(
                zone, severity: .info, from: "trouble", to: state,
                message: "trouble cleared in \(name): every signal votes on all its sources, each within its range",
                at: now)
        }
        // One line an operator can read: which signals cannot be judged, then how the degraded ones vote.
        // The per-source reasons are in the signal.level records just before this one.
        var problems: [String] = []
        let blind = zones[zone].signals.filter { signals[$0].degraded && signals[$0].condition == .trouble }
        if !blind.isEmpty {
            let names = blind.map { signalSpecs[$0].name }.joined(separator: ", ")
            problems.append("no healthy source for \(names)")
        }
        for signal in zones[zone].signals where signals[signal].degraded {
            if signals[signal].condition == .trouble {
                continue
            } else {
                let healthy = signals[signal].members.filter(isHealthy).count
                problems.append(
                    "\(signalSpecs[signal].name) votes on \(healthy) of \(signals[signal].members.count) sources, "
                        + "any one deciding (\(faultList(signal)))")
            }
        }
        let pinned = zones[zone].signals.flatMap { signal in
            signals[signal].members.filter { isHealthy($0) && live[members[$0].source].saturated }
        }
        for member in pinned {
            let slot = members[member].source
            let top = sources[slot].value.map { rounded(Self.number($0)) } ?? "?"
            problems.append("\(sources[slot].ref) reads above its range (counted as at least \(top)\(unitText(slot)))")
        }
        return zoneRecord(
            zone, severity: .trouble, from: state, to: "trouble",
            message: "trouble in \(name): " + problems.joined(separator: "; "), at: now)
    }

    func stateRecord(_ zone: Int, from: ZoneState, to: ZoneState, because: Because, at now: Timestamp)
        -> AlertRecord
    {
        let name = model.zones[zone].name
        let severity: Severity
        let message: String
        switch because {
        case .signals:
            // Name only the evidence that decided this tier, not every signal that is up.
            let minimum: Level = to >= .suppressing ? .fire : (to >= .isolating ? .alarm : .alert)
            let causes = causeList(zone, minimum: minimum)
            let head = causes.isEmpty ? "\(name) \(from.rawValue) → \(to.rawValue)" : causes + " in \(name)"
            severity = to > from ? to.severity : .info
            message = head + " — " + consequence(zone, to)
        case .plan:
            severity = to.severity
            message = "\(name) \(from.rawValue) → \(to.rawValue) — " + consequence(zone, to)
        case .abort(let uid):
            severity = .fire
            message =
                "suppression of \(name) aborted by \(uid) — held \(to.rawValue)\(causeSuffix(zone)); "
                + "`firewatch resume \(name)` restarts its countdown in full, a reset clears it"
        case .abortSwitch(let ref):
            severity = .fire
            message =
                "suppression of \(name) stopped by its abort switch \(ref) — held \(to.rawValue)\(causeSuffix(zone)) "
                + "while the switch is held; let go, the countdown restarts in full"
        case .resume(let uid):
            severity = .fire
            message = "suppression of \(name) resumed by \(uid) — " + consequence(zone, to)
        case .abortSwitchReleased(let ref):
            severity = .fire
            message = "abort switch \(ref) of \(name) let go — " + consequence(zone, to)
        case .reset(let uid):
            severity = .info
            message = "\(name) reset by \(uid) — now \(to.rawValue)"
        case .testEnded:
            severity = .info
            message = "\(name) \(from.rawValue) → \(to.rawValue) — the walk test's latch is cleared"
        }
        var record = zoneRecord(
            zone, severity: severity, from: from.rawValue, to: to.rawValue, message: message, at: now)
        if let member = zones[zone].signals.lazy.compactMap(decidingMember).first,
            let value = sources[members[member].source].value, to >= .alert
        {
            let ref = sources[members[member].source].ref
            record.device = ref.device
            record.point = pointName(ref)
            record.value = value.description
        }
        return record
    }

    func stepRecord(
        _ zone: Int, _ kind: ProcedureKind, _ index: Int, event: AlertEvent, detail: String?, at now: Timestamp,
        until: Timestamp? = nil
    ) -> AlertRecord {
        let name = model.zones[zone].name
        let steps = steps(zone, kind)
        let step = steps[index]
        let tier: Severity = kind == .isolate ? .alarm : .fire
        let position = "step \(index + 1) of \(steps.count) of \(kind.rawValue) in \(name) (\(step))"
        let message: String
        var severity = tier
        switch event {
        case .stepStarted:
            if case .delay(let duration, let abortable) = step {
                message =
                    "\(position): waiting \(spoken(duration))"
                    + (abortable ? " — `firewatch abort \(name)` stops it" : "")
            } else {
                message = "\(position) started"
            }
        case .stepResumed:
            message = "\(position) resumed after a restart"
        case .stepRetried:
            message = "\(position) retried" + (detail.map { ": \($0)" } ?? "")
        case .stepSucceeded:
            message = "\(position) succeeded" + (detail.map { ": \($0)" } ?? "")
        case .stepSkipped:
            message = "\(position) skipped" + (detail.map { ": \($0)" } ?? "")
        case .stepFailed:
            severity = .fire
            let rest = index + 1 < steps.count ? "going on with step \(index + 2)" : "that was the last step"
            message = "\(position) FAILED" + (detail.map { ": \($0)" } ?? "") + " — escalated; \(rest)"
        case .stepAborted:
            message = "\(position) aborted"
        default:
            message = position
        }
        var record = AlertRecord(
            time: now, site: model.site, zone: name, severity: severity, event: event, message: message,
            procedure: kind, step: index, stepText: step.description, until: until, detail: detail)
        if case .command(let device, _) = step { record.device = device }
        return record
    }

    func operatorRecord(
        _ zone: Int, _ command: OperatorCommand, refused: String?, at now: Timestamp, until: Timestamp? = nil,
        user: String? = nil
    ) -> AlertRecord {
        let name = model.zones[zone].name
        let event: AlertEvent
        let verb: String
        var severity = Severity.info
        var reason: String? = refused
        switch command {
        case .ack:
            event = .operatorAck
            verb = "acknowledged"
        case .reset:
            event = .operatorReset
            verb = "reset"
        case .abort:
            event = .operatorAbort
            verb = "aborted suppression of"
            severity = refused == nil ? .fire : .info
        case .resume:
            event = .operatorResume
            verb = "resumed suppression of"
            severity = refused == nil ? .fire : .info
        case .inhibit(_, _, _, let why):
            event = .operatorInhibit
            verb = "inhibited actuation in"
            // An inhibit takes a safety function away: people must hear of it.
            severity = refused == nil ? .alert : .info
            reason = refused ?? why
        case .enable:
            event = .operatorEnable
            verb = "re-enabled actuation in"
        case .test(_, _, _, let why):
            event = .operatorTest
            verb = "started a walk test of"
            // A zone in test cannot act: it is trouble, and people must hear of it.
            severity = refused == nil ? .trouble : .info
            reason = refused ?? why
        case .endTest:
            event = .operatorTestEnd
            verb = "ended the walk test of"
            severity = refused == nil ? .trouble : .info
        }
        let who = operatorName(uid: command.uid, user: user)
        let attempt: String
        switch command {
        case .test: attempt = "start a walk test of"
        case .endTest: attempt = "end the walk test of"
        default: attempt = String(event.rawValue.dropFirst("operator.".count))
        }
        var message = "\(who) \(verb) \(name)"
        if let refused {
            message =
                "refused: \(who) tried to \(attempt) \(name) — \(refused)"
        } else if case .inhibit(_, _, let duration, let why) = command, let until {
            message += " for \(spoken(duration)) until \(until) (\(why)) — detection and alerts go on"
        }
        return AlertRecord(
            time: now, site: model.site, zone: name, severity: severity, event: event, message: message,
            uid: command.uid, until: until, reason: reason, outcome: refused == nil ? "accepted" : "refused",
            user: user)
    }

    // MARK: - Wording

    func pointName(_ ref: SourceRef) -> String {
        ref.bit.map { "\(ref.point).\($0)" } ?? ref.point
    }

    func isHealthy(_ member: Int) -> Bool {
        live[members[member].source].healthy && !members[member].mismatch
    }

    /// The first healthy member at the signal's current level, whose value the record quotes.
    func decidingMember(_ signal: Int) -> Int? {
        guard let level = signals[signal].condition.level else { return nil }
        return signals[signal].members.first {
            isHealthy($0) && (members[$0].level ?? .alert) >= level
                && members[$0].level != nil
        }
            ?? signals[signal].members.first { isHealthy($0) && members[$0].rising }
    }

    func faultList(_ signal: Int) -> String {
        signals[signal].members.filter { !isHealthy($0) }.map { member in
            let source = sources[members[member].source]
            let fault: String
            if members[member].mismatch {
                fault = "unexpected value \(source.value?.description ?? "?")"
            } else {
                switch live[members[member].source].kind {
                case .never: fault = "no reading yet"
                case .lost: fault = "lost (\(source.problem))"
                case .invalid: fault = "invalid (\(source.problem))"
                case .value: fault = "stale"
                }
            }
            return "\(source.ref) \(fault)"
        }.joined(separator: ", ")
    }

    func noHealthySource(_ signal: Int) -> String {
        let spec = signalSpecs[signal]
        let zoneName = model.zones[signals[signal].zone].name
        let all = signals[signal].members
        if all.allSatisfy({ live[members[$0].source].kind == .lost }) {
            return "all sources of \(spec.name) in \(zoneName) lost (\(faultList(signal)))"
        }
        return "no healthy source of \(spec.name) in \(zoneName): \(faultList(signal))"
    }

    /// "2 of 3 temperature sensors at or above 70 °C", "smoke fire1", "temperature rising 6 °C/min".
    func describe(_ signal: Int) -> String {
        let runtime = signals[signal]
        let spec = signalSpecs[signal]
        guard let level = runtime.condition.level else { return "\(spec.name) \(runtime.condition.rawValue)" }
        let unit = spec.unit.map { $0 == "%" ? $0 : " \($0)" } ?? ""
        let healthy = runtime.members.filter(isHealthy)
        let atLevel = healthy.filter { (members[$0].level ?? .alert) >= level && members[$0].level != nil }
        guard !atLevel.isEmpty, let threshold = spec.thresholds[level] else {
            // Reached only through the rate of rise.
            let slopes = healthy.filter { members[$0].rising }.compactMap { sources[members[$0].source].slope }
            let perMinute = (slopes.max() ?? 0) * 60
            let limit = (spec.rateOfRise?.perSecond ?? 0) * 60
            return "\(spec.name) rising \(rounded(perMinute))\(unit)/min (limit \(rounded(limit))\(unit)/min)"
        }
        let values = atLevel.compactMap { sources[members[$0].source].value }
        switch threshold {
        case .atLeast(let limit):
            let shown = atLevel.compactMap { member -> String? in
                let slot = members[member].source
                guard let v = sources[slot].value else { return nil }
                // A saturated source is only known to be at least its top.
                if case .number(let n) = v { return (live[slot].saturated ? "≥" : "") + rounded(n) + unit }
                return v.description
            }
            if runtime.members.count == 1 {
                return "\(spec.name) \(shown.first ?? "?") (\(level) at \(rounded(limit))\(unit))"
            }
            return "\(atLevel.count) of \(runtime.members.count) \(spec.name) sensors at or above "
                + "\(rounded(limit))\(unit) (\(shown.joined(separator: ", ")))"
        case .oneOf:
            let names = Set(values.map(\.description)).sorted().joined(separator: "/")
            return runtime.members.count == 1
                ? "\(spec.name) \(names)" : "\(spec.name) \(names) on \(atLevel.count) of \(runtime.members.count)"
        case .equals:
            let refs = atLevel.map { sources[members[$0].source].ref.description }
            return "\(spec.name) flag raised (\(refs.joined(separator: ", ")))"
        }
    }

    /// The signals that currently say something, most severe first, joined for a message.
    func causeList(_ zone: Int, minimum: Level = .alert) -> String {
        let active = zones[zone].signals.filter {
            (signals[$0].condition.level ?? .alert) >= minimum
                && signals[$0].condition.level != nil
        }
        .sorted { (signals[$0].condition.level!, -$0) > (signals[$1].condition.level!, -$1) }
        return active.map(describe).joined(separator: "; ")
    }

    func causeSuffix(_ zone: Int) -> String {
        let causes = causeList(zone)
        return causes.isEmpty ? "" : " (\(causes))"
    }

    func consequence(_ zone: Int, _ state: ZoneState) -> String {
        let runtime = zones[zone]
        let held =
            runtime.testUntil.map { "TEST — walk test until \($0), nothing runs" }
            ?? runtime.inhibitedUntil.map { "zone inhibited until \($0) (\(inhibitReasons[zone] ?? "no reason"))" }
        switch state {
        case .normal:
            return "back to normal"
        case .alert:
            return "operators notified; nothing actuated"
        case .isolating:
            if let held { return "isolation held: \(held)" }
            return "isolating (\(steps(zone, .isolate).count) steps)"
        case .isolated:
            return "isolation complete"
        case .suppressing:
            if let held { return "suppression held: \(held)" }
            var wait = Duration.zero
            for case .delay(let duration, _) in steps(zone, .suppress) { wait += duration }
            let after = runtime.isolate == .done ? "" : " after isolation completes"
            return wait == .zero
                ? "releasing suppression now\(after)" : "releasing suppression in \(spoken(wait))\(after)"
        case .suppressed:
            return "suppression released"
                + (steps(zone, .powerCut).isEmpty ? "" : "; cutting the zone's feeds next")
        case .powerCut:
            return "cutting the zone's power feeds (\(steps(zone, .powerCut).count) steps)"
        }
    }
}

extension Engine {
    static func number(_ value: Value) -> Double {
        if case .number(let number) = value { return number }
        return .nan
    }
}

/// A number for a message: at most one decimal, no trailing `.0`.
func rounded(_ value: Double) -> String {
    Value.number((value * 10).rounded() / 10).description
}

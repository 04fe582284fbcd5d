/// A releasing panel's hold-to-abort switch, read like a source but voted in no signal.
struct AbortSwitch: Sendable {
    let zone: Int
    let slot: Int
    /// The last evaluation that read the switch held, while it keeps being read so.
    var lastHeld: Timestamp?
}

/// Panel abort switches (`ZoneSpec.abortSwitches`), with the semantics of NFPA 2001 abort stations and of the
/// panels' "AHJ" abort mode (DEVICE-FACTS §7):
/// - the switch is hold-to-abort: while it is held, suppression stops exactly as `firewatch abort` stops it (the
///   countdown is cancelled, the zone is held isolated, nothing is released and no power is cut);
/// - let go, suppression goes on from the step it stopped at, so the countdown restarts **in full**: the people
///   who let go are in the room, and the contract gives every restarted countdown its whole warning;
/// - it changes nothing once the countdown is over (an abort has no effect once release has begun), and an
///   operator's own `abort` taken while it is held stays when it is let go.
///
/// A switch that cannot be read is not held once its last "held" reading is older than `stale_after`: NFPA 2001
/// does not let an abort keep a system aborted without someone present, and nobody can be seen holding it. A
/// single lost poll does not count as letting go.
extension Engine {
    mutating func followAbortSwitches(_ zone: Int, at now: Timestamp, into out: inout Output) {
        let switches = zones[zone].switches
        guard !switches.isEmpty || zones[zone].abortedBySwitch else { return }
        var held: Int?
        for index in switches {
            let slot = abortSwitches[index].slot
            if live[slot].healthy {
                abortSwitches[index].lastHeld = sources[slot].value == .flag(true) ? now : nil
            }
            if let last = abortSwitches[index].lastHeld, now - last <= model.staleAfter {
                held = held ?? index
            } else {
                abortSwitches[index].lastHeld = nil
            }
        }
        let previous = zones[zone].heldSwitch
        zones[zone].heldSwitch = held
        let name = model.zones[zone].name
        if let held {
            let ref = sources[abortSwitches[held].slot].ref
            guard zones[zone].suppress != .aborted,
                refusal(of: .abort(zone: name, uid: ""), zone: zone, at: now) == nil
            else { return }
            let record = AlertRecord(
                time: now, site: model.site, zone: name, severity: .fire, event: .operatorAbort, device: ref.device,
                point: pointName(ref), value: "true",
                message: "abort switch \(ref) held in \(name): suppression stopped; it restarts with its countdown in "
                    + "full when the switch is let go",
                outcome: "accepted")
            abortSuppression(
                zone, record, by: "abort switch \(ref)", bySwitch: true, because: .abortSwitch(ref), at: now,
                into: &out)
        } else if zones[zone].suppress == .aborted, zones[zone].abortedBySwitch {
            resumeAfterSwitch(zone, switch: previous ?? switches.first, at: now, into: &out)
        }
    }

    /// The switch that held the abort is let go, unreadable, or (after a reload) no longer configured.
    private mutating func resumeAfterSwitch(_ zone: Int, switch index: Int?, at now: Timestamp, into out: inout Output)
    {
        let name = model.zones[zone].name
        var record = AlertRecord(
            time: now, site: model.site, zone: name, severity: .fire, event: .operatorResume, message: "",
            outcome: "accepted")
        let ref: SourceRef
        if let index {
            let slot = abortSwitches[index].slot
            ref = sources[slot].ref
            record.device = ref.device
            record.point = pointName(ref)
            if live[slot].healthy {
                record.value = sources[slot].value?.description
                record.message = "abort switch \(ref) let go in \(name): suppression goes on, its countdown in full"
            } else {
                let why = sources[slot].problem.isEmpty ? "stale" : sources[slot].problem
                record.reason = "abort switch unreadable"
                record.message =
                    "abort switch \(ref) of \(name) cannot be read (\(why)) — nobody can be seen holding it, so "
                    + "suppression goes on, its countdown in full"
            }
        } else {
            ref = SourceRef(device: "?", point: "abort_switch")
            record.reason = "abort switch no longer configured"
            record.message =
                "the abort switch that stopped suppression of \(name) is no longer in the configuration — suppression "
                + "goes on, its countdown in full"
        }
        resumeSuppression(zone, record, because: .abortSwitchReleased(ref), at: now, into: &out)
    }
}

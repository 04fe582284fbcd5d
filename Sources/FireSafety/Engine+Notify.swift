/// Which records reach the notification channels, reminders, and the quiet period that keeps a flapping signal
/// from flooding them (CONTRACT.md, "Notifications"; README, "Notifications").
///
/// The alert log always keeps every record: these rules decide only what is *sent*.
/// - Sent: zone escalations, trouble, a signal rising a level (when the zone did not escalate with it), failed
///   steps, aborts, inhibits and walk tests starting and ending; a latched zone nobody acknowledged is reminded
///   every `remind_every`. Records of a zone in a walk test are sent like any other, marked `test`.
/// - Quiet period: per zone and severity, one notification opens a `quiet_period`; signal and trouble changes
///   of that severity during it are held, and when it ends the newest of them is sent with the count of the rest
///   ("4 more changes"). Never held: anything at `fire`, a zone reaching `isolating` or beyond (a decision,
///   not a flap), failed steps and operator records. Held records are not restored after a restart (the log has
///   them; the restart's own records are sent).
struct QuietWindow: Sendable {
    /// When the period opened by the last notification sent at this severity ends.
    var until: Timestamp?
    /// Records held back since then.
    var held = 0
    /// The newest of them: the summary sends it.
    var latest: AlertRecord?
}

extension Engine {
    /// Queues notifications for the records this call produced for the zone that people must hear about.
    mutating func notifyNew(_ zone: Int, from first: Int, at now: Timestamp, into out: inout Output) {
        guard first < out.records.count else { return }
        let batch = out.records[first...]
        let escalated = batch.contains { $0.event == .zoneState && isEscalation($0) }
        var sent = false
        for record in batch where record.zone == model.zones[zone].name {
            let notify: Bool
            switch record.event {
            case .zoneState:
                notify =
                    isEscalation(record) || record.to == "trouble" || record.from == "test" || record.severity == .fire
            case .signalLevel:
                let from = record.from.flatMap(SignalCondition.init(rawValue:)) ?? .normal
                let to = record.to.flatMap(SignalCondition.init(rawValue:)) ?? .normal
                notify = to == .trouble || (!escalated && to != .trouble && to.severity > from.severity)
            case .stepFailed, .operatorInhibit, .operatorAbort, .operatorTest, .operatorTestEnd:
                notify = record.outcome != "refused"
            default:
                notify = false
            }
            if notify {
                send(record, zone: zone, at: now, into: &out)
                sent = true
            }
        }
        if sent { zones[zone].lastNotified = now }
    }

    func isEscalation(_ record: AlertRecord) -> Bool {
        guard let from = record.from.flatMap(ZoneState.init(rawValue:)),
            let to = record.to.flatMap(ZoneState.init(rawValue:))
        else { return false }
        return to > from
    }

    /// Sends `record` now, or holds it when the quiet period of its zone and severity is running.
    mutating func send(_ record: AlertRecord, zone: Int, at now: Timestamp, into out: inout Output) {
        let level = record.severity.rawValue
        guard model.quietPeriod > .zero, mayBeHeld(record) else {
            out.actions.append(.notify(record))
            return
        }
        if let until = zones[zone].quiet[level].until, now < until {
            zones[zone].quiet[level].held += 1
            zones[zone].quiet[level].latest = record
            zones[zone].quietFlushAt = min(zones[zone].quietFlushAt ?? until, until)
            return
        }
        out.actions.append(.notify(record))
        zones[zone].quiet[level] = QuietWindow(until: now + model.quietPeriod)
    }

    /// Flapping kinds only: a signal's level, the zone's trouble overlay and its `alert` state.
    func mayBeHeld(_ record: AlertRecord) -> Bool {
        guard record.severity != .fire else { return false }
        switch record.event {
        case .signalLevel: return true
        case .zoneState: return record.to == "trouble" || record.to == ZoneState.alert.rawValue
        default: return false
        }
    }

    /// Ends the quiet periods that are over; sends a summary for each that held records back.
    mutating func flushQuiet(_ zone: Int, at now: Timestamp, into out: inout Output) {
        guard let due = zones[zone].quietFlushAt, now >= due else { return }
        var next: Timestamp?
        for level in zones[zone].quiet.indices {
            let window = zones[zone].quiet[level]
            guard let until = window.until, window.held > 0, let latest = window.latest else { continue }
            guard now >= until else {
                next = min(next ?? until, until)
                continue
            }
            var summary = latest
            let others = window.held - 1
            summary.message +=
                " [quiet period \(spoken(model.quietPeriod)): "
                + (others == 0 ? "held back" : "the latest of \(window.held) changes; \(others) more held back")
                + ", the alert log has each]"
            out.actions.append(.notify(summary))
            // A summary is a notification: it opens the next period.
            zones[zone].quiet[level] = QuietWindow(until: now + model.quietPeriod)
        }
        zones[zone].quietFlushAt = next
    }

    /// Reminds people of a latched zone nobody has acknowledged, every `remind_every`, saying for how long.
    mutating func remind(_ zone: Int, at now: Timestamp, into out: inout Output) {
        guard let every = renotifyEvery, zones[zone].reported >= .isolating, !zones[zone].acknowledged,
            let last = zones[zone].lastNotified, now >= last + every
        else { return }
        let name = model.zones[zone].name
        let state = zones[zone].reported.rawValue
        let since = zones[zone].unacknowledgedSince.map { " for \(spokenElapsed(now - $0))" } ?? ""
        var reminder = zoneRecord(
            zone, severity: zones[zone].reported.severity, from: state, to: state,
            message: "reminder: \(name) is \(state)\(causeSuffix(zone)), unacknowledged\(since) — "
                + "`firewatch ack \(name)` silences this",
            at: now)
        reminder.level = zones[zone].latched
        out.actions.append(.notify(reminder))
        zones[zone].lastNotified = now
    }
}

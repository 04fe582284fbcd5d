/// Walk tests: how technicians prove each sensor and each channel of a zone without releasing agent.
///
/// While a zone is in test (`OperatorCommand.test`, until its deadline or `endTest`):
/// - detection runs as usual: signals are voted, levels logged, the zone latches and changes state, people are
///   notified; every record of the zone (and every notification) carries `test: true` and the technician's uid;
/// - no step of the zone's procedures starts, so nothing is written to any device and no `run` step runs;
/// - the zone is trouble (a zone that cannot act is never normal);
/// - other zones are never affected.
/// When the test ends, what it latched is cleared (a test alarm is not a fire) and the zone judges its readings
/// afresh at once: a signal still at alarm or fire then latches for real and its procedures run as for any alarm
/// (a countdown can be aborted as usual). A test is refused while the zone has anything latched or under way.
struct WalkTest: Sendable, Hashable {
    var uid: String
    var user: String?
    var reason: String
}

extension Engine {
    /// Starts (or, re-issued, extends) the zone's walk test.
    mutating func startWalkTest(
        _ zone: Int, _ command: OperatorCommand, duration: Duration, reason: String, user: String?, at now: Timestamp,
        into out: inout Output
    ) {
        let until = now + duration
        var record = operatorRecord(zone, command, refused: nil, at: now, until: until, user: user)
        record.message +=
            " for \(spoken(duration)) until \(until) (\(reason)) — detection and notifications go on, marked TEST; "
            + "nothing is written and no step runs in \(model.zones[zone].name) until the test ends"
        out.records.append(record)
        zones[zone].testUntil = until
        walkTests[zone] = WalkTest(uid: command.uid, user: user, reason: reason)
    }

    /// Ends the zone's walk test now (`record` says why, already worded), clears what it latched and judges the
    /// zone's readings afresh, as a zone that was never in test.
    mutating func endWalkTest(_ zone: Int, _ record: AlertRecord, at now: Timestamp, into out: inout Output) {
        guard let test = walkTests[zone] else { return }
        let first = out.records.count
        out.records.append(record)
        zones[zone].testUntil = nil
        walkTests[zone] = nil
        clearLatches(zone)
        syncState(zone, because: .testEnded, at: now, into: &out)
        for index in first..<out.records.count { Self.markTest(&out.records[index], test) }
    }

    /// Ends a walk test whose deadline has come (logged as `zone.state` from `test`).
    mutating func expireWalkTest(_ zone: Int, at now: Timestamp, into out: inout Output) {
        guard let until = zones[zone].testUntil, now >= until, let test = walkTests[zone] else { return }
        let name = model.zones[zone].name
        let state = zones[zone].reported
        var record = zoneRecord(
            zone, severity: .trouble, from: "test", to: state.rawValue,
            message: "walk test of \(name) (\(operatorName(uid: test.uid, user: test.user)): \(test.reason)) ended at "
                + "its deadline — actuation is armed again", at: now)
        record.uid = test.uid
        record.user = test.user
        endWalkTest(zone, record, at: now, into: &out)
    }

    /// Why a command cannot be given to a zone in test (only `ack`, `reset` and the test's own commands can).
    func walkTestRefusal(of command: OperatorCommand, zone: Int) -> String? {
        guard let until = zones[zone].testUntil else { return nil }
        let name = model.zones[zone].name
        switch command {
        case .ack, .reset, .test, .endTest:
            return nil
        case .abort, .resume, .inhibit, .enable:
            return "\(name) is in a walk test until \(until): nothing runs there; "
                + "`firewatch test \(name) --end` first"
        }
    }

    /// Marks the records and notifications of `out` (from `first`) that belong to a zone in test.
    func markWalkTests(_ out: inout Output, from first: (records: Int, actions: Int)) {
        guard walkTests.contains(where: { $0 != nil }) else { return }
        func mark(_ record: inout AlertRecord) {
            guard let name = record.zone, let zone = zoneIndexByName[name], let test = walkTests[zone] else { return }
            Self.markTest(&record, test)
        }
        for index in first.records..<out.records.count { mark(&out.records[index]) }
        for index in first.actions..<out.actions.count {
            if case .notify(var record) = out.actions[index] {
                mark(&record)
                out.actions[index] = .notify(record)
            }
        }
    }

    /// A record of a zone in test: `test: true`, the technician's uid (where the record names no operator of its
    /// own), and a message that starts with `TEST —`, so the log, `firewatch alerts` and every channel say so.
    static func markTest(_ record: inout AlertRecord, _ test: WalkTest) {
        guard !record.test else { return }
        record.test = true
        if record.uid == nil {
            record.uid = test.uid
            record.user = test.user
        }
        record.message = "TEST — " + record.message
    }

    /// Clears what a zone latched and how far its procedures came (a reset, or the end of a walk test).
    mutating func clearLatches(_ zone: Int) {
        zones[zone].latched = nil
        zones[zone].isolate = .idle
        zones[zone].suppress = .idle
        zones[zone].powerCut = .idle
        zones[zone].acknowledged = false
        zones[zone].unacknowledgedSince = nil
        zones[zone].abortedBySwitch = false
        activeSteps[zone] = [:]
    }
}

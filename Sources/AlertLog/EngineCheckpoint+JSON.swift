import FireSafety
import Synchronization

/// The `state` member of a `state.checkpoint` record: everything restore needs, so that rotation never forgets a
/// latch. Keys are snake_case like the rest of the log; absent optionals are left out.
extension EngineCheckpoint {
    public var json: JSONValue {
        .object([
            JSONMember("zones", .array(zones.map(\.json))),
            JSONMember("lost_devices", .array(lostDevices.sorted().map(JSONValue.string))),
            JSONMember("daemon_running", .bool(daemonRunning)),
        ] + (daemonStartedAt.map { [JSONMember("daemon_started_at", .string($0.description))] } ?? []))
    }

    /// Reads the `state` member back; nil when it is not a checkpoint this version understands.
    public init?(json: JSONValue) {
        guard case .array(let zoneValues)? = json["zones"] else { return nil }
        var zones: [Zone] = []
        for value in zoneValues {
            guard let zone = Zone(json: value) else { return nil }
            zones.append(zone)
        }
        var lost: Set<String> = []
        if case .array(let names)? = json["lost_devices"] { lost = Set(names.compactMap(\.stringValue)) }
        self.init(
            zones: zones, lostDevices: lost, daemonRunning: json["daemon_running"]?.boolValue ?? false,
            daemonStartedAt: json["daemon_started_at"]?.stringValue.flatMap(Timestamp.init(iso8601:)))
    }
}

extension EngineCheckpoint.Zone {
    var json: JSONValue {
        var members: [JSONMember] = [JSONMember("zone", .string(name)), JSONMember("state", .string(state.rawValue))]
        if let latched { members.append(JSONMember("latched", .string(latched.description))) }
        members.append(JSONMember("trouble", .bool(trouble)))
        members.append(JSONMember("acknowledged", .bool(acknowledged)))
        if let unacknowledgedSince {
            members.append(JSONMember("unacknowledged_since", .string(unacknowledgedSince.description)))
        }
        if let inhibitedUntil { members.append(JSONMember("inhibited_until", .string(inhibitedUntil.description))) }
        if let inhibitReason { members.append(JSONMember("inhibit_reason", .string(inhibitReason))) }
        if let testUntil { members.append(JSONMember("test_until", .string(testUntil.description))) }
        if let testReason { members.append(JSONMember("test_reason", .string(testReason))) }
        if let testUid { members.append(JSONMember("test_uid", .string(testUid))) }
        if let testUser { members.append(JSONMember("test_user", .string(testUser))) }
        if abortedBySwitch { members.append(JSONMember("aborted_by_switch", .bool(true))) }
        var procedures: [JSONMember] = []
        for kind in ProcedureKind.allCases where self[kind] != EngineCheckpoint.Progress() {
            procedures.append(JSONMember(kind.rawValue, self[kind].json))
        }
        members.append(JSONMember("procedures", .object(procedures)))
        members.append(
            JSONMember(
                "signals",
                .object(signals.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value.rawValue)) })))
        return .object(members)
    }

    init?(json: JSONValue) {
        guard let name = json["zone"]?.stringValue,
            let state = json["state"]?.stringValue.flatMap(ZoneState.init(rawValue:))
        else { return nil }
        self.init(name: name, state: state)
        latched = json["latched"]?.stringValue.flatMap(Level.init(name:))
        trouble = json["trouble"]?.boolValue ?? false
        acknowledged = json["acknowledged"]?.boolValue ?? false
        unacknowledgedSince = json["unacknowledged_since"]?.stringValue.flatMap(Timestamp.init(iso8601:))
        inhibitedUntil = json["inhibited_until"]?.stringValue.flatMap(Timestamp.init(iso8601:))
        inhibitReason = json["inhibit_reason"]?.stringValue
        testUntil = json["test_until"]?.stringValue.flatMap(Timestamp.init(iso8601:))
        testReason = json["test_reason"]?.stringValue
        testUid = json["test_uid"]?.stringValue
        testUser = json["test_user"]?.stringValue
        abortedBySwitch = json["aborted_by_switch"]?.boolValue ?? false
        for kind in ProcedureKind.allCases {
            guard let value = json["procedures"]?[kind.rawValue] else { continue }
            guard let progress = EngineCheckpoint.Progress(json: value) else { return nil }
            self[kind] = progress
        }
        if case .object(let members)? = json["signals"] {
            for member in members {
                if let condition = member.value.stringValue.flatMap(SignalCondition.init(rawValue:)) {
                    signals[member.key] = condition
                }
            }
        }
    }
}

extension EngineCheckpoint.Progress {
    var json: JSONValue {
        var members: [JSONMember] = [
            JSONMember("phase", .string(phase.rawValue)), JSONMember("done", .array(done.map(JSONValue.string))),
        ]
        if let running { members.append(JSONMember("running", .string(running))) }
        if let runningSince { members.append(JSONMember("running_since", .string(runningSince.description))) }
        return .object(members)
    }

    init?(json: JSONValue) {
        guard let phase = json["phase"]?.stringValue.flatMap(Phase.init(rawValue:)) else { return nil }
        var done: [String] = []
        if case .array(let items)? = json["done"] { done = items.compactMap(\.stringValue) }
        self.init(
            phase: phase, done: done, running: json["running"]?.stringValue,
            runningSince: json["running_since"]?.stringValue.flatMap(Timestamp.init(iso8601:)))
    }
}

/// The state the alert log holds *as written so far*: every durable line is folded in as the writer writes it,
/// so a `state.checkpoint` line (the first of every file, and hourly) says exactly what the lines before it said.
/// This is all the daemon keeps of its history: state, not records.
public final class LogState: Sendable {
    private let state: Mutex<EngineCheckpoint>

    public init(_ initial: EngineCheckpoint = EngineCheckpoint()) {
        state = Mutex(initial)
    }

    public var current: EngineCheckpoint { state.withLock { $0 } }

    public func reset(to value: EngineCheckpoint) {
        state.withLock { $0 = value }
    }

    /// Folds one written line (the writer's own records are not engine records and change nothing).
    public func fold(_ members: [JSONMember]) {
        var fields: [String: JSONValue] = [:]
        for member in members where fields[member.key] == nil { fields[member.key] = member.value }
        guard let record = AlertRecord(jsonFields: fields) else { return }
        state.withLock { $0.fold(record) }
    }

    /// The members of a `state.checkpoint` record holding the state so far (the writer adds `seq` and `prev`).
    public func checkpointMembers(site: String, time: Timestamp, why: String) -> [JSONMember] {
        let snapshot = current
        let latched = snapshot.zones.filter { $0.latched != nil }.map { "\($0.name) (\($0.state.rawValue))" }
        let summary = latched.isEmpty ? "no zone latched" : "latched: " + latched.joined(separator: ", ")
        return [
            JSONMember("time", .string(time.description)), JSONMember("site", .string(site)),
            JSONMember("severity", .string(Severity.info.name)),
            JSONMember("event", .string(AlertEvent.stateCheckpoint.rawValue)),
            JSONMember("message", .string("state checkpoint (\(why)): \(summary); a restart restores from here")),
            JSONMember("state", snapshot.json),
        ]
    }
}

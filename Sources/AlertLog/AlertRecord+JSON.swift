import FireSafety

/// The alert-log form of an `AlertRecord`: every field under the JSON key its documentation names, in the
/// order CONTRACT.md shows (`time, site, zone, severity, event, from, to, device, point, value, message`, then
/// the rest). Kept in one file so the writer's and the reader's sides cannot drift apart.
extension AlertRecord {
    /// The members for `AlertLogWriter.append` (the writer adds `seq` first and `prev` last). Absent optionals
    /// are left out; `extra` members (e.g. `version` on `daemon.started`) follow the record's own.
    public func jsonMembers(extra: [JSONMember] = []) -> [JSONMember] {
        var members: [JSONMember] = [
            JSONMember("time", .string(time.description)),
            JSONMember("site", .string(site)),
        ]
        func add(_ key: String, _ value: String?) {
            if let value { members.append(JSONMember(key, .string(value))) }
        }
        add("zone", zone)
        members.append(JSONMember("severity", .string(severity.name)))
        members.append(JSONMember("event", .string(event.rawValue)))
        add("from", from)
        add("to", to)
        add("device", device)
        add("point", point)
        add("value", value)
        members.append(JSONMember("message", .string(message)))
        add("signal", signal)
        add("level", level?.description)
        add("procedure", procedure?.rawValue)
        if let step { members.append(JSONMember("step", .int(step))) }
        add("step_text", stepText)
        add("uid", uid)
        add("user", user)
        add("until", until?.description)
        add("reason", reason)
        add("outcome", outcome)
        add("detail", detail)
        add("owner", owner)
        if let epoch { members.append(JSONMember("epoch", .int(Int(epoch)))) }
        if test { members.append(JSONMember("test", .bool(true))) }
        let own = Set(members.map(\.key))
        members += extra.filter { !own.contains($0.key) }
        return members
    }

    /// Rebuilds a record from a parsed alert-log line, for recovery. Nil when the line is not a record the
    /// engine knows (no object, unknown `event`, missing `time`/`site`/`severity`). Unknown members are ignored.
    public init?(jsonFields fields: [String: JSONValue]) {
        func text(_ key: String) -> String? { fields[key]?.stringValue }
        guard let time = text("time").flatMap(Timestamp.init(iso8601:)), let site = text("site"),
            let severity = text("severity").flatMap(Severity.init(name:)),
            let event = text("event").flatMap(AlertEvent.init(rawValue:))
        else { return nil }
        self.init(
            time: time, site: site, zone: text("zone"), severity: severity, event: event, from: text("from"),
            to: text("to"), device: text("device"), point: text("point"), value: text("value"),
            message: text("message") ?? "", signal: text("signal"), level: text("level").flatMap(Level.init(name:)),
            procedure: text("procedure").flatMap(ProcedureKind.init(rawValue:)), step: fields["step"]?.intValue,
            stepText: text("step_text"), uid: text("uid"), until: text("until").flatMap(Timestamp.init(iso8601:)),
            reason: text("reason"), outcome: text("outcome"), detail: text("detail"), user: text("user"))
        owner = text("owner")
        epoch = fields["epoch"]?.intValue.map(Int64.init)
        test = fields["test"]?.boolValue ?? false
    }

    /// Every record of the log at `path` (all rotated files, oldest first) the engine can fold; lines that are
    /// not records (torn, damaged, or events it does not know) are skipped.
    public static func readLog(at path: String) throws -> [AlertRecord] {
        try AlertLogSet.discover(livePath: path).readLines().compactMap { line in line.fields.flatMap(AlertRecord.init(jsonFields:)) }
    }
}

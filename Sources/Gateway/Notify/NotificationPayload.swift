import FireSafety

/// The JSON a notification carries: the alert record with the alert log's keys (CONTRACT.md, "Alert log"),
/// without `seq` and `prev`, which only the log's chain gives; absent fields are left out.
///
/// A receiver can parse a webhook body and an alert-log line with the same code. TODO(dedup): the daemon's
/// branch writes the log's own AlertRecord→JSON mapping; once merged, this should call it instead.
enum NotificationPayload {
    static func members(of record: AlertRecord) -> [JSONMember] {
        var members: [JSONMember] = [
            JSONMember("time", .string(record.time.description)),
            JSONMember("site", .string(record.site)),
        ]
        func add(_ key: String, _ value: String?) {
            if let value { members.append(JSONMember(key, .string(value))) }
        }
        add("zone", record.zone)
        members.append(JSONMember("severity", .string(record.severity.name)))
        members.append(JSONMember("event", .string(record.event.rawValue)))
        add("from", record.from)
        add("to", record.to)
        add("device", record.device)
        add("point", record.point)
        add("value", record.value)
        members.append(JSONMember("message", .string(record.message)))
        add("signal", record.signal)
        add("level", record.level?.description)
        add("procedure", record.procedure?.rawValue)
        if let step = record.step { members.append(JSONMember("step", .int(step))) }
        add("step_text", record.stepText)
        add("uid", record.uid)
        add("until", record.until?.description)
        add("reason", record.reason)
        add("outcome", record.outcome)
        add("detail", record.detail)
        return members
    }

    /// The compact JSON bytes, newline-terminated so a `command` channel's shell `read` sees a whole line.
    static func bytes(of record: AlertRecord) -> [UInt8] {
        Array((JSONWriter.serialize(members: members(of: record)) + "\n").utf8)
    }
}

import FireSafety

/// `firewatch alerts --summary`: per zone, the current state, the time spent in each state over the window,
/// counts by severity, and the last fire or alarm.
public struct AlertSummary: Sendable {
    /// What one zone did over the window.
    public struct Zone: Sendable, Hashable {
        public var name: String
        /// `to` of the last `zone.state` record; nil when the window holds none.
        public var state: String?
        /// When that record was written (ms since the epoch).
        public var stateSince: Int64?
        /// Milliseconds in each state, from `zone.state` transitions. Before the first transition in the
        /// window the zone was in that transition's `from` state.
        public var timeInState: [String: Int64] = [:]
        /// Records per severity name (those matching the filter).
        public var counts: [String: Int] = [:]
        /// The last record of severity alarm or fire.
        public var lastAlarm: AlertLine?
    }

    private var zones: [String: Zone] = [:]
    private var order: [String] = []
    private var lastTransition: [String: (time: Int64, state: String)] = [:]
    private var firstTime: Int64?
    /// Name shown for records that carry no zone (daemon, notify, site-wide).
    public static let siteWide = "(site)"

    public init() {}

    /// Adds a record. `counted` says whether it passes the severity/event/device filter: a `zone.state` record
    /// filtered out of the counts still moves the state clock.
    public mutating func add(_ line: AlertLine, counted: Bool) {
        guard let time = line.time else { return }
        if firstTime == nil { firstTime = time }
        let name = line.zone ?? Self.siteWide
        if zones[name] == nil {
            zones[name] = Zone(name: name)
            order.append(name)
        }
        if counted {
            zones[name]!.counts[line.severity?.name ?? line.severityName ?? "?", default: 0] += 1
            if let severity = line.severity, severity >= .alarm { zones[name]!.lastAlarm = line }
        }
        guard line.event == "zone.state", let to = line.to else { return }
        if let last = lastTransition[name] {
            zones[name]!.timeInState[last.state, default: 0] += max(0, time - last.time)
        } else if let from = line.from, let start = windowStart {
            zones[name]!.timeInState[from, default: 0] += max(0, time - start)
        }
        lastTransition[name] = (time, to)
        zones[name]!.state = to
        zones[name]!.stateSince = time
    }

    /// Start of the window: `--since` when given, else the first record read.
    public var windowStart: Int64? {
        get { explicitStart ?? firstTime }
        set { explicitStart = newValue }
    }
    private var explicitStart: Int64?

    /// Closes the window at `end` (`--until`, or now) and returns the zones in order of first appearance.
    public func finish(end: Int64) -> [Zone] {
        order.map { name in
            var zone = zones[name]!
            if let last = lastTransition[name] { zone.timeInState[last.state, default: 0] += max(0, end - last.time) }
            return zone
        }
    }

    /// Human text for `zones`.
    public static func render(_ zones: [Zone], formatter: AlertFormatter) -> [String] {
        if zones.isEmpty { return ["no records in the window"] }
        var lines: [String] = []
        for zone in zones {
            let state = zone.state.map { s in "\(s) since \(zone.stateSince.map(AlertTime.formatLocal) ?? "?")" }
            lines.append("\(zone.name): \(state ?? "no state change in the window")")
            let spent = zone.timeInState.filter { $0.value > 0 }
            if !spent.isEmpty {
                let parts = spent.sorted { $0.value > $1.value }.map { "\($0.key) \(duration($0.value))" }
                lines.append("  time in state: " + parts.joined(separator: ", "))
            }
            let counts = Severity.allCases.map { "\($0.name) \(zone.counts[$0.name] ?? 0)" }
            let odd = zone.counts.keys.filter { Severity(name: $0) == nil }.sorted().map { "\($0) \(zone.counts[$0]!)" }
            lines.append("  records: " + (counts + odd).joined(separator: ", "))
            if let last = zone.lastAlarm {
                lines.append("  last fire/alarm: " + formatter.format(last))
            } else {
                lines.append("  last fire/alarm: none")
            }
        }
        return lines
    }

    /// `1d 2h`, `3h 4m`, `5m 6s`, `7s`: two units are enough to read at a glance.
    public static func duration(_ millis: Int64) -> String {
        let seconds = millis / 1000
        let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60)
        if d > 0 { return "\(d)d \(h)h" }
        if h > 0 { return "\(h)h \(m)m" }
        if m > 0 { return "\(m)m \(s)s" }
        return seconds > 0 ? "\(s)s" : "\(millis)ms"
    }

    /// One JSON object per zone, for scripts (`--summary --json`).
    public static func renderJSON(_ zones: [Zone]) -> [String] {
        zones.map { zone in
            var members: [String] = ["\"zone\":\(json(zone.name))"]
            members.append("\"state\":" + (zone.state.map(json) ?? "null"))
            members.append("\"state_since\":" + (zone.stateSince.map { json(AlertTime.formatUTC($0)) } ?? "null"))
            let times = zone.timeInState.sorted { $0.key < $1.key }.map { "\(json($0.key)):\($0.value)" }
            members.append("\"time_in_state_ms\":{\(times.joined(separator: ","))}")
            let counts = zone.counts.sorted { $0.key < $1.key }.map { "\(json($0.key)):\($0.value)" }
            members.append("\"counts\":{\(counts.joined(separator: ","))}")
            if let last = zone.lastAlarm {
                members.append("\"last_alarm\":" + String(decoding: last.bytes, as: UTF8.self))
            } else {
                members.append("\"last_alarm\":null")
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal, escaped by the log's own writer (one escaper for everything FireWatch prints).
    static func json(_ text: String) -> String { JSONWriter.serialize(.string(text)) }
}

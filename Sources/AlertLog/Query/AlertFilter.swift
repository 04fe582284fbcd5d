#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import FireSafety

/// Which records an operator asked for: `--zone` (any of), `--device`, `--min-severity`, `--event` (a glob
/// such as `step.*`). Time bounds live in ``AlertQuery`` because they also steer where reading starts.
public struct AlertFilter: Sendable, Hashable {
    public var zones: [String]
    public var device: String?
    public var minSeverity: Severity?
    public var eventPattern: String?

    public init(zones: [String] = [], device: String? = nil, minSeverity: Severity? = nil, eventPattern: String? = nil)
    {
        self.zones = zones
        self.device = device
        self.minSeverity = minSeverity
        self.eventPattern = eventPattern
    }

    /// Whether a parsed line passes every criterion. A record missing a member a criterion needs fails it.
    public func matches(_ line: AlertLine) -> Bool {
        if !zones.isEmpty {
            guard let zone = line.zone, zones.contains(zone) else { return false }
        }
        if let device, line.device != device { return false }
        if let minSeverity {
            guard let severity = line.severity, severity >= minSeverity else { return false }
        }
        if let eventPattern {
            guard let event = line.event, fnmatch(eventPattern, event, 0) == 0 else { return false }
        }
        return true
    }

    /// Byte strings a line must contain to possibly match: for each criterion, one of a group (`"zone-a"` with
    /// its quotes, `"fire"`, `"step.` for `step.*`). Lets a filter skip most of a big log without parsing JSON;
    /// a hit proves nothing (the parse decides), a miss proves the line cannot match.
    func requiredNeedles() -> [[[UInt8]]]? {
        var groups: [[[UInt8]]] = []
        if !zones.isEmpty { groups.append(zones.map { Array("\"\($0)\"".utf8) }) }
        if let device { groups.append([Array("\"\(device)\"".utf8)]) }
        if let minSeverity, minSeverity > .info {
            groups.append(Severity.allCases.filter { $0 >= minSeverity }.map { Array("\"\($0.name)\"".utf8) })
        }
        if let eventPattern {
            let literal = eventPattern.prefix { !"*?[\\".contains($0) }
            if !literal.isEmpty { groups.append([Array("\"\(literal)".utf8)]) }
        }
        return groups.isEmpty ? nil : groups
    }
}

/// Cheap test that a line cannot match: some group has no needle in it, and it has no JSON escapes (a line
/// with a backslash may spell a name with escapes, so it is always parsed).
func lineCannotMatch(_ line: UnsafeRawBufferPointer, needles groups: [[[UInt8]]]) -> Bool {
    guard let base = line.baseAddress, !line.isEmpty else { return false }
    if memchr(base, 0x5C, line.count) != nil { return false }
    for group in groups where !group.contains(where: { contains(base, line.count, $0) }) { return true }
    return false
}

/// `memmem` is hidden behind `_GNU_SOURCE` in Swift's Glibc module; `memchr` on the needle's second byte (the
/// first of the name, rarer than the quote) plus `memcmp` keeps the scanning in C all the same.
private func contains(_ base: UnsafeRawPointer, _ count: Int, _ needle: [UInt8]) -> Bool {
    guard needle.count >= 2, count >= needle.count else { return false }
    return needle.withUnsafeBytes { pattern -> Bool in
        let key = Int32(pattern[1])
        var position = 1
        while position < count, let hit = memchr(base + position, key, count - position) {
            let at = base.distance(to: UnsafeRawPointer(hit)) - 1
            if at + needle.count <= count, memcmp(base + at, pattern.baseAddress!, needle.count) == 0 { return true }
            position = at + 2
        }
        return false
    }
}

/// A request for records: a filter and the window and count to read.
public struct AlertQuery: Sendable, Hashable {
    public var filter: AlertFilter
    /// `-n`: only the last this many matching records.
    public var limit: Int?
    /// Milliseconds since the epoch, inclusive.
    public var since: Int64?
    /// Milliseconds since the epoch, inclusive.
    public var until: Int64?

    public init(filter: AlertFilter = AlertFilter(), limit: Int? = nil, since: Int64? = nil, until: Int64? = nil) {
        self.filter = filter
        self.limit = limit
        self.since = since
        self.until = until
    }

    /// Whether a parsed line is in the window and passes the filter. A line without a usable `time` (already
    /// warned about) is shown when no window was asked for, since it cannot be placed in one.
    func admits(_ line: AlertLine) -> Bool {
        guard let time = line.time else { return since == nil && until == nil && filter.matches(line) }
        return inWindow(time) && filter.matches(line)
    }

    func inWindow(_ time: Int64) -> Bool {
        if let since, time < since { return false }
        if let until, time > until { return false }
        return true
    }
}

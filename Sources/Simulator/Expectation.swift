import SiteConfig
/// What a scenario expects FireWatch to have done, in a small readable grammar (one line each):
///
/// ```
/// zone battery-room-a reaches isolated by 120s          (also: after 60s, or both)
/// zone battery-room-a never reaches suppressing
/// zone battery-room-b stays normal
/// writes to feed-a.open_feed_1 after 300s               (also: by T, or after another write)
/// writes to panel-a.release after feed-a.stop_hvac
/// no writes to panel-a                                   (a device, or device.command)
/// device temp-a2 reported trouble                        (also: by T)
/// device temp-a1 reported no trouble
/// ```
/// "Reaches", "writes" and "reported" are judged by the *first* matching observation.
public enum ExpectedOutcome: Sendable, Hashable, CustomStringConvertible {
    case zoneReaches(zone: String, state: String, after: Duration?, by: Duration?)
    case zoneNeverReaches(zone: String, state: String)
    case zoneStays(zone: String, state: String)
    case writes(to: WriteTarget, after: Duration?, by: Duration?)
    /// The first write to `to` comes after the first write to `after`, and both happen.
    case writeOrder(to: WriteTarget, after: WriteTarget)
    /// The first write to `to` comes at least `atLeast` (site time) after the first write to `after`.
    case writeGap(to: WriteTarget, after: WriteTarget, atLeast: Duration)
    case noWrites(to: WriteTarget)
    case trouble(device: String, by: Duration?)
    case noTrouble(device: String)

    public var description: String {
        func window(_ after: Duration?, _ by: Duration?) -> String {
            (after.map { " after \(DurationText.format($0))" } ?? "")
                + (by.map { " by \(DurationText.format($0))" } ?? "")
        }
        switch self {
        case .zoneReaches(let zone, let state, let after, let by):
            return "zone \(zone) reaches \(state)\(window(after, by))"
        case .zoneNeverReaches(let zone, let state): return "zone \(zone) never reaches \(state)"
        case .zoneStays(let zone, let state): return "zone \(zone) stays \(state)"
        case .writes(let target, let after, let by): return "writes to \(target)\(window(after, by))"
        case .writeOrder(let target, let after): return "writes to \(target) after \(after)"
        case .writeGap(let target, let after, let gap):
            return "writes to \(target) at least \(DurationText.format(gap)) after \(after)"
        case .noWrites(let target): return "no writes to \(target)"
        case .trouble(let device, let by): return "device \(device) reported trouble\(window(nil, by))"
        case .noTrouble(let device): return "device \(device) reported no trouble"
        }
    }

    /// Parses one line; the error says what was expected at the first word that does not fit.
    public init(parsing line: String) throws(ExpectationSyntaxError) {
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        func take(_ what: String) throws(ExpectationSyntaxError) -> String {
            guard let word = words.popFirst() else { throw ExpectationSyntaxError(problem: "missing \(what)") }
            return word
        }
        func keyword(_ expected: String) throws(ExpectationSyntaxError) {
            let word = try take("'\(expected)'")
            guard word == expected else {
                throw ExpectationSyntaxError(problem: "expected '\(expected)', found '\(word)'")
            }
        }
        func duration(_ word: String) throws(ExpectationSyntaxError) -> Duration {
            guard let duration = DurationText.parse(word) else {
                throw ExpectationSyntaxError(problem: "'\(word)' is not a duration (write 90s, 2m, 500ms)")
            }
            return duration
        }
        func target(_ word: String) throws(ExpectationSyntaxError) -> WriteTarget {
            guard let target = WriteTarget(parsing: word) else {
                throw ExpectationSyntaxError(problem: "'\(word)' is not a device or device.command")
            }
            return target
        }
        /// `[after T] [by T]`, in that order.
        func window() throws(ExpectationSyntaxError) -> (Duration?, Duration?) {
            var after: Duration?
            var by: Duration?
            if words.first == "after" {
                words.removeFirst()
                after = try duration(try take("a duration after 'after'"))
            }
            if words.first == "by" {
                words.removeFirst()
                by = try duration(try take("a duration after 'by'"))
            }
            return (after, by)
        }
        func end() throws(ExpectationSyntaxError) {
            if let extra = words.first { throw ExpectationSyntaxError(problem: "unexpected '\(extra)' at the end") }
        }

        switch try take("a first word (zone, writes, no, device)") {
        case "zone":
            let zone = try take("a zone name")
            switch try take("'reaches', 'never' or 'stays'") {
            case "reaches":
                let state = try take("a zone state")
                let (after, by) = try window()
                try end()
                self = .zoneReaches(zone: zone, state: state, after: after, by: by)
            case "never":
                try keyword("reaches")
                let state = try take("a zone state")
                try end()
                self = .zoneNeverReaches(zone: zone, state: state)
            case "stays":
                let state = try take("a zone state")
                try end()
                self = .zoneStays(zone: zone, state: state)
            case let other:
                throw ExpectationSyntaxError(problem: "expected 'reaches', 'never' or 'stays', found '\(other)'")
            }
        case "writes":
            try keyword("to")
            let to = try target(try take("a device or device.command"))
            if words.first == "at" {
                words.removeFirst()
                try keyword("least")
                let gap = try duration(try take("a duration after 'at least'"))
                try keyword("after")
                let earlier = try target(try take("a device or device.command after 'after'"))
                try end()
                self = .writeGap(to: to, after: earlier, atLeast: gap)
                return
            }
            if words.count == 2, words.first == "after", let other = words.last, DurationText.parse(other) == nil {
                self = .writeOrder(to: to, after: try target(other))
                return
            }
            let (after, by) = try window()
            try end()
            self = .writes(to: to, after: after, by: by)
        case "no":
            try keyword("writes")
            try keyword("to")
            let to = try target(try take("a device or device.command"))
            try end()
            self = .noWrites(to: to)
        case "device":
            let device = try take("a device name")
            try keyword("reported")
            if words.first == "no" {
                words.removeFirst()
                try keyword("trouble")
                try end()
                self = .noTrouble(device: device)
            } else {
                try keyword("trouble")
                let (after, by) = try window()
                guard after == nil else {
                    throw ExpectationSyntaxError(problem: "'reported trouble' takes only 'by T'")
                }
                try end()
                self = .trouble(device: device, by: by)
            }
        case let other:
            throw ExpectationSyntaxError(problem: "expected 'zone', 'writes', 'no' or 'device', found '\(other)'")
        }
    }
}

/// A device, or one command of it: `panel-a` or `feed-a.open_feed_1`.
public struct WriteTarget: Sendable, Hashable, CustomStringConvertible {
    public var device: String
    /// nil: any command of the device.
    public var command: String?

    public init(device: String, command: String? = nil) {
        self.device = device
        self.command = command
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(device: parts[0], command: parts.count == 2 ? parts[1] : nil)
    }

    public func matches(device: String, command: String) -> Bool {
        device == self.device && (self.command == nil || self.command == command)
    }

    public var description: String { command.map { "\(device).\($0)" } ?? device }
}

/// An expectation line that does not follow the grammar.
public struct ExpectationSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problem: String
    public var description: String { problem }
}

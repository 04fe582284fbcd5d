/// The validated site as the engine sees it: zones, their signals, votes, thresholds and procedures.
///
/// Built by the gateway's configuration loader from `site.yaml` and the device profiles; the engine
/// never reads files. Everything here is a `Sendable` value.
public struct SiteModel: Sendable, Hashable {
    /// Site name, copied into every alert record.
    public var site: String
    /// How often each device is polled.
    public var pollInterval: Duration
    /// A reading older than this is stale, which is trouble.
    public var staleAfter: Duration
    /// Zones in the order the configuration lists them.
    public var zones: [ZoneSpec]
    /// `remind_every`: how often a latched zone nobody has acknowledged is notified again; nil is off (`0`).
    public var remindEvery: Duration?
    /// `quiet_period`: per zone and severity, at most one notification per period; what a flapping signal sends
    /// meanwhile is held and summed up when the period ends. `.zero` is off. Never applies at `fire`.
    public var quietPeriod: Duration

    public static let defaultRemindEvery = Duration.seconds(300)
    public static let defaultQuietPeriod = Duration.seconds(60)

    public init(
        site: String, pollInterval: Duration, staleAfter: Duration, zones: [ZoneSpec],
        remindEvery: Duration? = SiteModel.defaultRemindEvery, quietPeriod: Duration = SiteModel.defaultQuietPeriod
    ) {
        self.site = site
        self.pollInterval = pollInterval
        self.staleAfter = staleAfter
        self.zones = zones
        self.remindEvery = remindEvery
        self.quietPeriod = quietPeriod
    }
}

/// A battery room or rack row: the unit FireWatch detects, isolates, suppresses and cuts power in.
public struct ZoneSpec: Sendable, Hashable {
    public var name: String
    /// Signals in configuration order.
    public var signals: [SignalSpec]
    /// Tier 2: open battery strings, stop charging, start exhaust, fail traffic over, notify.
    public var isolate: [Step]
    /// Tier 3: HVAC off, pre-discharge countdown (abortable), release.
    public var suppress: [Step]
    /// Tier 3, after `suppress`: open the zone's own feeds, in order.
    public var powerCut: [Step]
    /// Hold-to-abort switches of the zone's releasing panel (profile points with `role: abort_switch` on a
    /// device the zone's `suppress` steps command): held, they stop the countdown like `abort`; let go, it
    /// restarts in full like `resume`.
    public var abortSwitches: [SourceRef]

    public init(
        name: String, signals: [SignalSpec], isolate: [Step], suppress: [Step], powerCut: [Step],
        abortSwitches: [SourceRef] = []
    ) {
        self.name = name
        self.signals = signals
        self.isolate = isolate
        self.suppress = suppress
        self.powerCut = powerCut
        self.abortSwitches = abortSwitches
    }
}

/// `device.point` or `device.point.bit`: one value a device serves.
public struct SourceRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var device: String
    public var point: String
    /// The named bit of a `bits` point, if the source is a single bit.
    public var bit: String?

    public init(device: String, point: String, bit: String? = nil) {
        self.device = device
        self.point = point
        self.bit = bit
    }

    /// Parses `device.point` or `device.point.bit`; nil when the shape is wrong.
    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(device: parts[0], point: parts[1], bit: parts.count == 3 ? parts[2] : nil)
    }

    public var description: String { bit.map { "\(device).\(point).\($0)" } ?? "\(device).\(point)" }

    public static func < (lhs: SourceRef, rhs: SourceRef) -> Bool { lhs.description < rhs.description }
}

/// M-out-of-N voting of redundant sources (IEC 61508 notation).
public enum Vote: String, Sendable, Hashable, CaseIterable {
    case oneOutOfOne = "1oo1"
    case oneOutOfTwo = "1oo2"
    case twoOutOfTwo = "2oo2"
    case twoOutOfThree = "2oo3"

    /// How many sources must agree.
    public var required: Int {
        switch self {
        case .oneOutOfOne, .oneOutOfTwo: return 1
        case .twoOutOfTwo, .twoOutOfThree: return 2
        }
    }

    /// How many sources the vote is defined over.
    public var sourceCount: Int {
        switch self {
        case .oneOutOfOne: return 1
        case .oneOutOfTwo, .twoOutOfTwo: return 2
        case .twoOutOfThree: return 3
        }
    }

    /// The vote used when the configuration names none: any single source for one or two
    /// sources (the safe side), two of three for three.
    public static func defaultVote(sourceCount: Int) -> Vote? {
        switch sourceCount {
        case 1: return .oneOutOfOne
        case 2: return .oneOutOfTwo
        case 3: return .twoOutOfThree
        default: return nil
        }
    }
}

/// How bad a record or a level is; ordered `info < trouble < alert < alarm < fire`.
public enum Severity: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case info = 0
    case trouble
    case alert
    case alarm
    case fire

    public var name: String {
        switch self {
        case .info: return "info"
        case .trouble: return "trouble"
        case .alert: return "alert"
        case .alarm: return "alarm"
        case .fire: return "fire"
        }
    }

    public init?(name: String) {
        guard let match = Severity.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The three thresholds a signal can cross.
public enum Level: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case alert = 2
    case alarm = 3
    case fire = 4

    public var severity: Severity { Severity(rawValue: rawValue)! }
    public var description: String { severity.name }
    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A value a source reports, already decoded and scaled by the gateway.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    /// Numeric points (`uint16`, `int16`, `uint32`, `int32`, `float32`), after scale and offset.
    case number(Double)
    /// Named values of `enum` points.
    case name(String)
    /// `bool` points and named bits.
    case flag(Bool)

    public var description: String {
        switch self {
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        case .name(let name): return name
        case .flag(let flag): return flag ? "true" : "false"
        }
    }
}

/// A threshold: a number the value reaches or exceeds, an enum name (or a set of names) the
/// value equals, or a boolean the value equals.
public enum Threshold: Sendable, Hashable, CustomStringConvertible {
    case atLeast(Double)
    case oneOf([String])
    case equals(Bool)

    public var description: String {
        switch self {
        case .atLeast(let value): return Value.number(value).description
        case .oneOf(let names): return names.joined(separator: "|")
        case .equals(let flag): return flag ? "true" : "false"
        }
    }
}

/// Temperature (or any numeric value) rising faster than `perSecond`, measured as a
/// least-squares slope over `window`.
public struct RateOfRise: Sendable, Hashable {
    public var perSecond: Double
    public var window: Duration

    public init(perSecond: Double, window: Duration) {
        self.perSecond = perSecond
        self.window = window
    }
}

/// One signal of a zone: a physical quantity seen by one or more redundant sources.
public struct SignalSpec: Sendable, Hashable {
    /// The configuration key (`temperature`, `offgas`, `smoke`, …).
    public var name: String
    /// The kind of evidence this signal is. Tier 3 needs two *different* kinds at `fire`.
    /// Defaults to the signal's name; two signals that measure the same thing share a kind.
    public var kind: String
    public var sources: [SourceRef]
    public var vote: Vote
    /// Thresholds by level; a level that is absent is never reached.
    public var thresholds: [Level: Threshold]
    /// Numeric signals only: a level clears when the value falls below its threshold minus this.
    public var deadband: Double
    public var rateOfRise: RateOfRise?
    /// Unit of the value, for messages ("°C", "% LFL").
    public var unit: String?

    public init(
        name: String, kind: String? = nil, sources: [SourceRef], vote: Vote, thresholds: [Level: Threshold],
        deadband: Double = 0, rateOfRise: RateOfRise? = nil, unit: String? = nil
    ) {
        self.name = name
        self.kind = kind ?? name
        self.sources = sources
        self.vote = vote
        self.thresholds = thresholds
        self.deadband = deadband
        self.rateOfRise = rateOfRise
        self.unit = unit
    }
}

/// Which of a zone's procedures.
public enum ProcedureKind: String, Sendable, Hashable, CaseIterable {
    case isolate
    case suppress
    case powerCut = "power_cut"
}

/// One step of a procedure, run in order by the gateway's actuator.
public enum Step: Sendable, Hashable, CustomStringConvertible {
    /// Write a command the device's profile declares, then verify it by reading back.
    case command(device: String, command: String)
    /// Run a program (argv, no shell) with a timeout.
    case run(argv: [String], timeout: Duration)
    /// Wait; an abortable delay is where `firewatch abort` stops a pre-discharge countdown.
    case delay(Duration, abortable: Bool)
    /// Tell people on these notification channels.
    case notify(channels: [String])

    public var description: String {
        switch self {
        case .command(let device, let command): return "command \(device).\(command)"
        case .run(let argv, let timeout): return "run \(argv.joined(separator: " ")) (timeout \(spoken(timeout)))"
        case .delay(let duration, let abortable): return "delay \(spoken(duration))\(abortable ? " (abortable)" : "")"
        case .notify(let channels): return "notify \(channels.joined(separator: ", "))"
        }
    }
}

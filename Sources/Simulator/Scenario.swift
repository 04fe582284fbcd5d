/// A scenario: a timeline of things that go wrong on a simulated site, and what FireWatch is expected
/// to do about them. Every scenario is also a test.
public struct Scenario: Sendable, Hashable {
    public var name: String
    public var description: String
    /// The site file the scenario is written for, relative to the scenario file; nil for the bundled example.
    public var site: String?
    /// How long the scenario runs, in simulated time.
    public var duration: Duration
    /// Default time compression (simulated seconds per wall-clock second); `--speed` overrides it.
    public var speed: Double
    /// Events in time order (stable for equal times: file order).
    public var timeline: [ScheduledEvent]
    public var expectations: [ScenarioExpectation]
    /// Where the scenario came from, for messages.
    public var file: String

    public init(
        name: String, description: String = "", site: String? = nil, duration: Duration, speed: Double = 1,
        timeline: [ScheduledEvent] = [], expectations: [ScenarioExpectation] = [], file: String = "<memory>"
    ) {
        self.name = name
        self.description = description
        self.site = site
        self.duration = duration
        self.speed = speed
        self.timeline = timeline
        self.expectations = expectations
        self.file = file
    }
}

/// One event of a timeline, with the line it was written on.
public struct ScheduledEvent: Sendable, Hashable {
    /// Time since the scenario started.
    public var at: Duration
    public var event: ScenarioEvent
    public var line: Int

    public init(at: Duration, event: ScenarioEvent, line: Int = 0) {
        self.at = at
        self.event = event
        self.line = line
    }
}

/// What a scenario can make happen. Strings and zones are physics; the rest is how devices answer.
public enum ScenarioEvent: Sendable, Hashable {
    /// String `string` (1-based) of `zone` goes straight into runaway.
    case thermalRunaway(zone: String, string: Int)
    /// String `string` is abused: it vents after a short delay and runs away unless isolated before its
    /// point of no return. `pointOfNoReturn` (venting time with the abuse on) and `runawayAfter`
    /// (venting to runaway) override the model's defaults; `pointOfNoReturn: 0s` means isolation cannot help.
    case offgas(zone: String, string: Int, pointOfNoReturn: Duration?, runawayAfter: Duration?)
    /// A sensor misbehaves; without `point`, every point of the device (and `offline` silences the device).
    case sensorFault(device: String, point: String?, mode: SensorFaultMode, for: Duration?)
    /// The device stops answering.
    case commLoss(device: String, for: Duration?)
    /// The device answers, late.
    case slowDevice(device: String, delay: Duration, for: Duration?)
    /// The device answers every request with a Modbus exception.
    case exception(device: String, code: SimException, for: Duration?)
    /// A point reads this value (a panel fault, dust on a smoke detector, a sensor someone recalibrated).
    case set(device: String, point: String, value: SimValue, for: Duration?)
    /// Someone in the room holds the zone's panel abort switch for `for`, then lets go.
    case abortSwitch(zone: String, for: Duration)
    /// The daemon's wall clock is stepped by this much (negative: back), as NTP or an operator would; the
    /// simulator's own time and every device are untouched. Only in-process runs (`ScenarioRun`) can do it.
    case clockStep(by: Duration)
    /// The daemon reloads its configuration from this site file (absolute path), as on SIGHUP.
    case reload(site: String)
    /// The daemon is stopped as by SIGTERM and started again on the same alert log, which it restores from.
    /// Only in-process runs (`ScenarioRun`) can do it.
    case restart

    /// How long the event's effect lasts, for the events that have a `for:`.
    public var lasts: Duration? {
        switch self {
        case .sensorFault(_, _, _, let length), .commLoss(_, let length), .slowDevice(_, _, let length),
            .exception(_, _, let length), .set(_, _, _, let length):
            return length
        case .abortSwitch(_, let length): return length
        case .thermalRunaway, .offgas, .clockStep, .reload, .restart: return nil
        }
    }
}

/// How a faulty sensor misreads.
public enum SensorFaultMode: Sendable, Hashable {
    /// Keeps serving the value it had when the fault began.
    case stuck
    /// Serves nothing.
    case offline
    /// Serves a value its profile rejects, or this number when given.
    case outOfRange(value: Double?)
    /// Adds uniform noise of this half-width (numeric points only).
    case noise(amplitude: Double)
    /// Drifts away at this many units per minute (numeric points only).
    case drift(perMinute: Double)
}

/// An expectation with the line it was written on.
public struct ScenarioExpectation: Sendable, Hashable, CustomStringConvertible {
    public var expectation: ExpectedOutcome
    public var line: Int

    public init(_ expectation: ExpectedOutcome, line: Int = 0) {
        self.expectation = expectation
        self.line = line
    }

    public var description: String { expectation.description }
}

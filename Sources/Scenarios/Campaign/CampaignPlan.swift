import FireSafety
import Simulator
import SiteConfig

/// One randomized run of a campaign, drawn from its seed: an incident (or a quiet day) and the faults, restarts
/// and operator commands layered on top. Everything that happens is an event, so a failing run can be shrunk
/// by dropping events and replayed from the list alone.
public struct CampaignPlan: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A string of `zone` is abused at the first `.offgas` event: it vents, and runs away unless it is
        /// disconnected before its point of no return.
        case incident(zone: String, string: Int)
        /// Nothing burns; only faults and operator commands.
        case quiet
    }

    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Something the simulated site does (a string failing, a sensor or device fault).
        case site(ScenarioEvent)
        /// The daemon is killed (kill -9) and started again `after` later, restoring from the log so far.
        case restart(after: Duration)
        /// The wall clock steps (the monotonic clock does not).
        case clockStep(Duration)
        /// The site file is reloaded unchanged (SIGHUP).
        case reload
        /// An operator command on the control socket.
        case command(OperatorCommand)

        public var description: String {
            switch self {
            case .site(let event): return ScenarioEventText.describe(event)
            case .restart(let after): return "restart (down \(DurationText.format(after)))"
            case .clockStep(let by):
                return "wall clock steps \(by < .zero ? "back" : "forward") \(DurationText.format(abs(by)))"
            case .reload: return "reload (SIGHUP)"
            case .command(let command): return "operator \(command)"
            }
        }
    }

    public struct Event: Sendable, Hashable, CustomStringConvertible {
        public var at: Duration
        public var action: Action

        public var description: String { "at \(DurationText.format(at)): \(action)" }
    }

    public var seed: UInt64
    public var kind: Kind
    public var duration: Duration
    /// In time order.
    public var events: [Event]

    public var description: String {
        let head: String
        switch kind {
        case .incident(let zone, let string): head = "incident in \(zone), string \(string)"
        case .quiet: head = "quiet"
        }
        return "seed \(seed): \(head), \(DurationText.format(duration))\n"
            + events.map { "  \($0)" }.joined(separator: "\n")
    }

    /// The same run with only the events at `kept`.
    func keeping(_ kept: [Int]) -> CampaignPlan {
        var plan = self
        plan.events = kept.map { events[$0] }
        return plan
    }
}

private func abs(_ duration: Duration) -> Duration { duration < .zero ? .zero - duration : duration }

/// Draws runs for a site. The ranges follow DEVICE-FACTS.md: off-gas minutes before runaway (6.4 min in the DNV
/// GL tests), a point of no return within that window; faults of every kind the simulator has.
public struct CampaignGenerator: Sendable {
    public struct Zone: Sendable, Hashable {
        public var name: String
        public var strings: Int
        /// Devices whose readings the zone's signals use, and which answer commands of its steps.
        public var sensors: [SensorPoint]
        public var devices: [String]
    }

    public struct SensorPoint: Sendable, Hashable {
        public var device: String
        public var point: String
        /// A number the point can read past its range (for out_of_range faults), nil when it has none.
        public var numeric: Bool
    }

    public var zones: [Zone]
    /// How long an incident run lasts: enough for a runaway, its fire and the suppression to play out.
    public var incidentDuration: Duration = .seconds(40 * 60)
    /// How long one quiet run lasts.
    public var quietDuration: Duration = .seconds(86_400)
    /// Runs for the real daemon and simulator: no operator commands (a scenario file has none) and restarts
    /// without downtime (a scenario's restart starts the next daemon at once).
    public var forScenarios = false

    public init(zones: [Zone]) {
        self.zones = zones
    }

    public func incident(seed: UInt64) -> CampaignPlan {
        var rng = SplitMix64(seed: seed)
        let zone = zones[Int(rng.next() % UInt64(zones.count))]
        let string = 1 + Int(rng.next() % UInt64(max(1, zone.strings)))
        // At any phase of the poll schedule, to the millisecond.
        let onset = Duration.milliseconds(Int64(60_000 + rng.next() % 600_000))
        // Venting time until disconnecting no longer helps, and from venting to runaway: seconds to minutes.
        let pointOfNoReturn = Duration.seconds(Int64(5 + rng.next() % 296))
        let runawayAfter = pointOfNoReturn + .seconds(Int64(30 + rng.next() % 420))
        var events = [
            CampaignPlan.Event(
                at: onset,
                action: .site(
                    .offgas(
                        zone: zone.name, string: string, pointOfNoReturn: pointOfNoReturn, runawayAfter: runawayAfter)))
        ]
        events += faults(&rng, count: Int(rng.next() % 5), within: incidentDuration, near: onset)
        let commandCount = Int(rng.next() % 4)
        if !forScenarios { events += commands(&rng, count: commandCount, within: incidentDuration, near: onset) }
        return CampaignPlan(
            seed: seed, kind: .incident(zone: zone.name, string: string), duration: incidentDuration,
            events: events.sorted { $0.at < $1.at })
    }

    public func quiet(seed: UInt64) -> CampaignPlan {
        var rng = SplitMix64(seed: seed)
        let events =
            faults(&rng, count: 2 + Int(rng.next() % 10), within: quietDuration, near: nil)
            + commands(&rng, count: Int(rng.next() % 4), within: quietDuration, near: nil)
        return CampaignPlan(
            seed: seed, kind: .quiet, duration: quietDuration, events: events.sorted { $0.at < $1.at })
    }

    /// Times cluster around the incident's onset (where faults do harm), else spread over the run.
    private func time(_ rng: inout SplitMix64, within duration: Duration, near onset: Duration?) -> Duration {
        let whole = duration / .seconds(1)
        if let onset, rng.next() % 3 != 0 {
            let at = onset - .seconds(120) + .seconds(Int64(rng.next() % 900))
            return min(max(at, .seconds(1)), duration - .seconds(1))
        }
        return .seconds(Int64(rng.next() % UInt64(max(1, whole - 1))))
    }

    private func faults(_ rng: inout SplitMix64, count: Int, within duration: Duration, near onset: Duration?)
        -> [CampaignPlan.Event]
    {
        var events: [CampaignPlan.Event] = []
        for _ in 0..<count {
            let at = time(&rng, within: duration, near: onset)
            let zone = zones[Int(rng.next() % UInt64(zones.count))]
            let lasts = Duration.seconds(Int64(2 + rng.next() % 600))
            let device = zone.devices[Int(rng.next() % UInt64(zone.devices.count))]
            let sensor = zone.sensors[Int(rng.next() % UInt64(zone.sensors.count))]
            let action: CampaignPlan.Action
            switch rng.next() % 12 {
            case 0: action = .site(.sensorFault(device: sensor.device, point: sensor.point, mode: .stuck, for: lasts))
            case 1: action = .site(.sensorFault(device: sensor.device, point: sensor.point, mode: .offline, for: lasts))
            case 2:
                action = .site(
                    .sensorFault(
                        device: sensor.device, point: sensor.point, mode: .drift(perMinute: Double(rng.next() % 8)),
                        for: lasts))
            case 3:
                action = .site(
                    .sensorFault(
                        device: sensor.device, point: sensor.point, mode: .noise(amplitude: Double(rng.next() % 6)),
                        for: lasts))
            case 4:
                let value: Double? = sensor.numeric && rng.next() % 2 == 0 ? 999 : nil
                action = .site(
                    .sensorFault(device: sensor.device, point: sensor.point, mode: .outOfRange(value: value), for: lasts))
            case 5: action = .site(.commLoss(device: device, for: lasts))
            case 6:
                action = .site(
                    .slowDevice(device: device, delay: .milliseconds(Int64(100 + rng.next() % 1500)), for: lasts))
            case 7:
                let codes = SimException.allCases
                action = .site(
                    .exception(device: device, code: codes[Int(rng.next() % UInt64(codes.count))], for: lasts))
            case 8:
                let hours = Int64(1 + rng.next() % 3)
                action = .clockStep(rng.next() % 2 == 0 ? .seconds(3600 * hours) : .seconds(-3600 * hours))
            case 9: action = .reload
            default:
                let down = Duration.seconds(Int64(1 + rng.next() % 10))
                action = .restart(after: forScenarios ? .zero : down)
            }
            events.append(CampaignPlan.Event(at: at, action: action))
        }
        return events
    }

    private func commands(_ rng: inout SplitMix64, count: Int, within duration: Duration, near onset: Duration?)
        -> [CampaignPlan.Event]
    {
        (0..<count).map { _ in
            let at = time(&rng, within: duration, near: onset)
            let zone = zones[Int(rng.next() % UInt64(zones.count))].name
            let command: OperatorCommand
            switch rng.next() % 7 {
            case 0: command = .ack(zone: zone, uid: "kim")
            case 1, 2: command = .reset(zone: zone, uid: "kim")
            case 3: command = .abort(zone: zone, uid: "lee")
            case 4: command = .resume(zone: zone, uid: "lee")
            case 5:
                command = .inhibit(
                    zone: zone, uid: "park", duration: .seconds(Int64(60 + rng.next() % 3600)), reason: "campaign")
            default: command = .enable(zone: zone, uid: "park")
            }
            return CampaignPlan.Event(at: at, action: .command(command))
        }
    }
}

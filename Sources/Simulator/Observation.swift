import SiteConfig
/// Something FireWatch was seen doing during a scenario run, fed to the expectation evaluator by the
/// runner (from the alert log or the daemon's events). Times are since the scenario started.
public struct Observation: Sendable, Hashable, CustomStringConvertible {
    /// What was seen.
    public enum Kind: Sendable, Hashable {
        /// A zone entered a state (`zone.state` records, field `to`).
        case zoneState(zone: String, state: String)
        /// A command was written to a device (`step.started` of a command step; also in dry-run tests).
        case write(device: String, command: String)
        /// A device or one of its points was reported as trouble (comm lost, invalid, stale).
        case trouble(device: String, point: String?)
    }

    public var at: Duration
    public var kind: Kind

    public init(at: Duration, _ kind: Kind) {
        self.at = at
        self.kind = kind
    }

    public static func zoneState(_ zone: String, _ state: String, at: Duration) -> Observation {
        Observation(at: at, .zoneState(zone: zone, state: state))
    }

    public static func write(_ device: String, _ command: String, at: Duration) -> Observation {
        Observation(at: at, .write(device: device, command: command))
    }

    public static func trouble(_ device: String, point: String? = nil, at: Duration) -> Observation {
        Observation(at: at, .trouble(device: device, point: point))
    }

    public var description: String {
        let time = DurationText.format(at)
        switch kind {
        case .zoneState(let zone, let state): return "\(time) zone \(zone) → \(state)"
        case .write(let device, let command): return "\(time) write \(device).\(command)"
        case .trouble(let device, let point): return "\(time) trouble \(point.map { "\(device).\($0)" } ?? device)"
        }
    }
}

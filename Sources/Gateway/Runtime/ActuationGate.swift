import FireSafety

/// The one seam between deciding and acting. Before the actuator performs a step, and again before every write
/// it puts on the wire (a retry included), it asks the gate whether this gateway may act on the site now.
///
/// A single gateway always may (`OpenGate`); under `--dry-run` it never may (`DryRunGate`: every step is logged
/// as skipped, nothing is written or run). A hot-standby pair answers from its lease, and the token it grants
/// (owner and epoch) is what fences a former owner's late writes.
public protocol ActuationGate: Sendable {
    func permit(_ request: ActuationRequest) async -> ActuationPermit
    /// Whether notifications go out from this gateway now (a standby's do not: the owner sends them).
    func notifies() -> Bool
    /// The owner and epoch records are stamped with (`owner`/`epoch`); nil for a gateway that acts alone.
    func fence() -> ActuationToken?
}

extension ActuationGate {
    public func notifies() -> Bool { true }
    public func fence() -> ActuationToken? { nil }
}

/// What the actuator is about to do.
public struct ActuationRequest: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Start performing a step (any kind: command, run, notify).
        case perform
        /// Put a command's write on the wire (attempt counts from 1; a resumed step's first write is a retry).
        case write(attempt: Int)
    }

    public var zone: String
    public var procedure: ProcedureKind
    public var step: Step
    public var action: Action

    public init(zone: String, procedure: ProcedureKind, step: Step, action: Action) {
        self.zone = zone
        self.procedure = procedure
        self.step = step
        self.action = action
    }
}

/// Who may act, and since when: the holder of a lease and the lease's epoch.
public struct ActuationToken: Sendable, Hashable {
    public var owner: String
    public var epoch: Int64

    public init(owner: String, epoch: Int64) {
        self.owner = owner
        self.epoch = epoch
    }
}

/// The gate's answer.
public enum ActuationPermit: Sendable, Hashable {
    /// Go ahead; `token` names the owner and epoch the act is made under (nil for a gateway that acts alone).
    case granted(ActuationToken?)
    /// Do not act; `reason` is what the step's record says ("dry run"). The step ends `skipped`.
    case refused(reason: String)
    /// Not now: another gateway acts (a standby pair's owner), or this one's lease is being renewed. The step
    /// waits, asking again, and is performed as a resumed step (read first, write only what is not done) once
    /// granted; `reason` is what the log says while it waits.
    case deferred(reason: String)
}

/// A gateway that acts alone: always yes.
public struct OpenGate: ActuationGate {
    public init() {}
    public func permit(_ request: ActuationRequest) async -> ActuationPermit { .granted(nil) }
}

/// `--dry-run`: poll and decide, never act.
public struct DryRunGate: ActuationGate {
    public init() {}
    public func permit(_ request: ActuationRequest) async -> ActuationPermit { .refused(reason: "dry run") }
}

import FireSafety

/// The one seam between deciding and acting. Before the actuator performs a step, and again before every write
/// it puts on the wire (a retry included), it asks the gate whether this gateway may act on the site now.
///
/// A single gateway always may (`OpenGate`); under `--dry-run` it never may (`DryRunGate`: every step is logged
/// as skipped, nothing is written or run). A hot-standby pair answers from its lease, and the token it grants
/// (owner and epoch) is what fences a former owner's late writes.
public protocol ActuationGate: Sendable {
    func permit(_ request: ActuationRequest) async -> ActuationPermit
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
    /// Do not act; `reason` is what the step's record says ("dry run", "not the owner of the site's lease").
    case refused(reason: String)
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

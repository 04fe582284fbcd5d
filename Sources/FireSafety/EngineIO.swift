/// The main state of a zone, in the order the tiers advance (CONTRACT.md tier table).
///
/// The state says how far the plan has been *decided*: `isolating` and `suppressing` hold from the moment
/// the tier is decided until its procedure completes, even while an inhibit holds the steps back.
public enum ZoneState: String, Sendable, Hashable, CaseIterable, Comparable {
    case normal
    case alert
    case isolating
    case isolated
    case suppressing
    case suppressed
    case powerCut = "power_cut"

    var rank: Int {
        switch self {
        case .normal: return 0
        case .alert: return 1
        case .isolating: return 2
        case .isolated: return 3
        case .suppressing: return 4
        case .suppressed: return 5
        case .powerCut: return 6
        }
    }

    public static func < (lhs: ZoneState, rhs: ZoneState) -> Bool { lhs.rank < rhs.rank }

    /// The severity of records announcing this state.
    public var severity: Severity {
        switch self {
        case .normal: return .info
        case .alert: return .alert
        case .isolating, .isolated: return .alarm
        case .suppressing, .suppressed, .powerCut: return .fire
        }
    }
}

/// What a signal currently says after voting.
public enum SignalCondition: String, Sendable, Hashable, CaseIterable {
    case normal
    case alert
    case alarm
    case fire
    /// No healthy source: the engine cannot tell, which is never reported as normal.
    case trouble

    init(_ level: Level?) {
        switch level {
        case nil: self = .normal
        case .alert?: self = .alert
        case .alarm?: self = .alarm
        case .fire?: self = .fire
        }
    }

    var severity: Severity {
        switch self {
        case .normal: return .info
        case .alert: return .alert
        case .alarm: return .alarm
        case .fire: return .fire
        case .trouble: return .trouble
        }
    }

    var level: Level? {
        switch self {
        case .alert: return .alert
        case .alarm: return .alarm
        case .fire: return .fire
        case .normal, .trouble: return nil
        }
    }
}

/// Where a zone's procedure stands.
public enum ProcedurePhase: Sendable, Hashable {
    case idle
    /// Step `next` is running, or is the next to start (between a finished step and the next start).
    case running(next: Int)
    case done
    /// `abort` (or a panel's abort switch) stopped it (only `suppress`); it restarts on `resume` (or when the
    /// switch is let go), with its countdown in full, and is cleared by a reset.
    case aborted
}

/// A step the runtime is (or the engine's own delay timer is) running.
public struct RunningStep: Sendable, Hashable {
    public var procedure: ProcedureKind
    public var index: Int
    public var startedAt: Timestamp
    /// Set for `delay` steps, which the engine times itself.
    public var delayEnds: Timestamp?
}

/// A snapshot of one signal for `/status` and tests.
public struct SignalStatus: Sendable, Hashable {
    public var name: String
    public var kind: String
    public var condition: SignalCondition
    /// Some source is failed, stale, invalid or missing; the vote runs degraded (or not at all).
    public var degraded: Bool
}

/// A snapshot of one zone: main state, overlays, latch and plan progress.
public struct ZoneStatus: Sendable, Hashable {
    public var name: String
    public var state: ZoneState
    /// The latched tier demand: `.alarm` (isolate) or `.fire` (suppress); cleared only by a permitted reset.
    public var latched: Level?
    /// Overlay: some signal is degraded or has no healthy source.
    public var trouble: Bool
    /// Overlay: actuation is held until this time.
    public var inhibitedUntil: Timestamp?
    public var inhibitReason: String?
    /// Overlay: a walk test runs until this time (nothing of the zone's procedures runs; records carry `test`).
    public var testUntil: Timestamp? = nil
    public var testReason: String? = nil
    /// Who started the walk test, as records name an operator (`root (uid 0)`).
    public var testBy: String? = nil
    /// Overlay: an operator silenced re-notification of the current state.
    public var acknowledged: Bool
    public var isolate: ProcedurePhase
    public var suppress: ProcedurePhase
    public var powerCut: ProcedurePhase
    public var running: RunningStep?
    public var signals: [SignalStatus]
    /// A panel abort switch of the zone is held (read within `stale_after`).
    public var abortSwitchHeld = false
}

/// An operator's command from the control socket; `uid` is the peer's user id or name, logged verbatim.
public enum OperatorCommand: Sendable, Hashable {
    /// Silence re-notification of the zone's current state; changes nothing else.
    case ack(zone: String, uid: String)
    /// Clear latched alarm/fire and plan progress; refused while any cause is present or a step is running.
    case reset(zone: String, uid: String)
    /// Stop a pre-discharge countdown; the zone is held `isolated` with a fire alert.
    case abort(zone: String, uid: String)
    /// Take an accepted abort back: suppression goes on from the step it stopped at, its countdown in full.
    case resume(zone: String, uid: String)
    /// Hold actuation (detection and records go on) for `duration`.
    case inhibit(zone: String, uid: String, duration: Duration, reason: String)
    /// End an inhibit early; held procedures start if their tier is still latched.
    case enable(zone: String, uid: String)
    /// Start a walk test for `duration` (re-issued: a new deadline and reason): detection, records and
    /// notifications go on, marked test; no step of the zone's procedures runs; the zone is trouble meanwhile.
    case test(zone: String, uid: String, duration: Duration, reason: String)
    /// End a walk test before its deadline; what it latched is cleared and the zone judges its readings afresh.
    case endTest(zone: String, uid: String)

    public var zone: String {
        switch self {
        case .ack(let zone, _), .reset(let zone, _), .abort(let zone, _), .resume(let zone, _),
            .inhibit(let zone, _, _, _), .enable(let zone, _), .test(let zone, _, _, _), .endTest(let zone, _):
            return zone
        }
    }

    public var uid: String {
        switch self {
        case .ack(_, let uid), .reset(_, let uid), .abort(_, let uid), .resume(_, let uid),
            .inhibit(_, let uid, _, _), .enable(_, let uid), .test(_, let uid, _, _), .endTest(_, let uid):
            return uid
        }
    }
}

/// How the runtime says a step ended.
public enum StepOutcome: String, Sendable, Hashable, CaseIterable {
    case succeeded
    case failed
    /// Not performed (for instance `--dry-run`).
    case skipped
}

/// Something the runtime must do, in order, after it has appended and fsynced `Output.records`.
public enum Action: Sendable, Hashable {
    /// Run a `command`, `run` or `notify` step and report back with `Engine.stepFinished`.
    case runStep(zone: String, procedure: ProcedureKind, index: Int, step: Step)
    /// Stop the step if the runtime is still running it (an aborted `run`); for a delay it is informational.
    case cancelStep(zone: String, procedure: ProcedureKind, index: Int)
    /// Tell people on every configured channel; never blocks actuation. The record is already in `records`,
    /// except for reminders of an unacknowledged state, whose message starts with "reminder".
    case notify(AlertRecord)
}

/// What one call into the engine decided.
public struct Output: Sendable, Hashable {
    /// Append and fsync these before performing any action.
    public var records: [AlertRecord]
    public var actions: [Action]
    /// Set when an operator command (or a step report) was refused, saying why in an operator's words.
    public var refused: String?
    /// The earliest time the engine has a timer due (a delay step, an inhibit expiry, a staleness deadline,
    /// a reminder); the runtime should call `evaluate` no later than this.
    public var nextDeadline: Timestamp?

    public init(
        records: [AlertRecord] = [], actions: [Action] = [], refused: String? = nil,
        nextDeadline: Timestamp? = nil
    ) {
        self.records = records
        self.actions = actions
        self.refused = refused
        self.nextDeadline = nextDeadline
    }
}

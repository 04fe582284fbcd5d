/// What an alert-log line says happened (CONTRACT.md, "Alert log"). Raw values are the exact `event` strings.
public enum AlertEvent: String, Sendable, Hashable, CaseIterable {
    case daemonStarted = "daemon.started"
    case daemonStopped = "daemon.stopped"
    case daemonConfigReloaded = "daemon.config_reloaded"
    case zoneState = "zone.state"
    case signalLevel = "signal.level"
    case deviceCommLost = "device.comm_lost"
    case deviceCommRestored = "device.comm_restored"
    case pointInvalid = "point.invalid"
    case pointStale = "point.stale"
    case stepStarted = "step.started"
    case stepSucceeded = "step.succeeded"
    case stepFailed = "step.failed"
    case stepSkipped = "step.skipped"
    case stepAborted = "step.aborted"
    case stepResumed = "step.resumed"
    /// A command's write is about to be tried again (logged before each further attempt).
    case stepRetried = "step.retried"
    case notifyFailed = "notify.failed"
    /// An operator asked for a test message on the channels (`firewatch notify test`): logged before it is sent.
    case notifyTest = "notify.test"
    /// A supervised channel's heartbeat (`heartbeat:`): sent on that channel only and never logged (its failure is a
    /// `notify.failed`, which is).
    case notifyHeartbeat = "notify.heartbeat"
    case operatorAck = "operator.ack"
    case operatorReset = "operator.reset"
    case operatorAbort = "operator.abort"
    case operatorInhibit = "operator.inhibit"
    case operatorEnable = "operator.enable"
    /// An accepted abort taken back (by `firewatch resume`, or a panel's abort switch let go).
    case operatorResume = "operator.resume"
    /// A walk test of the zone started (`firewatch test ZONE --for 1h --reason …`): detection and notifications go
    /// on, marked test, and nothing of the zone's procedures runs until it ends.
    case operatorTest = "operator.test"
    /// A walk test ended by an operator (`firewatch test ZONE --end`); at its deadline it ends with a `zone.state`
    /// record from `test`.
    case operatorTestEnd = "operator.test_end"
    case logRotated = "log.rotated"
    /// The writer found the live file's last line torn (a stop mid-write), cut it off and quoted it.
    case logTruncated = "log.truncated"
    /// The wall clock stepped by more than a second; no timer changed (every duration runs on the monotonic clock).
    case clockStepped = "clock.stepped"
    /// Everything restore needs (in its `state` member): the first record of every log file, and hourly.
    case stateCheckpoint = "state.checkpoint"
    /// A start after an unclean stop: no `daemon.stopped` after the last `daemon.started`.
    case daemonRecovered = "daemon.recovered"
    /// The alert log stopped taking records (they are held in memory), and when it takes them again.
    case logNotDurable = "log.not_durable"
    case logDurable = "log.durable"
    /// A hot-standby pair's lease changed hands, or this gateway learned who holds it (`owner`, `epoch`).
    case standbyOwner = "standby.owner"
    /// This gateway of a pair cannot reach etcd (trouble), and when it can again.
    case standbyEtcdLost = "standby.etcd_lost"
    case standbyEtcdRestored = "standby.etcd_restored"
    /// An operator command given on the other gateway of a pair was refused by this one's engine (trouble: the
    /// two gateways no longer agree on the zone).
    case standbyCommandRefused = "standby.command_refused"
    /// A device's poll started a whole poll interval or more after it was due (trouble: the gateway is short of CPU,
    /// or a device answers slower than its interval), and when polling has been on time again for a while.
    case pollLate = "poll.late"
    case pollOnTime = "poll.on_time"
}

/// One alert-log entry without `seq` and `prev`, which the log writer adds when it chains the line.
///
/// A flat struct of optionals so the gateway can encode it 1:1; each field's `///` names its JSON key.
/// Records are also the engine's memory across restarts: `Engine.restore(model:from:at:)` folds them.
public struct AlertRecord: Sendable, Hashable {
    /// JSON `time`: ISO 8601 UTC with milliseconds.
    public var time: Timestamp
    /// JSON `site`.
    public var site: String
    /// JSON `zone`; absent for site-wide records (daemon events, a device shared by several zones).
    public var zone: String?
    /// JSON `severity`: `info|trouble|alert|alarm|fire`.
    public var severity: Severity
    /// JSON `event`.
    public var event: AlertEvent
    /// JSON `from`: the previous zone state (`normal`…`power_cut`, or the overlay `trouble`/`inhibited`) or
    /// signal level (`normal|alert|alarm|fire|trouble`).
    public var from: String?
    /// JSON `to`: the new zone state or signal level, same vocabulary as `from`.
    public var to: String?
    /// JSON `device`.
    public var device: String?
    /// JSON `point` (`point` or `point.bit`).
    public var point: String?
    /// JSON `value`: the value that decided, as text (`71.5`, `fire1`, `true`).
    public var value: String?
    /// JSON `message`: one sentence an operator understands.
    public var message: String
    /// JSON `signal`: the signal name (`signal.level`).
    public var signal: String?
    /// JSON `level`: the zone's latched level (`alarm|fire`) on `zone.state`.
    public var level: Level?
    /// JSON `procedure`: `isolate|suppress|power_cut` on `step.*`.
    public var procedure: ProcedureKind?
    /// JSON `step`: zero-based index of the step within its procedure.
    public var step: Int?
    /// JSON `step_text`: the step as configured (`command feed-a.stop_hvac`).
    public var stepText: String?
    /// JSON `uid`: the operator on `operator.*` (the control socket peer's user id; absent for a panel's own
    /// abort switch, which `device`/`point` name instead).
    public var uid: String?
    /// JSON `user`: the operator's user name for `uid`, when the system knows one.
    public var user: String?
    /// JSON `until`: inhibit expiry on `operator.inhibit`; end of a delay on `step.started`/`step.resumed`.
    public var until: Timestamp?
    /// JSON `reason`: the operator's reason for an inhibit, or why a command was refused.
    public var reason: String?
    /// JSON `outcome`: `accepted|refused` on `operator.*`.
    public var outcome: String?
    /// JSON `detail`: what the runtime said about a finished step (exit status, read-back value, error).
    public var detail: String?
    /// JSON `owner`: in a hot-standby pair, the gateway holding the site's lease when the record was made (on
    /// `step.*`, `standby.*` and every notification).
    public var owner: String?
    /// JSON `epoch`: that lease's epoch (the revision that created its owner key; 0 for a primary acting alone
    /// because etcd was never reached). A newer owner always has a higher epoch.
    public var epoch: Int64?
    /// JSON `test`: `true` on every record of a zone in a walk test (present only then); its `uid` is then the
    /// technician's who started the test.
    public var test = false

    public init(
        time: Timestamp, site: String, zone: String? = nil, severity: Severity, event: AlertEvent,
        from: String? = nil, to: String? = nil, device: String? = nil, point: String? = nil, value: String? = nil,
        message: String, signal: String? = nil, level: Level? = nil, procedure: ProcedureKind? = nil,
        step: Int? = nil, stepText: String? = nil, uid: String? = nil, until: Timestamp? = nil,
        reason: String? = nil, outcome: String? = nil, detail: String? = nil, user: String? = nil
    ) {
        self.time = time
        self.site = site
        self.zone = zone
        self.severity = severity
        self.event = event
        self.from = from
        self.to = to
        self.device = device
        self.point = point
        self.value = value
        self.message = message
        self.signal = signal
        self.level = level
        self.procedure = procedure
        self.step = step
        self.stepText = stepText
        self.uid = uid
        self.until = until
        self.reason = reason
        self.outcome = outcome
        self.detail = detail
        self.user = user
    }
}

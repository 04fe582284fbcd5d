/// What the engine must remember across a restart: latches, acknowledgements, inhibits, aborts, the overlay and
/// signal levels last logged, and the progress of every procedure *by step identity* (`step_text`), never by
/// index, so a configuration that changed while the daemon was down cannot shift a step.
///
/// Built by folding alert-log records (`fold(_:)`) in the order they were written, starting from an empty state
/// or from the newest `state.checkpoint` record (the first line of every log file). `Engine.restore(model:from:at:)`
/// turns it back into a running engine.
public struct EngineCheckpoint: Sendable, Hashable {
    /// How far one procedure of one zone has come.
    public struct Progress: Sendable, Hashable {
        public enum Phase: String, Sendable, Hashable, CaseIterable {
            case idle, running, done, aborted
        }

        public var phase: Phase
        /// Identities (`step_text`) of the steps finished since the procedure started, in order.
        public var done: [String]
        /// The step under way when the log ends, by identity.
        public var running: String?
        /// When the step under way started (wall time of its record).
        public var runningSince: Timestamp?

        public init(phase: Phase = .idle, done: [String] = [], running: String? = nil, runningSince: Timestamp? = nil) {
            self.phase = phase
            self.done = done
            self.running = running
            self.runningSince = runningSince
        }
    }

    /// One zone's remembered state.
    public struct Zone: Sendable, Hashable {
        public var name: String
        public var latched: Level?
        /// The state last logged.
        public var state: ZoneState
        public var trouble: Bool
        public var acknowledged: Bool
        /// The first escalation since the last `ack` or reset: reminders say how long it has gone unacknowledged.
        public var unacknowledgedSince: Timestamp?
        public var inhibitedUntil: Timestamp?
        public var inhibitReason: String?
        /// A walk test under way: its deadline, reason and who started it (`uid`, `user`).
        public var testUntil: Timestamp?
        public var testReason: String?
        public var testUid: String?
        public var testUser: String?
        public var isolate: Progress
        public var suppress: Progress
        public var powerCut: Progress
        /// The level each signal last logged, by signal name.
        public var signals: [String: SignalCondition]
        /// The abort holding suppression came from a panel's abort switch (letting it go resumes).
        public var abortedBySwitch = false

        public init(
            name: String, latched: Level? = nil, state: ZoneState = .normal, trouble: Bool = false,
            acknowledged: Bool = false, inhibitedUntil: Timestamp? = nil, inhibitReason: String? = nil,
            isolate: Progress = Progress(), suppress: Progress = Progress(), powerCut: Progress = Progress(),
            signals: [String: SignalCondition] = [:]
        ) {
            self.name = name
            self.latched = latched
            self.state = state
            self.trouble = trouble
            self.acknowledged = acknowledged
            self.inhibitedUntil = inhibitedUntil
            self.inhibitReason = inhibitReason
            self.isolate = isolate
            self.suppress = suppress
            self.powerCut = powerCut
            self.signals = signals
        }

        public subscript(kind: ProcedureKind) -> Progress {
            get {
                switch kind {
                case .isolate: return isolate
                case .suppress: return suppress
                case .powerCut: return powerCut
                }
            }
            set {
                switch kind {
                case .isolate: isolate = newValue
                case .suppress: suppress = newValue
                case .powerCut: powerCut = newValue
                }
            }
        }
    }

    /// Zones in the order the log first named them.
    public var zones: [Zone]
    /// Devices whose last comm record says lost.
    public var lostDevices: Set<String>
    /// A `daemon.started` with no `daemon.stopped` after it: if the log ends here, the daemon did not stop cleanly.
    public var daemonRunning: Bool
    /// When that `daemon.started` was written.
    public var daemonStartedAt: Timestamp?

    public init(
        zones: [Zone] = [], lostDevices: Set<String> = [], daemonRunning: Bool = false,
        daemonStartedAt: Timestamp? = nil
    ) {
        self.zones = zones
        self.lostDevices = lostDevices
        self.daemonRunning = daemonRunning
        self.daemonStartedAt = daemonStartedAt
    }

    /// The state after folding `records`, oldest first, into an empty one.
    public init(folding records: some Sequence<AlertRecord>) {
        self.init()
        for record in records { fold(record) }
    }

    public func zone(named name: String) -> Zone? {
        zones.first { $0.name == name }
    }

    /// Applies one logged record the way the live engine changed when it wrote it. Records of refused commands
    /// and events the engine does not own change nothing.
    public mutating func fold(_ record: AlertRecord) {
        switch record.event {
        case .deviceCommLost, .deviceCommRestored:
            guard let device = record.device else { return }
            if record.event == .deviceCommLost { lostDevices.insert(device) } else { lostDevices.remove(device) }
            return
        case .daemonStarted:
            daemonRunning = true
            daemonStartedAt = record.time
            return
        case .daemonStopped:
            daemonRunning = false
            return
        default:
            break
        }
        guard record.outcome != "refused", let name = record.zone else { return }
        let index: Int
        if let known = zones.firstIndex(where: { $0.name == name }) {
            index = known
        } else {
            index = zones.count
            zones.append(Zone(name: name))
        }
        zones[index].fold(record)
    }
}

extension EngineCheckpoint.Zone {
    mutating func fold(_ record: AlertRecord) {
        switch record.event {
        case .zoneState:
            latched = record.level
            if record.from == "inhibited" {
                inhibitedUntil = nil
                inhibitReason = nil
            }
            if record.from == "trouble" { trouble = false }
            if record.from == "test" { endTest() }
            if record.to == "trouble" { trouble = true }
            guard let to = record.to.flatMap(ZoneState.init(rawValue:)) else { return }
            if let from = record.from.flatMap(ZoneState.init(rawValue:)), to > from {
                if acknowledged || unacknowledgedSince == nil { unacknowledgedSince = record.time }
                acknowledged = false
            }
            state = to
            switch to {
            case .isolated:
                if suppress.phase != .aborted { isolate.phase = .done }
            case .suppressed:
                isolate.phase = .done
                suppress.phase = .done
            case .powerCut:
                isolate.phase = .done
                suppress.phase = .done
                if powerCut.phase == .idle { powerCut.phase = .running }
            case .normal, .alert, .isolating, .suppressing:
                break
            }
        case .signalLevel:
            guard let signal = record.signal, let condition = record.to.flatMap(SignalCondition.init(rawValue:))
            else { return }
            signals[signal] = condition
        case .stepStarted, .stepResumed:
            guard let kind = record.procedure, let text = record.stepText else { return }
            var progress = self[kind]
            if progress.phase == .idle || progress.phase == .done { progress = .init(phase: .running) }
            progress.phase = .running
            if progress.running != text || progress.runningSince == nil {
                progress.running = text
                progress.runningSince = record.time
            }
            self[kind] = progress
        case .stepSucceeded, .stepFailed, .stepSkipped:
            guard let kind = record.procedure, let text = record.stepText, self[kind].running == text else { return }
            self[kind].done.append(text)
            self[kind].running = nil
            self[kind].runningSince = nil
        case .stepAborted:
            guard let kind = record.procedure, self[kind].running == record.stepText else { return }
            self[kind].running = nil
            self[kind].runningSince = nil
        case .operatorAbort:
            // Also undoes a countdown whose `step.aborted` line a crash kept out of the log. The steps finished
            // stay: `resume` goes on after the last of them, so a countdown runs in full again.
            suppress.phase = .aborted
            suppress.running = nil
            suppress.runningSince = nil
            abortedBySwitch = record.uid == nil && record.device != nil
        case .operatorResume:
            if suppress.phase == .aborted { suppress.phase = .running }
            abortedBySwitch = false
        case .operatorReset:
            // The `zone.state` line that follows says the same; this holds if a crash cut it off.
            clearLatches()
        case .operatorTest:
            testUntil = record.until
            testReason = record.reason
            testUid = record.uid
            testUser = record.user
        case .operatorTestEnd:
            endTest()
        case .operatorAck:
            acknowledged = true
            unacknowledgedSince = nil
        case .operatorInhibit:
            inhibitedUntil = record.until
            inhibitReason = record.reason
        case .operatorEnable:
            inhibitedUntil = nil
            inhibitReason = nil
        default:
            break
        }
    }

    /// A reset, or the end of a walk test: nothing latched, no procedure under way.
    mutating func clearLatches() {
        latched = nil
        isolate = .init()
        suppress = .init()
        powerCut = .init()
        acknowledged = false
        unacknowledgedSince = nil
        abortedBySwitch = false
    }

    mutating func endTest() {
        testUntil = nil
        testReason = nil
        testUid = nil
        testUser = nil
        clearLatches()
    }
}

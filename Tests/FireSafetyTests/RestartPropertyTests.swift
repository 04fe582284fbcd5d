import Testing

@testable import FireSafety
import FireWatchTesting

/// Seeded random runs of zone A with restarts (state rebuilt from the log as written so far, as after kill -9)
/// and reloads (a changed `suppress`) at random moments: no step runs twice, none runs early, and power is cut
/// only after suppression.
@Suite("Invariants across restarts and reloads")
struct RestartPropertyTests {
    static let seeds: [UInt64] = Array(1...80)
    static let operations = 200

    /// The configurations a reload or restart may switch between: as shipped, without the leading notify of
    /// `suppress` (by index, the countdown's place would then be the release), and with one more notify first.
    static let models: [SiteModel] = {
        var shorter = Site.model
        shorter.zones[0].suppress.removeFirst()
        var longer = Site.model
        longer.zones[0].suppress.insert(.notify(channels: ["pager"]), at: 0)
        return [Site.model, shorter, longer]
    }()

    static let countdown = Duration.seconds(30)
    static let release = Step.command(device: "panel-a", command: "release").description

    @Test("no step runs twice or early, and power is cut only after suppression", arguments: seeds)
    func invariants(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var rig = Rig()
        var model = Site.model
        /// Steps succeeded since the last accepted reset, by procedure and identity.
        var succeeded: Set<String> = []
        /// When the countdown the release waits for last (re)started; nil when none is under way.
        var countdownFrom: Timestamp?
        var suppressionStarted = false
        var history: [String] = []

        for number in 0..<Self.operations {
            var out = Output()
            let op: String
            switch rng.next() % 24 {
            case 0:
                // kill -9 and a restart, maybe on another configuration: what the runtime was doing is gone.
                model = Self.models[Int(rng.next() % UInt64(Self.models.count))]
                rig.pending.removeAll()
                let restored = Engine.restore(model: model, from: rig.log, at: rig.now)
                rig.engine = restored.0
                out = restored.1
                rig.absorb(out)
                op = "restart"
            case 1:
                model = Self.models[Int(rng.next() % UInt64(Self.models.count))]
                rig.engine = rig.engine.reloaded(with: model).engine
                op = "reload"
            default:
                let random = PropertyTests.randomOp(&rng)
                op = random.description
                switch random {
                case .set(let source, let status): rig.set(source, status: status)
                case .drop(let source): rig.values.removeValue(forKey: Site.ref(source))
                case .tick(let seconds): out = rig.tick(seconds: seconds)
                case .command(let command): out = rig.command(command)
                case .finish(let zone, let outcome): out = rig.finish(zone, outcome) ?? Output()
                }
            }
            history.append(op)
            let where_ = "seed \(seed), op \(number): \(op); last: \(history.suffix(6))"

            // Records first, in the order they were logged; then the actions they allow.
            for record in out.records where record.zone == "battery-room-a" {
                let key = "\(record.procedure?.rawValue ?? "")/\(record.stepText ?? "")"
                switch record.event {
                case .stepSucceeded:
                    succeeded.insert(key)
                case .stepStarted, .stepResumed:
                    if record.procedure == .suppress { suppressionStarted = true }
                    if case .delay(let duration, true)? = rig.engine.step(
                        zone: "battery-room-a", procedure: .suppress, index: record.step ?? -1),
                        record.procedure == .suppress, duration == Self.countdown
                    {
                        countdownFrom = record.time
                    }
                case .operatorReset where record.outcome == "accepted":
                    succeeded.removeAll()
                    countdownFrom = nil
                    suppressionStarted = false
                default:
                    break
                }
            }
            for action in out.actions {
                guard case .runStep("battery-room-a", let procedure, _, let step) = action else { continue }
                let key = "\(procedure.rawValue)/\(step.description)"
                #expect(!succeeded.contains(key), "\(key) ran again after it succeeded — \(where_)")
                if procedure == .suppress, step.description == Self.release {
                    #expect(countdownFrom != nil, "release without a countdown — \(where_)")
                    if let from = countdownFrom {
                        #expect(rig.now - from >= Self.countdown, "release before its full countdown — \(where_)")
                    }
                }
                if procedure == .powerCut {
                    #expect(suppressionStarted, "power cut before suppression — \(where_)")
                }
            }
        }
    }
}

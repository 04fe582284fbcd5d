@testable import FireSafety

/// Builds CONTRACT.md's battery-room-a, plus battery-room-b, an independent zone that must stay untouched.
enum Site {
    static func ref(_ text: String) -> SourceRef { SourceRef(parsing: text)! }

    static func zone(_ suffix: String) -> ZoneSpec {
        let s = suffix
        return ZoneSpec(
            name: "battery-room-\(s)",
            signals: [
                SignalSpec(
                    name: "temperature",
                    sources: [
                        ref("temp-\(s)1.temperature"), ref("temp-\(s)2.temperature"),
                        ref("temp-\(s)3.temperature"),
                    ], vote: .twoOutOfThree,
                    thresholds: [.alert: .atLeast(35), .alarm: .atLeast(50), .fire: .atLeast(70)], deadband: 2,
                    rateOfRise: RateOfRise(perSecond: 5.0 / 60, window: .seconds(60)), unit: "°C"),
                SignalSpec(
                    name: "offgas", sources: [ref("gas-\(s).offgas")], vote: .oneOutOfOne,
                    thresholds: [.alert: .oneOf(["detected"]), .alarm: .oneOf(["detected"])]),
                SignalSpec(
                    name: "flammable", sources: [ref("gas-\(s).lfl_percent")], vote: .oneOutOfOne,
                    thresholds: [.alert: .atLeast(10), .alarm: .atLeast(25)], deadband: 1, unit: "% LFL"),
                SignalSpec(
                    name: "smoke", sources: [ref("smoke-\(s).level")], vote: .oneOutOfOne,
                    thresholds: [
                        .alert: .oneOf(["alert"]), .alarm: .oneOf(["action"]),
                        .fire: .oneOf(["fire1", "fire2"]),
                    ]),
                SignalSpec(
                    name: "battery",
                    sources: [ref("bms-\(s).events.over_temp_alarm"), ref("ups-\(s).battery_overtemp")],
                    vote: .oneOutOfTwo, thresholds: [.alarm: .equals(true)]),
            ],
            isolate: [
                .command(device: "bms-\(s)", command: "disconnect_string"),
                .command(device: "feed-\(s)", command: "start_exhaust"),
                .run(argv: ["/usr/local/bin/failover", "--from", "pangyo-a"], timeout: .seconds(60)),
                .notify(channels: ["ops-webhook", "pager"]),
            ],
            suppress: [
                .notify(channels: ["ops-webhook", "pager"]),
                .command(device: "feed-\(s)", command: "stop_hvac"),
                .delay(.seconds(30), abortable: true),
                .command(device: "panel-\(s)", command: "release"),
            ],
            powerCut: [
                .command(device: "feed-\(s)", command: "open_feed_1"),
                .delay(.seconds(5), abortable: false),
                .command(device: "feed-\(s)", command: "open_feed_2"),
            ])
    }

    static let model = SiteModel(
        site: "pangyo-a", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: [zone("a"), zone("b")])

    /// Every source at a quiet, normal value.
    static func normalValues(_ suffix: String) -> [SourceRef: Reading.Status] {
        let s = suffix
        return [
            ref("temp-\(s)1.temperature"): .value(.number(24)),
            ref("temp-\(s)2.temperature"): .value(.number(24.5)),
            ref("temp-\(s)3.temperature"): .value(.number(25)),
            ref("gas-\(s).offgas"): .value(.name("clear")),
            ref("gas-\(s).lfl_percent"): .value(.number(0)),
            ref("smoke-\(s).level"): .value(.name("normal")),
            ref("bms-\(s).events.over_temp_alarm"): .value(.flag(false)),
            ref("ups-\(s).battery_overtemp"): .value(.flag(false)),
        ]
    }
}

/// A test bench: an engine, an injected clock, the current value of every source, the alert log so far, and
/// the runtime steps handed out and not yet reported.
extension Rig {
    /// Zone A counting down to release: smoke at fire1 and two temperatures at fire, isolation done, suppress at
    /// its abortable delay (step 3, index 2).
    static func countingDown(_ start: Rig = Rig()) -> Rig {
        var rig = start
        rig.temps("a", 75, 72, 30)
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        while rig.finish() != nil {}
        return rig
    }
}

struct Rig {
    var engine = Engine(model: Site.model)
    var now = Timestamp(seconds: 1_790_000_000)
    var values = Site.normalValues("a").merging(Site.normalValues("b")) { a, _ in a }
    var log: [AlertRecord] = []
    var actions: [Action] = []
    var pending: [(zone: String, procedure: ProcedureKind, index: Int, step: Step)] = []

    init(start: Timestamp = Timestamp(seconds: 1_790_000_000)) {
        now = start
        _ = tick(seconds: 0)
    }

    mutating func absorb(_ out: Output) {
        log += out.records
        actions += out.actions
        for action in out.actions {
            if case .runStep(let zone, let procedure, let index, let step) = action {
                pending.append((zone, procedure, index, step))
            }
            if case .cancelStep(let zone, let procedure, let index) = action {
                pending.removeAll { $0.zone == zone && $0.procedure == procedure && $0.index == index }
            }
        }
    }

    /// Moves the clock, sends every source's current status, evaluates.
    @discardableResult
    mutating func tick(seconds: Int64 = 1) -> Output {
        now = now + .seconds(seconds)
        let readings = values.keys.sorted().map { Reading(source: $0, time: now, status: values[$0]!) }
        let out = engine.evaluate(readings, at: now)
        absorb(out)
        return out
    }

    mutating func set(_ source: String, _ value: Value) {
        values[Site.ref(source)] = .value(value)
    }

    mutating func set(_ source: String, status: Reading.Status) {
        values[Site.ref(source)] = status
    }

    mutating func temps(_ zone: String, _ a: Double, _ b: Double, _ c: Double) {
        set("temp-\(zone)1.temperature", .number(a))
        set("temp-\(zone)2.temperature", .number(b))
        set("temp-\(zone)3.temperature", .number(c))
    }

    @discardableResult
    mutating func command(_ command: OperatorCommand) -> Output {
        let out = engine.command(command, at: now)
        absorb(out)
        return out
    }

    /// Reports the oldest pending runtime step of a zone; nil when none is pending.
    @discardableResult
    mutating func finish(_ zone: String = "battery-room-a", _ outcome: StepOutcome = .succeeded) -> Output? {
        guard let index = pending.firstIndex(where: { $0.zone == zone }) else { return nil }
        let step = pending.remove(at: index)
        let out = engine.stepFinished(
            zone: zone, procedure: step.procedure, index: step.index, outcome: outcome, detail: "ok", at: now)
        absorb(out)
        return out
    }

    /// Reports runtime steps as they come and ticks the clock, until nothing is pending or `maxTicks` passed.
    mutating func run(_ zone: String = "battery-room-a", maxTicks: Int = 120) {
        for _ in 0..<maxTicks {
            while finish(zone) != nil {}
            if engine.status(of: zone)?.running == nil && !pending.contains(where: { $0.zone == zone }) { return }
            tick()
        }
    }

    func state(_ zone: String = "battery-room-a") -> ZoneState { engine.status(of: zone)!.state }
    func zone(_ zone: String = "battery-room-a") -> ZoneStatus { engine.status(of: zone)! }

    func events(_ event: AlertEvent, zone: String? = "battery-room-a") -> [AlertRecord] {
        log.filter { $0.event == event && (zone == nil || $0.zone == zone) }
    }

    func ranSteps(_ zone: String = "battery-room-a") -> [String] {
        actions.compactMap {
            if case .runStep(let z, let procedure, let index, _) = $0, z == zone {
                return "\(procedure.rawValue)[\(index)]"
            }
            return nil
        }
    }

    func started(_ zone: String = "battery-room-a") -> [String] {
        log.filter { $0.event == .stepStarted && $0.zone == zone }.map { "\($0.procedure!.rawValue)[\($0.step!)]" }
    }

    /// Zone B is never touched by anything zone A does.
    func zoneBUntouched() -> Bool {
        let b = zone("battery-room-b")
        return b.state == .normal && b.latched == nil && !b.trouble && started("battery-room-b").isEmpty
            && !log.contains { $0.zone == "battery-room-b" }
    }
}

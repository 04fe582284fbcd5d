import Testing

@testable import FireSafety

/// A zone built to share devices between kinds: a temperature group whose third sensor is the BMS's own
/// module temperature, the BMS's over-temperature flag as a second kind, and smoke from a detector of its own.
enum SharedDeviceSite {
    static let zone = ZoneSpec(
        name: "room",
        signals: [
            SignalSpec(
                name: "temperature",
                sources: [Site.ref("t1.temperature"), Site.ref("t2.temperature"), Site.ref("bms.mod_tmp_max")],
                vote: .twoOutOfThree, thresholds: [.alert: .atLeast(35), .alarm: .atLeast(50), .fire: .atLeast(70)],
                unit: "°C"),
            SignalSpec(
                name: "bms_flag", sources: [Site.ref("bms.events.over_temp_alarm")], vote: .oneOutOfOne,
                thresholds: [.alarm: .equals(true), .fire: .equals(true)]),
            SignalSpec(
                name: "smoke", sources: [Site.ref("smoke.level")], vote: .oneOutOfOne,
                thresholds: [.alert: .oneOf(["alert"]), .alarm: .oneOf(["action"]), .fire: .oneOf(["fire1"])]),
        ],
        isolate: [.notify(channels: ["ops"])],
        suppress: [.command(device: "panel", command: "release")],
        powerCut: [])

    static let model = SiteModel(site: "lab", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: [zone])

    static let quiet: [String: Reading.Status] = [
        "t1.temperature": .value(.number(25)), "t2.temperature": .value(.number(25)),
        "bms.mod_tmp_max": .value(.number(25)), "bms.events.over_temp_alarm": .value(.flag(false)),
        "smoke.level": .value(.name("normal")),
    ]
}

/// Feeds a whole-site poll every call, like `Rig` but for any model.
struct Bench {
    var engine: Engine
    var now = Timestamp(seconds: 2_000_000)
    var values: [String: Reading.Status]
    var log: [AlertRecord] = []
    var actions: [Action] = []

    init(model: SiteModel, values: [String: Reading.Status]) {
        engine = Engine(model: model)
        self.values = values
        tick(seconds: 0)
    }

    @discardableResult
    mutating func tick(seconds: Int64 = 1) -> Output { tick(.seconds(seconds)) }

    /// Moves the clock by `step` and sends every source in `values` (a source absent there sends nothing).
    @discardableResult
    mutating func tick(_ step: Duration) -> Output {
        now = now + step
        let readings = values.keys.sorted().map { Reading(source: Site.ref($0), time: now, status: values[$0]!) }
        let out = engine.evaluate(readings, at: now)
        log += out.records
        actions += out.actions
        return out
    }

    var zone: ZoneStatus { engine.status[0] }

    func events(_ event: AlertEvent) -> [AlertRecord] { log.filter { $0.event == event } }
}

@Suite("Evidence: independence of kinds")
struct IndependenceTests {
    @Test("two kinds at fire from one device (the BMS) stay at tier 2")
    func oneDeviceTwoKinds() {
        var bench = Bench(model: SharedDeviceSite.model, values: SharedDeviceSite.quiet)
        // t1 and the BMS's module temperature make the 2oo3 group fire; the BMS flag is fire too.
        bench.values["t1.temperature"] = .value(.number(80))
        bench.values["bms.mod_tmp_max"] = .value(.number(85))
        bench.values["bms.events.over_temp_alarm"] = .value(.flag(true))
        bench.tick()
        #expect(bench.zone.signals.map(\.condition) == [.fire, .fire, .normal])
        #expect(bench.zone.latched == .alarm)
        #expect(bench.zone.state == .isolating)
        #expect(!bench.actions.contains { if case .runStep(_, .suppress, _, _) = $0 { true } else { false } })
        // A second room sensor takes the BMS out of the temperature evidence: {t1, t2} and {bms} are disjoint.
        bench.values["t2.temperature"] = .value(.number(75))
        bench.tick()
        #expect(bench.zone.latched == .fire)
        #expect(bench.zone.state == .suppressing)
    }

    @Test("a kind on a device of its own completes the double knock")
    func separateDevice() {
        var bench = Bench(model: SharedDeviceSite.model, values: SharedDeviceSite.quiet)
        bench.values["t1.temperature"] = .value(.number(80))
        bench.values["bms.mod_tmp_max"] = .value(.number(85))
        bench.values["smoke.level"] = .value(.name("fire1"))
        bench.tick()
        // {t1, bms} for temperature and {smoke} share nothing.
        #expect(bench.zone.latched == .fire)
    }

    @Test("a degraded group still counts when its one deciding sensor is on a device of its own")
    func degradedGroup() {
        var bench = Bench(model: SharedDeviceSite.model, values: SharedDeviceSite.quiet)
        bench.values["t2.temperature"] = .lost(reason: "timeout")
        bench.values["t1.temperature"] = .value(.number(80))
        bench.values["bms.events.over_temp_alarm"] = .value(.flag(true))
        bench.tick()
        // 2oo3 degraded to 1oo2: t1 alone decides, and t1 shares nothing with the BMS flag.
        #expect(bench.zone.signals[0].condition == .fire && bench.zone.signals[0].degraded)
        #expect(bench.zone.latched == .fire)
    }

    @Test("the same device behind two signals of different kinds never suppresses, whatever it reads")
    func sameDeviceBothSignals() {
        let zone = ZoneSpec(
            name: "row",
            signals: [
                SignalSpec(
                    name: "string_temp", sources: [Site.ref("bms.mod_tmp_max")], vote: .oneOutOfOne,
                    thresholds: [.alarm: .atLeast(60), .fire: .atLeast(80)]),
                SignalSpec(
                    name: "bms_flag", sources: [Site.ref("bms.events.over_temp_alarm")], vote: .oneOutOfOne,
                    thresholds: [.fire: .equals(true)]),
            ],
            isolate: [], suppress: [.command(device: "panel", command: "release")], powerCut: [])
        let model = SiteModel(site: "lab", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: [zone])
        var bench = Bench(
            model: model,
            values: ["bms.mod_tmp_max": .value(.number(25)), "bms.events.over_temp_alarm": .value(.flag(false))])
        bench.values = ["bms.mod_tmp_max": .value(.number(120)), "bms.events.over_temp_alarm": .value(.flag(true))]
        for _ in 0..<5 { bench.tick() }
        #expect(bench.zone.signals.map(\.condition) == [.fire, .fire])
        #expect(bench.zone.latched == .alarm)
        #expect(bench.zone.suppress == .idle)
    }
}

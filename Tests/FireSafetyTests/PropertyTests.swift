import Testing
@testable import FireSafety
import FireWatchTesting

/// Random but bounded runs of readings, faults, commands and step reports against zone A, with an oracle
/// computed from the raw values fed in (not from the engine's own voting).
@Suite("Invariants over seeded random runs")
struct PropertyTests {
    static let seeds: [UInt64] = Array(1...120)
    static let operations = 160

    enum Op: CustomStringConvertible {
        case set(String, Reading.Status)
        case drop(String)
        case tick(Int64)
        case command(OperatorCommand)
        case finish(String, StepOutcome)

        var description: String {
            switch self {
            case .set(let source, let status): return "set \(source) \(status)"
            case .drop(let source): return "drop \(source)"
            case .tick(let seconds): return "tick \(seconds)"
            case .command(let command): return "command \(command)"
            case .finish(let zone, let outcome): return "finish \(zone) \(outcome)"
            }
        }
    }

    /// One random operation on zone `battery-room-<suffix>`; `ticks: false` leaves the clock alone.
    static func randomOp(_ rng: inout SplitMix64, zone suffix: String = "a", ticks: Bool = true) -> Op {
        let zone = "battery-room-\(suffix)"
        let s = suffix
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        let faults: [Reading.Status] = [.lost(reason: "timeout"), .invalid(reason: "out of range")]
        switch rng.next() % 20 {
        case 0..<8:
            let point = pick([
                "temp-#1.temperature", "temp-#2.temperature", "temp-#3.temperature", "gas-#.offgas",
                "gas-#.lfl_percent", "smoke-#.level", "bms-#.events.over_temp_alarm", "ups-#.battery_overtemp",
            ])
            let source = point.split(separator: "#", omittingEmptySubsequences: false).joined(separator: s)
            if rng.next() % 6 == 0 { return rng.next() % 2 == 0 ? .set(source, pick(faults)) : .drop(source) }
            let value: Value
            switch point {
            case "gas-#.offgas": value = .name(pick(["clear", "detected"]))
            case "gas-#.lfl_percent": value = .number(pick([0, 9.5, 12, 24.5, 30]))
            case "smoke-#.level": value = .name(pick(["normal", "alert", "action", "fire1", "fire2"]))
            case "bms-#.events.over_temp_alarm", "ups-#.battery_overtemp": value = .flag(rng.next() % 4 == 0)
            default:
                // Sensors reading to 120 °C; past it they read as at least 120 (and trouble).
                if rng.next() % 8 == 0 { return .set(source, .aboveRange(reading: 131, top: 120)) }
                value = .number(pick([22, 36, 49, 51, 69, 71, 120]))
            }
            return .set(source, .value(value))
        case 8..<13:
            return ticks ? .tick(pick([1, 1, 1, 2, 5, 31])) : .finish(zone, .succeeded)
        case 13..<17:
            return .finish(zone, pick([.succeeded, .succeeded, .failed, .skipped]))
        default:
            return .command(
                pick([
                    .ack(zone: zone, uid: "kim"), .reset(zone: zone, uid: "kim"), .reset(zone: zone, uid: "kim"),
                    .abort(zone: zone, uid: "lee"),
                    .inhibit(
                        zone: zone, uid: "park", duration: .seconds(pick([20, 300])),
                        reason: "test"), .enable(zone: zone, uid: "park"),
                ]))
        }
    }

    static func number(_ value: Value?) -> Double? {
        if case .number(let number)? = value { return number }
        return nil
    }

    /// A raw value fed within `stale_after` (an above-range reading as the top of its range), or nil.
    static func fresh(_ rig: Rig, _ source: String, fed: [String: (Timestamp, Reading.Status)]) -> Value? {
        guard let (time, status) = fed[source], rig.now - time <= Site.model.staleAfter else { return nil }
        switch status {
        case .value(let value): return value
        case .aboveRange(_, let top): return .number(top)
        case .invalid, .lost: return nil
        }
    }

    /// A real 2oo3 over the fresh temperatures, degrading to "any one of the rest" when a sensor is not fresh:
    /// a group acting as 1oo3 must fail this oracle.
    static func temperatureVotes(_ rig: Rig, atLeast limit: Double, fed: [String: (Timestamp, Reading.Status)])
        -> Bool
    {
        let healthy = (1...3).compactMap { number(fresh(rig, "temp-a\($0).temperature", fed: fed)) }
        let required = healthy.count == 3 ? 2 : 1
        return healthy.filter { $0 >= limit }.count >= required
    }

    @Test("safety invariants hold", arguments: seeds)
    func invariants(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var rig = Rig()
        // What the engine was last fed, and when: the oracle's view of the world.
        var fed: [String: (Timestamp, Reading.Status)] = [:]
        for (source, status) in rig.values { fed[source.description] = (rig.now, status) }
        // Oracle, from raw values only: since the last accepted reset, was there ever fresh evidence that could
        // justify isolating (any alarm-grade value) or suppressing (a hot sensor AND fire-grade smoke)?
        var alarmEvidence = false
        var doubleKnock = false
        var history: [String] = []

        for number in 0..<Self.operations {
            let op = Self.randomOp(&rng)
            history.append(op.description)
            let before = rig.zone()
            var out = Output()
            switch op {
            case .set(let source, let status):
                rig.set(source, status: status)
            case .drop(let source):
                rig.values.removeValue(forKey: Site.ref(source))
            case .tick(let seconds):
                out = rig.tick(seconds: seconds)
                for (source, status) in rig.values { fed[source.description] = (rig.now, status) }
            case .command(let command):
                out = rig.command(command)
            case .finish(let zone, let outcome):
                out = rig.finish(zone, outcome) ?? Output()
            }
            let after = rig.zone()
            let context = Comment(rawValue: "seed \(seed), op \(number): \(op)")

            if case .tick = op {
                // Thresholds minus their deadbands: hysteresis may hold a level that far below its threshold.
                let smoke = Self.fresh(rig, "smoke-a.level", fed: fed)
                let smokeFire = smoke == .name("fire1") || smoke == .name("fire2")
                if Self.temperatureVotes(rig, atLeast: 68, fed: fed) && smokeFire { doubleKnock = true }
                if Self.temperatureVotes(rig, atLeast: 48, fed: fed) || smokeFire || smoke == .name("action")
                    || Self.fresh(rig, "gas-a.offgas", fed: fed) == .name("detected")
                    || Self.fresh(rig, "bms-a.events.over_temp_alarm", fed: fed) == .flag(true)
                    || Self.fresh(rig, "ups-a.battery_overtemp", fed: fed) == .flag(true)
                    || (Self.number(Self.fresh(rig, "gas-a.lfl_percent", fed: fed)) ?? 0) >= 24
                {
                    alarmEvidence = true
                }
            }

            let started = out.records.filter { $0.event == .stepStarted && $0.zone == "battery-room-a" }
            // No suppression or power cut without two kinds of fire evidence.
            if started.contains(where: { $0.procedure == .suppress || $0.procedure == .powerCut }) {
                #expect(doubleKnock, context)
            }
            // Trouble alone never actuates: no step at all without alarm-grade evidence.
            if !started.isEmpty || after.latched != nil {
                #expect(alarmEvidence, context)
            }
            // Inhibited zones never actuate.
            if out.actions.contains(where: { if case .runStep = $0 { return true } else { return false } }) {
                #expect(after.inhibitedUntil == nil, context)
            }
            // Steps of one zone never interleave.
            #expect(rig.pending.filter { $0.zone == "battery-room-a" }.count <= 1, context)
            // Latched states hold until a permitted reset, and a reset is refused while a cause is present.
            let resetAccepted: Bool
            if case .command(.reset) = op, out.refused == nil { resetAccepted = true } else { resetAccepted = false }
            if let latched = before.latched, !resetAccepted {
                #expect((after.latched ?? .alert) >= latched, context)
                #expect(after.state >= .isolating, context)
            }
            if resetAccepted {
                #expect(!before.signals.contains { [.alarm, .fire, .trouble].contains($0.condition) }, context)
                #expect(Self.fresh(rig, "gas-a.offgas", fed: fed) != .name("detected"), context)
                #expect(
                    ![.name("action"), .name("fire1"), .name("fire2")].contains(
                        Self.fresh(rig, "smoke-a.level", fed: fed)),
                    context)
                alarmEvidence = false
                doubleKnock = false
            }
            // Rebuilding from the records gives the state of the run (checked right after evaluations).
            if case .tick = op, number % 8 == 0 {
                let (restored, _) = Engine.restore(model: Site.model, from: rig.log, at: rig.now)
                #expect(essence(restored.status) == essence(rig.engine.status), context)
            }
        }
        // Zone B saw normal values throughout and nothing of zone A's.
        #expect(rig.zoneBUntouched(), Comment(rawValue: "seed \(seed): \(history.suffix(5))"))
        // A crash may cut the log after any line: a restart from any prefix must not start what that prefix
        // does not justify (here: suppression or power cut without a logged fire latch since the last reset).
        for cut in stride(from: 0, through: rig.log.count, by: 3) {
            let prefix = rig.log[..<cut]
            let lastReset = prefix.lastIndex { $0.event == .operatorReset && $0.outcome == "accepted" } ?? -1
            let fireLatched = prefix.indices.contains {
                $0 > lastReset && prefix[$0].event == .zoneState && prefix[$0].level == .fire
            }
            let (_, out) = Engine.restore(model: Site.model, from: Array(prefix), at: rig.now)
            for action in out.actions {
                if case .runStep(let zone, let procedure, _, _) = action {
                    #expect(zone == "battery-room-a", Comment(rawValue: "seed \(seed), cut \(cut)"))
                    if procedure != .isolate {
                        #expect(fireLatched, Comment(rawValue: "seed \(seed), cut \(cut)"))
                    }
                }
            }
        }
        rig.tick()
        let (restored, _) = Engine.restore(model: Site.model, from: rig.log, at: rig.now)
        #expect(essence(restored.status) == essence(rig.engine.status), Comment(rawValue: "seed \(seed) at the end"))
    }

    @Test("two kinds from one device never reach tier 3", arguments: seeds.prefix(60))
    func oneDeviceNeverSuppresses(seed: UInt64) {
        // Both fire-capable kinds sit on the BMS: its module temperature and its over-temperature flag.
        let zone = ZoneSpec(
            name: "row",
            signals: [
                SignalSpec(
                    name: "string_temp", sources: [Site.ref("bms.mod_tmp_max")], vote: .oneOutOfOne,
                    thresholds: [.alert: .atLeast(45), .alarm: .atLeast(60), .fire: .atLeast(80)], deadband: 2,
                    rateOfRise: RateOfRise(perSecond: 5.0 / 60, window: .seconds(60))),
                SignalSpec(
                    name: "bms_flag", sources: [Site.ref("bms.events.over_temp_alarm")], vote: .oneOutOfOne,
                    thresholds: [.alarm: .equals(true), .fire: .equals(true)]),
                SignalSpec(
                    name: "offgas", sources: [Site.ref("gas.offgas")], vote: .oneOutOfOne,
                    thresholds: [.alarm: .oneOf(["detected"])]),
            ],
            isolate: [.notify(channels: ["ops"])],
            suppress: [.delay(.seconds(10), abortable: true), .command(device: "panel", command: "release")],
            powerCut: [.command(device: "feed", command: "open_feed_1")])
        let model = SiteModel(site: "lab", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: [zone])
        var rng = SplitMix64(seed: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        var bench = Bench(
            model: model,
            values: [
                "bms.mod_tmp_max": .value(.number(25)), "bms.events.over_temp_alarm": .value(.flag(false)),
                "gas.offgas": .value(.name("clear")),
            ])
        var history: [String] = []
        for _ in 0..<Self.operations {
            switch rng.next() % 10 {
            case 0..<4:
                let status: Reading.Status = pick([
                    .value(.number(25)), .value(.number(62)), .value(.number(85)), .value(.number(120)),
                    .aboveRange(reading: 140, top: 125), .lost(reason: "timeout"), .invalid(reason: "fault code"),
                ])
                bench.values["bms.mod_tmp_max"] = status
                history.append("temp \(status)")
            case 4..<6:
                let status: Reading.Status = pick([.value(.flag(true)), .value(.flag(false)), .lost(reason: "timeout")])
                bench.values["bms.events.over_temp_alarm"] = status
                history.append("flag \(status)")
            case 6:
                bench.values["gas.offgas"] = .value(.name(pick(["clear", "detected"])))
            case 7:
                let command: OperatorCommand = pick([
                    .reset(zone: "row", uid: "kim"), .ack(zone: "row", uid: "kim"), .enable(zone: "row", uid: "kim"),
                ])
                let out = bench.engine.command(command, at: bench.now)
                bench.log += out.records
                bench.actions += out.actions
            default:
                bench.tick(seconds: pick([1, 1, 2, 5]))
            }
            // Isolation steps finish as soon as they are handed out, so nothing but the evidence holds tier 3 back.
            var queue = bench.actions
            bench.actions.removeAll()
            while let action = queue.popLast() {
                guard case .runStep(let zone, let procedure, let index, _) = action else { continue }
                if procedure != .isolate { Issue.record("seed \(seed): \(procedure) ran after \(history.suffix(6))") }
                let out = bench.engine.stepFinished(
                    zone: zone, procedure: procedure, index: index, outcome: .succeeded, detail: "ok", at: bench.now)
                bench.log += out.records
                queue += out.actions
            }
            #expect(bench.zone.latched != .fire, Comment(rawValue: "seed \(seed): \(history.suffix(6))"))
        }
        #expect(!bench.log.contains { $0.event == .stepStarted && $0.procedure != .isolate })
    }

    static func apply(_ op: Op, to rig: inout Rig) {
        switch op {
        case .set(let source, let status): rig.set(source, status: status)
        case .drop(let source): rig.values.removeValue(forKey: Site.ref(source))
        case .tick(let seconds): rig.tick(seconds: seconds)
        case .command(let command): rig.command(command)
        case .finish(let zone, let outcome): rig.finish(zone, outcome)
        }
    }

    @Test(
        "zones are independent: zone B's own turmoil changes nothing zone A logs or does", arguments: seeds.prefix(40))
    func independence(seed: UInt64) {
        var rngA = SplitMix64(seed: seed)
        var rngB = SplitMix64(seed: seed &+ 1_000_003)
        var alone = Rig()
        var together = Rig()
        for _ in 0..<Self.operations {
            let op = Self.randomOp(&rngA)
            Self.apply(op, to: &alone)
            Self.apply(op, to: &together)
            if rngB.next() % 2 == 0 {
                Self.apply(Self.randomOp(&rngB, zone: "b", ticks: false), to: &together)
            }
        }
        let zoneA = { (rig: Rig) in rig.log.filter { $0.zone == "battery-room-a" } }
        let actionsA = { (rig: Rig) in
            rig.actions.filter {
                switch $0 {
                case .runStep(let zone, _, _, _), .cancelStep(let zone, _, _): return zone == "battery-room-a"
                case .notify(let record): return record.zone == "battery-room-a"
                }
            }
        }
        #expect(zoneA(alone) == zoneA(together), Comment(rawValue: "seed \(seed)"))
        #expect(actionsA(alone) == actionsA(together), Comment(rawValue: "seed \(seed)"))
        #expect(alone.zone() == together.zone())
    }

    /// The random operations plus `resume` and the panel's abort switch (held, let go, unreadable).
    static func randomOpWithResume(_ rng: inout SplitMix64) -> Op {
        switch rng.next() % 12 {
        case 0: return .command(.resume(zone: "battery-room-a", uid: "lee"))
        case 1: return .command(.abort(zone: "battery-room-a", uid: "lee"))
        case 2:
            let states: [Reading.Status] = [.value(.flag(true)), .value(.flag(false)), .lost(reason: "timeout")]
            return .set("panel-a.abort_switch", states[Int(rng.next() % 3)])
        default: return randomOp(&rng)
        }
    }

    @Test("no suppression or power cut after an accepted abort unless resumed", arguments: seeds)
    func abortHoldsUntilResumed(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var rig = SwitchSite.rig()
        // From the inputs: an accepted `abort` command not taken back by an accepted `resume` or `reset`.
        var aborted = false
        for number in 0..<Self.operations {
            let op = Self.randomOpWithResume(&rng)
            let context = Comment(rawValue: "seed \(seed), op \(number): \(op)")
            var out = Output()
            switch op {
            case .set(let source, let status): rig.set(source, status: status)
            case .drop(let source): rig.values.removeValue(forKey: Site.ref(source))
            case .tick(let seconds): out = rig.tick(seconds: seconds)
            case .command(let command): out = rig.command(command)
            case .finish(let zone, let outcome): out = rig.finish(zone, outcome) ?? Output()
            }
            if case .command(let command) = op, out.refused == nil {
                switch command {
                case .abort: aborted = true
                case .resume, .reset: aborted = false
                default: break
                }
            }
            let started = out.records.filter {
                $0.event == .stepStarted && $0.zone == "battery-room-a" && $0.procedure != .isolate
            }
            let ran = out.actions.filter {
                if case .runStep("battery-room-a", let procedure, _, _) = $0 { return procedure != .isolate }
                return false
            }
            if aborted {
                #expect(started.isEmpty && ran.isEmpty, context)
            }
            // While the switch reads held, no suppression step starts (before the release it stops them; once the
            // release has begun there is none left to start).
            if case .tick = op, rig.values[SwitchSite.ref] == .value(.flag(true)) {
                #expect(!started.contains { $0.procedure == .suppress }, context)
            }
            // A countdown that starts right after a resume has its full duration.
            if out.records.contains(where: { $0.event == .operatorResume && $0.outcome == "accepted" }) {
                for delay in started where delay.step == 2 {
                    #expect(delay.until == delay.time + .seconds(30), context)
                }
            }
            if case .tick = op, number % 8 == 0 {
                let (restored, _) = Engine.restore(model: SwitchSite.model, from: rig.log, at: rig.now)
                let unheld = { (zones: [ZoneStatus]) in
                    essence(zones).map { var z = $0; z.abortSwitchHeld = false; return z }
                }
                #expect(unheld(restored.status) == unheld(rig.engine.status), context)
            }
        }
    }
}

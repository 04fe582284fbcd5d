import Testing
@testable import FireSafety

@Suite("Signals: voting, levels, hysteresis, trouble")
struct SignalTests {
    func condition(_ rig: Rig, _ signal: String) -> SignalCondition {
        rig.zone().signals.first { $0.name == signal }!.condition
    }

    @Test("a quiet site logs nothing and actuates nothing")
    func quiet() {
        var rig = Rig()
        for _ in 0..<10 { rig.tick() }
        #expect(rig.log.isEmpty)
        #expect(rig.actions.isEmpty)
        #expect(rig.state() == .normal)
    }

    @Test(
        "2oo3 temperature levels",
        arguments: [
            ((40.0, 40.0, 20.0), SignalCondition.alert),
            ((40.0, 20.0, 20.0), .normal),
            ((55.0, 52.0, 20.0), .alarm),
            ((55.0, 40.0, 20.0), .alert),
            ((75.0, 71.0, 20.0), .fire),
            ((75.0, 55.0, 30.0), .alarm),
            ((90.0, 20.0, 20.0), .normal),
        ])
    func twoOutOfThree(temps: (Double, Double, Double), expected: SignalCondition) {
        var rig = Rig()
        rig.temps("a", temps.0, temps.1, temps.2)
        rig.tick()
        #expect(condition(rig, "temperature") == expected)
    }

    @Test("2oo3 with one sensor lost degrades to 1oo2 and raises trouble")
    func degrade() {
        var rig = Rig()
        rig.set("temp-a3.temperature", status: .lost(reason: "connection refused"))
        rig.temps("a", 40, 20, 0)
        rig.set("temp-a3.temperature", status: .lost(reason: "connection refused"))
        rig.tick()
        #expect(condition(rig, "temperature") == .alert)  // one of the two left is enough now
        #expect(rig.zone().trouble)
        let trouble = rig.events(.zoneState).first { $0.to == "trouble" }
        #expect(trouble?.severity == .trouble)
        #expect(trouble?.message.contains("temperature votes on 2 of 3 sources") == true)
        // The point is trouble at once; the device is lost once stale_after (3 s) passes without a complete poll.
        #expect(rig.events(.deviceCommLost).isEmpty)
        rig.tick(seconds: 3)
        #expect(rig.events(.deviceCommLost).count == 1)
        for _ in 0..<5 { rig.tick() }
        #expect(rig.events(.deviceCommLost).count == 1)  // once per transition, not per cycle
        rig.set("temp-a3.temperature", .number(21))
        rig.tick()
        #expect(!rig.zone().trouble)
        #expect(rig.events(.deviceCommRestored).isEmpty, "restored after two complete polls in a row")
        rig.tick()
        #expect(rig.events(.deviceCommRestored).count == 1)
        #expect(rig.events(.zoneState).contains { $0.from == "trouble" })
        #expect(rig.state() == .normal)  // back to 2oo3: one sensor at 40 °C is not enough
    }

    @Test("no healthy source is trouble, said loudly, never normal", arguments: ["lost", "invalid", "stale"])
    func noHealthySource(fault: String) {
        var rig = Rig()
        for n in 1...3 {
            let source = "temp-a\(n).temperature"
            switch fault {
            case "lost": rig.set(source, status: .lost(reason: "timeout"))
            case "invalid": rig.set(source, status: .invalid(reason: "out of range [-40, 125]"))
            default: rig.values.removeValue(forKey: Site.ref(source))
            }
        }
        rig.tick(seconds: fault == "stale" ? 4 : 1)
        #expect(condition(rig, "temperature") == .trouble)
        let record = rig.events(.signalLevel).last!
        #expect(record.to == "trouble")
        #expect(record.severity == .trouble)
        if fault == "lost" {
            #expect(record.message.hasPrefix("all sources of temperature in battery-room-a lost"))
        } else {
            #expect(record.message.hasPrefix("no healthy source of temperature in battery-room-a"))
        }
        #expect(rig.actions.contains { if case .notify(let r) = $0 { return r.to == "trouble" } else { return false } })
        // The zone's trouble line names the blind signals once, not every source's reason again.
        let zoneTrouble = rig.events(.zoneState).last { $0.to == "trouble" }
        #expect(zoneTrouble?.message == "trouble in battery-room-a: no healthy source for temperature")
        #expect(rig.events(fault == "stale" ? .pointStale : .pointInvalid).count == (fault == "lost" ? 0 : 3))
        #expect(rig.state() == .normal && rig.zone().latched == nil)
        #expect(rig.ranSteps().isEmpty)
    }

    @Test("stale is judged at evaluation time, by the engine")
    func staleness() {
        var rig = Rig()
        let source = Site.ref("gas-a.lfl_percent")
        let last = rig.values.removeValue(forKey: source)!
        rig.tick(seconds: 3)
        #expect(rig.events(.pointStale).isEmpty)  // exactly stale_after old is still fresh
        rig.tick(seconds: 1)
        #expect(rig.events(.pointStale).count == 1)
        #expect(condition(rig, "flammable") == .trouble)
        rig.values[source] = last
        rig.tick()
        #expect(condition(rig, "flammable") == .normal)
        #expect(rig.events(.signalLevel).last?.message.contains("readable again") == true)
    }

    @Test("hysteresis: a sensor hovering at the threshold does not flap")
    func hysteresis() {
        var rig = Rig()
        for step in 0..<20 {
            rig.set("gas-a.lfl_percent", .number(step % 2 == 0 ? 10.1 : 9.9))
            rig.tick()
        }
        let levels = rig.events(.signalLevel).filter { $0.signal == "flammable" }
        #expect(levels.map(\.to) == ["alert"])
        rig.set("gas-a.lfl_percent", .number(8.9))
        rig.tick()
        #expect(rig.events(.signalLevel).filter { $0.signal == "flammable" }.map(\.to) == ["alert", "normal"])
        #expect(rig.state() == .normal)  // alert does not latch
    }

    @Test(
        "enum and boolean levels",
        arguments: [
            ("smoke-a.level", Value.name("alert"), "smoke", SignalCondition.alert),
            ("smoke-a.level", .name("action"), "smoke", .alarm),
            ("smoke-a.level", .name("fire2"), "smoke", .fire),
            ("smoke-a.level", .name("normal"), "smoke", .normal),
            ("gas-a.offgas", .name("detected"), "offgas", .alarm),
            ("bms-a.events.over_temp_alarm", .flag(true), "battery", .alarm),
            ("ups-a.battery_overtemp", .flag(true), "battery", .alarm),
        ])
    func discreteLevels(source: String, value: Value, signal: String, expected: SignalCondition) {
        var rig = Rig()
        rig.set(source, value)
        rig.tick()
        #expect(condition(rig, signal) == expected)
    }

    @Test("a value of the wrong type is invalid, not normal")
    func typeMismatch() {
        var rig = Rig()
        rig.set("gas-a.lfl_percent", .name("detected"))
        rig.tick()
        #expect(condition(rig, "flammable") == .trouble)
    }

    @Test("rate of rise on two of three sensors is an alert; on one it is not")
    func rateOfRise() {
        var rig = Rig()
        var rising = Rig()
        for second in 1...60 {
            let t = 24 + Double(second) * 0.1  // 6 °C/min
            rig.temps("a", t, 24, 24)
            rising.temps("a", t, t + 0.5, 24)
            rig.tick()
            rising.tick()
        }
        #expect(condition(rig, "temperature") == .normal)
        #expect(condition(rising, "temperature") == .alert)
        #expect(rising.state() == .alert)
        let record = rising.events(.zoneState).last!
        #expect(record.message.contains("temperature rising 6"))
        #expect(rising.ranSteps().isEmpty)
    }

    @Test("records only on change: a steady alarm logs once")
    func recordsOnChange() {
        var rig = Rig()
        rig.set("gas-a.lfl_percent", .number(12))
        for _ in 0..<30 { rig.tick() }
        #expect(rig.events(.signalLevel).count == 1)
        #expect(rig.events(.zoneState).count == 1)
    }

    @Test("readings for sources no signal uses are ignored, late readings do not roll back")
    func unknownAndLate() {
        var rig = Rig()
        let late = Reading.value(Site.ref("gas-a.lfl_percent"), .number(30), at: rig.now - .seconds(10))
        let stranger = Reading.value(Site.ref("nobody.nothing"), .number(99), at: rig.now)
        let out = rig.engine.evaluate([late, stranger], at: rig.now)
        #expect(out.records.isEmpty)
        #expect(rig.engine.slot(of: Site.ref("nobody.nothing")) == nil)
    }

    @Test("readings may come in any order from one cycle to the next")
    func anyOrder() {
        var engine = Engine(model: Site.model)
        let t0 = Timestamp(seconds: 5_000)
        let quiet = Site.normalValues("a").merging(Site.normalValues("b")) { a, _ in a }.sorted { $0.key < $1.key }
        _ = engine.evaluate(quiet.map { Reading(source: $0.key, time: t0, status: $0.value) }, at: t0)
        var shuffled = quiet.reversed().map { Reading(source: $0.key, time: t0 + .seconds(1), status: $0.value) }
        let offgas = shuffled.firstIndex { $0.source == Site.ref("gas-b.offgas") }!
        shuffled[offgas].status = .value(.name("detected"))
        shuffled.removeFirst()
        _ = engine.evaluate(shuffled, at: t0 + .seconds(1))
        #expect(engine.status(of: "battery-room-b")?.state == .isolating)
        #expect(engine.status(of: "battery-room-a")?.state == .normal)
    }

    @Test("slotted readings behave like keyed ones")
    func slotted() {
        var rig = Rig()
        rig.now = rig.now + .seconds(1)
        let ref = Site.ref("gas-a.offgas")
        let slot = rig.engine.slot(of: ref)!
        #expect(rig.engine.allSources[slot.index] == ref)
        var readings = rig.values.keys.map {
            SlottedReading(
                slot: rig.engine.slot(of: $0)!, reading: Reading(source: $0, time: rig.now, status: rig.values[$0]!))
        }
        readings.append(SlottedReading(slot: slot, reading: Reading.value(ref, .name("detected"), at: rig.now)))
        rig.absorb(rig.engine.evaluate(slotted: readings, at: rig.now))
        #expect(rig.state() == .isolating)
    }
}

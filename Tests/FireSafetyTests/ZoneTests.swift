import Testing
@testable import FireSafety

@Suite("Zones: tiers, latches, plans")
struct ZoneTests {
    @Test("tier 1: an alert notifies and actuates nothing, and clears by itself")
    func tierOne() {
        var rig = Rig()
        rig.temps("a", 40, 41, 24)
        rig.tick()
        #expect(rig.state() == .alert)
        let record = rig.events(.zoneState).last!
        #expect(record.severity == .alert)
        #expect(
            record.message == "2 of 3 temperature sensors at or above 35 °C (40 °C, 41 °C) in battery-room-a"
                + " — operators notified; nothing actuated")
        #expect(rig.actions.contains(.notify(record)))
        #expect(rig.ranSteps().isEmpty)
        rig.temps("a", 24, 24, 24)
        rig.tick()
        #expect(rig.state() == .normal)
        #expect(rig.zoneBUntouched())
    }

    @Test(
        "tier 2 triggers",
        arguments: [
            ("gas-a.offgas", Value.name("detected")), ("gas-a.lfl_percent", .number(30)),
            ("smoke-a.level", .name("action")), ("bms-a.events.over_temp_alarm", .flag(true)),
        ])
    func tierTwo(source: String, value: Value) {
        var rig = Rig()
        rig.set(source, value)
        rig.tick()
        #expect(rig.state() == .isolating)
        #expect(rig.zone().latched == .alarm)
        #expect(rig.ranSteps() == ["isolate[0]"])
        rig.run()
        #expect(rig.state() == .isolated)
        #expect(rig.started() == ["isolate[0]", "isolate[1]", "isolate[2]", "isolate[3]"])
        #expect(rig.zoneBUntouched())
    }

    @Test("off-gas record names device, point, value and says what happens")
    func offgasRecord() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        let record = rig.events(.zoneState).last!
        #expect(record.from == "normal" && record.to == "isolating" && record.severity == .alarm)
        #expect(record.device == "gas-a" && record.point == "offgas" && record.value == "detected")
        #expect(record.message == "offgas detected in battery-room-a — isolating (4 steps)")
    }

    @Test(
        "a single kind at fire, however strong, isolates and does not suppress",
        arguments: ["temperature", "smoke"])
    func oneKindAtFire(kind: String) {
        var rig = Rig()
        if kind == "temperature" { rig.temps("a", 120, 120, 120) } else { rig.set("smoke-a.level", .name("fire2")) }
        rig.tick()
        rig.run()
        for _ in 0..<60 { rig.tick() }
        #expect(rig.state() == .isolated)
        #expect(rig.zone().latched == .alarm)
        #expect(!rig.started().contains { $0.hasPrefix("suppress") || $0.hasPrefix("power_cut") })
    }

    @Test("two kinds at fire: isolate, then suppress with a 30 s countdown, then power cut")
    func tierThree() {
        var rig = Rig()
        rig.temps("a", 75, 72, 30)
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        #expect(rig.state() == .suppressing)
        #expect(rig.zone().latched == .fire)
        let decision = rig.events(.zoneState).last!
        #expect(decision.severity == .fire)
        #expect(
            decision.message == "2 of 3 temperature sensors at or above 70 °C (75 °C, 72 °C); smoke fire1"
                + " in battery-room-a — releasing suppression in 30 s after isolation completes")
        // Isolation first; steps of one zone never interleave.
        while rig.finish() != nil {}
        #expect(
            rig.started() == [
                "isolate[0]", "isolate[1]", "isolate[2]", "isolate[3]", "suppress[0]", "suppress[1]",
                "suppress[2]",
            ])
        let countdownStart = rig.now
        let delay = rig.log.last!
        #expect(delay.event == .stepStarted && delay.until == countdownStart + .seconds(30))
        for _ in 0..<28 { rig.tick() }
        #expect(rig.tick().nextDeadline == countdownStart + .seconds(30))  // the daemon wakes for the countdown
        #expect(!rig.ranSteps().contains("suppress[3]"))
        rig.tick()
        #expect(rig.ranSteps().contains("suppress[3]"))
        rig.finish()
        #expect(rig.state() == .powerCut)
        #expect(rig.events(.zoneState).map(\.to).suffix(2) == ["suppressed", "power_cut"])
        rig.run()
        #expect(rig.started().suffix(3) == ["power_cut[0]", "power_cut[1]", "power_cut[2]"])
        #expect(rig.zone().powerCut == .done)
        #expect(rig.zoneBUntouched())
    }

    @Test("a failed step is escalated at fire severity and the plan goes on")
    func failedStep() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.finish()
        let out = rig.finish("battery-room-a", .failed)!
        let failed = rig.events(.stepFailed).first!
        #expect(failed.severity == .fire)
        #expect(failed.step == 1 && failed.procedure == .isolate)
        #expect(failed.message.contains("FAILED") && failed.message.contains("going on with step 3"))
        #expect(out.actions.contains(.notify(failed)))
        #expect(out.actions.contains { if case .runStep(_, .isolate, 2, _) = $0 { return true } else { return false } })
        rig.run()
        #expect(rig.state() == .isolated)
    }

    @Test("alarm latches: the zone stays isolated after the cause clears")
    func latch() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        rig.set("gas-a.offgas", .name("clear"))
        for _ in 0..<10 { rig.tick() }
        #expect(rig.state() == .isolated)
        #expect(rig.zone().latched == .alarm)
    }

    @Test("trouble alone never actuates: every source of every signal lost")
    func troubleAlone() {
        var rig = Rig()
        for key in Site.normalValues("a").keys { rig.values[key] = .lost(reason: "network down") }
        for _ in 0..<20 { rig.tick() }
        #expect(rig.state() == .normal)
        #expect(rig.zone().trouble)
        #expect(rig.ranSteps().isEmpty)
        #expect(rig.events(.deviceCommLost, zone: nil).count == 7)  // once per device
    }

    @Test("records and actions come out in the order the daemon must log and act")
    func ordering() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        let out = rig.tick()
        #expect(out.records.map(\.event) == [.signalLevel, .zoneState, .stepStarted])
        #expect(out.actions.count == 2)  // notify the decision, run the first step
    }

    @Test("reminders until acknowledged; an escalation re-arms them")
    func reminders() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        func reminders(_ rig: Rig) -> Int {
            rig.actions.filter {
                if case .notify(let r) = $0 { return r.message.hasPrefix("reminder") } else { return false }
            }
            .count
        }
        for _ in 0..<301 { rig.tick() }
        #expect(reminders(rig) == 1)
        rig.command(.ack(zone: "battery-room-a", uid: "kim"))
        #expect(rig.zone().acknowledged)
        for _ in 0..<700 { rig.tick() }
        #expect(reminders(rig) == 1)
        rig.temps("a", 75, 75, 75)
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        #expect(!rig.zone().acknowledged)
        #expect(rig.state() == .suppressing)
    }
}

import Testing
@testable import FireSafety

@Suite("Operator commands")
struct CommandTests {
    @Test("reset is refused while the cause is present, and says which cause")
    func resetRefused() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        let out = rig.command(.reset(zone: "battery-room-a", uid: "kim"))
        #expect(out.refused == "the cause is still present in battery-room-a: offgas detected")
        #expect(out.records.count == 1 && out.records[0].outcome == "refused" && out.records[0].uid == "kim")
        #expect(rig.state() == .isolated)
        rig.set("gas-a.offgas", .name("clear"))
        rig.tick()
        let accepted = rig.command(.reset(zone: "battery-room-a", uid: "kim"))
        #expect(accepted.refused == nil)
        #expect(accepted.records.map(\.event) == [.operatorReset, .zoneState])
        #expect(accepted.records[1].message == "battery-room-a reset by kim — now normal")
        #expect(rig.state() == .normal && rig.zone().latched == nil && rig.zone().isolate == .idle)
    }

    @Test("reset is refused while a signal cannot be judged, or a step is running, or nothing is latched")
    func resetRefusedOtherwise() {
        var rig = Rig()
        #expect(rig.command(.reset(zone: "battery-room-a", uid: "kim")).refused?.contains("nothing latched") == true)
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.set("gas-a.offgas", .name("clear"))
        rig.tick()
        #expect(rig.command(.reset(zone: "battery-room-a", uid: "kim")).refused?.contains("still running") == true)
        rig.run()
        rig.set("gas-a.offgas", status: .lost(reason: "timeout"))
        rig.tick()
        let out = rig.command(.reset(zone: "battery-room-a", uid: "kim"))
        #expect(out.refused?.contains("offgas has no healthy source") == true)
        #expect(rig.command(.reset(zone: "nowhere", uid: "kim")).refused?.hasPrefix("no zone named nowhere") == true)
    }

    @Test("abort during the countdown holds the zone isolated with a fire alert and never releases")
    func abort() {
        var rig = Rig.countingDown()
        rig.tick(seconds: 10)
        let out = rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        #expect(out.refused == nil)
        #expect(out.records.map(\.event) == [.operatorAbort, .stepAborted, .zoneState])
        #expect(out.actions.contains(.cancelStep(zone: "battery-room-a", procedure: .suppress, index: 2)))
        let held = out.records[2]
        #expect(held.to == "isolated" && held.severity == .fire)
        #expect(held.message.hasPrefix("suppression of battery-room-a aborted by lee — held isolated"))
        #expect(out.actions.contains(.notify(held)))
        for _ in 0..<120 { rig.tick() }
        #expect(rig.state() == .isolated)
        #expect(!rig.ranSteps().contains("suppress[3]"))
        #expect(!rig.started().contains { $0.hasPrefix("power_cut") })
    }

    @Test("abort is refused outside a countdown or once the release has begun")
    func abortRefused() {
        var rig = Rig()
        #expect(rig.command(.abort(zone: "battery-room-a", uid: "lee")).refused?.contains("nothing to abort") == true)
        rig = Rig.countingDown()
        rig.tick(seconds: 30)
        #expect(rig.ranSteps().contains("suppress[3]"))
        let out = rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        #expect(out.refused?.hasPrefix("too late") == true)
    }

    @Test("ack silences only: it changes no state and is refused on a quiet zone")
    func ack() {
        var rig = Rig()
        #expect(rig.command(.ack(zone: "battery-room-a", uid: "kim")).refused != nil)
        rig.set("gas-a.lfl_percent", .number(12))
        rig.tick()
        let out = rig.command(.ack(zone: "battery-room-a", uid: "kim"))
        #expect(out.refused == nil && out.records.map(\.event) == [.operatorAck])
        #expect(rig.state() == .alert && rig.zone().acknowledged)
    }

    @Test("an inhibited zone detects and logs but does not actuate; the plan starts when the inhibit expires")
    func inhibitExpires() {
        var rig = Rig()
        let out = rig.command(
            .inhibit(zone: "battery-room-a", uid: "park", duration: .seconds(600), reason: "maintenance"))
        #expect(out.refused == nil && out.records[0].until == rig.now + .seconds(600))
        #expect(out.records[0].message.contains("detection and alerts go on"))
        rig.temps("a", 75, 75, 75)
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        #expect(rig.state() == .suppressing)
        #expect(rig.events(.zoneState).last!.message.contains("suppression held: zone inhibited until"))
        for _ in 0..<598 { rig.tick() }
        #expect(rig.ranSteps().isEmpty && rig.started().isEmpty)
        rig.tick()
        let expiry = rig.events(.zoneState).last { $0.from == "inhibited" }
        #expect(expiry != nil)
        #expect(rig.ranSteps() == ["isolate[0]"])
        #expect(rig.zone().inhibitedUntil == nil)
    }

    @Test("enable ends an inhibit early and starts what the latch demands")
    func enable() {
        var rig = Rig()
        #expect(rig.command(.enable(zone: "battery-room-a", uid: "park")).refused == "battery-room-a is not inhibited")
        rig.command(.inhibit(zone: "battery-room-a", uid: "park", duration: .seconds(7200), reason: "maintenance"))
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        #expect(rig.ranSteps().isEmpty)
        let out = rig.command(.enable(zone: "battery-room-a", uid: "park"))
        #expect(out.records.map(\.event) == [.operatorEnable, .stepStarted])
        #expect(rig.ranSteps() == ["isolate[0]"])
    }

    @Test("inhibit is refused while a procedure is under way, and for a non-positive duration")
    func inhibitRefused() {
        var rig = Rig.countingDown()
        let out = rig.command(.inhibit(zone: "battery-room-a", uid: "park", duration: .seconds(60), reason: "x"))
        #expect(out.refused?.contains("use `firewatch abort battery-room-a`") == true)
        rig = Rig()
        #expect(rig.command(.inhibit(zone: "battery-room-a", uid: "p", duration: .zero, reason: "x")).refused != nil)
    }

    @Test("a step report that does not match the running step is refused")
    func strayStepReport() {
        var rig = Rig()
        let out = rig.engine.stepFinished(
            zone: "battery-room-a", procedure: .isolate, index: 0, outcome: .succeeded, detail: "", at: rig.now)
        #expect(out.refused != nil && out.records.isEmpty)
    }
}

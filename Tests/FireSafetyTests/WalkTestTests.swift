import Testing

@testable import FireSafety

/// `firewatch test ZONE --for … --reason …`: detection runs, records and notifications are marked test, no step runs
/// and nothing is written; the zone is trouble; the test ends at its deadline or with `--end`, clearing its latch.
@Suite("Walk test")
struct WalkTestTests {
    static let zone = "battery-room-a"

    static func start(_ rig: inout Rig, seconds: Int64 = 3600) -> Output {
        rig.command(.test(zone: zone, uid: "1000", duration: .seconds(seconds), reason: "quarterly sensor test"))
    }

    /// Every source of zone A at fire: the double knock that releases agent when the zone is not in test.
    static func fire(_ rig: inout Rig) {
        rig.temps("a", 75, 75, 75)
        rig.set("smoke-a.level", .name("fire1"))
        rig.set("gas-a.offgas", .name("detected"))
    }

    @Test("detection runs and latches, every record says test with the uid, and no step runs or is written")
    func detectsButNeverActs() {
        var rig = Rig()
        let out = Self.start(&rig)
        #expect(out.refused == nil)
        #expect(out.records.map(\.event) == [.operatorTest])
        let started = out.records[0]
        #expect(started.test && started.uid == "1000" && started.until == rig.now + .seconds(3600))
        #expect(started.reason == "quarterly sensor test" && started.severity == .trouble)
        #expect(started.message.hasPrefix("TEST — "))
        #expect(out.actions.contains(.notify(started)), "the start of a test is notified")
        #expect(rig.zone().trouble && rig.zone().testUntil == rig.now + .seconds(3600))
        #expect(rig.zone().testReason == "quarterly sensor test" && rig.zone().testBy == "uid 1000")

        let first = rig.log.count
        Self.fire(&rig)
        for _ in 0..<120 { rig.tick() }
        #expect(rig.zone().latched == .fire, "detection runs as usual")
        #expect(rig.state() == .suppressing)
        #expect(rig.ranSteps().isEmpty && rig.started().isEmpty, "no step of any procedure starts")
        let during = rig.log[first...].filter { $0.zone == Self.zone }
        #expect(!during.isEmpty && during.allSatisfy { $0.test && $0.uid == "1000" && $0.message.hasPrefix("TEST — ") })
        #expect(during.contains { $0.event == .signalLevel && $0.signal == "smoke" })
        let sent = rig.actions.compactMap { action -> AlertRecord? in
            if case .notify(let record) = action, record.zone == Self.zone { return record }
            return nil
        }
        #expect(sent.count >= 2 && sent.allSatisfy { $0.test && $0.message.hasPrefix("TEST — ") })
        #expect(rig.zoneBUntouched(), "other zones are never affected")
    }

    @Test("at the deadline the test ends by itself, its latch is cleared, and a zone back to normal stays normal")
    func endsAtDeadline() {
        var rig = Rig()
        _ = Self.start(&rig, seconds: 60)
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        #expect(rig.zone().latched == .alarm && rig.ranSteps().isEmpty)
        rig.set("gas-a.offgas", .name("clear"))
        for _ in 0..<58 { rig.tick() }
        #expect(rig.zone().testUntil != nil && rig.zone().latched == .alarm, "a latch stays until the test ends")
        let first = rig.log.count
        rig.tick()
        let end = rig.log[first...].first { $0.event == .zoneState && $0.from == "test" }
        #expect(end != nil && end?.test == true && end?.uid == "1000")
        #expect(end?.message.contains("ended at its deadline") == true)
        #expect(rig.zone().testUntil == nil && rig.zone().latched == nil && !rig.zone().trouble)
        #expect(rig.state() == .normal && rig.ranSteps().isEmpty)
        for _ in 0..<10 { rig.tick() }
        #expect(rig.ranSteps().isEmpty, "nothing the test latched runs after it")
        #expect(!rig.log[(first + 2)...].contains { $0.test }, "records after the end are not test records")
    }

    @Test("a signal still at alarm when the test ends latches for real and its procedure runs")
    func realAlarmAtTheEndActs() {
        var rig = Rig()
        _ = Self.start(&rig)
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        #expect(rig.ranSteps().isEmpty)
        let out = rig.command(.endTest(zone: Self.zone, uid: "1000"))
        #expect(out.refused == nil)
        #expect(out.records.first?.event == .operatorTestEnd && out.records.first?.test == true)
        let real = out.records.filter { !$0.test }
        #expect(real.contains { $0.event == .zoneState && $0.to == "isolating" })
        #expect(real.contains { $0.event == .stepStarted && $0.procedure == .isolate && $0.step == 0 })
        #expect(rig.ranSteps() == ["isolate[0]"])
        #expect(rig.zone().latched == .alarm && rig.zone().testUntil == nil)
    }

    @Test("refused on a zone with anything latched or under way; commands that act are refused during a test")
    func refusals() {
        var rig = Rig.countingDown()
        let busy = Self.start(&rig)
        #expect(busy.refused?.contains("has fire latched") == true)
        #expect(busy.records.map(\.outcome) == ["refused"])
        #expect(rig.zone().testUntil == nil)

        rig = Rig()
        #expect(rig.command(.endTest(zone: Self.zone, uid: "1000")).refused == "battery-room-a is not in a walk test")
        #expect(rig.command(.test(zone: Self.zone, uid: "1000", duration: .zero, reason: "x")).refused != nil)
        rig.command(.inhibit(zone: Self.zone, uid: "1000", duration: .seconds(60), reason: "works"))
        #expect(Self.start(&rig).refused?.contains("`firewatch enable battery-room-a` first") == true)
        rig.command(.enable(zone: Self.zone, uid: "1000"))

        _ = Self.start(&rig)
        let inhibit = rig.command(.inhibit(zone: Self.zone, uid: "1000", duration: .seconds(60), reason: "x"))
        #expect(inhibit.refused?.contains("`firewatch test battery-room-a --end` first") == true)
        #expect(inhibit.records.first?.test == true, "a refused command in a test zone is a test record too")
        // Re-issued, a test gets a new deadline.
        rig.tick()
        let again = Self.start(&rig, seconds: 7200)
        #expect(again.refused == nil && rig.zone().testUntil == rig.now + .seconds(7200))
    }

    @Test("a reset during a test clears what it latched, so the next sensor can be walked")
    func resetBetweenSensors() {
        var rig = Rig()
        _ = Self.start(&rig)
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.set("gas-a.offgas", .name("clear"))
        rig.tick()
        let out = rig.command(.reset(zone: Self.zone, uid: "1000"))
        #expect(out.refused == nil && out.records.allSatisfy(\.test))
        #expect(rig.zone().latched == nil && rig.zone().testUntil != nil)
    }

    @Test("a restart during a test keeps it, with its deadline; one after the deadline ends it and clears its latch")
    func restart() {
        var rig = Rig()
        _ = Self.start(&rig, seconds: 600)
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        let checkpoint = EngineCheckpoint(folding: rig.log)
        #expect(checkpoint.zone(named: Self.zone)?.testUntil == rig.now - .seconds(1) + .seconds(600))
        #expect(checkpoint.zone(named: Self.zone)?.testUid == "1000")

        var (engine, out) = Engine.restore(model: Site.model, from: rig.log, at: rig.now + .seconds(10))
        #expect(out.actions.isEmpty && out.records.isEmpty)
        #expect(engine.status(of: Self.zone)?.testUntil != nil)
        #expect(engine.status(of: Self.zone)?.latched == .alarm)
        let readings = rig.values.keys.sorted().map { Reading(source: $0, time: rig.now + .seconds(11), status: rig.values[$0]!) }
        out = engine.evaluate(readings, at: rig.now + .seconds(11))
        #expect(!out.actions.contains { if case .runStep = $0 { return true } else { return false } })

        (engine, out) = Engine.restore(model: Site.model, from: rig.log, at: rig.now + .seconds(700))
        #expect(out.records.first?.from == "test" && out.records.allSatisfy(\.test))
        #expect(engine.status(of: Self.zone)?.testUntil == nil && engine.status(of: Self.zone)?.latched == nil)
        let after = EngineCheckpoint(folding: rig.log + out.records)
        #expect(after.zone(named: Self.zone)?.testUntil == nil && after.zone(named: Self.zone)?.latched == nil)
    }

    @Test("a reload keeps the test")
    func reload() {
        var rig = Rig()
        _ = Self.start(&rig)
        let (engine, _) = rig.engine.reloaded(with: Site.model)
        #expect(engine.status(of: Self.zone)?.testUntil == rig.zone().testUntil)
        #expect(engine.status(of: Self.zone)?.testReason == "quarterly sensor test")
    }
}

import Testing
@testable import FireSafety

/// The Pangyo battery-room fire of 15 Oct 2022 (DEVICE-FACTS.md §9), replayed second by second on
/// battery-room-a. Times are KST (UTC+9). Off-gas vents about 6.4 min before thermal runaway (§6), the BMS
/// says nothing until just before the fire, smoke follows the heat, ignition at 15:19. There, the first call
/// to the fire brigade came at 15:33.
@Suite("Pangyo 2022 replay")
struct PangyoReplayTests {
    /// 15:11:00 KST.
    static let offgasAt = Timestamp(seconds: 1_665_814_260)

    static func kst(_ hour: Int64, _ minute: Int64, _ second: Int64) -> Timestamp {
        offgasAt + .seconds((hour - 15) * 3600 + (minute - 11) * 60 + second)
    }

    @Test("each tier acts at the moment its evidence is there, and not before")
    func replay() {
        var rig = Rig(start: Self.offgasAt - .seconds(60))
        let runawayStart = Self.kst(15, 17, 24)
        var stateAt: [Timestamp: ZoneState] = [:]
        var twoSensorsAt35: Timestamp?
        while rig.now < Self.kst(15, 20, 0) {
            rig.tick()
            let t = rig.now
            if t >= Self.offgasAt {
                rig.set("gas-a.offgas", .name("detected"))
                // LFL climbs 2 % per minute: alert at 10 %, alarm at 25 %.
                rig.set("gas-a.lfl_percent", .number(Double((t - Self.offgasAt).components.seconds) / 30))
            }
            if t >= runawayStart {
                let s = Double((t - runawayStart).components.seconds)
                let near = s <= 60 ? 24 + s / 6 : 34 + 1.5 * (s - 60)
                rig.temps("a", near, near - 1, 24 + s / 12)
                if twoSensorsAt35 == nil && near - 1 >= 35 { twoSensorsAt35 = t + .seconds(1) }
            }
            if t >= Self.kst(15, 18, 0) { rig.set("smoke-a.level", .name("alert")) }
            if t >= Self.kst(15, 18, 30) { rig.set("smoke-a.level", .name("action")) }
            if t >= Self.kst(15, 18, 40) { rig.set("bms-a.events.over_temp_alarm", .flag(true)) }
            if t >= Self.kst(15, 19, 0) { rig.set("smoke-a.level", .name("fire1")) }
            // The runtime performs steps at once.
            while rig.finish() != nil {}
            stateAt[t] = rig.state()
        }

        // Tier 2 at the first off-gas reading: 8 minutes before ignition, people told at once.
        let decision = rig.events(.zoneState).first!
        #expect(decision.time == Self.offgasAt + .seconds(1))
        #expect(decision.to == "isolating" && decision.severity == .alarm)
        let firstNotify = rig.actions.first { if case .notify = $0 { return true } else { return false } }
        #expect(firstNotify == .notify(decision))
        #expect(stateAt[Self.offgasAt + .seconds(1)] == .isolated)
        let isolation = rig.log.filter { $0.event == .stepStarted && $0.procedure == .isolate }
        #expect(isolation.count == 4 && isolation.allSatisfy { $0.time == Self.offgasAt + .seconds(1) })

        // The rate of rise speaks before the fixed 35 °C threshold does.
        let temperatureAlert = rig.events(.signalLevel).first { $0.signal == "temperature" && $0.to == "alert" }!
        #expect(temperatureAlert.message.contains("temperature rising"))
        #expect(temperatureAlert.time < twoSensorsAt35!)

        // Temperature alone at fire (15:18:49) is one kind of evidence: still only isolated.
        let temperatureFire = rig.events(.signalLevel).first { $0.signal == "temperature" && $0.to == "fire" }!
        #expect(temperatureFire.time < Self.kst(15, 19, 0))
        #expect(stateAt[Self.kst(15, 18, 59)] == .isolated)

        // Smoke fire1 at 15:19:00 is the second knock: suppression, 30 s countdown, release, then power cut.
        let suppressing = rig.events(.zoneState).first { $0.to == "suppressing" }!
        #expect(suppressing.time == Self.kst(15, 19, 1))
        #expect(suppressing.message.contains("smoke fire1"))
        #expect(suppressing.message.hasSuffix("— releasing suppression in 30 s"))
        func startedAt(_ procedure: ProcedureKind, _ index: Int) -> Timestamp? {
            rig.log.first { $0.event == .stepStarted && $0.procedure == procedure && $0.step == index }?.time
        }
        #expect(startedAt(.suppress, 0) == Self.kst(15, 19, 1))
        #expect(startedAt(.suppress, 3) == Self.kst(15, 19, 31))
        #expect(startedAt(.powerCut, 0) == Self.kst(15, 19, 31))
        #expect(startedAt(.powerCut, 2) == Self.kst(15, 19, 36))
        #expect(rig.state() == .powerCut)
        #expect(rig.zoneBUntouched())
    }
}

import Testing

@testable import FireSafety

@Suite("Evidence: readings past the top of the range")
struct AboveRangeTests {
    @Test("a room hotter than its sensors read keeps its temperature evidence, and is trouble, logged once")
    func pinnedSensorsKeepEvidence() {
        var rig = Rig()
        rig.temps("a", 60, 62, 30)
        rig.tick()
        #expect(rig.zone().signals[0].condition == .alarm)
        // The sensors read to 70 °C; the room passes it. Before, these readings were invalid: the fire lost
        // its temperature evidence just as it grew.
        rig.set("temp-a1.temperature", status: .aboveRange(reading: 74.5, top: 70))
        rig.set("temp-a2.temperature", status: .aboveRange(reading: 71, top: 70))
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        #expect(rig.zone().signals[0].condition == .fire)
        #expect(rig.zone().latched == .fire)
        #expect(rig.zone().trouble)
        let records = rig.events(.pointInvalid)
        #expect(records.map(\.point) == ["temperature", "temperature"])
        #expect(records.map(\.device) == ["temp-a1", "temp-a2"])
        #expect(records.allSatisfy { $0.severity == .trouble && $0.reason?.hasPrefix("above range") == true })
        #expect(
            records.first?.message == "temp-a1.temperature reads above its range in battery-room-a: 74.5 °C on a "
                + "sensor that reads to 70 °C — counted as at least 70 °C for its thresholds and treated as trouble "
                + "(check the sensor, or use one whose range covers the room)")
        let trouble = rig.events(.zoneState).first { $0.to == "trouble" }
        #expect(trouble?.message.contains("temp-a1.temperature reads above its range (counted as at least 70 °C)") == true)
        let decision = rig.events(.zoneState).first { $0.to == "suppressing" }
        #expect(decision?.message.hasPrefix("2 of 3 temperature sensors at or above 70 °C (≥70 °C, ≥70 °C)") == true)
        for _ in 0..<5 { rig.tick() }
        #expect(rig.events(.pointInvalid).count == 2, "once per transition, not per poll")
        // Back inside the range: the trouble clears; a second excursion is logged again.
        rig.temps("a", 65, 66, 30)
        rig.tick()
        #expect(!rig.zone().trouble)
        rig.set("temp-a1.temperature", status: .aboveRange(reading: 71, top: 70))
        rig.tick()
        #expect(rig.events(.pointInvalid).count == 3)
    }

    @Test("one pinned sensor is one vote: a 2oo3 group is not at fire on it alone")
    func oneVote() {
        var rig = Rig()
        rig.set("temp-a1.temperature", status: .aboveRange(reading: 90, top: 70))
        rig.tick()
        let temperature = rig.zone().signals[0]
        #expect(temperature.condition == .normal)
        #expect(!temperature.degraded, "the vote is not degraded: the sensor still reports")
        #expect(rig.zone().trouble)
        #expect(rig.zone().latched == nil)
    }

    @Test("the top counts only for the thresholds it reaches")
    func onlyUpToTheTop() {
        var rig = Rig()
        // A sensor that reads only to 60 °C, past it on two of three: at least alarm (50), not fire (70).
        rig.set("temp-a1.temperature", status: .aboveRange(reading: 61, top: 60))
        rig.set("temp-a2.temperature", status: .aboveRange(reading: 65, top: 60))
        rig.tick()
        #expect(rig.zone().signals[0].condition == .alarm)
    }
}

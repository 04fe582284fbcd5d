import Testing

@testable import FireSafety

@Suite("Comm state with hysteresis")
struct CommStateTests {
    /// gas-a serves two points from two requests (off-gas state and % LFL); the second times out on every poll.
    @Test("a device whose second request times out on every poll is lost once, never restored in between")
    func halfAnswered() {
        var rig = Rig()
        rig.set("gas-a.lfl_percent", status: .lost(reason: "timeout"))
        for _ in 0..<30 { rig.tick() }
        // Before: comm_lost and comm_restored on every poll, 60 records. Now: one, after stale_after.
        #expect(rig.events(.deviceCommLost, zone: nil).map(\.device) == ["gas-a"])
        #expect(rig.events(.deviceCommLost, zone: nil).first?.reason == "timeout")
        #expect(rig.events(.deviceCommRestored, zone: nil).isEmpty)
        // Its lost point stays trouble, as before.
        #expect(rig.zone().trouble)
        #expect(rig.zone().signals.first { $0.name == "flammable" }?.condition == .trouble)
    }

    @Test("one poll with a value and one lost, alternating, is one comm_lost and no restore")
    func flapping() {
        var bench = Bench(model: SharedDeviceSite.model, values: SharedDeviceSite.quiet)
        for poll in 0..<40 {
            // Poll by poll: the BMS answers its first request and times out on its second, or answers both
            // every other poll.
            bench.values["bms.events.over_temp_alarm"] =
                poll % 2 == 0 ? .lost(reason: "timeout") : .value(.flag(false))
            bench.tick()
        }
        // Never `stale_after` without a complete poll: the device was never lost, and there was nothing to log.
        #expect(bench.events(.deviceCommLost).isEmpty)
        #expect(bench.events(.deviceCommRestored).isEmpty)
        // Now every poll is incomplete: one comm_lost after stale_after, then nothing more.
        bench.values["bms.events.over_temp_alarm"] = .lost(reason: "timeout")
        for _ in 0..<20 { bench.tick() }
        #expect(bench.events(.deviceCommLost).count == 1)
        // Complete, incomplete, complete...: two in a row are needed to restore.
        for poll in 0..<10 {
            bench.values["bms.events.over_temp_alarm"] =
                poll % 2 == 0 ? .value(.flag(false)) : .lost(reason: "timeout")
            bench.tick()
        }
        #expect(bench.events(.deviceCommRestored).isEmpty)
        bench.values["bms.events.over_temp_alarm"] = .value(.flag(false))
        bench.tick()
        #expect(bench.events(.deviceCommRestored).isEmpty)
        bench.tick()
        #expect(bench.events(.deviceCommRestored).count == 1)
        for _ in 0..<10 { bench.tick() }
        #expect(bench.events(.deviceCommLost).count == 1 && bench.events(.deviceCommRestored).count == 1)
    }

    @Test("a device that stops answering entirely is lost when stale_after has passed, and the engine wakes for it")
    func silentDevice() {
        var bench = Bench(model: SharedDeviceSite.model, values: SharedDeviceSite.quiet)
        let lastComplete = bench.now
        bench.values["smoke.level"] = .lost(reason: "connection refused")
        let out = bench.tick()
        #expect(bench.zone.trouble, "its point is trouble at once")
        #expect(bench.events(.deviceCommLost).isEmpty)
        #expect(out.nextDeadline.map { $0 <= lastComplete + .seconds(3) + .nanoseconds(1) } == true)
        bench.values.removeValue(forKey: "smoke.level")  // the poller hangs: no more readings of it at all
        bench.tick(out.nextDeadline! - bench.now)
        #expect(bench.events(.deviceCommLost).map(\.device) == ["smoke"])
        #expect(bench.events(.deviceCommLost).first?.message.contains("connection refused") == true)
    }

    @Test("a device unreachable from the start is lost after stale_after, not at its first poll")
    func deadAtStart() {
        var values = SharedDeviceSite.quiet
        values["smoke.level"] = .lost(reason: "connection refused")
        var bench = Bench(model: SharedDeviceSite.model, values: values)
        #expect(bench.events(.deviceCommLost).isEmpty)
        bench.tick(seconds: 3)
        #expect(bench.events(.deviceCommLost).isEmpty)
        bench.tick()
        #expect(bench.events(.deviceCommLost).count == 1)
    }
}

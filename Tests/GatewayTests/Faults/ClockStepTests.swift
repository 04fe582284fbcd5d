import Foundation
import Gateway
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    /// The daemon's wall clock (libfaketime, monotonic clocks untouched) is stepped +60 s in the middle of two
    /// 30 s pre-discharge countdowns, then +1 h, then −1 h. Every duration runs on the monotonic clock: each step is
    /// one `clock.stepped` record and changes no timer.
    @Test("wall clock stepped +60 s mid-countdown, then ±1 h: countdowns keep their length, polls go on")
    func wallClockSteps() async throws {
        let delay = Duration.seconds(30)
        let site = try FaultSite(
            // stale_after 30 s: longer than any stall of a busy machine, shorter than the steps, so a point seen
            // stale here was judged on the wall clock.
            zones: ["a", "b"], suppressDelay: "30s", staleAfter: "30s",
            timeline: FaultSite.fire("a", at: "3s") + FaultSite.fire("b", at: "3s"))
        let clock = try FakeWallClock(in: site.directory)
        try await site.run {
            _ = try site.startSimulator()
            let daemon = try site.startDaemon(clock: clock)
            try #require(await site.waitForStart(of: daemon), "the daemon did not start\n\(site.story)")
            try #require(await site.waitForScenarioStart(), "the simulator never saw the daemon poll\n\(site.story)")
            for zone in ["room-a", "room-b"] {
                try #require(
                    await site.waitForRecord { FaultSite.isStep($0, "step.started", zone: zone, "delay") },
                    "\(zone) never started its pre-discharge countdown\n\(site.logText)\n\(site.story)")
            }
            try #require(site.writes(to: "panel-a.release").isEmpty && site.writes(to: "panel-b.release").isEmpty)

            // +60 s, with about 29 s of both countdowns left: a countdown on the wall clock ends at the next poll.
            try clock.set(offset: 60)
            #expect(
                await site.waitForRecord(["event": "clock.stepped"], limit: .seconds(30)),
                "no clock.stepped record within 30 s of stepping the wall clock +60 s\n\(site.logText)")
            // Two more polls of every device: time enough for a wrongly timed countdown to end.
            #expect(await site.waitForPolls(2, limit: .seconds(30)), "polls stopped after the +60 s step")
            let abort = try await site.cli(["abort", "room-b", "--config", site.siteFile])
            #expect(
                abort.status == 0,
                "abort room-b right after the +60 s step was not accepted (exit \(abort.status)): \(abort.output)")
            #expect(
                site.records(["event": "operator.abort", "zone": "room-b", "outcome": "accepted"]).count == 1,
                "no accepted operator.abort for room-b\n\(site.logText)")

            // room-a runs on: release no earlier than the full countdown after HVAC off, on the simulator's clock.
            try await site.expectFullCountdown(
                delay, limit: .seconds(90), "the 30 s countdown was cut short by the wall-clock step")
            #expect(site.writes(to: "panel-b.release").isEmpty, "room-b released after its abort was accepted")

            // +1 h, then −1 h: polls go on at their interval (never faster: missed ticks are skipped, not run).
            try clock.set(offset: 60 + 3600)
            #expect(
                await FaultSite.waitUntil(limit: .seconds(30)) { site.records(["event": "clock.stepped"]).count >= 2 },
                "no clock.stepped record within 30 s of stepping the wall clock +1 h")
            try await expectPollsGoOn(site, after: "+1 h")
            try clock.set(offset: 60)
            #expect(
                await FaultSite.waitUntil(limit: .seconds(30)) { site.records(["event": "clock.stepped"]).count >= 3 },
                "no clock.stepped record within 30 s of stepping the wall clock −1 h")
            try await expectPollsGoOn(site, after: "−1 h")

            // Exactly one record per step, with its sign and size.
            let steps = site.records(["event": "clock.stepped"])
            let sizes = steps.compactMap { $0["step_seconds"]?.doubleValue }
            #expect(steps.count == 3 && sizes.count == 3, "expected 3 clock.stepped records:\n\(site.logText)")
            for (size, expected) in zip(sizes, [60.0, 3600.0, -3600.0]) {
                #expect(abs(size - expected) <= 1.5, "clock.stepped step_seconds \(size), expected \(expected)")
            }
            #expect(steps.allSatisfy { $0["severity"]?.stringValue == "trouble" })
            // stale_after runs on the monotonic clock too: no step makes a fresh reading look old.
            let stale = site.records(["event": "point.stale"])
            #expect(stale.isEmpty, "points judged stale across the wall-clock steps:\n\(stale)")
            #expect(daemon.isRunning, "the daemon stopped\n\(site.daemonOutput)")
        }
    }

    /// Every device polled 10 more times within 30 s (10 polls take 5 s at 500 ms), and no device polled faster
    /// than its interval allows over that window (a catch-up burst would hammer the devices).
    private func expectPollsGoOn(_ site: FaultSite, after step: String) async throws {
        let start = ContinuousClock.now
        let before = try #require(await site.status(), "no status after the \(step) step\n\(site.daemonOutput)")
        let polled = await site.waitForPolls(10, limit: .seconds(30))
        #expect(polled, "devices were not polled 10 more times within 30 s after the \(step) step")
        let after = try #require(await site.status(), "no status after the \(step) step\n\(site.daemonOutput)")
        let window = ContinuousClock.now - start
        let most = Int(window / .milliseconds(500)) + 2
        for device in after.devices {
            let earlier = before.devices.first { $0.name == device.name }?.polls ?? 0
            #expect(
                device.polls - earlier <= most,
                "\(device.name) was polled \(device.polls - earlier) times in \(window) after the \(step) step")
        }
    }
}

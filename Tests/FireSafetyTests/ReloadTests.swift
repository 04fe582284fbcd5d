import Testing

@testable import FireSafety

@Suite("Reload in the middle of a procedure")
struct ReloadTests {
    /// Zone A in its pre-discharge countdown (suppress step 3 of 4).
    func inCountdown() -> Rig {
        var rig = Rig.countingDown()
        rig.tick(seconds: 10)
        return rig
    }

    @Test("the procedure under way finishes on the steps it started with; the zone takes the new ones after")
    func finishesOnItsOwnSteps() {
        var rig = inCountdown()
        var model = Site.model
        model.zones[0].suppress.removeFirst()  // by index, step 3 would now be the release itself
        model.zones[0].powerCut = [.command(device: "feed-a", command: "open_feed_2")]
        let (engine, waiting) = rig.engine.reloaded(with: model)
        #expect(waiting == ["battery-room-a"])
        rig.engine = engine
        #expect(rig.zone().running?.index == 2)
        #expect(rig.zone().running?.delayEnds != nil)
        let before = rig.ranSteps().count
        rig.tick(seconds: 19)
        #expect(rig.ranSteps().count == before)  // no release before the countdown it started with has run out
        rig.tick(seconds: 1)
        #expect(rig.ranSteps().last == "suppress[3]")
        guard case .runStep(_, .suppress, 3, .command("panel-a", "release"))? = rig.actions.last else {
            Issue.record("expected the original step 4, the release, got \(String(describing: rig.actions.last))")
            return
        }
        rig.finish()
        // suppress is done: power_cut is a procedure that had not started, so it runs the new configuration.
        let cut = rig.actions.compactMap { action -> Step? in
            if case .runStep(_, .powerCut, _, let step) = action { return step }
            return nil
        }
        #expect(cut == [.command(device: "feed-a", command: "open_feed_2")])
    }

    @Test("a reload that changes nothing under way makes no zone wait, and keeps latches, acks and inhibits")
    func keepsState() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        rig.command(.ack(zone: "battery-room-a", uid: "lee"))
        rig.command(.inhibit(zone: "battery-room-b", uid: "park", duration: .seconds(600), reason: "cell swap"))
        var model = Site.model
        model.zones[0].signals[2].thresholds[.alert] = .atLeast(12)
        let (engine, waiting) = rig.engine.reloaded(with: model)
        #expect(waiting.isEmpty)
        #expect(engine.status(of: "battery-room-a")?.latched == .alarm)
        #expect(engine.status(of: "battery-room-a")?.state == .isolated)
        #expect(engine.status(of: "battery-room-a")?.acknowledged == true)
        #expect(engine.status(of: "battery-room-b")?.inhibitedUntil == rig.now + .seconds(600))
    }
}

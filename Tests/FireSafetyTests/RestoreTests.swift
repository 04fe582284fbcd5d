import Testing
@testable import FireSafety

/// What a restart must bring back. Per-signal `degraded` is left out: it is recomputed from the first readings;
/// so are the times of a step under way, which starts over at the restart.
func essence(_ statuses: [ZoneStatus]) -> [ZoneStatus] {
    statuses.map { status in
        var copy = status
        copy.signals = copy.signals.map {
            var s = $0; s.degraded = false; return s
        }
        copy.running?.startedAt = Timestamp(nanoseconds: 0)
        copy.running?.delayEnds = nil
        return copy
    }
}

@Suite("Restart from the alert log")
struct RestoreTests {
    func restored(_ rig: Rig) -> (Engine, Output) {
        Engine.restore(model: Site.model, from: rig.log, at: rig.now)
    }

    @Test("a restart mid-countdown starts the countdown over with its full duration, and says why")
    func midCountdown() {
        var rig = Rig.countingDown()
        rig.tick(seconds: 29)  // one second of the countdown left when the daemon stopped
        let (engine, out) = restored(rig)
        #expect(essence(engine.status) == essence(rig.engine.status))
        #expect(out.records.map(\.event) == [.stepResumed])
        #expect(out.records[0].until == rig.now + .seconds(30) && out.records[0].step == 2)
        #expect(out.records[0].reason?.contains("starts over with its full duration") == true)
        #expect(out.actions.isEmpty)  // the engine times delays itself
        #expect(out.nextDeadline == rig.now + .seconds(30))
        var after = rig
        after.engine = engine
        after.log += out.records
        after.tick(seconds: 29)
        #expect(!after.ranSteps().contains("suppress[3]"))
        // The operator can still abort in the restarted countdown.
        var aborting = after
        #expect(aborting.command(.abort(zone: "battery-room-a", uid: "lee")).refused == nil)
        after.tick(seconds: 1)
        #expect(after.ranSteps().contains("suppress[3]"))
    }

    @Test("a restart after the config changed finds the step under way by its identity, not its index")
    func identityNotIndex() {
        var rig = Rig.countingDown()
        rig.tick(seconds: 10)
        // The new configuration drops the leading notify: by index, step 2 would now be the release.
        var model = Site.model
        model.zones[0].suppress.removeFirst()
        let (engine, out) = Engine.restore(model: model, from: rig.log, at: rig.now)
        #expect(out.records.map(\.event) == [.stepResumed])
        #expect(out.records[0].step == 1 && out.records[0].stepText == Step.delay(.seconds(30), abortable: true).description)
        #expect(out.actions.isEmpty)
        #expect(engine.status(of: "battery-room-a")?.running?.index == 1)
        #expect(engine.status(of: "battery-room-a")?.running?.delayEnds == rig.now + .seconds(30))
    }

    @Test("a step under way that the new config no longer has fails, is escalated, and nothing else is guessed")
    func stepGoneFromConfig() {
        var rig = Rig.countingDown()
        var model = Site.model
        model.zones[0].suppress[2] = .delay(.seconds(45), abortable: true)
        let (engine, out) = Engine.restore(model: model, from: rig.log, at: rig.now)
        let failed = out.records.first { $0.event == .stepFailed }
        #expect(failed?.stepText == Step.delay(.seconds(30), abortable: true).description)
        #expect(failed?.reason == "configuration changed while it ran")
        #expect(failed?.severity == .fire)
        #expect(out.actions.contains { if case .notify(let r) = $0 { r.event == .stepFailed } else { false } })
        // Not the release: nothing of suppress runs after the step it cannot place.
        #expect(!out.actions.contains { if case .runStep(_, .suppress, _, _) = $0 { true } else { false } })
        #expect(engine.status(of: "battery-room-a")?.suppress == .done)
    }
    @Test("a step started and never finished is resumed and handed to the runtime again")
    func unfinishedStep() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.finish()
        let (engine, out) = restored(rig)
        #expect(essence(engine.status) == essence(rig.engine.status))
        #expect(out.records.map(\.event) == [.stepResumed])
        #expect(out.actions.count == 1)
        guard case .runStep("battery-room-a", .isolate, 1, .command("feed-a", "start_exhaust"))? = out.actions.first
        else {
            Issue.record("expected isolate step 2 to be run again, got \(out.actions)")
            return
        }
    }

    @Test("a crash between steps, or between the decision and the first step, goes on with the plan")
    func betweenSteps() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.finish()
        var log = rig.log
        #expect(log.removeLast().event == .stepStarted)  // the crash came before step 2 was logged
        let (_, out) = Engine.restore(model: Site.model, from: log, at: rig.now)
        #expect(out.records.map(\.event) == [.stepStarted])
        #expect(out.records[0].step == 1)
        let decisionOnly = Array(rig.log.prefix { $0.event != .stepStarted })
        let (engine, first) = Engine.restore(model: Site.model, from: decisionOnly, at: rig.now)
        #expect(first.records.map(\.event) == [.stepStarted])
        #expect(engine.status(of: "battery-room-a")?.latched == .alarm)
    }

    @Test("inhibits (with expiry), acks, aborts and resets come back")
    func overlays() {
        var rig = Rig.countingDown()
        rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        rig.command(.ack(zone: "battery-room-a", uid: "lee"))
        rig.command(.inhibit(zone: "battery-room-b", uid: "park", duration: .seconds(3600), reason: "cell swap"))
        rig.tick()
        var (engine, out) = restored(rig)
        #expect(essence(engine.status) == essence(rig.engine.status))
        #expect(engine.status(of: "battery-room-a")?.suppress == .aborted)
        #expect(engine.status(of: "battery-room-a")?.acknowledged == true)
        #expect(engine.status(of: "battery-room-b")?.inhibitedUntil != nil)
        #expect(out.records.isEmpty && out.actions.isEmpty)
        // An inhibit that ran out while the daemon was down ends at restart.
        (engine, out) = Engine.restore(model: Site.model, from: rig.log, at: rig.now + .seconds(7200))
        #expect(engine.status(of: "battery-room-b")?.inhibitedUntil == nil)
        #expect(out.records.contains { $0.from == "inhibited" && $0.zone == "battery-room-b" })
        // After a reset, a restart comes back normal.
        rig.temps("a", 24, 24, 24)
        rig.set("smoke-a.level", .name("normal"))
        rig.tick()
        #expect(rig.command(.reset(zone: "battery-room-a", uid: "lee")).refused == nil)
        (engine, out) = restored(rig)
        #expect(engine.status(of: "battery-room-a")?.state == .normal)
        #expect(essence(engine.status) == essence(rig.engine.status))
    }

    @Test("a crash right after an accepted abort or reset line neither resumes the countdown nor re-isolates")
    func cutOffAfterOperator() {
        var rig = Rig.countingDown()
        rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        let abortLine = rig.log.lastIndex { $0.event == .operatorAbort }!
        var (engine, out) = Engine.restore(model: Site.model, from: Array(rig.log[...abortLine]), at: rig.now)
        #expect(out.records.isEmpty && out.actions.isEmpty)
        #expect(engine.status(of: "battery-room-a")?.suppress == .aborted)
        rig.temps("a", 24, 24, 24)
        rig.set("smoke-a.level", .name("normal"))
        rig.tick()
        rig.command(.reset(zone: "battery-room-a", uid: "lee"))
        let resetLine = rig.log.lastIndex { $0.event == .operatorReset }!
        (engine, out) = Engine.restore(model: Site.model, from: Array(rig.log[...resetLine]), at: rig.now)
        #expect(out.actions.isEmpty)
        #expect(engine.status(of: "battery-room-a")?.latched == nil)
    }

    @Test("a restored engine does not repeat what the log already says")
    func noRepeats() {
        var rig = Rig()
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        var (engine, out) = restored(rig)
        #expect(out.records.isEmpty)
        let readings = rig.values.keys.map { Reading(source: $0, time: rig.now, status: rig.values[$0]!) }
        out = engine.evaluate(readings, at: rig.now + .seconds(1))
        #expect(out.records.isEmpty && out.actions.isEmpty)
    }
}

import Testing
@testable import FireSafety

/// Zone A with its panel's hold-to-abort switch wired in, as the site loader builds it from a profile point with
/// `role: abort_switch`.
enum SwitchSite {
    static let ref = Site.ref("panel-a.abort_switch")

    static let model: SiteModel = {
        var a = Site.zone("a")
        a.abortSwitches = [ref]
        return SiteModel(site: "pangyo-a", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: [a, Site.zone("b")])
    }()

    static func rig() -> Rig {
        var rig = Rig()
        rig.engine = Engine(model: model)
        rig.set("panel-a.abort_switch", .flag(false))
        rig.tick()
        return rig
    }
}

extension Rig {
    /// An operator command from a user the system knows by name.
    @discardableResult
    mutating func command(_ command: OperatorCommand, user: String?) -> Output {
        let out = engine.command(command, user: user, at: now)
        absorb(out)
        return out
    }
}

@Suite("Resume and abort switches")
struct ResumeTests {
    static func delayStarts(_ rig: Rig) -> [AlertRecord] {
        rig.events(.stepStarted).filter { $0.procedure == .suppress && $0.step == 2 }
    }

    @Test("resume after an abort restarts the countdown in full, then releases")
    func resumeRestartsInFull() throws {
        var rig = Rig.countingDown()
        rig.tick(seconds: 20)
        #expect(rig.command(.abort(zone: "battery-room-a", uid: "lee")).refused == nil)
        for _ in 0..<60 { rig.tick() }
        #expect(rig.state() == .isolated && !rig.ranSteps().contains("suppress[3]"))
        let out = rig.command(.resume(zone: "battery-room-a", uid: "0"), user: "root")
        #expect(out.refused == nil)
        #expect(out.records.map(\.event) == [.operatorResume, .zoneState, .stepStarted])
        let resume = out.records[0]
        #expect(resume.uid == "0" && resume.user == "root" && resume.outcome == "accepted")
        #expect(resume.message == "root (uid 0) resumed suppression of battery-room-a")
        #expect(resume.procedure == .suppress && resume.step == 2)
        #expect(out.records[1].from == "isolated" && out.records[1].to == "suppressing")
        #expect(out.records[1].message.hasPrefix("suppression of battery-room-a resumed by root (uid 0)"))
        #expect(out.actions.contains(.notify(out.records[1])))
        let restart = out.records[2]
        #expect(restart.step == 2 && restart.until == rig.now + .seconds(30))
        rig.tick(seconds: 29)
        #expect(!rig.ranSteps().contains("suppress[3]"))
        rig.tick(seconds: 1)
        #expect(rig.ranSteps().contains("suppress[3]"))
    }

    @Test("an abort before the countdown resumes at the step it stopped, so nothing is skipped")
    func resumeAtTheStoppedStep() {
        var rig = Rig()
        rig.temps("a", 75, 72, 30)
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        for _ in 0..<8 where rig.zone().running?.procedure != .suppress { rig.finish() }
        // Step 1 (notify) is running; stop_hvac and the countdown have not begun.
        #expect(rig.zone().running?.index == 0)
        let abort = rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        #expect(abort.records[0].step == 0)
        let out = rig.command(.resume(zone: "battery-room-a", uid: "lee"))
        #expect(out.records.last?.event == .stepStarted && out.records.last?.step == 0)
        while rig.finish() != nil {}
        #expect(Self.delayStarts(rig).count == 1)
        #expect(rig.ranSteps().filter { $0 == "suppress[1]" }.count == 1)
    }

    @Test("resume is refused without an abort, and while the zone is inhibited; both refusals are logged")
    func resumeRefused() {
        var rig = Rig()
        let none = rig.command(.resume(zone: "battery-room-a", uid: "kim"))
        #expect(none.refused == "battery-room-a has no aborted suppression to resume (it is normal)")
        #expect(none.records.map(\.outcome) == ["refused"] && none.records[0].event == .operatorResume)
        rig = Rig.countingDown()
        rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        rig.command(.inhibit(zone: "battery-room-a", uid: "park", duration: .seconds(600), reason: "agent refill"))
        let inhibited = rig.command(.resume(zone: "battery-room-a", uid: "lee"))
        #expect(inhibited.refused?.contains("`firewatch enable battery-room-a` first") == true)
        #expect(rig.state() == .isolated)
    }

    @Test("a restart keeps the abort, and resume after it starts where the abort stopped")
    func restoreKeepsTheStoppedStep() {
        var rig = Rig.countingDown()
        rig.command(.abort(zone: "battery-room-a", uid: "lee"))
        var (restored, _) = Engine.restore(model: Site.model, from: rig.log, at: rig.now)
        #expect(restored.status(of: "battery-room-a")?.suppress == .aborted)
        let out = restored.command(.resume(zone: "battery-room-a", uid: "lee"), at: rig.now)
        #expect(out.records.last?.event == .stepStarted && out.records.last?.step == 2)
        #expect(out.records.last?.until == rig.now + .seconds(30))
        // And a log that says it was resumed comes back counting down.
        rig.command(.resume(zone: "battery-room-a", uid: "lee"))
        let (again, _) = Engine.restore(model: Site.model, from: rig.log, at: rig.now)
        #expect(again.status(of: "battery-room-a")?.running?.index == 2)
        #expect(again.status(of: "battery-room-a")?.state == .suppressing)
    }

    @Test("operator records name the user and the uid, or the uid alone, keeping `uid` as it was")
    func operatorNames() {
        var rig = Rig.countingDown()
        let named = rig.command(.abort(zone: "battery-room-a", uid: "0"), user: "root")
        #expect(named.records[0].message == "root (uid 0) aborted suppression of battery-room-a")
        #expect(named.records[0].uid == "0" && named.records[0].user == "root")
        #expect(named.records[2].message.hasPrefix("suppression of battery-room-a aborted by root (uid 0)"))
        let unknown = rig.command(.ack(zone: "battery-room-a", uid: "1234"))
        #expect(unknown.records[0].message == "uid 1234 acknowledged battery-room-a" && unknown.records[0].user == nil)
        let refused = rig.command(.enable(zone: "battery-room-a", uid: "1000"), user: "kim")
        #expect(refused.records[0].message.hasPrefix("refused: kim (uid 1000) tried to enable battery-room-a"))
    }

    @Test("a retry is logged before it is made, and refused once the step no longer runs")
    func retries() {
        var rig = Rig.countingDown()
        rig.tick(seconds: 30)
        let release = rig.pending.first { $0.procedure == .suppress }!
        let out = rig.engine.stepRetrying(
            zone: "battery-room-a", procedure: .suppress, index: release.index, attempt: 2, of: 3,
            problem: "read back panel-a.status = normal", at: rig.now)
        #expect(out.refused == nil && out.actions.isEmpty)
        #expect(out.records.map(\.event) == [.stepRetried])
        #expect(out.records[0].stepText == "command panel-a.release" && out.records[0].device == "panel-a")
        #expect(out.records[0].detail == "attempt 2 of 3; the last one: read back panel-a.status = normal")
        #expect(out.records[0].message.hasSuffix("retried: attempt 2 of 3; the last one: read back panel-a.status = normal"))
        let stale = rig.engine.stepRetrying(
            zone: "battery-room-a", procedure: .suppress, index: 2, attempt: 2, of: 3, problem: "x", at: rig.now)
        #expect(stale.refused != nil && stale.records.isEmpty)
    }

    // MARK: - Abort switches

    @Test("a held abort switch stops the countdown; let go, the countdown restarts in full")
    func switchHoldsAndRestarts() {
        var rig = Rig.countingDown(SwitchSite.rig())
        rig.tick(seconds: 25)
        rig.set("panel-a.abort_switch", .flag(true))
        let held = rig.tick()
        #expect(held.records.map(\.event) == [.operatorAbort, .stepAborted, .zoneState])
        let abort = held.records[0]
        #expect(abort.device == "panel-a" && abort.point == "abort_switch" && abort.uid == nil)
        #expect(abort.outcome == "accepted" && abort.step == 2)
        #expect(held.records[2].message.hasPrefix("suppression of battery-room-a stopped by its abort switch"))
        #expect(held.actions.contains(.notify(abort)) && held.actions.contains(.notify(held.records[2])))
        #expect(rig.zone().abortSwitchHeld && rig.state() == .isolated)
        for _ in 0..<90 { rig.tick() }
        #expect(!rig.ranSteps().contains("suppress[3]"))
        // Someone far away cannot take back what a person in the room holds.
        let refused = rig.command(.resume(zone: "battery-room-a", uid: "lee"))
        #expect(refused.refused?.hasPrefix("the abort switch panel-a.abort_switch is held in battery-room-a") == true)
        rig.set("panel-a.abort_switch", .flag(false))
        let released = rig.tick()
        #expect(released.records.map(\.event) == [.operatorResume, .zoneState, .stepStarted])
        #expect(released.records[2].until == rig.now + .seconds(30))
        rig.tick(seconds: 29)
        #expect(!rig.ranSteps().contains("suppress[3]"))
        rig.tick(seconds: 1)
        #expect(rig.ranSteps().contains("suppress[3]"))
    }

    @Test("held before the double knock, the switch keeps the countdown from starting")
    func switchHeldBeforeFire() {
        var rig = SwitchSite.rig()
        rig.set("panel-a.abort_switch", .flag(true))
        rig.tick()
        #expect(rig.events(.operatorAbort).isEmpty)
        rig = Rig.countingDown(rig)
        #expect(rig.events(.operatorAbort).count == 1)
        for _ in 0..<60 { rig.tick() }
        #expect(Self.delayStarts(rig).isEmpty && !rig.started().contains { $0.hasPrefix("power_cut") })
    }

    @Test("once the release has begun the switch changes nothing")
    func switchTooLate() {
        var rig = Rig.countingDown(SwitchSite.rig())
        rig.tick(seconds: 30)
        #expect(rig.ranSteps().contains("suppress[3]"))
        rig.set("panel-a.abort_switch", .flag(true))
        let out = rig.tick()
        #expect(out.records.isEmpty)
        rig.run()
        #expect(rig.started().contains("power_cut[0]"))
    }

    @Test("an operator's abort taken while the switch is held stays when the switch is let go")
    func operatorAbortOutlivesTheSwitch() {
        var rig = Rig.countingDown(SwitchSite.rig())
        rig.set("panel-a.abort_switch", .flag(true))
        rig.tick()
        #expect(rig.command(.abort(zone: "battery-room-a", uid: "lee")).refused == nil)
        rig.set("panel-a.abort_switch", .flag(false))
        let out = rig.tick()
        #expect(!out.records.contains { $0.event == .operatorResume })
        #expect(rig.state() == .isolated)
        #expect(rig.command(.resume(zone: "battery-room-a", uid: "lee")).refused == nil)
        #expect(rig.state() == .suppressing)
    }

    @Test("one lost poll is not letting go; a switch unreadable past stale_after is, and says why")
    func switchUnreadable() {
        var rig = Rig.countingDown(SwitchSite.rig())
        rig.set("panel-a.abort_switch", .flag(true))
        rig.tick()
        rig.set("panel-a.abort_switch", status: .lost(reason: "timeout"))
        rig.tick()
        #expect(rig.events(.operatorResume).isEmpty && rig.state() == .isolated)
        rig.tick(seconds: 3)
        let resumed = rig.events(.operatorResume)
        #expect(resumed.count == 1)
        #expect(resumed.first?.message.contains("cannot be read (timeout)") == true)
        #expect(resumed.first?.reason == "abort switch unreadable")
        #expect(rig.state() == .suppressing)
    }

    @Test("a restart while the switch is held comes back aborted, and letting go after it resumes")
    func switchAcrossRestart() {
        var rig = Rig.countingDown(SwitchSite.rig())
        rig.set("panel-a.abort_switch", .flag(true))
        rig.tick()
        var restarted = Rig()
        restarted.now = rig.now
        restarted.values = rig.values
        restarted.engine = Engine.restore(model: SwitchSite.model, from: rig.log, at: rig.now).0
        restarted.tick()
        #expect(restarted.state() == .isolated && restarted.events(.operatorResume).isEmpty)
        restarted.set("panel-a.abort_switch", .flag(false))
        restarted.tick()
        #expect(restarted.events(.operatorResume).count == 1 && restarted.state() == .suppressing)
    }
}

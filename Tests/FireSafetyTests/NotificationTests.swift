import FireSafety
import Testing

/// Reminders (`remind_every`) and the quiet period (`quiet_period`): what reaches the channels, not what is logged.
@Suite("Notifications")
struct NotificationTests {
    static func notifications(_ rig: Rig, zone: String = "battery-room-a") -> [AlertRecord] {
        rig.actions.compactMap {
            if case .notify(let record) = $0, record.zone == zone { return record } else { return nil }
        }
    }

    static func rig(remindEvery: Duration? = SiteModel.defaultRemindEvery, quietPeriod: Duration = .seconds(60))
        -> Rig
    {
        var model = Site.model
        model.remindEvery = remindEvery
        model.quietPeriod = quietPeriod
        var rig = Rig()
        rig.engine = Engine(model: model)
        rig.tick()
        return rig
    }

    @Test("a reminder says how long the zone has gone unacknowledged, and an ack stops them")
    func reminderSaysHowLong() {
        var rig = Self.rig(remindEvery: .seconds(120))
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        for _ in 0..<250 { rig.tick() }
        let reminders = Self.notifications(rig).filter { $0.message.hasPrefix("reminder") }
        #expect(reminders.count == 2)
        #expect(reminders.first?.message.contains("unacknowledged for 2 min") == true)
        #expect(reminders.last?.message.contains("unacknowledged for 4 min") == true)
        rig.command(.ack(zone: "battery-room-a", uid: "kim"))
        for _ in 0..<500 { rig.tick() }
        #expect(Self.notifications(rig).filter { $0.message.hasPrefix("reminder") }.count == 2)
    }

    @Test("remind_every 0 sends no reminder")
    func remindersOff() {
        var rig = Self.rig(remindEvery: nil)
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        for _ in 0..<900 { rig.tick() }
        #expect(rig.state() >= .isolating)
        #expect(!Self.notifications(rig).contains { $0.message.hasPrefix("reminder") })
    }

    @Test("a restart keeps how long a zone has gone unacknowledged")
    func restartKeepsSince() {
        var rig = Self.rig(remindEvery: .seconds(120))
        rig.set("gas-a.offgas", .name("detected"))
        rig.tick()
        rig.run()
        for _ in 0..<60 { rig.tick() }
        let (restored, _) = Engine.restore(model: rig.engine.model, from: rig.log, at: rig.now)
        rig.engine = restored
        rig.actions = []
        for _ in 0..<130 { rig.tick() }
        let reminder = Self.notifications(rig).first { $0.message.hasPrefix("reminder") }
        // Reminders resume one interval after the restart; the time counts from the alarm, not the restart.
        #expect(reminder?.message.contains("unacknowledged for 3 min") == true)
    }

    @Test("a flapping alert sends one notification per quiet period, then one summary with the count")
    func flappingIsSummed() {
        var rig = Self.rig()
        for _ in 0..<5 {
            rig.set("gas-a.lfl_percent", .number(12))
            rig.tick()
            rig.set("gas-a.lfl_percent", .number(0))
            rig.tick(seconds: 4)
        }
        // Every change is in the log.
        #expect(rig.events(.zoneState).filter { $0.to == "alert" }.count == 5)
        #expect(Self.notifications(rig).count == 1)
        for _ in 0..<40 { rig.tick() }
        let sent = Self.notifications(rig)
        #expect(sent.count == 2)
        #expect(sent.last?.message.contains("the latest of 4 changes; 3 more held back") == true)
        // The summary opened a new period: nothing held, nothing more sent.
        for _ in 0..<200 { rig.tick() }
        #expect(Self.notifications(rig).count == 2)
    }

    @Test("nothing is held at fire, and a decision is never held")
    func fireIsNeverHeld() {
        var rig = Self.rig()
        rig.set("gas-a.lfl_percent", .number(12))
        rig.tick()
        rig.set("gas-a.lfl_percent", .number(0))
        rig.tick()
        #expect(Self.notifications(rig).count == 1)
        rig.temps("a", 75, 72, 30)
        rig.set("smoke-a.level", .name("fire1"))
        rig.tick()
        let sent = Self.notifications(rig)
        #expect(
            sent.contains {
                $0.event == .zoneState && ($0.to.flatMap(ZoneState.init(rawValue:)) ?? .normal) >= .isolating
            })
        #expect(sent.contains { $0.severity == .fire })
    }

    @Test("quiet_period 0 sends every change")
    func quietOff() {
        var rig = Self.rig(quietPeriod: .zero)
        for _ in 0..<3 {
            rig.set("gas-a.lfl_percent", .number(12))
            rig.tick()
            rig.set("gas-a.lfl_percent", .number(0))
            rig.tick()
        }
        #expect(Self.notifications(rig).count == 3)
    }
}

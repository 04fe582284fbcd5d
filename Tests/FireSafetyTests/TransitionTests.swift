import Testing

@testable import FireSafety

/// Every main-state transition of a zone, each driven from a fresh rig, checked as the exact sequence of
/// `zone.state` lines the log gets.
@Suite("Zone state transitions")
struct TransitionTests {
    enum Scenario: String, CaseIterable, Sendable {
        case alertAndBack
        case alertToIsolating
        case straightToIsolating
        case isolatingToIsolated
        case isolatedToSuppressing
        case isolatingToSuppressing
        case straightToSuppressing
        case suppressingToPowerCut
        case suppressingAbortedToIsolated
        case isolatedResetToNormal
        case powerCutResetToNormal
        case resetWithAlertLeft
    }

    static let expected: [Scenario: [String]] = [
        .alertAndBack: ["normal>alert", "alert>normal"],
        .alertToIsolating: ["normal>alert", "alert>isolating"],
        .straightToIsolating: ["normal>isolating"],
        .isolatingToIsolated: ["normal>isolating", "isolating>isolated"],
        .isolatedToSuppressing: ["normal>isolating", "isolating>isolated", "isolated>suppressing"],
        .isolatingToSuppressing: ["normal>isolating", "isolating>suppressing"],
        .straightToSuppressing: ["normal>suppressing"],
        .suppressingToPowerCut: ["normal>suppressing", "suppressing>suppressed", "suppressed>power_cut"],
        .suppressingAbortedToIsolated: ["normal>suppressing", "suppressing>isolated"],
        .isolatedResetToNormal: ["normal>isolating", "isolating>isolated", "isolated>normal"],
        .powerCutResetToNormal: [
            "normal>suppressing", "suppressing>suppressed", "suppressed>power_cut", "power_cut>normal",
        ],
        .resetWithAlertLeft: ["normal>isolating", "isolating>isolated", "isolated>alert"],
    ]

    static func fire(_ rig: inout Rig) {
        rig.temps("a", 75, 72, 30)
        rig.set("smoke-a.level", .name("fire1"))
    }

    static func allClear(_ rig: inout Rig) {
        rig.values = Site.normalValues("a").merging(Site.normalValues("b")) { a, _ in a }
        rig.tick()
    }

    @Test("transition", arguments: Scenario.allCases)
    func transition(_ scenario: Scenario) {
        var rig = Rig()
        switch scenario {
        case .alertAndBack:
            rig.set("gas-a.lfl_percent", .number(12))
            rig.tick()
            rig.set("gas-a.lfl_percent", .number(2))
            rig.tick()
        case .alertToIsolating:
            rig.set("gas-a.lfl_percent", .number(12))
            rig.tick()
            rig.set("gas-a.lfl_percent", .number(26))
            rig.tick()
        case .straightToIsolating:
            rig.set("ups-a.battery_overtemp", .flag(true))
            rig.tick()
        case .isolatingToIsolated:
            rig.set("ups-a.battery_overtemp", .flag(true))
            rig.tick()
            rig.run()
        case .isolatedToSuppressing:
            rig.set("smoke-a.level", .name("action"))
            rig.tick()
            rig.run()
            Self.fire(&rig)
            rig.tick()
        case .isolatingToSuppressing:
            rig.set("smoke-a.level", .name("action"))
            rig.tick()
            Self.fire(&rig)
            rig.tick()
        case .straightToSuppressing:
            Self.fire(&rig)
            rig.tick()
        case .suppressingToPowerCut:
            Self.fire(&rig)
            rig.tick()
            rig.run()
        case .suppressingAbortedToIsolated:
            Self.fire(&rig)
            rig.tick()
            while rig.finish() != nil {}
            rig.command(.abort(zone: "battery-room-a", uid: "lee"))
            rig.run()
        case .isolatedResetToNormal:
            rig.set("ups-a.battery_overtemp", .flag(true))
            rig.tick()
            rig.run()
            Self.allClear(&rig)
            #expect(rig.command(.reset(zone: "battery-room-a", uid: "kim")).refused == nil)
        case .powerCutResetToNormal:
            Self.fire(&rig)
            rig.tick()
            rig.run()
            Self.allClear(&rig)
            #expect(rig.command(.reset(zone: "battery-room-a", uid: "kim")).refused == nil)
        case .resetWithAlertLeft:
            rig.set("ups-a.battery_overtemp", .flag(true))
            rig.tick()
            rig.run()
            rig.set("ups-a.battery_overtemp", .flag(false))
            rig.set("gas-a.lfl_percent", .number(12))
            rig.tick()
            #expect(rig.command(.reset(zone: "battery-room-a", uid: "kim")).refused == nil)
        }
        let transitions = rig.events(.zoneState).compactMap { record -> String? in
            guard let from = record.from.flatMap(ZoneState.init(rawValue:)),
                let to = record.to.flatMap(ZoneState.init(rawValue:))
            else { return nil }
            return "\(from.rawValue)>\(to.rawValue)"
        }
        #expect(transitions == Self.expected[scenario])
        #expect(rig.zoneBUntouched())
        // Whatever the path, a restart from the log lands in the same place.
        let (restored, _) = Engine.restore(model: Site.model, from: rig.log, at: rig.now)
        #expect(essence(restored.status) == essence(rig.engine.status))
    }
}

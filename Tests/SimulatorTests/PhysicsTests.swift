import Testing
@testable import Simulator

/// The model does what the issue and DEVICE-FACTS say, driven through `SimulatedSite` the way the
/// Modbus side will drive it: by device points and commands.
@Suite("Simulator physics")
struct PhysicsTests {
    static let roomA = "battery-room-a"

    func site(_ timeline: [ScheduledEvent], parameters: ModelParameters = Fixtures.instant) throws -> SimulatedSite {
        let scenario = Scenario(name: "test", duration: .seconds(7200), timeline: timeline)
        return try SimulatedSite(spec: Fixtures.site(parameters: parameters), scenario: scenario)
    }

    func offgas(_ string: Int = 1, at: Duration = .zero, pointOfNoReturn: Duration? = nil) -> ScheduledEvent {
        ScheduledEvent(
            at: at,
            event: .offgas(zone: Self.roomA, string: string, pointOfNoReturn: pointOfNoReturn, runawayAfter: nil))
    }

    func number(_ site: SimulatedSite, _ device: String, _ point: String) -> Double {
        site.value(device: device, point: point)?.number ?? .nan
    }

    @Test("a quiet hour stays quiet: normal strings, room at setpoint, no gas, no smoke")
    func quietHour() throws {
        var site = try site([])
        site.advance(to: .seconds(3600))
        let zone = try #require(site.zone(Self.roomA))
        #expect(zone.strings.allSatisfy { $0.state == .normal })
        #expect(abs(zone.roomTemperature - 22) < 0.5)
        #expect(site.value(device: "gas-a", point: "offgas") == .name("clear"))
        #expect(site.value(device: "smoke-a", point: "level") == .name("normal"))
        #expect(site.value(device: "panel-a", point: "status") == .name("normal"))
        #expect(site.value(device: "bms-a", point: "events.over_temp_alarm") == .flag(false))
        #expect(abs(number(site, "temp-a1", "temperature") - 22) < 0.5)
        #expect(site.history.isEmpty)
    }

    @Test("an abused string vents before it runs away, and the off-gas detector sees it within seconds")
    func ventsFirst() throws {
        var site = try site([offgas(2)])
        site.advance(to: .seconds(19))
        #expect(site.value(device: "gas-a", point: "offgas") == .name("clear"))
        site.advance(to: .seconds(25))
        #expect(site.zone(Self.roomA)?.strings[1].state == .venting)
        #expect(site.value(device: "gas-a", point: "offgas") == .name("detected"))
        #expect(site.value(device: "bms-a", point: "string_state_2") == .name("venting"))
        // The Pangyo lesson: the BMS shows nothing abnormal while the cell vents.
        site.advance(to: .seconds(300))
        #expect(site.value(device: "bms-a", point: "events.over_temp_alarm") == .flag(false))
        site.advance(to: .seconds(20 + 384 + 30))
        #expect(site.zone(Self.roomA)?.strings[1].state == .runaway)
        #expect(site.value(device: "bms-a", point: "events.over_temp_alarm") == .flag(true))
        let kinds = site.history.map(\.kind)
        #expect(kinds.firstIndex(of: .ventingStarted)! < kinds.firstIndex(of: .runaway)!)
    }

    @Test("disconnecting before the point of no return prevents the runaway, and off-gas declines")
    func pullBack() throws {
        var site = try site([offgas(1)])
        site.advance(to: .seconds(90))  // venting for 70 s, point of no return at 150 s
        #expect(site.zone(Self.roomA)?.strings[0].pastPointOfNoReturn == false)
        #expect(site.command(device: "bms-a", command: "disconnect_string") != .unknownCommand)
        site.advance(to: .seconds(150))
        let early = try #require(site.zone(Self.roomA)).lflPercent
        site.advance(to: .seconds(600))
        let later = try #require(site.zone(Self.roomA)).lflPercent
        #expect(later < early / 2)
        site.advance(to: .seconds(1800))
        let zone = try #require(site.zone(Self.roomA))
        #expect(zone.strings[0].state == .normal)
        #expect(zone.strings[0].emission == 0)
        #expect(zone.strings[0].temperature < 30)
        #expect(!site.history.contains { $0.kind == .runaway })
        #expect(site.history.contains { $0.kind == .pulledBack && $0.string == 1 })
        #expect(site.value(device: "gas-a", point: "offgas") == .name("clear"))
    }

    @Test("stopping the charge (opening the charger feed) also pulls the cell back")
    func pullBackByFeed() throws {
        var site = try site([offgas(1)])
        site.advance(to: .seconds(60))
        site.command(device: "feed-a", command: "open_feed_1")
        site.advance(to: .seconds(1200))
        #expect(!site.history.contains { $0.kind == .runaway })
        #expect(site.value(device: "ups-a", point: "on_battery") == .flag(true))
    }

    @Test("disconnecting after the point of no return does not stop the runaway")
    func pastPointOfNoReturn() throws {
        var site = try site([offgas(1)])
        site.advance(to: .seconds(20 + 160))
        #expect(site.zone(Self.roomA)?.strings[0].pastPointOfNoReturn == true)
        site.command(device: "bms-a", command: "disconnect_string")
        site.command(device: "feed-a", command: "start_exhaust")
        site.advance(to: .seconds(20 + 384 + 1))
        #expect(site.zone(Self.roomA)?.strings[0].state == .runaway)
        #expect(site.zone(Self.roomA)?.strings[0].connected == false)
    }

    @Test("a cell past the point of no return from its first venting runs away whatever is done")
    func internalFault() throws {
        var site = try site([offgas(2, pointOfNoReturn: .zero)])
        site.advance(to: .seconds(21))
        site.command(device: "bms-a", command: "disconnect_string")
        site.advance(to: .seconds(600))
        #expect(site.zone(Self.roomA)?.strings[1].state == .runaway)
    }

    @Test("a released agent knocks down flames and smoke, but the runaway's heat keeps rising")
    func agentVersusRunaway() throws {
        var site = try site([ScheduledEvent(at: .zero, event: .thermalRunaway(zone: Self.roomA, string: 1))])
        site.advance(to: .seconds(90))
        let before = try #require(site.zone(Self.roomA))
        #expect(before.flames)
        #expect(site.value(device: "smoke-a", point: "level") == .name("fire1"))
        site.command(device: "panel-a", command: "release")
        site.advance(to: .seconds(210))
        let after = try #require(site.zone(Self.roomA))
        #expect(site.value(device: "panel-a", point: "status") == .name("released"))
        #expect(!after.flames)
        #expect(after.smokeObscuration < before.smokeObscuration / 3)
        #expect(site.value(device: "smoke-a", point: "level") == .name("normal"))
        #expect(after.strings[0].temperature > before.strings[0].temperature + 50)
        #expect(after.roomTemperature > before.roomTemperature)
        // Release shuts ventilation so the agent holds (NFPA 2001 interlock).
        #expect(site.value(device: "feed-a", point: "hvac") == .flag(false))
    }

    @Test("once the agent has leaked away, a runaway that is still going re-ignites")
    func reignition() throws {
        var site = try site([ScheduledEvent(at: .zero, event: .thermalRunaway(zone: Self.roomA, string: 1))])
        site.advance(to: .seconds(60))
        site.command(device: "panel-a", command: "release")
        site.advance(to: .seconds(1100))
        #expect(site.history.filter { $0.kind == .ignition && $0.string == 1 }.count == 2)
    }

    @Test("a runaway propagates to the next string after a while, never to another zone")
    func propagation() throws {
        var site = try site([ScheduledEvent(at: .zero, event: .thermalRunaway(zone: Self.roomA, string: 1))])
        site.advance(to: .seconds(299))
        #expect(site.zone(Self.roomA)?.strings[1].state == .normal)
        site.advance(to: .seconds(301))
        #expect(site.zone(Self.roomA)?.strings[1].state == .runaway)
        #expect(site.zone("battery-room-b")?.strings.allSatisfy { $0.state == .normal } == true)
        #expect(site.value(device: "temp-b1", point: "temperature")!.number! < 25)
    }

    @Test("exhaust keeps off-gas well under 25 % LFL; without it the room fills")
    func exhaust() throws {
        let never = Duration.seconds(100_000)
        var parameters = Fixtures.instant
        parameters.runawayAfterVenting = never
        var with = try site([offgas(1, pointOfNoReturn: .zero)], parameters: parameters)
        var without = try site([offgas(1, pointOfNoReturn: .zero)], parameters: parameters)
        with.command(device: "feed-a", command: "start_exhaust")
        var highest = 0.0
        for second in stride(from: 10, through: 1800, by: 10) {
            with.advance(to: .seconds(second))
            highest = max(highest, number(with, "gas-a", "lfl_percent"))
        }
        without.advance(to: .seconds(1800))
        #expect(highest < 25)
        #expect(with.value(device: "feed-a", point: "exhaust") == .flag(true))
        #expect(number(without, "gas-a", "lfl_percent") > 25)
        #expect(number(with, "gas-a", "lfl_percent") < number(without, "gas-a", "lfl_percent") / 4)
    }

    @Test("an opened feed de-energises the loads and sensors wired to it, and only those")
    func feedTakesSensorsOffline() throws {
        var parameters = ModelParameters()
        parameters.lags.feeds = .milliseconds(300)
        var site = try site([], parameters: parameters)
        site.advance(to: .seconds(10))
        site.command(device: "feed-a", command: "open_feed_2")
        site.advance(to: .milliseconds(10_200))
        #expect(site.condition(device: "temp-a3") == .answering)
        site.advance(to: .milliseconds(10_300))
        #expect(site.condition(device: "temp-a3") == .silent)
        #expect(site.value(device: "temp-a3", point: "temperature") == .offline)
        #expect(site.value(device: "temp-a1", point: "temperature")?.number != nil)
        #expect(site.value(device: "temp-b3", point: "temperature")?.number != nil)
        #expect(site.value(device: "feed-a", point: "hvac") == .flag(false))
        #expect(site.value(device: "feed-a", point: "relay_2") == .flag(true))
        #expect(site.value(device: "feed-b", point: "relay_2") == .flag(false))
        site.command(device: "feed-a", command: "close_feed_2")
        site.advance(to: .seconds(11))
        #expect(site.condition(device: "temp-a3") == .answering)
    }

    @Test("a readback sees a command's effect only after the actuator's lag")
    func readbackLag() throws {
        var site = try site([], parameters: ModelParameters())
        site.advance(to: .seconds(5))
        let outcome = site.command(device: "bms-a", command: "disconnect_string")
        #expect(outcome == .accepted(.disconnectStrings, visibleAt: .milliseconds(5500)))
        site.advance(to: .milliseconds(5400))
        #expect(site.value(device: "bms-a", point: "contactor") == .name("closed"))
        site.advance(to: .milliseconds(5500))
        #expect(site.value(device: "bms-a", point: "contactor") == .name("open"))
        #expect(site.value(device: "bms-a", point: "state") == .name("disconnected"))

        site.command(device: "feed-a", command: "stop_hvac")
        site.advance(to: .milliseconds(6900))
        #expect(site.value(device: "feed-a", point: "hvac") == .flag(true))
        site.advance(to: .milliseconds(7000))
        #expect(site.value(device: "feed-a", point: "hvac") == .flag(false))
        #expect(site.value(device: "feed-a", point: "dampers") == .flag(false))
    }

    @Test("the panel's own countdown can be aborted, but a release cannot be")
    func panelAbort() throws {
        var parameters = Fixtures.instant
        parameters.panelPreDischarge = .seconds(30)
        var site = try site([], parameters: parameters)
        site.command(device: "panel-a", command: "release")
        site.advance(to: .seconds(10))
        #expect(site.value(device: "panel-a", point: "status") == .name("pre_discharge"))
        site.command(device: "panel-a", command: "abort")
        site.advance(to: .seconds(60))
        #expect(site.value(device: "panel-a", point: "status") == .name("abort"))
        #expect(site.zone(Self.roomA)?.agentConcentration == 0)
        site.command(device: "panel-a", command: "release")
        site.advance(to: .seconds(100))
        #expect(site.value(device: "panel-a", point: "status") == .name("released"))
        site.command(device: "panel-a", command: "abort")
        site.command(device: "panel-a", command: "reset")
        site.advance(to: .seconds(101))
        #expect(site.value(device: "panel-a", point: "status") == .name("released"))
    }

    @Test("the abort switch reads held for its time; the panel's own countdown stops and restarts in full")
    func panelAbortSwitch() throws {
        var parameters = Fixtures.instant
        parameters.panelPreDischarge = .seconds(30)
        var site = try site(
            [ScheduledEvent(at: .seconds(20), event: .abortSwitch(zone: Self.roomA, for: .seconds(40)))],
            parameters: parameters)
        #expect(site.value(device: "panel-a", point: "abort_switch") == .flag(false))
        site.command(device: "panel-a", command: "release")
        site.advance(to: .seconds(25))
        #expect(site.value(device: "panel-a", point: "abort_switch") == .flag(true))
        #expect(site.value(device: "panel-a", point: "status") == .name("abort"))
        site.advance(to: .seconds(61))
        #expect(site.value(device: "panel-a", point: "abort_switch") == .flag(false))
        #expect(site.value(device: "panel-a", point: "status") == .name("pre_discharge"))
        // Let go at 60 s: the full 30 s again, not the 10 s that were left when it was pressed.
        site.advance(to: .seconds(85))
        #expect(site.value(device: "panel-a", point: "status") == .name("pre_discharge"))
        site.advance(to: .seconds(92))
        #expect(site.value(device: "panel-a", point: "status") == .name("released"))
    }

    @Test("the panel's own detectors give pre-alert, then alarm and its fire input (its double knock)")
    func panelDetectors() throws {
        var site = try site([ScheduledEvent(at: .zero, event: .thermalRunaway(zone: Self.roomA, string: 1))])
        var seen: [SimValue] = []
        for second in 1...400 {
            site.advance(to: .seconds(second))
            let status = site.value(device: "panel-a", point: "status")!
            if seen.last != status { seen.append(status) }
        }
        #expect(seen == [.name("normal"), .name("pre_alert"), .name("alarm")])
        #expect(site.value(device: "panel-a", point: "fire_input") == .flag(true))
    }

    @Test("the same seed gives the same readings however time is advanced; another seed differs")
    func determinism() throws {
        let spec = Fixtures.site()
        var coarse = try SimulatedSite(spec: spec, seed: 7)
        var fine = try SimulatedSite(spec: spec, seed: 7)
        var other = try SimulatedSite(spec: spec, seed: 8)
        coarse.advance(to: .seconds(600))
        for ms in stride(from: 250, through: 600_000, by: 250) { fine.advance(to: .milliseconds(ms)) }
        other.advance(to: .seconds(600))
        let a = coarse.value(device: "temp-a1", point: "temperature")
        #expect(a == fine.value(device: "temp-a1", point: "temperature"))
        #expect(coarse.zone(Self.roomA) == fine.zone(Self.roomA))
        #expect(a != other.value(device: "temp-a1", point: "temperature"))
        // Readings move with time (noise), but stay near the truth.
        coarse.advance(to: .seconds(601))
        #expect(a != coarse.value(device: "temp-a1", point: "temperature"))
        #expect(abs(coarse.value(device: "temp-a1", point: "temperature")!.number! - 22) < 0.5)
    }
}

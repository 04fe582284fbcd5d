import Testing
@testable import Simulator

@Suite("Simulator bindings")
struct BindingTests {
    @Test("every quantity name parses, with and without an index where allowed")
    func quantities() throws {
        for kind in SimQuantity.Kind.allCases {
            switch kind.index {
            case .none:
                #expect(try SimQuantity(parsing: kind.rawValue) == SimQuantity(kind))
                #expect(throws: BindingError.self) { try SimQuantity(parsing: "\(kind.rawValue)[1]") }
            case .optional:
                #expect(try SimQuantity(parsing: kind.rawValue) == SimQuantity(kind))
                #expect(try SimQuantity(parsing: "\(kind.rawValue)[3]") == SimQuantity(kind, index: 3))
            case .required:
                #expect(try SimQuantity(parsing: "\(kind.rawValue)[2]") == SimQuantity(kind, index: 2))
                #expect(throws: BindingError.self) { try SimQuantity(parsing: kind.rawValue) }
            }
        }
        #expect(try SimQuantity(parsing: "const 230").source == .constant(.number(230)))
        #expect(try SimQuantity(parsing: "const online").source == .constant(.name("online")))
        #expect(try SimQuantity(parsing: "const true").source == .constant(.flag(true)))
    }

    @Test("bad quantity texts say what is wrong and what to write")
    func badQuantities() {
        for text in ["", "room_temp", "string_temperature[0]", "string_temperature[x]", "relay[1", "relay"] {
            #expect(throws: BindingError.self) { try SimQuantity(parsing: text) }
        }
        do {
            _ = try SimQuantity(parsing: "room_temp")
        } catch {
            #expect(error.problem.contains("unknown quantity 'room_temp'"))
            #expect(error.hint.contains("room_temperature"))
        }
    }

    @Test("every effect parses and prints back the same")
    func effects() throws {
        let texts = [
            "disconnect_strings", "connect_strings", "disconnect_string[2]", "connect_string[2]", "start_exhaust",
            "stop_exhaust", "stop_hvac", "start_hvac", "release", "abort", "reset_panel", "open_feed[1]",
            "close_feed[2]", "none",
        ]
        for text in texts {
            #expect(try SimEffect(parsing: text).description == text)
        }
        #expect(try SimEffect(parsing: "open_feed[3]") == .openFeed(3))
        for bad in ["open_feed", "release[1]", "explode", "open_feed[0]"] {
            #expect(throws: BindingError.self) { try SimEffect(parsing: bad) }
        }
    }

    @Test("a profile's simulate: texts become bindings; a bad one names its key")
    func profileBindings() throws {
        let bindings = try SimBindings(
            points: ["temperature": "room_temperature", "events.over_temp_alarm": "bms_over_temp_alarm"],
            commands: ["open_feed_1": "open_feed[1]"])
        #expect(bindings.points["events.over_temp_alarm"] == SimQuantity(.bmsOverTempAlarm))
        #expect(bindings.commands["open_feed_1"] == .openFeed(1))
        do {
            _ = try SimBindings(points: ["a": "humidity", "b": "smoke"], commands: [:])
            Issue.record("a bad quantity was accepted")
        } catch {
            #expect(error.key == "b")
            #expect(error.description.hasPrefix("simulate on 'b': unknown quantity 'smoke'"))
        }
    }

    @Test("a site spec with unknown zones, feeds or strings is refused with every problem named")
    func specProblems() {
        var spec = Fixtures.site()
        spec.devices.append(SimDeviceSpec(name: "stray", zone: "nowhere", bindings: SimBindings()))
        spec.devices.append(
            SimDeviceSpec(
                name: "bms-x", zone: "battery-room-a",
                bindings: SimBindings(points: ["t": SimQuantity(.stringTemperature, index: 9)]), poweredByFeed: 5))
        #expect(throws: SimulationSetupError.self) { try SimulatedSite(spec: spec) }
        let problems = spec.problems()
        #expect(problems.contains("device stray: zone nowhere does not exist"))
        #expect(problems.contains("device bms-x: feed 5 does not exist in battery-room-a"))
        #expect(problems.contains { $0.hasPrefix("device bms-x.t: string_temperature[9]") })
        #expect(Fixtures.site().problems().isEmpty)
    }
}

@Suite("Simulated site devices")
struct SiteDeviceTests {
    func site(_ events: [ScheduledEvent]) throws -> SimulatedSite {
        try SimulatedSite(
            spec: Fixtures.site(parameters: Fixtures.instant),
            scenario: Scenario(name: "t", duration: .seconds(3600), timeline: events))
    }

    @Test("comm_loss silences a device for its window only, and it ignores commands meanwhile")
    func commLoss() throws {
        var site = try site([ScheduledEvent(at: .seconds(10), event: .commLoss(device: "bms-a", for: .seconds(20)))])
        site.advance(to: .seconds(9))
        #expect(site.condition(device: "bms-a") == .answering)
        site.advance(to: .seconds(10))
        #expect(site.condition(device: "bms-a") == .silent)
        #expect(site.value(device: "bms-a", point: "state") == .offline)
        #expect(site.command(device: "bms-a", command: "disconnect_string") == .notAnswered)
        #expect(site.condition(device: "bms-b") == .answering)
        site.advance(to: .seconds(30))
        #expect(site.condition(device: "bms-a") == .answering)
        #expect(site.value(device: "bms-a", point: "state") == .name("connected"))
    }

    @Test("slow_device and exception set how the device answers")
    func conditions() throws {
        var site = try site([
            ScheduledEvent(at: .seconds(5), event: .slowDevice(device: "temp-a1", delay: .seconds(2), for: nil)),
            ScheduledEvent(at: .seconds(5), event: .exception(device: "gas-b", code: .busy, for: .seconds(10))),
            ScheduledEvent(
                at: .seconds(8), event: .exception(device: "gas-b", code: .gatewayTargetFailed, for: .seconds(2))),
        ])
        site.advance(to: .seconds(6))
        #expect(site.condition(device: "temp-a1") == .slow(.seconds(2)))
        #expect(site.value(device: "temp-a1", point: "temperature")?.number != nil)
        #expect(site.condition(device: "gas-b") == .exception(.busy))
        #expect(SimException.busy.code == 6)
        site.advance(to: .seconds(9))
        #expect(site.condition(device: "gas-b") == .exception(.gatewayTargetFailed))
        #expect(SimException.gatewayTargetFailed.code == 0x0B)
        site.advance(to: .seconds(11))
        #expect(site.condition(device: "gas-b") == .exception(.busy))
        site.advance(to: .seconds(15))
        #expect(site.condition(device: "gas-b") == .answering)
        #expect(site.condition(device: "temp-a1") == .slow(.seconds(2)))
    }

    @Test("sensor faults: stuck, offline, out of range, noise and drift")
    func sensorFaults() throws {
        func fault(_ device: String, _ mode: SensorFaultMode, point: String? = "temperature") -> ScheduledEvent {
            ScheduledEvent(
                at: .seconds(60), event: .sensorFault(device: device, point: point, mode: mode, for: .seconds(600)))
        }
        var site = try site([
            ScheduledEvent(at: .zero, event: .thermalRunaway(zone: "battery-room-a", string: 1)),
            fault("temp-a1", .stuck), fault("temp-a2", .offline), fault("temp-a3", .outOfRange(value: nil)),
            fault("temp-b1", .outOfRange(value: -999)), fault("temp-b2", .noise(amplitude: 5)),
            fault("temp-b3", .drift(perMinute: 6)), fault("gas-a", .stuck, point: nil),
        ])
        site.advance(to: .seconds(60))
        let frozen = try #require(site.value(device: "temp-a1", point: "temperature"))
        let gasFrozen = site.value(device: "gas-a", point: "lfl_percent")
        site.advance(to: .seconds(300))
        #expect(site.value(device: "temp-a1", point: "temperature") == frozen)
        #expect(site.value(device: "gas-a", point: "lfl_percent") == gasFrozen)
        #expect(site.value(device: "temp-a1", point: "humidity")?.number != nil)
        #expect(site.value(device: "temp-a2", point: "temperature") == .offline)
        #expect(site.value(device: "temp-a2", point: "humidity")?.number != nil)
        #expect(site.condition(device: "temp-a2") == .answering)
        #expect(site.value(device: "temp-a3", point: "temperature") == .invalid)
        #expect(site.value(device: "temp-b1", point: "temperature") == .number(-999))
        let drift = try #require(site.value(device: "temp-b3", point: "temperature")?.number)
        #expect(abs(drift - (22 + 24)) < 0.5)
        var spread: [Double] = []
        for second in 301...330 {
            site.advance(to: .seconds(second))
            spread.append(site.value(device: "temp-b2", point: "temperature")!.number!)
        }
        #expect(spread.max()! - spread.min()! > 3)
        #expect(spread.allSatisfy { abs($0 - 22) < 5.5 })
        site.advance(to: .seconds(660))
        #expect(site.value(device: "temp-a2", point: "temperature")?.number != nil)
        #expect(site.value(device: "temp-a1", point: "temperature") != frozen)
    }

    @Test("a device-wide offline fault silences the device; set forces a value for a while")
    func offlineAndSet() throws {
        var site = try site([
            ScheduledEvent(
                at: .seconds(1), event: .sensorFault(device: "smoke-a", point: nil, mode: .offline, for: nil)),
            ScheduledEvent(
                at: .seconds(2),
                event: .set(device: "panel-b", point: "status", value: .name("fault"), for: .seconds(5))),
        ])
        site.advance(to: .seconds(3))
        #expect(site.condition(device: "smoke-a") == .silent)
        #expect(site.value(device: "panel-b", point: "status") == .name("fault"))
        site.advance(to: .seconds(7))
        #expect(site.value(device: "panel-b", point: "status") == .name("normal"))
    }

    @Test("unknown devices, points and commands are told apart; constants and no-op commands work")
    func unknowns() throws {
        var site = try site([])
        #expect(site.value(device: "nope", point: "x") == nil)
        #expect(site.value(device: "ups-a", point: "nope") == nil)
        #expect(site.value(device: "ups-a", point: "model") == .name("Smart-UPS SRT 5000"))
        #expect(site.command(device: "nope", command: "x") == .unknownDevice)
        #expect(site.command(device: "ups-a", command: "self_destruct") == .unknownCommand)
        #expect(site.command(device: "ups-a", command: "mute") == .accepted(.none, visibleAt: .zero))
        #expect(site.points(device: "panel-a") == ["abort_switch", "fire_input", "status"])
        #expect(site.condition(device: "nope") == .silent)
    }
}

@Suite("Simulated zone settings")
struct ZoneSettingsTests {
    @Test("settings texts set strings, feeds, wiring and timings")
    func settings() throws {
        let zone = try SimZoneSpec(
            name: "z",
            settings: [
                "strings": "6", "feeds": "3", "charger_feed": "2", "hvac_feed": "none", "exhaust_feed": "3",
                "point_of_no_return": "2m", "runaway_after_venting": "5m", "readback_lag": "700ms",
                "vent_delay": "10s", "propagation_delay": "1m", "panel_pre_discharge": "30s",
            ])
        #expect(zone.strings == 6)
        #expect(zone.feeds == 3)
        #expect(zone.wiring == ZoneWiring(chargerFeed: 2, hvacFeed: nil, exhaustFeed: 3))
        #expect(zone.parameters.pointOfNoReturn == .seconds(120))
        #expect(zone.parameters.runawayAfterVenting == .seconds(300))
        #expect(zone.parameters.lags == ReadbackLags(all: .milliseconds(700)))
        #expect(zone.parameters.panelPreDischarge == .seconds(30))
        #expect(try SimZoneSpec(name: "d", settings: [:]) == SimZoneSpec(name: "d"))
    }

    @Test(
        "bad settings name their key",
        arguments: [("strings", "0"), ("feeds", "two"), ("vent_delay", "soon"), ("color", "red")])
    func badSettings(key: String, value: String) {
        do {
            _ = try SimZoneSpec(name: "z", settings: [key: value])
            Issue.record("accepted \(key): \(value)")
        } catch {
            #expect(error.key == key)
            #expect(error.description.hasPrefix("simulate on '\(key)':"))
        }
    }
}

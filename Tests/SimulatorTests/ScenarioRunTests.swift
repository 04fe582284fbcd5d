import Testing
@testable import Simulator
import Scenarios

/// Runs every shipped scenario against a small stand-in for the engine that follows CONTRACT.md's
/// tiers and thresholds (the example site's), so the scenarios' timelines and expectations are known
/// to fit the physics before phase 2 runs them against the real daemon. Not a Modbus mock: it reads
/// `SimulatedSite` directly, as the gateway's poller will through the servers.
@Suite("Scenario runs")
struct ScenarioRunTests {
    static let escalation = ["normal", "alert", "isolating", "isolated", "suppressing", "power_cut"]

    @Test(
        "each shipped scenario's expectations hold for a controller that follows the contract",
        arguments: ScenarioTests.shipped)
    func run(name: String) throws {
        let scenario = try Scenario(contentsOf: Fixtures.scenarioDirectory.appendingPathComponent("\(name).yaml").path)
        var site = try SimulatedSite(spec: Fixtures.site(), scenario: scenario)
        var controller = ContractController(rooms: ["a", "b"])
        let seconds = Int(scenario.duration / .seconds(1))
        for second in 1...seconds {
            site.advance(to: .seconds(second))
            controller.poll(&site)
        }
        let results = scenario.evaluate(
            controller.observations, with: ExpectationEvaluator(escalation: Self.escalation))
        for result in results {
            #expect(result.passed, "\(scenario.file):\(result.line): \(result)")
        }
    }

    @Test("without isolation the off-gas of offgas-caught-early turns into a runaway and a fire")
    func offgasIgnored() throws {
        let scenario = try Scenario(
            contentsOf: Fixtures.scenarioDirectory.appendingPathComponent("offgas-caught-early.yaml").path)
        var site = try SimulatedSite(spec: Fixtures.site(), scenario: scenario)
        site.advance(to: scenario.duration)
        #expect(site.history.contains { $0.kind == .runaway && $0.zone == "battery-room-a" })
        #expect(site.history.contains { $0.kind == .ignition })
    }
}

/// The contract's three tiers with the example site's thresholds, latching, one poll a second.
struct ContractController {
    let rooms: [String]
    var observations: [Observation] = []
    var states: [String: String] = [:]
    var troubled: Set<String> = []
    var steps: [(at: Duration, device: String, command: String, state: String?)] = []
    var now: Duration = .zero

    init(rooms: [String]) {
        self.rooms = rooms
        for room in rooms { states["battery-room-\(room)"] = "normal" }
    }

    mutating func trouble(_ device: String, point: String?, _ bad: Bool) {
        let key = point.map { "\(device).\($0)" } ?? device
        if bad, !troubled.contains(key) { observations.append(.trouble(device, point: point, at: now)) }
        if bad { troubled.insert(key) } else { troubled.remove(key) }
    }

    /// A value, or nil with trouble recorded (silent, exception, stale, offline, invalid, implausible).
    mutating func read(_ site: SimulatedSite, _ device: String, _ point: String) -> SimValue? {
        switch site.condition(device: device) {
        case .silent, .exception:
            trouble(device, point: nil, true)
            return nil
        case .slow(let delay) where delay >= .seconds(3):
            trouble(device, point: nil, true)
            return nil
        default:
            trouble(device, point: nil, false)
        }
        let value = site.value(device: device, point: point)
        let bad: Bool
        switch value {
        case .number(let number): bad = number < -40 || number > 125
        case .offline, .invalid, nil: bad = true
        default: bad = false
        }
        trouble(device, point: point, bad)
        return bad ? nil : value
    }

    mutating func enter(_ zone: String, _ state: String) {
        let order = ScenarioRunTests.escalation
        guard order.firstIndex(of: state)! > order.firstIndex(of: states[zone]!)! else { return }
        states[zone] = state
        observations.append(.zoneState(zone, state, at: now))
    }

    mutating func poll(_ site: inout SimulatedSite) {
        now = site.now
        for room in rooms { evaluate(room, &site) }
        // Steps due now run in order; a step with a state moves the zone when it runs.
        while let index = steps.firstIndex(where: { $0.at <= now }) {
            let step = steps.remove(at: index)
            if !step.command.isEmpty {
                observations.append(.write(step.device, step.command, at: now))
                site.command(device: step.device, command: step.command)
            }
            if let state = step.state { enter("battery-room-\(step.device.suffix(1))", state) }
        }
    }

    mutating func evaluate(_ room: String, _ site: inout SimulatedSite) {
        let zone = "battery-room-\(room)"
        let temperatures = (1...3).compactMap { read(site, "temp-\(room)\($0)", "temperature")?.number }
        // 2oo3, degrading to 1oo2 (safe side) when a sensor is lost.
        let needed = temperatures.count == 3 ? 2 : 1
        func temperature(_ threshold: Double) -> Bool { temperatures.filter { $0 >= threshold }.count >= needed }
        let offgas = read(site, "gas-\(room)", "offgas") == .name("detected")
        let lfl = read(site, "gas-\(room)", "lfl_percent")?.number ?? 0
        let smoke = read(site, "smoke-\(room)", "level")
        let smokeRank = ["normal", "alert", "action", "fire1", "fire2"].firstIndex { smoke == .name($0) } ?? 0
        let battery =
            read(site, "bms-\(room)", "events.over_temp_alarm") == .flag(true)
            || read(site, "ups-\(room)", "battery_overtemp") == .flag(true)
        let panel = read(site, "panel-\(room)", "fire_input") == .flag(true)

        let alert = temperature(35) || offgas || lfl >= 10 || smokeRank >= 1
        let alarm = temperature(50) || offgas || lfl >= 25 || smokeRank >= 2 || battery
        let fireKinds = [temperature(70), smokeRank >= 3, panel].filter { $0 }.count

        let state = states[zone]!
        if alert, state == "normal" { enter(zone, "alert") }
        if alarm, ["normal", "alert"].contains(states[zone]!) {
            enter(zone, "isolating")
            steps.append((now, "bms-\(room)", "disconnect_string", nil))
            steps.append((now, "feed-\(room)", "start_exhaust", "isolated"))
        }
        if fireKinds >= 2, !["suppressing", "power_cut"].contains(states[zone]!) {
            enter(zone, "suppressing")
            steps.append((now, "feed-\(room)", "stop_hvac", nil))
            steps.append((now + .seconds(30), "panel-\(room)", "release", nil))
            steps.append((now + .seconds(30), "feed-\(room)", "open_feed_1", nil))
            steps.append((now + .seconds(35), "feed-\(room)", "open_feed_2", "power_cut"))
        }
    }
}

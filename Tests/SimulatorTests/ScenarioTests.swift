import Foundation
import Gateway
import SiteConfig
import Testing
@testable import Simulator

@Suite("Scenario files")
struct ScenarioTests {
    static let shipped = [
        "quiet-day", "offgas-caught-early", "pangyo-2022", "sensor-faults", "comm-loss", "disagreeing-sensors",
        "clock-step", "reload-mid-procedure",
    ]
    /// Scenarios of days or weeks, at a compression of their own (`ScenarioDaemonTests.longQuietMonth`).
    static let long = ["long-quiet-month"]
    /// Played by a hot-standby pair of real processes (`firewatch demo --scenario gateway-failover`, `TwoProcessTests.pairDemo`).
    static let pair = ["gateway-failover"]

    @Test("every shipped scenario parses and fits the two-room example site", arguments: shipped + pair)
    func shippedScenario(name: String) throws {
        let path = Fixtures.scenarioDirectory.appendingPathComponent("\(name).yaml").path
        let scenario = try Scenario(contentsOf: path)
        #expect(scenario.name == name)
        #expect(!scenario.description.isEmpty)
        #expect(!scenario.expectations.isEmpty)
        let longestScenario: Duration = .seconds(15 * 60)  // a length in the file, not a measured time
        #expect(longestScenario >= scenario.duration)
        // Under a minute of wall time at the scenario's own speed (the demo's promise); the pair's plays in real
        // time (etcd's lease is in real seconds) and the room takes 90 s to heat to the double knock before the 30 s pre-discharge.
        #expect(scenario.duration / .seconds(1) / scenario.speed <= (Self.pair.contains(name) ? 180 : 60))
        #expect(scenario.problems(against: Fixtures.site()) == [])
        _ = try SimulatedSite(spec: Fixtures.site(), scenario: scenario)
    }

    @Test("clock steps and reloads parse; the reload's site is found beside the scenario; a gap expectation reads")
    func daemonEvents() throws {
        let scenario = try Scenario(
            yaml: """
                name: t
                duration: 10m
                timeline:
                  - at: 30s
                    clock_step: { by: -1h }
                  - at: 40s
                    clock_step: { by: 90s }
                  - at: 60s
                    reload: { site: sites/other.yaml }
                expect:
                  - writes to panel-a.release at least 30s after feed-a.stop_hvac
                """, file: "/x/scenarios/t.yaml")
        #expect(scenario.timeline.map(\.event) == [
            .clockStep(by: .seconds(-3600)), .clockStep(by: .seconds(90)), .reload(site: "/x/scenarios/sites/other.yaml"),
        ])
        #expect(scenario.expectations.map(\.expectation) == [
            .writeGap(
                to: WriteTarget(device: "panel-a", command: "release"),
                after: WriteTarget(device: "feed-a", command: "stop_hvac"), atLeast: .seconds(30))
        ])
        #expect(throws: ConfigErrors.self) {
            try Scenario(yaml: "name: t\nduration: 1m\ntimeline:\n  - at: 1s\n    clock_step: { by: soon }\n", file: "t.yaml")
        }
    }

    @Test("the month parses: each 'every:' item expands to its repeats, and the restart is in place")
    func longQuietMonth() throws {
        let path = Fixtures.scenarioDirectory.appendingPathComponent("long-quiet-month.yaml").path
        let scenario = try Scenario(contentsOf: path)
        #expect(scenario.duration == .seconds(30 * 86_400))
        #expect(scenario.problems(against: Fixtures.site()) == [])
        let gasLosses = scenario.timeline.filter { $0.event == .commLoss(device: "gas-a", for: .seconds(9 * 3600)) }
        #expect(gasLosses.count == 30)
        #expect(gasLosses.first?.at == .seconds(2 * 3600))
        #expect(gasLosses.last?.at == .seconds(29 * 86_400 + 2 * 3600))
        // Every 6 h from 1 h: 1 h, 7 h, … 29 d 19 h (the next one, 30 d 1 h, is past the end).
        #expect(scenario.timeline.filter { if case .sensorFault(device: "temp-b1", _, _, _) = $0.event { true } else { false } }.count == 120)
        #expect(scenario.timeline.filter { $0.event == .restart }.map(\.at) == [.seconds(29 * 86_400)])
        // Time order, all repeats included.
        #expect(scenario.timeline.map(\.at) == scenario.timeline.map(\.at).sorted())
        // A month at its own speed: about three minutes of real time.
        #expect(scenario.duration / .seconds(1) / scenario.speed <= 200)
    }

    @Test("'every:' refuses a repeat that overlaps itself, a zero period, and more than 10,000 repeats")
    func everyMistakes() throws {
        func problem(_ item: String) -> String {
            do {
                _ = try Scenario(yaml: "name: t\nduration: 30d\ntimeline:\n" + item, file: "t.yaml")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let overlap = problem("  - at: 1h\n    every: 1h\n    comm_loss: { device: gas-a, for: 2h }\n")
        #expect(overlap.contains("t.yaml:5"), "\(overlap)")
        #expect(overlap.contains("timeline[1].every"), "\(overlap)")
        #expect(overlap.contains("not longer than the event's for: 2h"), "\(overlap)")
        let zero = problem("  - at: 1h\n    every: 0\n    restart: {}\n")
        #expect(zero.contains("must be longer than 0"), "\(zero)")
        let many = problem("  - at: 0s\n    every: 1m\n    comm_loss: { device: gas-a, for: 10s }\n")
        #expect(many.contains("repeats 43201 times"), "\(many)")
        let settings = problem("  - at: 1h\n    restart: { now: true }\n")
        #expect(settings.contains("restart takes no settings") || settings.contains("takes no settings"), "\(settings)")
        #expect(problem("  - at: 1h\n    every: 2h\n    comm_loss: { device: gas-a, for: 1h }\n") == "accepted")
    }

    @Test("no shipped scenario is missing from the test list")
    func allShippedListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.scenarioDirectory.path)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
        #expect(Set(files) == Set(Self.shipped + Self.long + Self.pair))
    }

    @Test("a full scenario parses into typed events and expectations with their lines")
    func fullScenario() throws {
        let yaml = """
            name: t
            description: all events
            site: ../site.yaml
            duration: 10m
            speed: 20
            timeline:
              - at: 2m
                thermal_runaway: { zone: battery-room-a, string: 3 }
              - at: 90s
                offgas: { zone: battery-room-a, string: 2, point_of_no_return: 0s, runaway_after: 4m }
              - at: 1m30s
                sensor_fault: { device: temp-a1, point: temperature, mode: drift, rate: 3, for: 2m }
              - at: 100s
                sensor_fault: { device: temp-a2, mode: offline }
              - at: 100s
                sensor_fault: { device: temp-a3, point: temperature, mode: out_of_range, value: -999 }
              - at: 100s
                sensor_fault: { device: temp-b1, point: temperature, mode: noise }
              - at: 100s
                sensor_fault: { device: temp-b2, point: temperature, mode: stuck }
              - at: 3m
                comm_loss: { device: bms-a, for: 30s }
              - at: 3m
                slow_device: { device: gas-a, delay: 1500ms, for: 1m }
              - at: 3m
                exception: { device: panel-b, code: gateway_target_failed, for: 10s }
              - at: 4m
                set: { device: smoke-b, point: level, value: fire1 }
            expect:
              - zone battery-room-a reaches isolated by 120s
              - writes to panel-a.release after feed-a.stop_hvac
            """
        let scenario = try Scenario(yaml: yaml, file: "t.yaml")
        #expect(scenario.site == "../site.yaml")
        #expect(scenario.speed == 20)
        #expect(scenario.duration == .seconds(600))
        #expect(
            scenario.timeline.map(\.at) == [90, 90, 100, 100, 100, 100, 120, 180, 180, 180, 240].map { .seconds($0) })
        #expect(
            scenario.timeline[0].event
                == .offgas(zone: "battery-room-a", string: 2, pointOfNoReturn: .zero, runawayAfter: .seconds(240)))
        #expect(scenario.timeline[0].line == 9)
        #expect(
            scenario.timeline[1].event
                == .sensorFault(device: "temp-a1", point: "temperature", mode: .drift(perMinute: 3), for: .seconds(120))
        )
        #expect(scenario.timeline[2].event == .sensorFault(device: "temp-a2", point: nil, mode: .offline, for: nil))
        #expect(
            scenario.timeline[3].event
                == .sensorFault(device: "temp-a3", point: "temperature", mode: .outOfRange(value: -999), for: nil))
        #expect(
            scenario.timeline[4].event
                == .sensorFault(device: "temp-b1", point: "temperature", mode: .noise(amplitude: 5), for: nil))
        #expect(scenario.timeline[6].event == .thermalRunaway(zone: "battery-room-a", string: 3))
        #expect(
            scenario.timeline[8].event == .slowDevice(device: "gas-a", delay: .milliseconds(1500), for: .seconds(60)))
        #expect(
            scenario.timeline[9].event == .exception(device: "panel-b", code: .gatewayTargetFailed, for: .seconds(10)))
        #expect(scenario.timeline[10].event == .set(device: "smoke-b", point: "level", value: .name("fire1"), for: nil))
        #expect(scenario.expectations.map(\.line) == [30, 31])
        #expect(
            scenario.expectations[1].expectation
                == .writeOrder(
                    to: WriteTarget(device: "panel-a", command: "release"),
                    after: WriteTarget(device: "feed-a", command: "stop_hvac")))
        #expect(scenario.problems(against: Fixtures.site()) == [])
    }

    /// A bad file, the line the error must name, and words the message must contain.
    static let badFiles: [(yaml: String, line: Int, contains: [String])] = [
        ("name: x\nduration: 10m\nspeeed: 3\n", 3, ["speeed", "unknown field", "did you mean 'speed'?"]),
        (
            "name: x\nduration: 10m\ntimeline:\n  - at: 1m\n    offgass: { zone: a }\n", 5,
            ["unknown field 'offgass'", "did you mean 'offgas'?"]
        ),
        ("name: x\nduration: ten\n", 2, ["duration:", "'ten' is not a duration"]),
        ("name: x\n", 1, ["missing field 'duration'"]),
        (
            "name: x\nduration: 1m\ntimeline:\n  - at: 10s\n    offgas: { zone: a }\n", 5,
            ["timeline[1].offgas: missing field 'string'"]
        ),
        ("name: x\nduration: 1m\ntimeline:\n  - offgas: { zone: a, string: 1 }\n", 4, ["timeline[1]: missing field 'at'"]),
        (
            "name: x\nduration: 1m\ntimeline:\n  - at: 2m\n    comm_loss: { device: d }\n", 4,
            ["after the scenario's duration"]
        ),
        (
            "name: x\nduration: 1m\ntimeline:\n  - at: 1s\n    comm_loss: { device: d }\n"
                + "    set: { device: d, point: p, value: 1 }\n",
            4, ["more than one event"]
        ),
        ("name: x\nduration: 1m\ntimeline:\n  - at: 1s\n    explode: { device: d }\n", 5, ["unknown field 'explode'", "expected one of: at, every,"]),
        (
            "name: x\nduration: 1m\ntimeline:\n  - at: 1s\n    sensor_fault: { device: d, mode: melted }\n", 5,
            ["unknown mode 'melted'", "stuck"]
        ),
        (
            "name: x\nduration: 1m\ntimeline:\n  - at: 1s\n    exception: { device: d, code: teapot }\n", 5,
            ["unknown exception 'teapot'", "busy"]
        ),
        (
            "name: x\nduration: 1m\ntimeline:\n  - at: 1s\n    thermal_runaway: { zone: z, string: 0 }\n", 5,
            ["string", "from 1"]
        ),
        (
            "name: x\nduration: 1m\nexpect:\n  - zone a reaches isolated by soon\n", 4,
            ["expect[1]", "'soon' is not a duration"]
        ),
        ("name: x\nduration: 1m\nexpect:\n  - the zone is fine\n", 4, ["expected 'zone', 'writes', 'no' or 'device'"]),
        ("name: x\nduration: 1m\nname: y\n", 1, ["'name'", "appears more than once"]),  // Yams marks the first one
        ("name: x\nduration: 1m\ntimeline:\n  - at: 1s\n    offgas: [a, b\n", 6, ["YAML"]),
        ("name: x\nduration: 1m\nspeed: 0\n", 3, ["speed", "above 0"]),
    ]

    @Test("bad scenario files fail with file:line, the field, and what to do", arguments: 0..<badFiles.count)
    func badFile(index: Int) {
        let (yaml, line, words) = Self.badFiles[index]
        do {
            _ = try Scenario(yaml: yaml, file: "bad.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            let error = error.errors[0]
            #expect(error.file == "bad.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.hint?.isEmpty == false)
            let text = error.description
            #expect(text.hasPrefix("bad.yaml:\(line):"), "\(text)")
            for word in words { #expect(text.contains(word), "\(text) lacks \(word)") }
        }
    }

    @Test("a scenario naming devices, points, commands, zones or strings the site lacks is refused with file:line")
    func wrongNames() throws {
        let yaml = """
            name: x
            duration: 5m
            timeline:
              - at: 1s
                offgas: { zone: battery-room-c, string: 1 }
              - at: 2s
                thermal_runaway: { zone: battery-room-a, string: 9 }
              - at: 3s
                set: { device: temp-a1, point: pressure, value: 3 }
              - at: 4s
                comm_loss: { device: temp-z9 }
            expect:
              - no writes to feed-a.launch
            """
        let scenario = try Scenario(yaml: yaml, file: "x.yaml")
        let problems = scenario.problems(against: Fixtures.site())
        #expect(problems.count == 5)
        #expect(problems[0].hasPrefix("x.yaml:4: zone 'battery-room-c' is not on the site"))
        #expect(problems[1] == "x.yaml:6: zone 'battery-room-a' has 4 strings, not 9")
        #expect(
            problems[2].hasPrefix(
                "x.yaml:8: device 'temp-a1' serves no point 'pressure'; points: humidity, temperature"))
        #expect(problems[3].hasPrefix("x.yaml:10: device 'temp-z9' is not on the site"))
        #expect(problems[4].hasPrefix("x.yaml:13: device 'feed-a' has no command 'launch'"))
        #expect(throws: SimulationSetupError.self) { try SimulatedSite(spec: Fixtures.site(), scenario: scenario) }
    }

    @Test("a missing file is an error naming the path")
    func missingFile() {
        do {
            _ = try Scenario(contentsOf: "/nonexistent/x.yaml")
            Issue.record("no error")
        } catch {
            #expect(error.errors.map(\.file) == ["/nonexistent/x.yaml"])
            #expect(error.description.contains("/nonexistent/x.yaml: error: file not found"), "\(error)")
        }
    }

    @Test("durations: units, sums and rejects")
    func durations() {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("90s") == .seconds(90))
        #expect(DurationText.parse("2m") == .seconds(120))
        #expect(DurationText.parse("1.5min") == .seconds(90))
        #expect(DurationText.parse("1h") == .seconds(3600))
        #expect(DurationText.parse("1m30s") == .seconds(90))
        #expect(DurationText.parse("0") == .zero)
        for bad in ["", "s", "10", "10 parsecs", "-5s", "1m30"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(DurationText.format(.seconds(90)) == "90s")
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
    }
}

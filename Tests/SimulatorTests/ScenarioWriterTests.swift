import FireSafety
import FireWatchTesting
import Foundation
import SiteConfig
import Testing

@testable import Scenarios
@testable import Simulator

/// A scenario written as a file reads back as the same scenario: the way a campaign's generated runs become files
/// that `firewatch simulate` plays and a person can replay.
@Suite("Scenario files written back")
struct ScenarioWriterTests {
    /// What the parser keeps of a timeline: times and events (lines are where they were written).
    static func timeline(_ scenario: Scenario) -> [String] {
        scenario.timeline.map { "\(DurationText.format($0.at)) \($0.event)" }
    }

    @Test("every example scenario reads back the same after writing")
    func examples() throws {
        let folder = Repository.root + "/examples/scenarios"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count >= 9, "\(names)")
        for name in names {
            let original = try Scenario(contentsOf: folder + "/" + name)
            let text = try original.yaml
            let back = try Scenario(yaml: text, file: "/elsewhere/\(name)")
            #expect(back.name == original.name)
            #expect(back.description == original.description)
            #expect(back.duration == original.duration)
            #expect(back.speed == original.speed)
            #expect(back.site == original.site)
            #expect(Self.timeline(back) == Self.timeline(original), "\(name):\n\(text)")
            #expect(back.expectations.map(\.expectation) == original.expectations.map(\.expectation), "\(name)")
        }
    }

    @Test("every kind of event, with every setting, reads back the same")
    func everyKind() throws {
        let events: [ScenarioEvent] = [
            .thermalRunaway(zone: "room-a", string: 2),
            .offgas(zone: "room-a", string: 1, pointOfNoReturn: .milliseconds(93_417), runawayAfter: .seconds(301)),
            .offgas(zone: "room-b", string: 3, pointOfNoReturn: nil, runawayAfter: nil),
            .sensorFault(device: "gas-a", point: "lfl_percent", mode: .stuck, for: .seconds(5)),
            .sensorFault(device: "gas-a", point: nil, mode: .offline, for: nil),
            .sensorFault(device: "temp-a1", point: "temperature", mode: .outOfRange(value: 999), for: .seconds(2)),
            .sensorFault(device: "temp-a1", point: "temperature", mode: .outOfRange(value: nil), for: .seconds(2)),
            .sensorFault(device: "temp-a1", point: "temperature", mode: .noise(amplitude: 2.5), for: .seconds(9)),
            .sensorFault(device: "temp-a1", point: "temperature", mode: .drift(perMinute: 0.75), for: .seconds(60)),
            .commLoss(device: "bms-a", for: .milliseconds(1500)),
            .slowDevice(device: "ups-a", delay: .milliseconds(1234), for: .seconds(7)),
            .exception(device: "panel-a", code: .deviceFailure, for: nil),
            .set(device: "panel-a", point: "status", value: .name("fault"), for: .seconds(3)),
            .set(device: "temp-a1", point: "temperature", value: .number(41.5), for: nil),
            .abortSwitch(zone: "room-a", for: .seconds(10)),
            .clockStep(by: .seconds(3600)),
            .clockStep(by: .seconds(-7200)),
            .reload(site: "/somewhere/site.yaml"),
            .restart,
        ]
        let scenario = Scenario(
            name: "every-kind", description: "all of them", duration: .seconds(3600), speed: 40,
            timeline: events.enumerated().map { ScheduledEvent(at: .milliseconds(Int64(1000 + 61_337 * $0.offset)), event: $0.element) },
            expectations: [
                ScenarioExpectation(try ExpectedOutcome(parsing: "zone room-a reaches isolated by 120s")),
                ScenarioExpectation(try ExpectedOutcome(parsing: "no writes to panel-b")),
            ])
        let back = try Scenario(yaml: try scenario.yaml, file: "/elsewhere/every-kind.yaml")
        #expect(back.timeline.map(\.event) == events)
        #expect(back.timeline.map(\.at) == scenario.timeline.map(\.at))
        #expect(back.expectations.map(\.expectation) == scenario.expectations.map(\.expectation))
        #expect(back.speed == 40 && back.duration == .seconds(3600) && back.description == "all of them")
    }

    @Test("a campaign's generated runs, written as scenarios, read back the same")
    func campaignPlans() throws {
        let runner = try CampaignRunner(site: try loadExampleSite())
        var generator = runner.generator()
        generator.forScenarios = true
        for seed: UInt64 in 1...40 {
            for plan in [generator.incident(seed: seed), generator.quiet(seed: seed)] {
                let scenario = plan.scenario(site: "/site.yaml", speed: 20)
                let back = try Scenario(yaml: try scenario.yaml, file: "/elsewhere/campaign.yaml")
                #expect(back.timeline.map(\.event) == scenario.timeline.map(\.event), "seed \(seed)")
                #expect(back.timeline.map(\.at) == scenario.timeline.map(\.at), "seed \(seed)")
            }
        }
    }

    @Test("a model event reads back from its line in the simulator's output")
    func modelLines() {
        let events = [
            ModelEvent(at: .milliseconds(83_661), zone: "battery-room-a", kind: .runaway, string: 2),
            ModelEvent(at: .seconds(400), zone: "battery-room-b", kind: .released),
            ModelEvent(at: .seconds(12), zone: "battery-room-a", kind: .ventingStarted, string: 1),
        ]
        for event in events {
            let line = HostEvent(at: event.at, kind: .model(event)).description
            #expect(ModelEvent(hostLine: line) == event, "\(line)")
        }
        let write = "83.661s write feed-a.start_exhaust (accepted)"
        #expect(ModelEvent(hostLine: write) == nil)
        #expect(ModelEvent(hostLine: "12s model: battery-room-a no_such_kind") == nil)
        #expect(ModelEvent(hostLine: "") == nil)
    }

    @Test("the site copy for processes: free ports, its own state, no metrics, a stale floor, and hooks that still resolve")
    func siteCopy() throws {
        let folder = try TemporaryDirectory(prefix: "site-copy")
        defer { folder.remove() }
        let original = try loadExampleSite()
        try SiteCopy(of: Repository.root + "/examples/site.yaml", speed: 20).write(
            to: folder.path + "/site.yaml", state: folder.path)
        let copy = try SiteLoader(shippedDevices: Repository.root + "/devices").load(path: folder.path + "/site.yaml")
        #expect(copy.alertLog == folder.path + "/alerts.jsonl")
        #expect(copy.controlSocket == folder.path + "/control.sock")
        #expect(copy.metrics == nil)
        #expect(copy.model.staleAfter == .seconds(40))
        #expect(copy.devices.map(\.name) == original.devices.map(\.name))
        let before = original.devices.map(\.port)
        let after = copy.devices.map(\.port)
        #expect(Set(after).isDisjoint(with: Set(before)), "\(after)")
        #expect(Set(after).count == Set(before).count)
        // The example's failover hook is `./hooks/failover`, relative to the site file's folder.
        #expect(FileManager.default.isExecutableFile(atPath: folder.path + "/hooks/failover"))
        #expect(copy.model.zones.map(\.name) == original.model.zones.map(\.name))
    }
}

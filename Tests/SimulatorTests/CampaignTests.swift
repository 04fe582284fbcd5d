import Foundation
import FireSafety
import FireWatchTesting
import Simulator
import SiteConfig
import Testing

@testable import Scenarios

@Suite("Fault campaign")
struct CampaignTests {
    static func runner() throws -> CampaignRunner { try CampaignRunner(site: try loadExampleSite()) }

    /// String `string` of battery room A starts venting at `at`: point of no return 120 s later, runaway at 400 s.
    static func incident(seed: UInt64, string: Int, at: Duration, lasting: Duration) -> CampaignPlan {
        CampaignPlan(
            seed: seed, kind: .incident(zone: "battery-room-a", string: string), duration: lasting,
            events: [
                .init(
                    at: at,
                    action: .site(
                        .offgas(
                            zone: "battery-room-a", string: string, pointOfNoReturn: .seconds(120),
                            runawayAfter: .seconds(400))))
            ])
    }

    @Test("a short campaign on the example site keeps every invariant, isolates the incidents it can, releases nothing on quiet days")
    func shortCampaign() async throws {
        let runner = try Self.runner()
        let clock = ContinuousClock()
        let start = clock.now
        let report = await Campaign(incidents: 40, quietDays: 1, seed: 20_261_202, jobs: 2).run(runner) {
            clock.now - start
        }
        #expect(report.results.count == 41)
        #expect(report.failures.isEmpty, "\(report.summary)")
        // The figures are about something: most incidents were given the time, and those were isolated.
        #expect(report.eligible >= 25, "\(report.summary)")
        #expect(report.isolatedBeforeRunaway * 10 >= report.eligible * 9, "\(report.summary)")
        #expect(report.offgasToIsolated(percentile: 50) != nil)
        #expect(report.quietReleases == 0, "\(report.summary)")
        #expect(report.quietPowerCuts == 0, "\(report.summary)")
        #expect(report.simulatedDays > 1.9)
    }

    @Test("the same seed plays the same run, record for record")
    func deterministic() throws {
        let runner = try Self.runner()
        let plan = runner.generator().incident(seed: 42)
        #expect(plan == runner.generator().incident(seed: 42))
        #expect(plan != runner.generator().incident(seed: 43))
        let first = try runner.run(plan)
        let second = try runner.run(plan)
        #expect(first.records.map(\.record) == second.records.map(\.record))
        #expect(first.writes == second.writes)
        #expect(!first.writes.isEmpty, "an incident writes: \(first.story(of: plan))")
    }

    @Test("an incident with nothing in the way is isolated before its point of no return and never released on")
    func cleanIncident() throws {
        let runner = try Self.runner()
        let plan = Self.incident(seed: 1, string: 2, at: .seconds(120), lasting: .seconds(1800))
        let trace = try runner.run(plan)
        #expect(trace.violations.isEmpty, "\(trace.story(of: plan))")
        let isolated = try #require(trace.firstTime("battery-room-a", reaches: .isolated), "\(trace.story(of: plan))")
        #expect(isolated < .seconds(120 + 20 + 120), "isolated at \(isolated)")
        #expect(!trace.modelEvents.contains { $0.kind == .runaway }, "\(trace.story(of: plan))")
        #expect(trace.releases == 0)
        #expect(trace.writes.allSatisfy { $0.zone == "battery-room-a" })
        #expect(trace.writes.map(\.device).contains("bms-a"))
    }

    @Test("a quiet-day isolation is counted by the devices at alarm when it started: one drifting gas sensor is one")
    func isolationSources() throws {
        let runner = try Self.runner()
        let plan = CampaignPlan(
            seed: 2, kind: .quiet, duration: .seconds(1800),
            events: [
                .init(
                    at: .seconds(60),
                    action: .site(
                        .sensorFault(device: "gas-a", point: "lfl_percent", mode: .drift(perMinute: 6), for: .seconds(900))))
            ])
        let trace = try runner.run(plan)
        #expect(trace.violations.isEmpty, "\(trace.story(of: plan))")
        #expect(trace.starts(of: .isolate).count == 1, "\(trace.story(of: plan))")
        #expect(trace.isolationSources == [1], "\(trace.story(of: plan))")
        #expect(trace.releases == 0 && trace.starts(of: .powerCut).isEmpty)
        let result = CampaignRunResult(plan: plan, trace: trace, runner: runner)
        #expect(result.isolations == 1 && result.isolationsOnOneSource == 1)

        // A real incident puts more than one device at alarm before isolating only when the site says so; the
        // count is what the readings showed, never less than one.
        let incident = Self.incident(seed: 3, string: 1, at: .seconds(60), lasting: .seconds(900))
        let played = try runner.run(incident)
        #expect(played.isolationSources.count == 1 && played.isolationSources.allSatisfy { $0 >= 1 }, "\(played.story(of: incident))")
    }

    @Test("the checker is not vacuous: tier 3 without a fire, a step without its record, a dropped latch are caught")
    func checkerCatches() throws {
        let site = try loadExampleSite()
        var checker = CampaignChecker(site: site)
        let zone = "battery-room-a"
        let release = Step.command(device: "panel-a", command: "release")
        // A release handed over with no record before it and no fire behind it.
        checker.willRun(zone: zone, procedure: .suppress, index: 3, step: release, records: [], at: .seconds(5))
        // A step the zone does not have at that place.
        checker.willRun(
            zone: zone, procedure: .isolate, index: 0, step: release,
            records: [
                AlertRecord(
                    time: Timestamp(seconds: 0), site: "pangyo-a", zone: zone, severity: .alarm, event: .stepStarted,
                    message: "", procedure: .isolate, step: 0)
            ], at: .seconds(6))
        // A write in a zone whose readings never reached alarm.
        checker.wrote(
            zone: "battery-room-b", procedure: .isolate, index: 0, device: "bms-b", command: "disconnect_string",
            effect: .disconnectStrings, releasesSoFar: 0, at: .seconds(7))
        // A latch that vanished without a reset.
        checker.check(Output(), before: latches(site, [zone: .alarm]), after: latches(site, [:]), at: .seconds(8))
        let broken = Set(checker.violations.map(\.invariant))
        #expect(broken == [.recordBeforeWrite, .fireNeedsTwoKinds, .stepsOfTheZone, .ownZoneOnly, .latchHolds], "\(checker.violations)")
    }

    @Test("fire on one kind, or on readings past stale_after, is not fire")
    func oracle() throws {
        let site = try loadExampleSite()
        var checker = CampaignChecker(site: site)
        let zone = "battery-room-a"
        let now = Timestamp(seconds: 100)
        func reading(_ source: String, _ value: Value) -> Reading {
            Reading(source: SourceRef(parsing: source)!, time: now, status: .value(value))
        }
        // Smoke at fire1 and the panel's fire input: two kinds on two devices.
        checker.fed([reading("smoke-a.level", .name("fire1")), reading("panel-a.fire_input", .flag(true))], at: .seconds(100))
        checker.check(Output(), before: latches(site, [:]), after: latches(site, [zone: .fire]), at: .seconds(100))
        #expect(checker.violations.isEmpty, "\(checker.violations)")
        // The same readings 10 s later (stale_after is 3 s) are no grounds for a new latch.
        var stale = CampaignChecker(site: site)
        stale.fed([reading("smoke-a.level", .name("fire1")), reading("panel-a.fire_input", .flag(true))], at: .seconds(100))
        stale.check(Output(), before: latches(site, [:]), after: latches(site, [zone: .fire]), at: .seconds(110))
        #expect(stale.violations.map(\.invariant) == [.fireNeedsTwoKinds])
        // Smoke alone: one kind.
        var single = CampaignChecker(site: site)
        single.fed([reading("smoke-a.level", .name("fire2"))], at: .seconds(100))
        single.check(Output(), before: latches(site, [:]), after: latches(site, [zone: .fire]), at: .seconds(100))
        #expect(single.violations.map(\.invariant) == [.fireNeedsTwoKinds])
    }

    @Test("shrinking keeps only the events the failure needs")
    func shrinking() {
        let events = (0..<12).map { CampaignPlan.Event(at: .seconds(Int64($0)), action: .reload) }
        let plan = CampaignPlan(seed: 9, kind: .quiet, duration: .seconds(60), events: events)
        var tries = 0
        let shrunk = Campaign.shrink(plan) { candidate in
            tries += 1
            let times = Set(candidate.events.map(\.at))
            return times.contains(.seconds(3)) && times.contains(.seconds(8))
        }
        #expect(shrunk.events.map(\.at) == [.seconds(3), .seconds(8)])
        #expect(tries <= 3 * 12)
    }

    @Test("the in-process runner and the real daemon and simulator (Modbus/TCP, alert log on disk) agree on each incident")
    func agreesWithTheRealDaemon() async throws {
        let site = try loadExampleSite()
        let runner = try CampaignRunner(site: site)
        var generator = runner.generator()
        generator.forScenarios = true
        generator.incidentDuration = .seconds(20 * 60)
        var compared: [String] = []
        for seed: UInt64 in 1...8 where compared.count < 4 {
            let plan = generator.incident(seed: seed)
            let zone = try #require(plan.incidentZone)
            let trace = try runner.run(plan)
            #expect(trace.violations.isEmpty, "\(trace.story(of: plan))")
            // Within a few polls of the point of no return either way of playing it may tip; not a disagreement.
            guard trace.margin(of: plan) >= .seconds(10) else { continue }
            let directory = try TemporaryDirectory(prefix: "campaign-real")
            defer { directory.remove() }
            let run = ScenarioRun(
                site: site, scenario: plan.scenario(site: site.file, speed: 100), speed: 100,
                directory: directory.path, seed: plan.seed)
            let report = try await run.run()
            #expect(report.ran >= plan.duration, "seed \(seed): the real run stopped at \(report.ran)")
            #expect(
                report.verdict(zone: zone) == trace.verdict(zone: zone),
                """
                seed \(seed): real \(report.verdict(zone: zone)), in process \(trace.verdict(zone: zone))
                \(plan)
                in process:
                \(trace.story(of: plan))
                """)
            compared.append("\(seed): \(trace.verdict(zone: zone))")
        }
        #expect(compared.count == 4, "\(compared)")
    }
}

extension CampaignTests {
    @Test("a runaway the model gave the time for is put down to what held isolation back: an inhibit, a silent gas detector")
    func missCauses() throws {
        let runner = try Self.runner()
        var inhibited = Self.incident(seed: 1, string: 1, at: .seconds(120), lasting: .seconds(900))
        inhibited.events.insert(
            .init(
                at: .seconds(100),
                action: .command(.inhibit(zone: "battery-room-a", uid: "park", duration: .seconds(3600), reason: "test"))),
            at: 0)
        let held = CampaignRunResult(plan: inhibited, trace: try runner.run(inhibited), runner: runner)
        #expect(held.eligible && held.ranAway)
        #expect(held.missCauses == [.inhibited], "\(held.missCauses)")

        var silent = Self.incident(seed: 2, string: 1, at: .seconds(120), lasting: .seconds(900))
        silent.events.insert(
            .init(at: .seconds(110), action: .site(.sensorFault(device: "gas-a", point: nil, mode: .offline, for: .seconds(600)))),
            at: 0)
        let blind = CampaignRunResult(plan: silent, trace: try runner.run(silent), runner: runner)
        #expect(blind.eligible && blind.ranAway)
        #expect(
            Set(blind.missCauses) == [.sensor("gas-a.offgas", "offline"), .sensor("gas-a.lfl_percent", "offline")],
            "\(blind.missCauses)")

        // Isolated in time: nothing to explain.
        let clean = Self.incident(seed: 3, string: 1, at: .seconds(120), lasting: .seconds(900))
        let caught = CampaignRunResult(plan: clean, trace: try runner.run(clean), runner: runner)
        #expect(caught.eligible && !caught.ranAway && caught.missCauses.isEmpty)
    }
}

extension CampaignTests {
    /// The campaign seed whose first incidents, played as processes, include a kill -9 and a SIGHUP.
    static let crossCheckSeed: UInt64 = 39

    @Test("the same incidents, as real simulate and run processes with kill -9 and SIGHUP, get the verdicts of the in-process runs")
    func agreesWithTheRealProcesses() async throws {
        let folder = try TemporaryDirectory(prefix: "cross-check")
        defer { folder.remove() }
        let check = ProcessCrossCheck(
            executable: try FirewatchExecutable.required(), siteFile: Repository.root + "/examples/site.yaml",
            incidents: 2, seed: Self.crossCheckSeed, speed: 20, directory: folder.path)
        let report = await check.run(try Self.runner()) { _ in }
        #expect(report.passed, "\(report.summary)")
        #expect(report.compared.count == 2, "\(report.summary)")
        #expect(report.disagreements.isEmpty, "\(report.summary)")
        // Both kinds of process fault were played, and the runs were about something.
        #expect(report.kills >= 1 && report.reloads >= 1, "\(report.summary)")
        #expect(report.compared.contains { $0.real.isolated }, "\(report.summary)")
        // Agreeing runs leave nothing behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test(
        "campaign --cross-check refuses what it cannot play, saying what to change",
        arguments: [
            (["--quiet-days", "3"], "--cross-check plays incidents only; leave out --quiet-days"),
            (["--speed", "500"], "--speed must be above 0 and at most 100, not 500.0"),
            (["--incidents", "0"], "--incidents must be above 0, not 0"),
        ])
    func crossCheckRefuses(arguments: [String], message: String) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = ["campaign", "--site", Repository.root + "/examples/site.yaml", "--cross-check"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 64, "\(text)")
        #expect(text.contains(message), "\(text)")
    }
}

/// Latches as the checker compares them (model order) from a zone → level table.
private func latches(_ site: LoadedSite, _ levels: [String: Level]) -> [Level?] {
    site.model.zones.map { levels[$0.name] }
}

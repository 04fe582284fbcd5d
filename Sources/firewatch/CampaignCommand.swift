import ArgumentParser
import Foundation
import Scenarios
import Simulator

/// `firewatch campaign`: thousands of randomized incidents and quiet days, in process on a virtual clock, with
/// every safety invariant checked on every run.
struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Play randomized incidents and quiet days against a site and check every safety rule on every run.",
        discussion: """
            Each run is drawn from the seed: a failing string (which zone and string, when, how fast it vents and \
            runs away) or a quiet day, with sensor faults (stuck, offline, drifting, noisy, out of range), comm \
            loss, slow devices, exceptions, wall-clock steps, reloads, restarts (state rebuilt from the log as \
            written so far) and operator commands on top. The engine, the simulator's physical model and the \
            actuator's write-confirm-retry run in this process on a virtual clock: no sockets, no sleeping. A \
            broken rule prints the run's seed and the shortest event list that still breaks it, and the command \
            exits 1.
            """)

    @Option(name: [.customLong("site"), .customLong("config")], help: "The site file.")
    var site: String = "examples/site.yaml"

    @Option(help: "Randomized incidents to play.")
    var incidents: Int = 100

    @Option(name: .customLong("quiet-days"), help: "Quiet days (no incident, faults only) to play, one day each.")
    var quietDays: Int = 30

    @Option(help: "The campaign's seed; the same seed plays the same runs.")
    var seed: UInt64 = 1

    @Option(help: "Runs played side by side.")
    var jobs: Int = 1

    @Option(help: "Play the one run with this seed (as printed by a campaign) and print what happened, in time order.")
    var explain: UInt64?

    @Flag(help: "With --explain: the seed is a quiet day's, not an incident's.")
    var quiet = false

    @Flag(help: "Print the figures as one JSON object on stdout (the summary goes to stderr).")
    var json = false

    func validate() throws {
        guard incidents >= 0, quietDays >= 0, incidents + quietDays > 0 else {
            throw ValidationError("give --incidents and/or --quiet-days, each 0 or more and not both 0")
        }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1 to 64, not \(jobs)") }
    }

    func run() async throws {
        let loaded = try loadSite(site)
        let runner: CampaignRunner
        do {
            runner = try CampaignRunner(site: loaded)
        } catch {
            reportError("\(site): the simulator cannot model this site:\n\(error)")
            throw ExitCode(78)
        }
        if let explain {
            let generator = runner.generator()
            let plan = quiet ? generator.quiet(seed: explain) : generator.incident(seed: explain)
            let trace = try runner.run(plan)
            print(plan.description)
            print(trace.story(of: plan))
            if !trace.violations.isEmpty { throw ExitCode(1) }
            return
        }
        let campaign = Campaign(incidents: incidents, quietDays: quietDays, seed: seed, jobs: jobs)
        let clock = ContinuousClock()
        let start = clock.now
        let report = await campaign.run(runner, progress: { reportError($0) }) { clock.now - start }
        if json {
            reportError(report.summary)
            let data = try JSONSerialization.data(withJSONObject: report.figures, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(report.summary)
        }
        if !report.failures.isEmpty { throw ExitCode(1) }
    }
}

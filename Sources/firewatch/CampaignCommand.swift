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

            With --cross-check the same generator's incidents (default 20) are played twice: in process, and by \
            real `firewatch simulate` and `firewatch run` processes of this binary over Modbus/TCP on loopback, \
            on a site time compressed --speed times, with restarts as kill -9 and reloads as SIGHUP. Their \
            verdicts (isolated, ran away, released, power cut) must agree; a run that disagrees keeps its folder \
            (site copy, scenario, alert log, both outputs) and the command exits 1. Wall-clock steps and operator \
            commands are left out of these runs: a separate process's compressed clock cannot be stepped, and a \
            scenario has no operator.
            """)

    @Option(name: [.customLong("site"), .customLong("config")], help: "The site file.")
    var site: String = "examples/site.yaml"

    @Option(help: "Randomized incidents to play (default 100; 20 with --cross-check).")
    var incidents: Int?

    @Option(
        name: .customLong("quiet-days"),
        help: "Quiet days (no incident, faults only) to play, one day each (default 30; none with --cross-check).")
    var quietDays: Int?

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

    @Flag(
        name: .customLong("cross-check"),
        help: "Play the incidents in process and as real simulate + run processes, and compare the verdicts.")
    var crossCheck = false

    @Option(help: "With --cross-check: site seconds per real second for the processes (up to 100).")
    var speed: Double = 20

    func validate() throws {
        if crossCheck {
            guard quietDays ?? 0 == 0 else {
                throw ValidationError("--cross-check plays incidents only; leave out --quiet-days")
            }
            guard (incidents ?? 20) > 0 else { throw ValidationError("--incidents must be above 0, not \(incidents ?? 0)") }
            guard speed > 0, speed <= 100 else {
                throw ValidationError("--speed must be above 0 and at most 100, not \(speed)")
            }
            guard explain == nil else { throw ValidationError("--explain plays one run in process; leave out --cross-check") }
            return
        }
        let incidents = incidents ?? 100
        let quietDays = quietDays ?? 30
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
        if crossCheck { return try await runCrossCheck(runner) }
        let campaign = Campaign(incidents: incidents ?? 100, quietDays: quietDays ?? 30, seed: seed, jobs: jobs)
        let clock = ContinuousClock()
        let start = clock.now
        let report = await campaign.run(runner, progress: { reportError($0) }) { clock.now - start }
        try show(report.summary, report.figures)
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    /// `--cross-check`: the incidents both ways, in a temporary folder that keeps only the runs that disagree.
    private func runCrossCheck(_ runner: CampaignRunner) async throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let directory = base + "/firewatch-cross-check-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let check = ProcessCrossCheck(
            executable: executable, siteFile: URL(fileURLWithPath: site).standardizedFileURL.path,
            incidents: incidents ?? 20, seed: seed, speed: speed, directory: directory)
        reportError(
            "cross-check: \(check.incidents) incident\(check.incidents == 1 ? "" : "s") of 20 min of site time at \(speed)x, about "
                + "\(Int(Double(check.incidents) * 1230 / speed / 60) + 1) min")
        let report = await check.run(runner) { reportError($0) }
        if report.disagreements.isEmpty && report.problems.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
        try show(report.summary, report.figures)
        if !report.passed { throw ExitCode(1) }
    }

    /// The figures as one JSON object on stdout and the summary on stderr (`--json`), or the summary on stdout.
    private func show(_ summary: String, _ figures: [String: Double]) throws {
        guard json else { return print(summary) }
        reportError(summary)
        let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

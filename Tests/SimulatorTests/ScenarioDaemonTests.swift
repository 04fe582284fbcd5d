import AlertLog
import FireSafety
import Foundation
import Gateway
import SiteConfig
import Testing

@testable import Simulator
import FireWatchTesting
import Scenarios

/// Every shipped scenario against the real daemon, in one process: SimulatorHost + Daemon on one
/// ScaledSiteClock, observations from the alert log and the simulator's writes.
// One at a time: six runs side by side hold ~600 sockets, enough to upset the Modbus suite's descriptor-leak
// check running in the same process (and a busy 2-core box). The two-process runs go alongside.
@Suite("Scenarios against the daemon, in process", .serialized)
struct ScenarioDaemonTests {
    /// The scenarios' own speed: 65 min of site time in about 130 s, with a request timeout (500 ms real,
    /// 15 s of site time) well inside the scenarios' 30 s trouble windows.
    static let speed = 30.0

    @Test("the scenario's expectations hold", arguments: ScenarioTests.shipped)
    func scenario(name: String) async throws {
        let scenario = try Scenario(contentsOf: "\(Repository.root)/examples/scenarios/\(name).yaml")
        let directory = try TemporaryDirectory(prefix: "fw-sim")
        defer { directory.remove() }
        var run = ScenarioRun(
            site: try loadExampleSite(), scenario: scenario, speed: Self.speed, directory: directory.path)
        // Six runs share a machine other builds load too; a stall of a few hundred milliseconds must not
        // read as a site-wide sensor failure (30 s of site time at 30x; offline devices are caught by timeouts).
        run.staleFloor = .seconds(2)
        let report = try await run.run()
        for result in report.results {
            #expect(result.passed, "\(scenario.file):\(result.line): \(result)")
        }
        #expect(report.records.last?.event == .daemonStopped, "the daemon's last record")
        if name == "pangyo-2022" {
            // The demo's summary of the same run says what the demo promises.
            let summary = ScenarioSummary.render(report, site: run.site)
            #expect(summary.contains("s from first off-gas to isolation."), "\(summary)")
            #expect(summary.contains("battery-room-b: stayed normal; all 2 feeds still closed"), "\(summary)")
            #expect(summary.contains("bms-a    disconnect_string +01:"), "\(summary)")
            #expect(summary.contains("All \(report.results.count) expectations hold."), "\(summary)")
        }
        if !report.passed {
            let lines = report.records.filter { $0.event != .signalLevel }.map {
                "\(ScenarioSummary.offset(report.offset($0))) \($0.event.rawValue) \($0.zone ?? "-") "
                    + "\($0.device ?? "") \($0.message)"
            }
            let writes = report.writes.map(\.description).joined(separator: "\n")
            Issue.record(
                "alert log:\n\(lines.joined(separator: "\n"))\nwrites:\n\(writes)"
            )
        }
    }
}

extension ScenarioDaemonTests {
    /// Thirty days at 14,400x (three minutes), its alert log rotated at 128 KiB and every file kept so the whole
    /// month can be judged. Besides the expectations: the log rotated many times, every new file begins with a
    /// checkpoint, and the restart on day 29 read back only what follows the newest checkpoint (not the month)
    /// and went on watching (trouble is seen after it).
    @Test("long-quiet-month: flapping devices for 30 days, no action, a restart reads one file, not the month")
    func longQuietMonth() async throws {
        let scenario = try Scenario(contentsOf: "\(Repository.root)/examples/scenarios/long-quiet-month.yaml")
        let directory = try TemporaryDirectory(prefix: "fw-sim")
        defer { directory.remove() }
        var run = ScenarioRun(
            site: try loadExampleSite(), scenario: scenario, speed: scenario.speed, directory: directory.path)
        run.alertLogMaxBytes = 128 << 10
        run.alertLogKeep = 1000
        let report = try await run.run()
        for result in report.results {
            #expect(result.passed, "\(scenario.file):\(result.line): \(result)")
        }
        #expect(report.records.last?.event == .daemonStopped, "the daemon's last record")

        let files = AlertLogSet.discover(livePath: run.alertLog).existingPathsOldestFirst
        #expect(files.count >= 5, "the month rotated the log \(files.count - 1) times")
        for file in files.dropFirst() {
            #expect(try AlertLine.lines(ofFile: file).first?.event == "state.checkpoint", "\(file) begins with a checkpoint")
        }
        // The chain holds across every rotation.
        #expect(intactRecords(logAt: run.alertLog) == report.records.count)
        // Hourly checkpoints on the site clock: about 720 in 30 days (when they ran on the 1 s status loop of real
        // time, a compressed month got one every 4 h of site time).
        let checkpoints = report.records.filter { $0.event == .stateCheckpoint }.count
        #expect(checkpoints >= 600, "\(checkpoints) checkpoints")

        let restarts = report.restarts
        #expect(restarts.count == 1)
        if let restart = restarts.first {
            #expect(restart.at >= .seconds(29 * 86_400))
            let read = try #require(restart.recordsRead)
            // From the newest checkpoint (at most an hour of site time ago), never the month's records.
            #expect(read < report.records.count / 20, "the restart read \(read) of \(report.records.count) records")
        }
        let afterRestart = report.records.filter {
            $0.device == "temp-b1" && $0.event == .pointInvalid && report.offset($0) > .seconds(29 * 86_400)
        }
        #expect(!afterRestart.isEmpty, "temp-b1's faults after the restart are still reported")
        #expect(!report.records.contains { $0.event == .daemonRecovered }, "a clean restart is not a recovery")

        if !report.passed {
            let counts = Dictionary(grouping: report.records, by: \.event.rawValue).mapValues(\.count)
            Issue.record("records by event: \(counts.sorted { $0.key < $1.key })")
        }
    }
}


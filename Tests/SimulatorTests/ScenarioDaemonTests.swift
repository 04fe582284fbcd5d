import FireSafety
import Foundation
import Gateway
import Testing

@testable import Simulator

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
        let scenario = try Scenario(contentsOf: "\(repositoryRoot)/examples/scenarios/\(name).yaml")
        let directory = try TemporaryFolder()
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

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/fw-sim-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

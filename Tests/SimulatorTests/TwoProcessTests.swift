import FireSafety
import Foundation
import Gateway
import SiteConfig
import Testing

@testable import Simulator
import FireWatchTesting
import Scenarios

/// `firewatch simulate` and `firewatch run` as two processes on one compressed site time
/// (FIREWATCH_SITE_CLOCK), the way `make run` wires them: expectations from the daemon's alert log and
/// the simulator's output.
@Suite("Scenarios as two processes")
struct TwoProcessTests {
    static let speed = 20.0

    @Test(
        "simulate + run: the scenario's expectations hold",
        arguments: ["pangyo-2022", "quiet-day"])
    func scenario(name: String) async throws {
        let scenarioPath = "\(Repository.root)/examples/scenarios/\(name).yaml"
        let scenario = try Scenario(contentsOf: scenarioPath)
        let folder = try TemporaryDirectory(prefix: "fw-sim")
        defer { folder.remove() }
        let sitePath = try Self.writeSite(into: folder.path)
        let clock = "\(Self.speed)@\(Int64(Date().timeIntervalSince1970 * 1e9))"
        var environment = ProcessInfo.processInfo.environment
        environment[ScaledSiteClock.environmentVariable] = clock

        let simulator = try Self.start(
            ["simulate", "--config", sitePath, "--scenario", scenarioPath, "--wait-for-polls"],
            environment: environment, output: folder.path + "/simulate.out")
        let daemon = try Self.start(
            ["run", "--config", sitePath, "--log-level", "warning"], environment: environment,
            output: folder.path + "/run.err")
        defer {
            if simulator.isRunning { simulator.terminate() }
            if daemon.isRunning { daemon.terminate() }
        }
        // The simulator exits by itself 30 s of site time after the scenario's end; bounded in real time.
        let limit = Double(scenario.duration.components.seconds) / Self.speed + 60
        #expect(await Self.waitForExit(simulator, seconds: limit), "the simulator did not finish within \(limit) s")
        daemon.terminate()
        #expect(await Self.waitForExit(daemon, seconds: 20), "the daemon did not stop on SIGTERM")

        let output = (try? String(contentsOfFile: folder.path + "/simulate.out", encoding: .utf8)) ?? ""
        let daemonErrors = (try? String(contentsOfFile: folder.path + "/run.err", encoding: .utf8)) ?? ""
        let start = try #require(SimulatorHost.start(inOutput: output), "no start line in the simulator's output:\n\(output)")
        let records = try AlertRecord.readLog(at: folder.path + "/alerts.jsonl")
        // The scenario's own time only: before it FireWatch was starting up, after it the simulator was going away.
        let end = start + scenario.duration
        let observations =
            Observation.fromAlertLog(records.filter { $0.time >= start && $0.time <= end }, since: start)
            + Self.writes(output)
        let results = scenario.evaluate(
            observations, with: ExpectationEvaluator(escalation: ZoneState.allCases.map(\.rawValue)))
        #expect(!results.isEmpty)
        for result in results {
            #expect(
                result.passed,
                "\(scenario.file):\(result.line): \(result)\nsimulator:\n\(output)\ndaemon stderr:\n\(daemonErrors)")
        }
        #expect(records.last?.event == .daemonStopped)
    }

    @Test(
        "firewatch demo runs a scenario to its summary and leaves only the alert log behind")
    func demo() async throws {
        let folder = try TemporaryDirectory(prefix: "fw-sim")
        defer { folder.remove() }
        let (output, left) = try await Self.playDemo(["--scenario", "quiet-day", "--speed", "30"], in: folder, seconds: 120)
        #expect(output.contains("All 10 expectations hold."), "\(output)")
        if let left {
            let files = try FileManager.default.contentsOfDirectory(atPath: left)
            #expect(files == ["alerts.jsonl"], "left behind: \(files)")
        }
    }

    /// Runs `firewatch demo ARGUMENTS` with its temporary folder in `folder` and no colour; expects exit 0 and
    /// exactly one folder left behind. Returns what it printed and that folder.
    static func playDemo(_ arguments: [String], in folder: TemporaryDirectory, seconds: Double) async throws
        -> (output: String, left: String?)
    {
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = folder.path
        environment["NO_COLOR"] = "1"
        let demo = try start(["demo"] + arguments, environment: environment, output: folder.path + "/demo.out")
        defer { if demo.isRunning { demo.terminate() } }
        #expect(await waitForExit(demo, seconds: seconds), "the demo did not finish")
        let output = (try? String(contentsOfFile: folder.path + "/demo.out", encoding: .utf8)) ?? ""
        #expect(demo.terminationStatus == 0, "\(output)")
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "demo.out" }
        #expect(left.count == 1 && left[0].hasPrefix("firewatch-demo-"), "\(left)")
        return (output, left.first.map { folder.path + "/" + $0 })
    }

    @Test("firewatch demo --scenario gateway-failover: owner killed mid-countdown, the standby releases once and cuts power")
    func pairDemo() async throws {
        let folder = try TemporaryDirectory(prefix: "fw-pair")
        defer { folder.remove() }
        let (output, left) = try await Self.playDemo(["--scenario", "gateway-failover"], in: folder, seconds: 300)
        #expect(output.contains("All 10 expectations hold."), "\(output)")
        #expect(output.contains("Nothing was written twice"), "\(output)")
        #expect(output.contains("━━ gw-a killed (kill -9), 10s into the pre-discharge"), "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        let gwB = try #require(lines.firstIndex { $0.hasPrefix("  gw-b  standby, followed every step through etcd; owner at") })
        let gwBWrote = lines[gwB + 1]
        #expect(gwBWrote.contains("panel-a.release") && gwBWrote.contains("feed-a.open_feed_2"), "\(gwBWrote)")
        let gwAWrote = try #require(lines.first { $0.hasPrefix("        wrote:") })
        #expect(gwAWrote.contains("feed-a.stop_hvac") && !gwAWrote.contains("panel-a"), "\(gwAWrote)")
        // What is left: each gateway's alert log, nothing else (etcd's data, site copies and sockets are gone).
        if let root = left {
            #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["gw-a", "gw-b"])
            for gateway in ["gw-a", "gw-b"] {
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/" + gateway) == ["alerts.jsonl"])
            }
        }
    }

    /// The example site with its own free ports, its state in `folder`, and no metrics listener; `stale_after` is
    /// 2 s of real time at 20x, as in process (ScenarioRun.staleFloor), so a busy machine's stall is no site-wide
    /// sensor failure (lost devices are still caught by their request timeouts).
    static func writeSite(into folder: String) throws -> String {
        let path = folder + "/site.yaml"
        try SiteCopy(of: Repository.root + "/examples/site.yaml", speed: speed).write(to: path, state: folder)
        return path
    }

    static func start(_ arguments: [String], environment: [String: String], output: String) throws -> Process {
        FileManager.default.createFile(atPath: output, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = arguments
        process.environment = environment
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Waits for the process to exit, polling every 100 ms for at most `seconds`.
    static func waitForExit(_ process: Process, seconds: Double) async -> Bool {
        for _ in 0..<Int(seconds * 10) where process.isRunning {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return !process.isRunning
    }

    /// `83.661s write feed-a.start_exhaust (accepted)` lines as write observations.
    static func writes(_ output: String) -> [Observation] {
        output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 3, words[1] == "write", let at = DurationText.parse(String(words[0])) else {
                return nil
            }
            let target = words[2].split(separator: ".", maxSplits: 1)
            guard target.count == 2 else { return nil }
            return .write(String(target[0]), String(target[1]), at: at)
        }
    }
}

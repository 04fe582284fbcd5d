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
        let start = try #require(Self.scenarioStart(output), "no start line in the simulator's output:\n\(output)")
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
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = folder.path
        environment["NO_COLOR"] = "1"
        let demo = try Self.start(
            ["demo", "--scenario", "quiet-day", "--speed", "30"], environment: environment,
            output: folder.path + "/demo.out")
        defer { if demo.isRunning { demo.terminate() } }
        #expect(await Self.waitForExit(demo, seconds: 120), "the demo did not finish")
        let output = (try? String(contentsOfFile: folder.path + "/demo.out", encoding: .utf8)) ?? ""
        #expect(demo.terminationStatus == 0, "\(output)")
        #expect(output.contains("All 10 expectations hold."), "\(output)")
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "demo.out" }
        #expect(left.count == 1 && left[0].hasPrefix("firewatch-demo-"), "\(left)")
        if let directory = left.first {
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path + "/" + directory)
            #expect(files == ["alerts.jsonl"], "left behind: \(files)")
        }
    }

    /// The example site with its own free ports, its state in `folder`, and no metrics listener.
    static func writeSite(into folder: String) throws -> String {
        var text = try String(contentsOfFile: Repository.root + "/examples/site.yaml", encoding: .utf8)
        let configured = (15020...15038).filter { text.contains("port: \($0)") }
        for (port, free) in zip(configured, try freePorts(configured.count)) {
            text = text.replacingOccurrences(of: "port: \(port)", with: "port: \(free)")
        }
        text = text.replacingOccurrences(of: "alert_log: state/alerts.jsonl", with: "alert_log: \(folder)/alerts.jsonl")
        text = text.replacingOccurrences(
            of: "control_socket: state/control.sock", with: "control_socket: \(folder)/control.sock")
        text = text.replacingOccurrences(of: "metrics: 127.0.0.1:9780", with: "")
        // As in process (ScenarioRun.staleFloor): 2 s of real time at 20x, so a busy machine's stall is no
        // site-wide sensor failure; lost devices are still caught by their request timeouts.
        text = text.replacingOccurrences(of: "stale_after: 3s", with: "stale_after: 40s")
        text = text.replacingOccurrences(of: "./hooks/", with: "\(Repository.root)/examples/hooks/")
        let path = folder + "/site.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Ports the system hands out for 127.0.0.1 right now: all bound on port 0 at once (so no two are the same),
    /// then released for the simulator to take.
    static func freePorts(_ count: Int) throws -> [Int] {
        var descriptors: [Int32] = []
        defer { for fd in descriptors { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
            descriptors.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard bound else { throw CocoaError(.fileWriteUnknown) }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
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

    /// `scenario starts now: site time N ns (…)`.
    static func scenarioStart(_ output: String) -> Timestamp? {
        for line in output.split(separator: "\n") where line.hasPrefix("scenario starts now: site time ") {
            let rest = line.dropFirst("scenario starts now: site time ".count)
            if let nanoseconds = Int64(rest.prefix { $0.isNumber }) { return Timestamp(nanoseconds: nanoseconds) }
        }
        return nil
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

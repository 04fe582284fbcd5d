import FireSafety
import Foundation
import Gateway
import Simulator
import SiteConfig
import Yams

/// One campaign incident played by the real product: a `firewatch simulate` process serving the site over
/// Modbus/TCP on loopback and a `firewatch run` process watching it, on one compressed site time
/// (`FIREWATCH_SITE_CLOCK`). A restart is `kill -9` of the daemon and a new one on the same alert log; a
/// reload is SIGHUP. Wall-clock steps cannot be played this way (a scaled clock's wall is its site time) and
/// operator commands are not played (a scenario has none), so the plan must have neither.
public struct ProcessCampaignRun: Sendable {
    /// The `firewatch` binary to start both processes from.
    public var executable: String
    /// The site file as the user wrote it; the run plays a copy with free ports and its state in `directory`.
    public var siteFile: String
    public var plan: CampaignPlan
    /// Site seconds per real second.
    public var speed: Double
    /// Where the copy of the site, the scenario, the alert log and both processes' output go; must exist.
    public var directory: String

    /// The least real time a point may go unread before it is stale, as in process (`ScenarioRun.staleFloor`):
    /// compressing time must not compress the tolerance for a busy machine's scheduling.
    public static let staleFloor = Duration.seconds(2)

    public init(executable: String, siteFile: String, plan: CampaignPlan, speed: Double, directory: String) {
        self.executable = executable
        self.siteFile = siteFile
        self.plan = plan
        self.speed = speed
        self.directory = directory
    }

    public var alertLog: String { directory + "/alerts.jsonl" }
    public var simulatorOutput: String { directory + "/simulate.out" }
    public var daemonOutput: String { directory + "/run.err" }
    public var scenarioFile: String { directory + "/scenario.yaml" }
    public var site: String { directory + "/site.yaml" }

    /// Plays the plan to its end and judges the incident's zone from the alert log and the simulator's output.
    public func run() async throws -> ProcessRunReport {
        guard let zone = plan.incidentZone else { throw ProcessRunError("seed \(plan.seed) is not an incident") }
        if let step = plan.events.first(where: { if case .clockStep = $0.action { true } else { false } }) {
            throw ProcessRunError("seed \(plan.seed): \(step) cannot be played by separate processes")
        }
        try SiteCopy(of: siteFile, speed: speed).write(to: site, state: directory)
        try plan.scenario(site: site, speed: speed).yaml.write(toFile: scenarioFile, atomically: true, encoding: .utf8)
        let anchor = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
        let clock = ScaledSiteClock(speed: speed, anchor: anchor)
        var environment = ProcessInfo.processInfo.environment
        environment[ScaledSiteClock.environmentVariable] = "\(speed)@\(anchor.nanoseconds)"

        let began = ContinuousClock.now
        let simulatorLog = try OutputFile(simulatorOutput)
        let daemonLog = try OutputFile(daemonOutput)
        let simulator = try Self.start(
            executable,
            ["simulate", "--config", site, "--scenario", scenarioFile, "--wait-for-polls", "--seed", "\(plan.seed)"],
            environment: environment, output: simulatorLog)
        var daemon = try Self.start(
            executable, ["run", "--config", site, "--log-level", "warning"], environment: environment, output: daemonLog)
        var kills = 0
        var reloads = 0
        let start: Timestamp
        do {
            defer {
                for process in [simulator, daemon] where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            start = try await scenarioStart(simulator)
            for event in plan.events {
                switch event.action {
                case .restart(let after):
                    try await clock.sleep(until: start + event.at)
                    kill(daemon.processIdentifier, SIGKILL)
                    guard await Self.exited(daemon, within: .seconds(10)) else {
                        throw ProcessRunError("the daemon outlived kill -9 for 10 s")
                    }
                    kills += 1
                    try await clock.sleep(until: start + event.at + after)
                    daemon = try Self.start(
                        executable, ["run", "--config", site, "--log-level", "warning"], environment: environment,
                        output: daemonLog)
                case .reload:
                    try await clock.sleep(until: start + event.at)
                    // Before its handler is installed SIGHUP would end a daemon still starting; a ready one reloads.
                    guard await ready(daemon) else { throw ProcessRunError("the daemon was not ready to reload") }
                    kill(daemon.processIdentifier, SIGHUP)
                    reloads += 1
                default: continue
                }
            }
            // The simulator ends by itself a grace period after the scenario; bounded in real time.
            let limit = (plan.duration + SimulatorHost.scenarioGrace) / speed + .seconds(60)
            guard await Self.exited(simulator, within: limit) else {
                throw ProcessRunError("the simulator did not finish within \(limit) of real time")
            }
            // As a service manager stops it: the queued records are logged and `daemon.stopped` is the last line.
            daemon.terminate()
            guard await Self.exited(daemon, within: .seconds(30)) else {
                throw ProcessRunError("the daemon did not stop within 30 s of SIGTERM")
            }
        } catch let error as ProcessRunError {
            throw ProcessRunError("seed \(plan.seed): \(error.message); see \(directory)")
        }
        let records = try AlertRecord.readLog(at: alertLog)
        let lines = try String(contentsOfFile: simulatorOutput, encoding: .utf8).split(separator: "\n")
        let model = lines.compactMap { ModelEvent(hostLine: String($0)) }
        return ProcessRunReport(
            verdict: CampaignVerdict(zone: zone, records: records, model: model, start: start, duration: plan.duration),
            kills: kills, reloads: reloads,
            realDuration: ContinuousClock.now - began)
    }

    /// Site time at which the simulator started the scenario (`scenario starts now: site time N ns`).
    private func scenarioStart(_ simulator: Process) async throws -> Timestamp {
        for _ in 0..<1200 {
            let text = (try? String(contentsOfFile: simulatorOutput, encoding: .utf8)) ?? ""
            if let start = SimulatorHost.start(inOutput: text) { return start }
            guard simulator.isRunning else { throw ProcessRunError("the simulator exited before the scenario began") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ProcessRunError("the scenario did not begin within 60 s (no daemon polling?)")
    }

    /// Whether the daemon answers `status` with every device polled, within 30 s.
    private func ready(_ daemon: Process) async -> Bool {
        for _ in 0..<600 where daemon.isRunning {
            if let status = await Self.status(socket: directory + "/control.sock"), status.ready { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// What the daemon on `socket` says about itself, or nil if it does not answer within 2 s.
    static func status(socket: String) async -> DaemonStatus? {
        guard let response = try? await ControlClient.send(.status, socketPath: socket, timeout: .seconds(2)),
            let data = response.data
        else { return nil }
        return DaemonStatus(json: data)
    }

    static func start(
        _ executable: String, _ arguments: [String], environment: [String: String], output: OutputFile
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = output.handle
        process.standardError = output.handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func exited(_ process: Process, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !process.isRunning
    }
}

/// What a process run saw.
public struct ProcessRunReport: Sendable {
    public var verdict: CampaignVerdict
    /// Daemons killed with `kill -9` (and started again).
    public var kills: Int
    /// SIGHUPs sent.
    public var reloads: Int
    public var realDuration: Duration
}

public struct ProcessRunError: Error, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Output of the processes of one run, shared by the daemons that follow each other (appended, never truncated).
final class OutputFile: Sendable {
    let handle: FileHandle

    init(_ path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ProcessRunError("cannot write \(path)")
        }
        self.handle = handle
    }
}

/// A copy of a site file for processes that must not collide with anything else on the machine: every device on
/// a free loopback port (devices sharing a port keep sharing one), the alert log and control socket in the run's
/// folder, no metrics listener, and `stale_after` no shorter than `ProcessCampaignRun.staleFloor` of real time.
/// Everything beside the site file is linked into the folder, so relative paths (hooks, profiles) still resolve.
public struct SiteCopy: Sendable {
    public let path: String
    public let speed: Double

    public init(of path: String, speed: Double) {
        self.path = path
        self.speed = speed
    }

    /// Writes the copy at `copy` with its alert log and control socket in `folder` (which must exist). Devices named
    /// in `ports` get that port (a simulator already serving them); the others share free ones as they shared
    /// theirs. `adding` sets top-level sections (a `standby:` for one gateway of a pair).
    public func write(
        to copy: String, state folder: String, ports served: [String: Int] = [:], adding: [String: Node] = [:]
    ) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard case .mapping(var root)? = try Yams.compose(yaml: text) else {
            throw ProcessRunError("\(path) is not a mapping")
        }
        if case .mapping(var devices)? = root["devices"] {
            let ports = Set(devices.compactMap { $0.value["port"]?.int })
            let free = Dictionary(uniqueKeysWithValues: zip(ports.sorted(), try LoopbackPorts.free(ports.count)))
            for (name, device) in devices {
                guard case .mapping(var fields) = device, let port = fields["port"]?.int,
                    let to = name.string.flatMap({ served[$0] }) ?? free[port]
                else {
                    continue
                }
                fields["port"] = Node(String(to))
                devices[name] = .mapping(fields)
            }
            root["devices"] = .mapping(devices)
        }
        root["alert_log"] = Node(folder + "/alerts.jsonl")
        root["control_socket"] = Node(folder + "/control.sock")
        root["metrics"] = nil
        let floor = ProcessCampaignRun.staleFloor * speed
        let stale = root["stale_after"]?.string.flatMap { DurationText.parse($0) } ?? .zero
        if stale < floor { root["stale_after"] = Node(DurationText.format(floor)) }
        for (key, node) in adding { root[key] = node }
        try Yams.serialize(node: .mapping(root)).write(toFile: copy, atomically: true, encoding: .utf8)
        let source = (path as NSString).deletingLastPathComponent
        let base = source.isEmpty ? "." : source
        let name = (copy as NSString).lastPathComponent
        for entry in try FileManager.default.contentsOfDirectory(atPath: base) where entry != name {
            let link = folder + "/" + entry
            guard !FileManager.default.fileExists(atPath: link) else { continue }
            let target = (base as NSString).appendingPathComponent(entry)
            try FileManager.default.createSymbolicLink(
                atPath: link, withDestinationPath: URL(fileURLWithPath: target).standardizedFileURL.path)
        }
    }
}

/// Loopback TCP ports free right now.
public enum LoopbackPorts {
    /// Ports the system hands out for 127.0.0.1 right now: all bound on port 0 at once (so no two are the same),
    /// then released for a server to take.
    public static func free(_ count: Int) throws -> [Int] {
        var descriptors: [Int32] = []
        defer { for fd in descriptors { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ProcessRunError("no socket for a free port: errno \(errno)") }
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
            guard bound else { throw ProcessRunError("cannot bind 127.0.0.1:0: errno \(errno)") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

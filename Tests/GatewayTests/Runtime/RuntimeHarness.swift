import AlertLog
import FireSafety
import Foundation
import Gateway
import Modbus
import Synchronization
import FireWatchTesting

#if canImport(Glibc)
    import Glibc
#endif

/// One write a test device received: which device, table, first address and the values stored.
struct DeviceWrite: Sendable, Equatable {
    var device: String
    var table: Table
    var address: Int
    var values: [UInt16]
}

/// What the test devices were asked to write, and how the feed device misbehaves.
final class WriteRecorder: Sendable {
    let writes = Mutex<[DeviceWrite]>([])
    /// Coils the feed device refuses to keep (the write hook sets them back to 0): a write never confirmed.
    let revertFeedCoils = Mutex<Set<Int>>([])
    var all: [DeviceWrite] { writes.withLock { $0 } }
}

/// Lets a write hook reach the server it belongs to (the hook is made before the server exists).
final class ServerBox: Sendable {
    let server = Mutex<Server?>(nil)
    func set(_ table: Table, _ address: Int, _ values: [UInt16]) {
        let server = self.server.withLock { $0 }
        try? server?.set(table, address: address, values: values)
    }
}

/// A small site served by real `Modbus.Server`s on 127.0.0.1 (port 0), a site.yaml pointing at them, and the
/// daemon started as a subprocess (`firewatch run`, the executable of this build).
///
/// Devices (shipped profiles): `gas` (sensor/offgas), `temp1`, `temp2` (sensor/temperature-humidity), `smoke`
/// (smoke/aspirating), `panel` (suppression/releasing-panel, whose status turns `released` when its release coil
/// is written, as a real panel does) and `feed` (io/relay-outputs). One zone, `room`.
final class RuntimeHarness: Sendable {
    let directory: TemporaryDirectory
    let servers: [String: Server]
    let recorder = WriteRecorder()
    let siteFile: String
    let alertLog: String
    let socket: String

    /// - Parameter deviceSettings: extra settings per device, e.g. `["smoke": "poll_interval: 3s"]`.
    /// - Parameter alertLog: the `alert_log:` setting, relative to the site's folder.
    /// - Parameter notify: the `notify:` channels, one `name: { … }` per line.
    /// - Parameter extra: more top-level settings (e.g. `remind_every: 1s`).
    init(
        suppressDelay: String = "1s", pollInterval: String = "150ms", deviceSettings: [String: String] = [:],
        alertLog: String = "state/alerts.jsonl", notify: String = RuntimeHarness.defaultNotify, extra: String = ""
    ) throws {
        directory = try TemporaryDirectory()
        var servers: [String: Server] = [:]
        let recorder = self.recorder
        for name in ["gas", "temp1", "temp2", "smoke", "panel", "feed"] {
            let box = ServerBox()
            let server = try Server(
                host: "127.0.0.1", port: 0,
                onWrite: { _, table, address, values in
                    recorder.writes.withLock {
                        $0.append(DeviceWrite(device: name, table: table, address: address, values: values))
                    }
                    if name == "panel", table == .coil, address == 0, values.first == 1 {
                        box.set(.input, 0, [4])  // status: released
                    }
                    if name == "feed", table == .coil, recorder.revertFeedCoils.withLock({ $0.contains(address) }) {
                        box.set(.coil, address, [0])
                    }
                })
            box.server.withLock { $0 = server }
            servers[name] = server
        }
        self.servers = servers
        siteFile = directory.file("site.yaml")
        self.alertLog = directory.file(alertLog)
        socket = directory.file("state/control.sock")
        try FileManager.default.createDirectory(atPath: directory.file("state"), withIntermediateDirectories: true)
        // The failover hook of the isolate procedure: says what it was asked and leaves a mark.
        let hook = directory.file("failover")
        try "#!/bin/sh\necho \"failover $*\"\necho \"$*\" >> failover.ran\n".write(
            toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
        try normal()
        try siteYAML(
            suppressDelay: suppressDelay, pollInterval: pollInterval, deviceSettings: deviceSettings,
            alertLog: alertLog, notify: notify, extra: extra
        )
        .write(toFile: siteFile, atomically: true, encoding: .utf8)
    }

    static let defaultNotify = "pager: { command: [/bin/true], timeout: 2s }"

    /// - Parameter ports: where each device is reached, when not at its server (a proxy in front of it).
    /// - Parameter extra: more top-level settings, appended (e.g. a `standby:` section).
    func siteYAML(
        suppressDelay: String, pollInterval: String, deviceSettings: [String: String] = [:],
        alertLog: String = "state/alerts.jsonl", notify: String = RuntimeHarness.defaultNotify,
        controlSocket: String = "state/control.sock", ports: [String: Int] = [:], extra: String = ""
    ) -> String {
        func port(_ name: String) -> String {
            "\(ports[name] ?? servers[name]!.port)" + (deviceSettings[name].map { ", \($0)" } ?? "")
        }
        return """
            site: test-site
            poll_interval: \(pollInterval)
            stale_after: 2s
            timeout: 300ms
            alert_log: \(alertLog)
            control_socket: \(controlSocket)
            notify:
            \(notify.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            devices:
              gas:   { profile: sensor/offgas, host: 127.0.0.1, port: \(port("gas")) }
              temp1: { profile: sensor/temperature-humidity, host: 127.0.0.1, port: \(port("temp1")) }
              temp2: { profile: sensor/temperature-humidity, host: 127.0.0.1, port: \(port("temp2")) }
              smoke: { profile: smoke/aspirating, host: 127.0.0.1, port: \(port("smoke")) }
              panel: { profile: suppression/releasing-panel, host: 127.0.0.1, port: \(port("panel")) }
              feed:  { profile: io/relay-outputs, host: 127.0.0.1, port: \(port("feed")) }
            zones:
              room:
                signals:
                  temperature: { sources: [temp1.temperature, temp2.temperature], vote: 1oo2,
                                 alert: 35, alarm: 45, fire: 55 }
                  offgas:      { sources: [gas.offgas], alert: detected, alarm: detected }
                  smoke:       { sources: [smoke.level], alert: alert, alarm: action, fire: fire1 }
                isolate:
                  - command: feed.start_exhaust
                  - notify: [pager]
                  - run: [./failover, --from, room]
                    timeout: 10s
                suppress:
                  - command: feed.stop_hvac
                  - delay: \(suppressDelay)
                    abortable: true
                  - command: panel.release
                power_cut:
                  - command: feed.open_feed_1
                  - delay: 200ms
                  - command: feed.open_feed_2
            \(extra)
            """
    }

    /// Every device reads normal: no gas, 22 °C, no smoke, panel normal, every relay off.
    func normal() throws {
        try set("gas", .input, 0, [0, 0, 0])
        try set("temp1", .input, 1, [220, 400])
        try set("temp2", .input, 1, [220, 400])
        try set("smoke", .input, 0, [0, 0, 0, 0])
        try set("panel", .input, 0, [0, 0])
        try set("panel", .discrete, 0, [0, 0, 0])
        try set("feed", .coil, 0, [0, 0, 0, 0, 0, 0])
    }

    func set(_ device: String, _ table: Table, _ address: Int, _ values: [UInt16]) throws {
        try servers[device]!.set(table, address: address, values: values)
    }

    func writes(to device: String) -> [DeviceWrite] {
        recorder.writes.withLock { $0.filter { $0.device == device } }
    }

    // MARK: - The daemon

    /// Starts `firewatch run --config site.yaml` (or `config`) with `arguments` appended.
    func start(
        _ arguments: [String] = [], environment: [String: String] = [:], config: String? = nil
    ) throws -> DaemonProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = ["run", "--config", config ?? siteFile] + arguments
        var env = ProcessInfo.processInfo.environment
        env["FIREWATCH_DEVICES"] = Repository.file("devices")
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "WATCHDOG_USEC")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stderrPath = directory.file("daemon-\(UUID().uuidString.prefix(8)).stderr")
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        return DaemonProcess(process: process, stderrPath: stderrPath)
    }

    /// Runs the CLI (`firewatch ARGS…`) to completion; returns its exit status, stdout and stderr.
    func cli(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let run: ProgramOutput = try runProgram(try FirewatchExecutable.required(), arguments)
        return (run.status, run.stdout, run.stderr)
    }

    /// Waits until the daemon answers `status` with every device polled once.
    @discardableResult
    func waitReady(limit: Duration = .seconds(20), socket: String? = nil) async -> DaemonStatus? {
        let socket = socket ?? self.socket
        let deadline = ContinuousClock.now + limit
        for _ in 0..<1000 {
            if let response = try? await ControlClient.send(.status, socketPath: socket, timeout: .seconds(2)),
                let data = response.data, let status = DaemonStatus(json: data), status.ready
            {
                return status
            }
            if ContinuousClock.now > deadline { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Waits until every device has been polled `count` more times (a bounded "give it time to act wrongly").
    @discardableResult
    func waitForPolls(_ count: Int, limit: Duration = .seconds(20)) async -> Bool {
        guard let before = await status() else { return false }
        let target = Dictionary(uniqueKeysWithValues: before.devices.map { ($0.name, $0.polls + count) })
        let deadline = ContinuousClock.now + limit
        for _ in 0..<1000 {
            if let now = await status(), now.devices.allSatisfy({ $0.polls >= target[$0.name] ?? 0 }) { return true }
            if ContinuousClock.now > deadline { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The daemon's status now.
    func status(socket: String? = nil) async -> DaemonStatus? {
        let socket = socket ?? self.socket
        guard let response = try? await ControlClient.send(.status, socketPath: socket, timeout: .seconds(5)),
            let data = response.data
        else { return nil }
        return DaemonStatus(json: data)
    }

    // MARK: - The alert log

    /// Every record of the log (all files, oldest first), as parsed members.
    func records(log: String? = nil) -> [[String: JSONValue]] {
        ((try? AlertLogSet.discover(livePath: log ?? alertLog).readLines()) ?? []).compactMap(\.fields)
    }

    /// Waits (at most `limit`, polling every 50 ms) until `predicate` holds for the log's records.
    @discardableResult
    func waitFor(
        _ what: String, limit: Duration = .seconds(20), log: String? = nil,
        _ predicate: ([[String: JSONValue]]) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<10_000 {
            if predicate(records(log: log)) { return true }
            if ContinuousClock.now > deadline { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        print(
            "gave up waiting for \(what); records:\n"
                + records(log: log).map {
                    JSONWriter.serialize(.object($0.sorted { $0.key < $1.key }.map { JSONMember($0.key, $0.value) }))
                }.joined(separator: "\n"))
        return false
    }

    /// Waits until the log has a record matching every given member.
    @discardableResult
    func waitForRecord(_ members: [String: String], limit: Duration = .seconds(20)) async -> Bool {
        await waitFor("\(members)", limit: limit) { records in records.contains { Self.matches($0, members) } }
    }

    static func matches(_ record: [String: JSONValue], _ members: [String: String]) -> Bool {
        members.allSatisfy { key, value in
            if let text = record[key]?.stringValue { return text == value }
            if let number = record[key]?.intValue { return String(number) == value }
            return false
        }
    }

    func count(_ members: [String: String]) -> Int {
        records().filter { Self.matches($0, members) }.count
    }

    /// True when the log's hash chain verifies across every file.
    var chainVerifies: Bool {
        let report = chainReport(logAt: alertLog).report
        if case .intact = report { return true }
        print("chain: \(report)")
        return false
    }

    func remove() {
        for server in servers.values { server.stop() }
        directory.remove()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The daemon subprocess.
final class DaemonProcess: Sendable {
    let process: Process
    let stderrPath: String

    init(process: Process, stderrPath: String) {
        self.process = process
        self.stderrPath = stderrPath
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits at most `limit` for the process to exit; its status, or nil if it is still running.
    func waitExit(limit: Duration = .seconds(15)) async -> (status: Int32, signalled: Bool)? {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<10_000 {
            if !process.isRunning {
                return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
            }
            if ContinuousClock.now > deadline { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// SIGTERM, then SIGKILL if it has not gone within the limit; for cleanup.
    func stop() async {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if await waitExit(limit: .seconds(10)) == nil {
            signal(SIGKILL)
            _ = await waitExit(limit: .seconds(5))
        }
    }
}


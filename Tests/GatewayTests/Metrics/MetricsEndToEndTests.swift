import Foundation
import Gateway
import Modbus
import Testing
import FireWatchTesting

private let gasProfile = """
    name: Test off-gas detector
    source: "test fixture"
    points:
      offgas: { table: discrete, address: 0, type: bool }
      lfl:    { table: input, address: 0, type: uint16, scale: 0.1, unit: "%", range: [0, 100] }
    """

private let relayProfile = """
    name: Test relay module
    source: "test fixture"
    points:
      exhaust: { table: coil, address: 0, type: bool }
    commands:
      start_exhaust: { table: coil, address: 0, value: true, verify: { point: exhaust, equals: true, within: 2s } }
    """

/// A daemon subprocess (`firewatch run`) over two real Modbus servers, with its metrics on a free port and one
/// webhook channel to a local receiver.
final class DaemonFixture {
    let gas: Server
    let relay: Server
    let metricsPort: Int
    let site: ConfigSiteFixture
    let process = Process()
    let stderrPath: String

    init(webhookPort: Int) throws {
        gas = try Server()
        relay = try Server()
        try gas.set(.discrete, address: 0, values: [0])
        try gas.set(.input, address: 0, values: [123])  // 12.3 % LFL
        metricsPort = try freeLoopbackPort()
        let text = """
            site: e2e
            poll_interval: 200ms
            stale_after: 3s
            alert_log: state/alerts.jsonl
            control_socket: state/control.sock
            metrics: 127.0.0.1:\(metricsPort)
            notify:
              hook: { webhook: "http://127.0.0.1:\(webhookPort)/hook", timeout: 2s }
            devices:
              gas:   { profile: test/gas, host: 127.0.0.1, port: \(gas.port) }
              relay: { profile: test/relay, host: 127.0.0.1, port: \(relay.port) }
            zones:
              room:
                signals:
                  offgas: { sources: [gas.offgas], alert: true, alarm: true }
                isolate:
                  - command: relay.start_exhaust
                  - notify: [hook]
            """
        site = try ConfigSiteFixture(site: text, profiles: ["test/gas": gasProfile, "test/relay": relayProfile])
        stderrPath = site.folder + "/daemon.stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = ["run", "--config", site.sitePath]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var alertLogLines: [String] {
        ((try? String(contentsOfFile: site.folder + "/state/alerts.jsonl", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls `check` up to 600 times, 100 ms apart (60 s at most: the machine may be loaded), until it returns a value.
    func eventually<T>(_ what: String, _ check: () async throws -> T?) async throws -> T {
        for _ in 0..<600 {
            if !process.isRunning { throw TestFailure("daemon exited while waiting for \(what):\n\(stderr)") }
            if let value = try? await check() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("timed out waiting for \(what); daemon stderr:\n\(stderr)")
    }

    func metrics() async throws -> [Sample] {
        let (status, body) = try await httpGet(port: metricsPort, "/metrics")
        guard status == 200 else { throw TestFailure("/metrics answered \(status)") }
        return parseExposition(body)
    }

    func zoneState(_ zone: String) async throws -> String? {
        let (_, body) = try await httpGet(port: metricsPort, "/status")
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let zones = json?["zones"] as? [[String: Any]] ?? []
        return zones.first { $0["name"] as? String == zone }?["state"] as? String
    }

    /// SIGTERM, then up to 10 s for a graceful exit, then SIGKILL.
    func stop() async {
        if process.isRunning { process.terminate() }
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        gas.stop()
        relay.stop()
    }
}

@Suite(
    "Metrics end to end", .serialized)
struct MetricsEndToEndTests {
    @Test("a running daemon: /metrics matches the devices, /status and the webhook follow an alarm")
    func alarmThroughMetricsStatusAndWebhook() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(200)], log: log) { port in
            let daemon = try DaemonFixture(webhookPort: port)
            do {
                let before = try await daemon.eventually("a first poll in /metrics") { () async throws -> [Sample]? in
                    let samples = try await daemon.metrics()
                    return samples.value("firewatch_device_up", ["device": "gas"]) == 1
                        && samples.value("firewatch_device_up", ["device": "relay"]) == 1 ? samples : nil
                }
                #expect(before.value("firewatch_point_value", ["device": "gas", "point": "lfl"]) == 12.3)
                #expect(before.value("firewatch_point_value", ["device": "gas", "point": "offgas"]) == 0)
                #expect(before.value("firewatch_point_value", ["device": "relay", "point": "exhaust"]) == 0)
                #expect(before.value("firewatch_build_info", ["version": BuildInfo.version, "site": "e2e"]) == 1)
                #expect(try await httpGet(port: daemon.metricsPort, "/healthz").status == 200)

                try daemon.gas.set(.discrete, address: 0, values: [1])
                let state = try await daemon.eventually("zone room isolating in /status") {
                    () async throws -> String? in
                    let state = try await daemon.zoneState("room")
                    return state == "isolating" || state == "isolated" ? state : nil
                }
                #expect(state == "isolating" || state == "isolated")
                let bodies = await log.wait(for: 1, "/hook ")
                let alarm = try #require(
                    bodies.compactMap { body -> [String: Any]? in
                        try? JSONSerialization.jsonObject(with: Data(body.dropFirst("/hook ".count).utf8))
                            as? [String: Any]
                    }.first { $0["zone"] as? String == "room" && $0["severity"] as? String == "alarm" })
                #expect(alarm["site"] as? String == "e2e")
                #expect(alarm["event"] as? String == "zone.state")
                let after = try await daemon.eventually("the exhaust read back in /metrics") {
                    () async throws -> [Sample]? in
                    let samples = try await daemon.metrics()
                    return samples.value("firewatch_point_value", ["device": "relay", "point": "exhaust"]) == 1
                        ? samples : nil
                }
                #expect(after.value("firewatch_point_value", ["device": "gas", "point": "offgas"]) == 1)
                #expect(try daemon.relay.get(.coil, address: 0, count: 1) == [1])
                #expect(
                    after.value(
                        "firewatch_steps_total", ["zone": "room", "procedure": "isolate", "outcome": "succeeded"])
                        ?? 0 >= 1)
            } catch {
                await daemon.stop()
                throw error
            }
            await daemon.stop()
        }
    }

    @Test("a webhook answering 500 becomes a notify.failed record, and the isolate write still happens")
    func failingWebhookDoesNotBlockActuation() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(500)], log: log) { port in
            let daemon = try DaemonFixture(webhookPort: port)
            do {
                _ = try await daemon.eventually("a first poll") { () async throws -> Bool? in
                    try await daemon.metrics().value("firewatch_device_up", ["device": "gas"]) == 1 ? true : nil
                }
                try daemon.gas.set(.discrete, address: 0, values: [1])
                let lines = try await daemon.eventually("a notify.failed record") { () -> [String]? in
                    let lines = daemon.alertLogLines
                    return lines.contains { $0.contains("\"event\":\"notify.failed\"") } ? lines : nil
                }
                #expect(try daemon.relay.get(.coil, address: 0, count: 1) == [1])
                let written = lines.firstIndex {
                    $0.contains("\"event\":\"step.succeeded\"") && $0.contains("\"procedure\":\"isolate\"")
                        && $0.contains("\"step\":0")
                }
                let failed = lines.firstIndex { $0.contains("\"event\":\"notify.failed\"") }
                #expect(written != nil)
                if let written, let failed { #expect(written < failed, "the write was logged before the failure") }
                let metrics = try await daemon.metrics()
                #expect(metrics.value("firewatch_notification_failures_total", ["channel": "hook"]) ?? 0 >= 1)
                #expect(log.matching("/hook ").count >= 3)
            } catch {
                await daemon.stop()
                throw error
            }
            await daemon.stop()
        }
    }
}

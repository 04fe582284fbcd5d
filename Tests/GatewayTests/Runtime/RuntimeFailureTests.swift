import FireSafety
import FireWatchTesting
import Foundation
import Gateway
import Modbus
import ServiceLifecycle
import SiteConfig
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Trouble, failed writes and operator refusals (same serialized suite as the other end-to-end tests).
extension RuntimeEndToEndTests {
    @Test func commLossOutOfRangeAndStaleAreTroubleWithoutActuation() async throws {
        // smoke may take 5 s to answer; readings go stale after 2 s.
        let site = try RuntimeHarness(deviceSettings: ["smoke": "timeout: 5s"])
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil, "\(daemon.stderr)")
        // -50 °C: below the profile's range → invalid (above its top would count as the top, i.e. evidence).
        try site.set("temp1", .input, 1, [UInt16(bitPattern: -500)])
        #expect(await site.waitForRecord(["event": "point.invalid", "device": "temp1", "point": "temperature"]))
        site.servers["gas"]!.stop()
        #expect(await site.waitForRecord(["event": "device.comm_lost", "device": "gas"]))
        site.servers["smoke"]!.setFault(.delay(.seconds(3)))  // answers, but too late to stay fresh
        #expect(await site.waitForRecord(["event": "point.stale", "device": "smoke", "point": "level"]))
        // Many failed polls of gas later, the loss is still recorded once.
        #expect(site.count(["event": "device.comm_lost", "device": "gas"]) == 1)
        let status = try #require(await site.status())
        let room = try #require(status.zones.first)
        #expect(room.trouble)
        #expect(room.state == "normal")
        #expect(status.devices.first { $0.name == "gas" }?.up == false)
        // Trouble never actuates.
        #expect(site.recorder.all.isEmpty)
        #expect(site.count(["event": "step.started"]) == 0)
        site.servers["smoke"]!.setFault(nil)
        // The gas detector comes back on the same port: restored, once.
        let gasPort = site.servers["gas"]!.port
        let back = try Server(host: "127.0.0.1", port: gasPort)
        defer { back.stop() }
        try back.set(.input, address: 0, values: [0, 0, 0])
        #expect(await site.waitForRecord(["event": "device.comm_restored", "device": "gas"], limit: .seconds(30)))
        #expect(await site.waitForPolls(3))
        #expect(site.count(["event": "device.comm_restored", "device": "gas"]) == 1)
        #expect(site.count(["event": "device.comm_lost", "device": "gas"]) == 1)
    }

    @Test func writeNeverConfirmedIsRetriedThenFailed() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        site.recorder.revertFeedCoils.withLock { $0 = [0] }  // the exhaust relay drops back at once
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        try site.set("gas", .input, 0, [1])
        #expect(
            await site.waitForRecord(
                ["event": "step.failed", "procedure": "isolate", "step": "0"], limit: .seconds(30)))
        let failed = site.records().first { RuntimeHarness.matches($0, ["event": "step.failed"]) }
        let detail = failed?["detail"]?.stringValue ?? ""
        #expect(detail.contains("not confirmed after 3 attempts"))
        #expect(detail.contains("feed.exhaust = false"))
        #expect(site.writes(to: "feed").filter { $0.address == 0 }.count == 3)
        // The procedure goes on with its next step.
        #expect(await site.waitForRecord(["event": "step.succeeded", "procedure": "isolate", "step": "1"]))
    }

    @Test func resetIsRefusedWhileTheCauseIsPresent() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        try site.set("gas", .input, 0, [1])
        #expect(await site.waitForRecord(["event": "zone.state", "to": "isolated"]))
        let reset = try site.cli(["reset", "room", "--socket", site.socket])
        #expect(reset.status == 1)
        #expect(reset.stderr.contains("refused"))
        #expect(reset.stderr.contains("still present"))
        #expect(await site.waitForRecord(["event": "operator.reset", "outcome": "refused", "uid": "\(getuid())"]))
        // Human status names the zone, its state and its cause.
        let status = try site.cli(["status", "--socket", site.socket])
        #expect(status.status == 0)
        #expect(status.stdout.contains("zone room: isolated"))
        #expect(status.stdout.contains("offgas: alarm"))
        // Once the gas has cleared, the same reset is accepted.
        try site.set("gas", .input, 0, [0])
        #expect(await site.waitForRecord(["event": "signal.level", "signal": "offgas", "to": "normal"]))
        let accepted = try site.cli(["reset", "room", "--socket", site.socket])
        #expect(accepted.status == 0)
        #expect(await site.waitForRecord(["event": "operator.reset", "outcome": "accepted"]))
        // Inhibit and enable, as an operator types them.
        let inhibit = try site.cli([
            "inhibit", "room", "--for", "2h", "--reason", "detector swap", "--socket", site.socket,
        ])
        #expect(inhibit.status == 0, "\(inhibit.stderr)")
        #expect(
            await site.waitForRecord(["event": "operator.inhibit", "reason": "detector swap", "outcome": "accepted"]))
        let json = try site.cli(["status", "--json", "--config", site.siteFile])  // the socket found from the site
        #expect(json.stdout.contains(#""inhibit_reason":"detector swap""#))
        #expect(try site.cli(["enable", "room", "--socket", site.socket]).status == 0)
        #expect(try site.cli(["ack", "attic", "--socket", site.socket]).status == 1)

        daemon.signal(SIGTERM)
        #expect(await daemon.waitExit()?.status == 0)
        let gone = try site.cli(["status", "--socket", site.socket])
        #expect(gone.status == 69)
        #expect(gone.stderr.contains("not running"))
    }
}

extension RuntimeEndToEndTests {
    @Test func dryRunDecidesAndLogsButWritesNothing() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let daemon = try site.start(["--dry-run"])
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady()?.dryRun == true)
        try site.set("gas", .input, 0, [1])
        #expect(await site.waitForRecord(["event": "step.skipped", "procedure": "isolate", "step": "1"]))
        #expect(site.count(["event": "step.skipped", "procedure": "isolate", "step": "0"]) == 1)
        #expect(site.count(["event": "step.succeeded"]) == 0)
        #expect(site.recorder.all.isEmpty)
    }

    @Test func theDaemonRunsInProcessOnAScaledClockAndStopsGracefully() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let loaded = try SiteLoader(shippedDevices: Repository.root + "/devices").load(path: site.siteFile)
        let observer = CountingObserver()
        var builder = Daemon.Builder(
            site: loaded,
            options: DaemonOptions(
                clock: ScaledSiteClock(speed: 4), systemd: SystemdNotifier(environment: [:]), handleSignals: false))
        builder.observer = observer
        let daemon = try builder.build()
        // A service made after the daemon (a metrics server would serve daemon.status()) runs and stops with it.
        let extra = ClosureService {
            _ = await daemon.status()
            try await gracefulShutdown()
            observer.bump("extra stopped")
        }
        let running = Task { try await daemon.run(alongside: [extra]) }
        #expect(await site.waitReady() != nil)
        try site.set("gas", .input, 0, [1])
        #expect(await site.waitForRecord(["event": "zone.state", "to": "isolated"]))
        let status = await daemon.status()
        #expect(status.zones.first?.state == "isolated")
        let refused = await daemon.submit(.reset(zone: "room", uid: "test"))
        #expect(refused.ok == false && refused.error == "refused")
        let unknown = await daemon.submit(.ack(zone: "attic", uid: "test"))
        #expect(unknown.error == "unknown_zone")
        await daemon.shutdown()
        try await running.value
        #expect(site.records().last?["event"]?.stringValue == "daemon.stopped")
        // The observer (metrics) heard about polls, availability, steps, records and evaluations.
        let counts = observer.counts.withLock { $0 }
        #expect(counts["poll", default: 0] >= 6)
        #expect(counts["availability", default: 0] == 6)
        #expect(counts["step", default: 0] == 3)
        // The writer's own lines (rotation, checkpoints) do not pass through the journal.
        let own = site.count(["event": "log.rotated"]) + site.count(["event": "state.checkpoint"])
        #expect(counts["record", default: 0] == site.records().count - own)
        #expect(counts["evaluated", default: 0] > 0)
        // Zone status is built for the observer only when something changed (a record), not on every poll.
        #expect(counts["evaluated", default: 0] <= counts["record", default: 0] + 1)
        #expect(counts["extra stopped"] == 1)
        #expect(site.chainVerifies)
    }
}

extension RuntimeEndToEndTests {
    @Test func sigtermLetsTheStepUnderWayFinishAndLogsItBeforeStopping() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        site.recorder.revertFeedCoils.withLock { $0 = [0] }  // the step takes its three attempts
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        try site.set("gas", .input, 0, [1])
        #expect(await site.waitForRecord(["event": "step.started", "procedure": "isolate", "step": "0"]))
        daemon.signal(SIGTERM)
        let exit = await daemon.waitExit(limit: .seconds(30))
        #expect(exit?.status == 0 && exit?.signalled == false)
        let events = site.records().compactMap { $0["event"]?.stringValue }
        #expect(events.last == "daemon.stopped")
        #expect(events.contains("step.failed"))
        #expect(site.writes(to: "feed").filter { $0.address == 0 }.count == 3)
        #expect(site.chainVerifies)
    }
}

/// Counts what the daemon tells its observer.
final class CountingObserver: RuntimeObserver {
    let counts = Mutex<[String: Int]>([:])
    func bump(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }
    func pollFinished(device: String, duration: Duration, error: ModbusError?, at: Timestamp) { bump("poll") }
    func deviceAvailability(device: String, up: Bool, at: Timestamp) { bump("availability") }
    func stepFinished(zone: String, procedure: ProcedureKind, index: Int, outcome: StepOutcome) { bump("step") }
    func recordAppended(_ record: AlertRecord, fsyncLatency: Duration, durable: Bool) { bump("record") }
    func engineEvaluated(zones: [ZoneStatus], at: Timestamp) { bump("evaluated") }
}

extension RuntimeEndToEndTests {
    @Test func anUnwritableAlertLogStillActsAndSaysSo() async throws {
        // The log's folder is a regular file: the log can never be opened.
        let site = try RuntimeHarness(alertLog: "blocked/alerts.jsonl")
        defer { site.remove() }
        try "not a folder".write(toFile: site.directory.file("blocked"), atomically: true, encoding: .utf8)
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil, "\(daemon.stderr)")
        try site.set("gas", .input, 0, [1])
        // Actuation does not wait for the disk.
        for _ in 0..<400 {
            if !site.writes(to: "feed").isEmpty { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(site.writes(to: "feed").map(\.address) == [0])
        let status = try #require(await site.status())
        #expect(status.alertLog.degraded)
        #expect(status.alertLog.backlog > 0)
        #expect(status.summary.contains("ALERT LOG NOT DURABLE"))
        #expect(daemon.stderr.contains("alert log"))
    }
}

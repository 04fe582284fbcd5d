import FireSafety
import Foundation
import Gateway
import Modbus
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `firewatch run` as a subprocess against real Modbus servers on 127.0.0.1. Serialized: each test runs a
/// daemon and six servers, and the machine has two cores.
@Suite(.serialized)
struct RuntimeEndToEndTests {
    /// A gateway so short of CPU that it stops for 2.5 s (SIGSTOP, then SIGCONT) polls every device late when it
    /// runs again: one `poll.late` (trouble, naming a device), the lateness in the metrics, `POLLING LATE` in `status`,
    /// and `poll.on_time` once ten of the longest poll interval pass without a late poll.
    @Test func latePollingIsTroubleThenClears() async throws {
        let metricsPort = try freeLoopbackPort()
        // One device at 1 s makes the episode last at least 10 s after the last late poll: time to read `status`.
        let site = try RuntimeHarness(
            deviceSettings: ["smoke": "poll_interval: 1s"], extra: "metrics: 127.0.0.1:\(metricsPort)")
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        let devices = try #require(await site.waitReady(), "the daemon did not get ready\n\(daemon.stderr)").devices
        #expect(await site.waitForPolls(2))
        // 2.5 s: whatever the phase, the 1 s device's next poll starts at least 1.5 s after its tick.
        daemon.signal(SIGSTOP)
        try await Task.sleep(for: .milliseconds(2500))
        daemon.signal(SIGCONT)
        #expect(await site.waitForRecord(["event": "poll.late", "severity": "trouble"]), "\(daemon.stderr)")
        let late = try #require(site.records().first { $0["event"]?.stringValue == "poll.late" })
        #expect(late["message"]?.stringValue?.hasPrefix("POLLING LATE: ") == true, "\(late)")
        #expect(devices.map(\.name).contains(late["device"]?.stringValue ?? ""), "\(late)")
        let status = try site.cli(["status", "--socket", site.socket])
        #expect(status.stdout.contains("POLLING LATE: polls start a whole poll interval or more"), "\(status.stdout)")
        #expect(await site.status()?.pollingLate == true)
        let samples = parseExposition(try await httpGet(port: metricsPort, "/metrics").body)
        #expect(samples.value("firewatch_polling_late") == 1)
        let polls = try #require(samples.value("firewatch_poll_lateness_seconds_count"))
        let underASecond = try #require(samples.value("firewatch_poll_lateness_seconds_bucket", ["le": "1.0"]))
        #expect(polls - underASecond >= Double(devices.count), "every device's first poll after the stop was late")

        #expect(await site.waitForRecord(["event": "poll.on_time"], limit: .seconds(20)))
        let onTime = try #require(site.records().first { $0["event"]?.stringValue == "poll.on_time" })
        let count = Int(onTime["detail"]?.stringValue?.split(separator: " ").first ?? "") ?? 0
        #expect(count >= devices.count, "\(onTime)")
        let events = site.records().compactMap { $0["event"]?.stringValue }
        #expect(events.firstIndex(of: "poll.late")! < events.firstIndex(of: "poll.on_time")!)
        let after = parseExposition(try await httpGet(port: metricsPort, "/metrics").body)
        #expect(after.value("firewatch_polling_late") == 0)
        await daemon.stop()
        #expect(site.chainVerifies)
    }

    @Test func offGasIsolatesAndWritesNothingElse() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitForRecord(["event": "daemon.started"]))
        try site.set("gas", .input, 0, [1])  // off-gas detected
        #expect(
            await site.waitForRecord([
                "event": "step.succeeded", "procedure": "isolate", "step": "0", "zone": "room",
            ]))
        #expect(await site.waitForRecord(["event": "zone.state", "to": "isolated"]))
        // The failover hook ran (argv, no shell) in the site's folder; its exit status and output are logged.
        let hook = site.records().first {
            RuntimeHarness.matches($0, ["event": "step.succeeded", "procedure": "isolate", "step": "2"])
        }
        #expect(hook?["detail"]?.stringValue == "exit status 0; output: failover --from room")
        #expect(FileManager.default.fileExists(atPath: site.directory.file("failover.ran")))
        // Isolation writes only the exhaust relay: no panel write, no HVAC, no feed trip.
        #expect(site.writes(to: "panel").isEmpty)
        #expect(site.writes(to: "feed").map(\.address) == [0])
        #expect(try site.servers["feed"]!.get(.coil, address: 0, count: 4) == [1, 0, 0, 0])
        // The step record says what was read back.
        let succeeded = site.records().first { RuntimeHarness.matches($0, ["event": "step.succeeded", "step": "0"]) }
        #expect(succeeded?["detail"]?.stringValue?.contains("read back feed.exhaust = true") == true)
        // The decision was logged before the write: step.started precedes step.succeeded.
        let events = site.records().compactMap { $0["event"]?.stringValue }
        #expect(events.firstIndex(of: "step.started")! < events.firstIndex(of: "step.succeeded")!)

        daemon.signal(SIGTERM)
        let exit = await daemon.waitExit()
        #expect(exit?.status == 0 && exit?.signalled == false)
        #expect(site.records().last?["event"]?.stringValue == "daemon.stopped")
        #expect(site.chainVerifies)
    }

    @Test func twoKindsOfFireSuppressThenCutPowerInOrder() async throws {
        let site = try RuntimeHarness(suppressDelay: "500ms")
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitForRecord(["event": "daemon.started"]))
        try site.set("temp1", .input, 1, [580])  // 58 °C: fire
        try site.set("smoke", .input, 0, [3])  // fire1
        #expect(
            await site.waitForRecord(
                ["event": "step.succeeded", "procedure": "power_cut", "step": "2"], limit: .seconds(30)))
        // Feed relays in procedure order: exhaust (isolate), HVAC off (suppress), feed 1, feed 2 (power cut);
        // the panel's release comes after HVAC off and before the first feed trip.
        let order = site.recorder.all.map { "\($0.device).\($0.address)" }
        #expect(order == ["feed.0", "feed.1", "panel.0", "feed.2", "feed.3"])
        // The release waited for the pre-discharge delay to end.
        let records = site.records()
        let delayEnd = records.firstIndex {
            RuntimeHarness.matches($0, ["event": "step.succeeded", "procedure": "suppress", "step": "1"])
        }
        let releaseStart = records.firstIndex {
            RuntimeHarness.matches($0, ["event": "step.started", "procedure": "suppress", "step": "2"])
        }
        #expect(delayEnd != nil && releaseStart != nil && delayEnd! < releaseStart!)
        #expect(await site.waitForRecord(["event": "zone.state", "to": "power_cut"]))
    }

    @Test func oneKindOfFireEvidenceDoesNotSuppress() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitForRecord(["event": "daemon.started"]))
        try site.set("temp1", .input, 1, [580])
        try site.set("temp2", .input, 1, [590])
        #expect(await site.waitForRecord(["event": "zone.state", "to": "isolated"]))
        // Give the engine ten more poll cycles to (wrongly) escalate, then check it did not.
        #expect(await site.waitForPolls(10))
        #expect(site.count(["procedure": "suppress"]) == 0)
        #expect(site.writes(to: "panel").isEmpty)
        #expect(site.writes(to: "feed").map(\.address) == [0])
    }
}

import AlertLog
import FireSafety
import FireWatchTesting
import Foundation
import Gateway
import Modbus
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Restarts, rotation, reloads and systemd (same serialized suite as the other end-to-end tests).
extension RuntimeEndToEndTests {
    @Test func killDuringTheCountdownResumesItAndTheZoneStaysLatched() async throws {
        let site = try RuntimeHarness(suppressDelay: "60s")
        defer { site.remove() }
        let daemon = try site.start()
        #expect(await site.waitReady() != nil)
        try site.set("temp1", .input, 1, [580])
        try site.set("smoke", .input, 0, [3])
        #expect(await site.waitForRecord(["event": "step.started", "procedure": "suppress", "step": "1"]))
        daemon.signal(SIGKILL)
        #expect(await daemon.waitExit()?.signalled == true)

        let restarted = try site.start()
        defer { Task { await restarted.stop() } }
        #expect(await site.waitForRecord(["event": "step.resumed", "procedure": "suppress", "step": "1"]))
        let started = site.records().last { RuntimeHarness.matches($0, ["event": "daemon.started"]) }
        #expect((started?["records_read"]?.intValue ?? 0) > 0)
        let status = try #require(await site.waitReady())
        #expect(status.zones.first?.state == "suppressing")
        #expect(status.zones.first?.latched == "fire")
        #expect(status.zones.first?.running?.index == 1)
        // Nothing was released: the countdown is still running; the operator aborts it.
        #expect(site.writes(to: "panel").isEmpty)
        let abort = try site.cli(["abort", "room", "--socket", site.socket])
        #expect(abort.status == 0)
        #expect(await site.waitForRecord(["event": "step.aborted", "procedure": "suppress"]))
        #expect(site.writes(to: "panel").isEmpty)
        restarted.signal(SIGTERM)
        #expect(await restarted.waitExit()?.status == 0)
        #expect(site.chainVerifies)
    }

    @Test func theChainVerifiesAcrossRestartsAndRotation() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        for round in 0..<2 {
            let daemon = try site.start(["--alert-log-max-bytes", "3000"])
            #expect(await site.waitReady() != nil)
            try site.set("gas", .input, 0, [1])
            #expect(
                await site.waitFor("isolation \(round)") { records in
                    records.filter { RuntimeHarness.matches($0, ["event": "zone.state", "to": "isolated"]) }.count
                        > round
                })
            try site.set("gas", .input, 0, [0])
            #expect(
                await site.waitFor("gas clear \(round)") { records in
                    records.filter {
                        RuntimeHarness.matches($0, ["event": "signal.level", "signal": "offgas", "to": "normal"])
                    }
                    .count > round
                })
            let reset = try site.cli(["reset", "room", "--socket", site.socket])
            #expect(reset.status == 0, "\(reset.stderr)")
            daemon.signal(SIGTERM)
            #expect(await daemon.waitExit()?.status == 0)
        }
        #expect(AlertLogSet.discover(livePath: site.alertLog).existingPathsOldestFirst.count > 2)
        #expect(site.count(["event": "log.rotated"]) > 0)
        #expect(site.count(["event": "daemon.stopped"]) == 2)
        #expect(site.chainVerifies)
    }

    @Test func sighupWithABrokenConfigKeepsRunningAndSaysWhy() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        let good = try String(contentsOfFile: site.siteFile, encoding: .utf8)
        try good.replacingOccurrences(of: "vote: 1oo2", with: "vote: 5oo7")
            .write(toFile: site.siteFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await site.waitForRecord(["event": "daemon.config_reloaded", "outcome": "refused"]))
        let refused = site.records().last { RuntimeHarness.matches($0, ["event": "daemon.config_reloaded"]) }
        #expect(refused?["reason"]?.stringValue?.contains("site.yaml:") == true)
        #expect(daemon.isRunning)
        #expect(daemon.stderr.contains("5oo7"))
        // The old configuration still protects the room.
        try site.set("gas", .input, 0, [1])
        #expect(await site.waitForRecord(["event": "zone.state", "to": "isolated"]))
        // A good file is taken, and polling goes on under it.
        try good.write(toFile: site.siteFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await site.waitForRecord(["event": "daemon.config_reloaded", "outcome": "accepted"]))
        #expect(await site.waitReady() != nil)
        #expect(site.count(["event": "step.resumed"]) == 0)
        #expect(site.count(["event": "step.started", "procedure": "isolate", "step": "0"]) == 1)
    }

    @Test func systemdHearsReadyWatchdogStatusAndStopping() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        let listener = try NotifySocketListener(path: site.directory.file("notify.sock"), receiveTimeout: .milliseconds(200))
        let daemon = try site.start(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"])
        defer { Task { await daemon.stop() } }
        var messages: [String] = []
        // Each message may already have arrived while waiting for an earlier one.
        func heard(_ predicate: (String) -> Bool) -> Bool {
            messages.contains(where: predicate) || listener.collect(into: &messages, until: predicate)
        }
        #expect(heard { $0 == "READY=1" })
        #expect(heard { $0 == "WATCHDOG=1" })
        #expect(heard { $0.hasPrefix("STATUS=1 zone: 1 normal; 6/6 devices up") })
        daemon.signal(SIGTERM)
        #expect(heard { $0 == "STOPPING=1" })
        let exit = await daemon.waitExit()
        #expect(exit?.status == 0 && exit?.signalled == false)
        #expect(site.records().last?["event"]?.stringValue == "daemon.stopped")
        // READY comes before any WATCHDOG, and STOPPING is the last word.
        #expect(messages.firstIndex(of: "READY=1")! < messages.firstIndex(of: "WATCHDOG=1")!)
    }
}

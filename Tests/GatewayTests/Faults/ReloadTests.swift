import AlertLog
import Foundation
import Gateway
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    /// SIGHUP in the middle of a 20 s countdown with a `suppress` whose leading `notify` is gone: resumed by index,
    /// step 2 of the new list is the release. A procedure finishes on the steps it started with.
    @Test("SIGHUP mid-countdown with a changed suppress: no release before the original countdown ends")
    func reloadMidCountdown() async throws {
        let delay = Duration.seconds(20)
        let site = try FaultSite(zones: ["a"], suppressDelay: "20s", timeline: FaultSite.fire("a", at: "3s"))
        try await site.run {
            _ = try site.startSimulator()
            let daemon = try site.startDaemon()
            try #require(await site.waitForStart(of: daemon), "the daemon did not start\n\(site.story)")
            try #require(
                await site.waitForRecord { FaultSite.isStep($0, "step.started", zone: "room-a", "delay") },
                "room-a never started its pre-discharge countdown\n\(site.logText)\n\(site.story)")
            try #require(site.writes(to: "panel-a.release").isEmpty)

            try site.siteYAML(leadingNotify: false).write(toFile: site.siteFile, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            try #require(
                await site.waitForRecord(["event": "daemon.config_reloaded"], limit: .seconds(30)),
                "no daemon.config_reloaded record within 30 s of SIGHUP\n\(site.daemonOutput)")
            let reloaded = try #require(site.records(["event": "daemon.config_reloaded"]).last)
            #expect(reloaded["outcome"]?.stringValue != "refused", "the changed site was refused: \(reloaded)")
            // It says which zones finish their procedure on the old steps first.
            let text = JSONWriter.serialize(
                .object(reloaded.sorted { $0.key < $1.key }.map { JSONMember($0.key, $0.value) }))
            #expect(text.contains("room-a"), "daemon.config_reloaded does not name room-a, which waits: \(text)")

            try await site.expectFullCountdown(delay, limit: .seconds(60), "the reload cut the 20 s countdown short")
            // The procedure ran its own steps to the end: the release once, and nothing failed or ran twice.
            #expect(
                await site.waitForRecord {
                    FaultSite.isStep($0, "step.succeeded", zone: "room-a", "command panel-a.release")
                },
                "the release step did not succeed\n\(site.logText)")
            #expect(site.writes(to: "panel-a.release").count == 1)
            #expect(site.writes(to: "feed-a.stop_hvac").count == 1, "HVAC off was written again after the reload")
            let failed = site.records(["event": "step.failed"])
            #expect(failed.isEmpty, "a step failed across the reload\n\(site.logText)")
        }
    }
}

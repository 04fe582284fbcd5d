import Foundation
import Gateway
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    /// kill -9 in the second between the panel receiving `release` and the daemon reading `released` back (the
    /// simulated panel shows it after 1 s), then restart. A resumed command reads its verify point before it
    /// writes again: the panel already says released, so the step succeeds without a second write.
    @Test("kill -9 just after the release write, restart: release is not written a second time")
    func killAfterReleaseWrite() async throws {
        let site = try FaultSite(zones: ["a"], suppressDelay: "2s", timeline: FaultSite.fire("a", at: "3s"))
        try await site.run {
            _ = try site.startSimulator()
            let daemon = try site.startDaemon()
            try #require(await site.waitForStart(of: daemon), "the daemon did not start\n\(site.story)")
            // Watch the simulator's output closely (every 5 ms, for at most 60 s) and kill at the first release.
            let deadline = ContinuousClock.now + .seconds(60)
            var seen = false
            for _ in 0..<20_000 where ContinuousClock.now < deadline {
                if !site.writes(to: "panel-a.release").isEmpty {
                    daemon.signal(SIGKILL)
                    seen = true
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            try #require(seen, "the panel never received release\n\(site.logText)\n\(site.story)")
            try #require(await daemon.waitExit(limit: .seconds(15)) != nil, "the daemon survived SIGKILL")
            // The kill landed where it should: the release step started (logged before the write) and had not
            // been confirmed.
            let started = site.records {
                FaultSite.isStep($0, "step.started", zone: "room-a", "command panel-a.release")
            }
            let succeeded = site.records {
                FaultSite.isStep($0, "step.succeeded", zone: "room-a", "command panel-a.release")
            }
            try #require(
                started.count == 1 && succeeded.isEmpty,
                "the kill did not land between the release write and its step.succeeded\n\(site.logText)")

            _ = try site.startDaemon()
            try #require(await site.waitReady() != nil, "the restarted daemon never got ready\n\(site.story)")
            #expect(
                await site.waitForRecord(sinceStart: 2) {
                    FaultSite.isStep($0, "step.succeeded", zone: "room-a", "command panel-a.release")
                },
                "the resumed release step did not succeed after the restart\n\(site.logText)")
            // Give a wrong second write time to happen: every device polled 4 more times.
            #expect(await site.waitForPolls(4, limit: .seconds(30)))
            let releases = site.writes(to: "panel-a.release")
            #expect(
                releases.count == 1,
                "panel-a.release was written \(releases.count) times (at \(releases.map(\.at))) across the restart")
            let resumed = site.records(sinceStart: 2) { record in
                record["event"]?.stringValue == "step.resumed" && !(record["reason"]?.stringValue ?? "").isEmpty
            }
            #expect(!resumed.isEmpty, "the restart logged no step.resumed with a reason\n\(site.logText)")
            #expect(!site.records(["event": "daemon.recovered"], sinceStart: 2).isEmpty, "no daemon.recovered")
        }
    }
}

import AlertLog
import FireWatchTesting
import Foundation
import Gateway
import Testing
import FireWatchTesting

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    /// The alert log on a tmpfs of its own that the test fills: actuation never waits for the disk, status says
    /// ALERT LOG NOT DURABLE, and the records held in memory are written, chained, once space is freed.
    @Test("alert log on a full tmpfs: actuation goes on, status says NOT DURABLE, held records land afterwards")
    func fullLogDisk() async throws {
        let site = try FaultSite(
            zones: ["a"], suppressDelay: "2s", timeline: FaultSite.fire("a", at: "8s"),
            alertLog: "logfs/alerts.jsonl")
        let mountPoint = site.directory.file("logfs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try Self.command(
            "/bin/mount", ["-t", "tmpfs", "-o", "size=128k,mode=0755", "firewatch-test", mountPoint])
        try #require(
            mounted.status == 0,
            "mount -t tmpfs on \(mountPoint) failed (exit \(mounted.status): \(mounted.output)); run as root")
        site.onCleanup {
            if (try? Self.command("/bin/umount", [mountPoint]))?.status != 0 {
                _ = try? Self.command("/bin/umount", ["-l", mountPoint])
            }
        }
        try await site.run {
            _ = try site.startSimulator()
            _ = try site.startDaemon()
            try #require(await site.waitReady() != nil, "the daemon never got ready\n\(site.story)")
            let filler = mountPoint + "/filler"
            try #require(Self.fill(filler), "could not fill the tmpfs at \(mountPoint)")

            // The fire comes 8 s into the scenario: exhaust, HVAC off and release are written all the same.
            for target in ["feed-a.start_exhaust", "feed-a.stop_hvac", "panel-a.release"] {
                #expect(
                    await site.waitForWrites(to: target, limit: .seconds(60)),
                    "\(target) was not written with the alert log's disk full\n\(site.story)")
            }
            var degraded = false
            _ = await FaultSite.waitUntil(limit: .seconds(30)) {
                degraded = await site.status()?.alertLog.degraded == true
                return degraded
            }
            try #require(degraded, "the daemon does not say its alert log is degraded on a full disk\n\(site.story)")
            let status = try await site.cli(["status", "--config", site.siteFile])
            #expect(
                status.output.contains("ALERT LOG NOT DURABLE"),
                "firewatch status on a full alert-log disk does not say ALERT LOG NOT DURABLE:\n\(status.output)")

            // The release was confirmed while the disk was full (the daemon's state says so; the disk cannot).
            var suppressed = false
            _ = await FaultSite.waitUntil(limit: .seconds(30)) {
                suppressed = await site.status()?.zone("room-a")?.state == "suppressed"
                return suppressed
            }
            #expect(suppressed, "room-a did not reach suppressed with the alert log's disk full\n\(site.story)")

            // Space again: the held records are written (retried every second), in order, chained.
            try FileManager.default.removeItem(atPath: filler)
            var caughtUp = false
            _ = await FaultSite.waitUntil(limit: .seconds(30)) {
                guard let log = await site.status()?.alertLog else { return false }
                caughtUp = !log.degraded && log.backlog == 0
                return caughtUp
            }
            #expect(caughtUp, "the held records were not written within 30 s of freeing space\n\(site.daemonOutput)")
            #expect(
                await site.waitForRecord(limit: .seconds(30)) {
                    FaultSite.isStep($0, "step.succeeded", zone: "room-a", "command panel-a.release")
                }, "the release step's record never reached the log\n\(site.logText)")
            #expect(
                !site.records(["event": "zone.state", "zone": "room-a", "to": "suppressed"]).isEmpty,
                "room-a's move to suppressed never reached the log\n\(site.logText)")
            let chain = chainReport(logAt: site.alertLog).report
            if case .broken = chain {
                Issue.record("the chain is broken after the disk filled and emptied: \(chain)")
            }
            let after = try await site.cli(["status", "--config", site.siteFile])
            #expect(!after.output.contains("NOT DURABLE"), "status still says NOT DURABLE:\n\(after.output)")
        }
    }

    /// Writes 4 KiB blocks into `path` until the file system says it is full (at most 10,000 blocks).
    static func fill(_ path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let block = [UInt8](repeating: 0x2E, count: 4096)
        for _ in 0..<10_000 {
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if written < 0 { return errno == ENOSPC }
            if written < block.count {
                // A last partial block; the next write reports ENOSPC.
                continue
            }
        }
        return false
    }

    /// Runs a system command to completion; its exit status and combined output.
    static func command(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let run: ProgramOutput = try runProgram(executable, arguments)
        return (run.status, run.combined)
    }
}

import AlertLog
import Foundation
import Gateway
import Testing
import FireWatchTesting

#if canImport(Glibc)
    import Glibc
#endif

extension FaultTests {
    /// A zone latches, its cause goes away, and operator records rotate the log past the two files it keeps, so
    /// no file holds the latch any more; kill -9; restart. Restore starts from the newest `state.checkpoint` (the
    /// first record of every file), so rotation never forgets a latch.
    @Test("rotation past the kept files, kill -9, restart: the zone latched long ago comes back latched")
    func rotationThenKillKeepsLatch() async throws {
        let site = try FaultSite(
            zones: ["a"],
            timeline: """
                  - at: 2s
                    set: { device: smoke-a, point: level, value: action, for: 6s }

                """,
            settings: "alert_log_max_size: 2KiB\nalert_log_keep: 2")
        try await site.run {
            _ = try site.startSimulator()
            let daemon = try site.startDaemon()
            try #require(await site.waitForStart(of: daemon), "the daemon did not start\n\(site.story)")
            // Any record on disk (`sinceStart: 0`): at 2 KiB a file, the comm-lost records of a daemon that came up
            // before the simulator can rotate its daemon.started away before the zone isolates.
            try #require(
                await site.waitForRecord(["event": "zone.state", "zone": "room-a", "to": "isolated"], sinceStart: 0),
                "room-a was never isolated\n\(site.logText)\n\(site.story)")
            // Latched at alarm, with its cause gone (smoke back to normal): only the log remembers why.
            var latched = false
            _ = await FaultSite.waitUntil {
                guard let zone = await site.status()?.zone("room-a") else { return false }
                latched = zone.latched == "alarm"
                return latched && zone.causes.isEmpty
            }
            try #require(latched, "room-a is not latched at alarm with its cause gone\n\(site.logText)")
            let latchSeq = try #require(
                site.records(["event": "zone.state", "zone": "room-a"], sinceStart: 0).first?["seq"]?.intValue,
                "no zone.state of room-a on disk\n\(site.logText)")

            // Acks (each one an operator.ack record, and nothing else) until no kept file holds anything from before
            // the latch (bounded: 400 requests).
            var rotatedPast = false
            for _ in 0..<400 {
                _ = try? await site.send(.ack(zone: "room-a"))
                if let oldest = site.records().first?["seq"]?.intValue, oldest > latchSeq + 5 {
                    rotatedPast = true
                    break
                }
            }
            try #require(rotatedPast, "the log never rotated past the latch record (seq \(latchSeq))\n\(site.logText)")
            let files = AlertLogSet.discover(livePath: site.alertLog).existingPathsOldestFirst
            #expect(files.count == 3, "alert_log_keep: 2 should leave the live file and 2 rotated ones: \(files)")
            for file in files {
                let first = try AlertLine.lines(ofFile: file).first?.fields
                #expect(
                    first?["event"]?.stringValue == "state.checkpoint" && first?["severity"]?.stringValue == "info",
                    "the first record of \(file) is not a state.checkpoint: \(first.map { "\($0)" } ?? "empty file")")
            }

            daemon.signal(SIGKILL)
            try #require(await daemon.waitExit(limit: .seconds(15)) != nil, "the daemon survived SIGKILL")
            _ = try site.startDaemon()
            let restored = try #require(await site.waitReady(), "the restarted daemon never got ready\n\(site.story)")
            #expect(
                restored.zone("room-a")?.latched == "alarm",
                "after rotation and kill -9, room-a came back \(restored.zone("room-a").map { "\($0)" } ?? "missing")")
            // The restart says it followed an unclean stop.
            // The first run's daemon.started has rotated away by now: the restart's is the last one on disk.
            let all = site.records()
            let second = Array(all[(all.lastIndex { $0["event"]?.stringValue == "daemon.started" } ?? all.endIndex)...])
            let recovered = second.firstIndex { $0["event"]?.stringValue == "daemon.recovered" }
            #expect(
                recovered != nil && second.first?["event"]?.stringValue == "daemon.started",
                "no daemon.recovered after the restart's daemon.started\n\(site.logText)")
            let severity = recovered.flatMap { second[$0]["severity"]?.stringValue }
            #expect(severity == "trouble", "daemon.recovered has severity \(severity ?? "none"), not trouble")
            let chain = chainReport(logAt: site.alertLog).report
            if case .broken = chain {
                Issue.record("the chain is broken after rotation and kill -9: \(chain)")
            }
        }
    }
}

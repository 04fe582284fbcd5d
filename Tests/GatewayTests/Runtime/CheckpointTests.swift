import FireSafety
import Foundation
import Logging
import Testing

@testable import AlertLog
@testable import Gateway
import FireWatchTesting

/// Checkpoints: the state the log holds, written as the first line of every file, so that rotation (which drops
/// the oldest file) never makes a restart forget a latch.
@Suite("State checkpoints and recovery from the alert log")
struct CheckpointTests {
    let logger = Logger(label: "test.checkpoint")

    func record(_ event: AlertEvent, zone: String = "battery-room-a", at seconds: Int64, _ edit: (inout AlertRecord) -> Void = { _ in })
        -> AlertRecord
    {
        var record = AlertRecord(
            time: Timestamp(seconds: 1_790_000_000 + seconds), site: "pangyo-a", zone: zone, severity: .alarm,
            event: event, message: "\(event.rawValue) at \(seconds)")
        edit(&record)
        return record
    }

    /// A latch, an ack, an inhibit and a countdown under way, as records.
    func history() -> [AlertRecord] {
        [
            record(.daemonStarted, at: 0) { $0.zone = nil; $0.severity = .info },
            record(.zoneState, at: 1) {
                $0.from = "normal"; $0.to = "isolating"; $0.level = .alarm
            },
            record(.signalLevel, at: 1) { $0.signal = "offgas"; $0.from = "normal"; $0.to = "alarm" },
            record(.stepStarted, at: 1) {
                $0.procedure = .isolate; $0.step = 0; $0.stepText = "command bms-a.disconnect_string"
            },
            record(.stepSucceeded, at: 2) {
                $0.procedure = .isolate; $0.step = 0; $0.stepText = "command bms-a.disconnect_string"
            },
            record(.stepStarted, at: 2) {
                $0.procedure = .isolate; $0.step = 1; $0.stepText = "command feed-a.start_exhaust"
            },
            record(.operatorAck, at: 3) { $0.uid = "0"; $0.outcome = "accepted" },
            record(.operatorInhibit, zone: "battery-room-b", at: 4) {
                $0.uid = "0"; $0.outcome = "accepted"; $0.until = Timestamp(seconds: 1_790_007_200); $0.reason = "swap"
            },
            record(.deviceCommLost, at: 5) { $0.zone = nil; $0.device = "temp-b2" },
        ]
    }

    @Test("a checkpoint's JSON reads back to the same state")
    func jsonRoundTrip() throws {
        let state = EngineCheckpoint(folding: history())
        #expect(state.daemonRunning)
        #expect(state.zone(named: "battery-room-a")?.isolate.done == ["command bms-a.disconnect_string"])
        #expect(state.zone(named: "battery-room-a")?.isolate.running == "command feed-a.start_exhaust")
        let line = JSONWriter.serialize(state.json)
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        #expect(EngineCheckpoint(json: parsed) == state)
        #expect(EngineCheckpoint(json: .object([JSONMember("zones", .string("no"))])) == nil)
    }

    /// A writer that starts every file with a checkpoint of what it has written, as the daemon wires it.
    func writer(_ path: String, maxBytes: Int, keep: Int, state: LogState) -> AlertLogWriter {
        AlertLogWriter(
            configuration: AlertLogConfiguration(
                path: path, maxBytes: maxBytes, keep: keep, site: "pangyo-a",
                checkpoint: { why in
                    state.checkpointMembers(site: "pangyo-a", time: Timestamp(seconds: 1_790_000_100), why: why)
                },
                onWritten: { state.fold($0) }),
            logger: logger)
    }

    @Test("rotation past the kept files forgets no latch: restore starts from the newest checkpoint")
    func rotationKeepsLatches() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let state = LogState()
        let log = writer(path, maxBytes: 2048, keep: 1, state: state)
        for record in history() { log.append(record.jsonMembers()) }
        // Weeks of chatter in another zone: far more than the two files kept can hold.
        for n in 0..<200 {
            log.append(
                record(.signalLevel, zone: "battery-room-b", at: 10 + Int64(n)) {
                    $0.signal = "flammable"; $0.from = n % 2 == 0 ? "normal" : "alert"; $0.to = n % 2 == 0 ? "alert" : "normal"
                }.jsonMembers())
        }
        let files = AlertLogSet.discover(livePath: path).existingPathsOldestFirst
        #expect(files.count == 2)
        let all = try files.flatMap { try AlertLine.lines(ofFile: $0) }
        #expect(!all.contains { $0.event == "zone.state" })  // the latch's own record is long gone
        for file in files {
            #expect(try AlertLine.lines(ofFile: file).first?.event == "state.checkpoint")
        }
        let recovery = try LogRecovery.read(logAt: path)
        #expect(recovery.problems.isEmpty)
        #expect(recovery.checkpoint?.hasPrefix(path + ":1") == true)
        #expect(recovery.recordsRead < 200)
        let zone = try #require(recovery.state.zone(named: "battery-room-a"))
        #expect(zone.latched == .alarm)
        #expect(zone.acknowledged)
        #expect(zone.isolate.running == "command feed-a.start_exhaust")
        #expect(recovery.state.zone(named: "battery-room-b")?.inhibitedUntil == Timestamp(seconds: 1_790_007_200))
        #expect(recovery.state.lostDevices == ["temp-b2"])
        #expect(recovery.state.daemonRunning)  // no daemon.stopped: the next start reports an unclean stop
        #expect(recovery.state == state.current)
    }

    @Test("a broken chain after the checkpoint is named, and restore keeps what came before it")
    func brokenChain() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let state = LogState()
        let log = writer(path, maxBytes: 1 << 20, keep: 2, state: state)
        let records = history()
        for record in records { log.append(record.jsonMembers()) }
        log.append(record(.operatorReset, at: 9) { $0.uid = "0"; $0.outcome = "accepted" }.jsonMembers())
        log.close()
        // Someone edits the line before the reset: the reset's prev no longer matches.
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let edited = lines.count - 2
        lines[edited] = lines[edited].replacingOccurrences(of: "temp-b2", with: "temp-b3")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let recovery = try LogRecovery.read(logAt: path)
        #expect(recovery.problems.count == 1)
        #expect(recovery.problems.first?.contains("\(path):\(lines.count)") == true)
        // Folded up to the last good record: the reset after the break is not taken.
        #expect(recovery.state.zone(named: "battery-room-a")?.latched == .alarm)
    }

    @Test("a checkpoint asked for mid-file is written after what is already logged, and restore starts there")
    func checkpointOnRequest() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let state = LogState()
        let log = writer(path, maxBytes: 1 << 20, keep: 2, state: state)
        let records = history()
        for record in records { await log.append(record.jsonMembers()) }
        await log.appendCheckpoint(why: "hourly")
        await log.append(record(.operatorEnable, zone: "battery-room-b", at: 20) { $0.uid = "0"; $0.outcome = "accepted" }.jsonMembers())
        let lines = try AlertLine.lines(ofFile: path)
        #expect(lines.map(\.event).filter { $0 == "state.checkpoint" }.count == 2)
        #expect(lines[lines.count - 2].event == "state.checkpoint")
        #expect(lines[lines.count - 2].fields?["message"]?.stringValue?.contains("hourly") == true)
        let recovery = try LogRecovery.read(logAt: path)
        #expect(recovery.recordsRead == 1)
        #expect(recovery.checkpoint == "\(path):\(lines.count - 1)")
        #expect(recovery.state.zone(named: "battery-room-b")?.inhibitedUntil == nil)
        #expect(recovery.state.zone(named: "battery-room-a")?.latched == .alarm)
        #expect(intactRecords(logAt: path) == (lines.count))
    }
}

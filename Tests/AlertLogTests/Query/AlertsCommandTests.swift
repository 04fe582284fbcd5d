import Foundation
import Testing

@testable import AlertLog
import FireWatchTesting

@Suite("Alerts: summary")
struct AlertsSummaryTests {
    private func record(_ seconds: Int64, _ zone: String, _ severity: String, _ event: String, extra: String = "")
        -> AlertLine
    {
        let time = AlertTime.formatUTC(AlertLogFixture.startMillis + seconds * 1000)
        let text =
            #"{"seq":1,"time":"\#(time)","zone":"\#(zone)","severity":"\#(severity)","event":"\#(event)","#
            + #"\#(extra)"message":"m \#(seconds)","prev":"x"}"#
        return Array(text.utf8).withUnsafeBytes { AlertLine.parse($0).0! }
    }

    @Test("current state, time in each state over the window, counts by severity, last fire/alarm")
    func summary() {
        var summary = AlertSummary()
        summary.windowStart = AlertLogFixture.startMillis - 60_000
        let lines = [
            record(0, "room-a", "alert", "zone.state", extra: #""from":"normal","to":"alert","#),
            record(30, "room-b", "info", "signal.level"),
            record(60, "room-a", "alarm", "signal.level"),
            record(120, "room-a", "alarm", "zone.state", extra: #""from":"alert","to":"isolating","#),
            record(150, "room-a", "trouble", "device.comm_lost"),
        ]
        for line in lines { summary.add(line, counted: line.severity != .trouble) }
        let zones = summary.finish(end: AlertLogFixture.startMillis + 300_000)
        #expect(zones.map(\.name) == ["room-a", "room-b"])
        let a = zones[0]
        #expect(a.state == "isolating")
        #expect(a.timeInState == ["normal": 60_000, "alert": 120_000, "isolating": 180_000])
        #expect(a.counts == ["alert": 1, "alarm": 2])  // the trouble record was filtered out of the counts
        #expect(a.lastAlarm?.message == "m 120")
        #expect(zones[1].state == nil)
        let text = AlertSummary.render(zones, formatter: AlertFormatter(colour: false))
        #expect(text.contains("  time in state: isolating 3m 0s, alert 2m 0s, normal 1m 0s"))
        #expect(text.contains("  records: info 0, trouble 0, alert 1, alarm 2, fire 0"))
        let json = AlertSummary.renderJSON(zones)
        #expect(json[0].contains(#""time_in_state_ms":{"alert":120000,"isolating":180000,"normal":60000}"#))
        #expect((try? JSONSerialization.jsonObject(with: Data(json[0].utf8))) != nil)
    }
}

@Suite(
    "Alerts: the firewatch alerts command", .serialized)
struct AlertsCommandTests {
    private func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32?, Data, String)
    {
        let child = try Child(arguments, environment: environment)
        let status = try await child.waitForExit()
        return (status, child.stdout, child.stderr)
    }

    @Test("--json passes every record through byte for byte, unknown fields and odd spacing included")
    func jsonPassthrough() async throws {
        let fixture = AlertLogFixture(count: 40, perFile: 15)
        defer { fixture.cleanUp() }
        fixture.rewrite(fixture.livePath) { lines in
            lines.append(
                Array(
                    (#"{ "seq": 41, "time":"2026-11-24T00:00:40.000Z","severity":"info","event":"signal.level","#
                        + #""message":"caf\u00e9 ☕","new_field":[1,2],"prev":"x" }"#).utf8))
        }
        var all = Data()
        for path in AlertLogSet.discover(livePath: fixture.livePath).pathsOldestFirst {
            all.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let (status, out, _) = try await run(["alerts", "--json", "--log", fixture.livePath])
        #expect(status == 0)
        #expect(out == all)
    }

    @Test("human output is plain when piped: no escape codes, local time (TZ), severity, zone, message")
    func plainWhenPiped() async throws {
        let fixture = AlertLogFixture(count: 12)
        defer { fixture.cleanUp() }
        let (status, out, _) = try await run(
            ["alerts", "-n", "2", "--log", fixture.livePath], environment: ["TERM": "xterm"])
        #expect(status == 0)
        let text = String(decoding: out, as: UTF8.self)
        #expect(!text.contains("\u{1B}"))
        #expect(
            text == "2026-11-24 00:00:10.000  ALARM    room-b  record 11 in room-b\n"
                + "2026-11-24 00:00:11.000  FIRE     room-c  record 12 in room-c\n")
    }

    @Test(
        "on a terminal the severity is coloured, and NO_COLOR turns it off")
    func colourOnTerminal() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
            "util-linux's script is missing (Debian package bsdutils)")
        let fixture = AlertLogFixture(count: 6)
        defer { fixture.cleanUp() }
        let command = "\(try FirewatchExecutable.required()) alerts -n 1 --log \(fixture.livePath)"
        // util-linux `script` gives the command a pseudo-terminal.
        let coloured = try Child(
            ["-qec", command, "/dev/null"], executable: "/usr/bin/script", environment: ["TERM": "xterm"])
        #expect(try await coloured.waitForExit() == 0)
        #expect(String(decoding: coloured.stdout, as: UTF8.self).contains("\u{1B}[1;97;41mFIRE"))
        let plain = try Child(
            ["-qec", command, "/dev/null"], executable: "/usr/bin/script",
            environment: ["TERM": "xterm", "NO_COLOR": "1"])
        #expect(try await plain.waitForExit() == 0)
        #expect(!String(decoding: plain.stdout, as: UTF8.self).contains("\u{1B}["))
    }

    @Test("a missing log exits 66 naming the path and how to set it; bad options exit 64")
    func exitCodes() async throws {
        let (missing, _, message) = try await run(["alerts", "--log", "/nonexistent/alerts.jsonl"])
        #expect(missing == 66)
        #expect(message.contains("/nonexistent/alerts.jsonl"))
        #expect(message.contains("--log FILE"))
        #expect(try await run(["alerts", "--min-severity", "loud", "--log", "/x"]).0 == 64)
        #expect(try await run(["alerts", "--since", "last tuesday", "--log", "/x"]).0 == 64)
        #expect(try await run(["alerts", "-f", "--until", "1h", "--log", "/x"]).0 == 64)
        let (verifyMissing, _, _) = try await run(["alerts", "verify", "--log", "/nonexistent/alerts.jsonl"])
        #expect(verifyMissing == 66)
    }

    @Test("verify exits 0 with the count, or 65 naming file:line")
    func verify() async throws {
        let fixture = AlertLogFixture(count: 30, perFile: 10)
        defer { fixture.cleanUp() }
        let (ok, out, _) = try await run(["alerts", "verify", "--log", fixture.livePath])
        #expect(ok == 0)
        #expect(String(decoding: out, as: UTF8.self).hasPrefix("ok: 30 records checked in 3 files"))
        fixture.rewrite(fixture.livePath + ".1") { lines in lines.swapAt(3, 4) }
        let (broken, _, message) = try await run(["alerts", "verify", "--log", fixture.livePath])
        #expect(broken == 65)
        #expect(message.hasPrefix("\(fixture.livePath).1:4: reordered"))
    }

    @Test("--config finds alert_log: relative to the site file")
    func configPath() async throws {
        let fixture = AlertLogFixture(count: 5)
        defer { fixture.cleanUp() }
        let site = fixture.folder.appendingPathComponent("site.yaml")
        try "site: test-site\nalert_log: alerts.jsonl\n".write(to: site, atomically: true, encoding: .utf8)
        let (status, out, _) = try await run(["alerts", "--json", "-n", "1", "--config", site.path])
        #expect(status == 0)
        #expect(Array(out) == fixture.lines[4] + [0x0A])
    }

    @Test("a reader that goes away (| head) ends the command quietly with status 0")
    func closedPipe() async throws {
        let fixture = AlertLogFixture(count: 3000)  // ~600 KB: far more than a pipe holds
        defer { fixture.cleanUp() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = ["alerts", "--json", "--log", fixture.livePath]
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let first = try pipe.fileHandleForReading.read(upToCount: 1000)
        #expect(first?.isEmpty == false)
        try pipe.fileHandleForReading.close()
        for _ in 0..<1000 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(try errors.fileHandleForReading.readToEnd() == nil)
    }

    @Test("a follow whose reader went away ends by itself with status 0, even when nothing new is written")
    func followClosedPipe() async throws {
        let fixture = AlertLogFixture(count: 3)
        defer { fixture.cleanUp() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = ["alerts", "-f", "--json", "--log", fixture.livePath]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let first = try pipe.fileHandleForReading.read(upToCount: 10)
        #expect(first?.isEmpty == false)
        try pipe.fileHandleForReading.close()
        for _ in 0..<1000 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test("--summary over a window prints each zone")
    func summaryCommand() async throws {
        let fixture = AlertLogFixture(count: 60)
        defer { fixture.cleanUp() }
        let (status, out, _) = try await run([
            "alerts", "--summary", "--zone", "room-a", "--until", "2026-11-24T00:01:00Z", "--log", fixture.livePath,
        ])
        #expect(status == 0)
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.hasPrefix("room-a: "))
        #expect(!text.contains("room-b"))
        // room-a holds records 0, 3, 6 … 57: info and alert in turn; zone.state at 0 and 30 (normal → alert).
        #expect(text.contains("records: info 10, trouble 0, alert 10, alarm 0, fire 0"))
        #expect(text.contains("time in state: alert 1m 0s\n"))
    }
}

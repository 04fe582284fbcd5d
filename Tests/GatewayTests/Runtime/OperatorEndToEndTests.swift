import AlertLog
import FireSafety
import Foundation
import Gateway
import SiteConfig
import Testing

/// Operators and channels with real parts: the daemon binary, its control socket, the CLI, loopback Modbus
/// devices and a real HTTP receiver.
@Suite("Operators and channels, end to end")
struct OperatorEndToEndTests {
    /// Off-gas detected, then fire on temperature and smoke: the zone counts down (60 s, so nothing races it).
    static func countDown(_ site: RuntimeHarness) async throws -> Bool {
        try site.set("temp1", .input, 1, [580])  // 58 °C: fire
        try site.set("smoke", .input, 0, [3])  // fire1
        return await site.waitForRecord(["event": "step.started", "procedure": "suppress", "step": "1"])
    }

    /// What the receiver heard on `/hook` that `matching` picks, once it holds `count` (polled every 50 ms, at
    /// most 30 s).
    static func heard(_ log: EventLog, count: Int = 1, _ matching: (String) -> Bool) async -> [String] {
        var heard: [String] = []
        for _ in 0..<600 {
            heard = log.matching("/hook ").filter(matching)
            if heard.count >= count { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return heard
    }

    static func delayStarts(_ site: RuntimeHarness) -> [[String: JSONValue]] {
        site.records().filter { RuntimeHarness.matches($0, ["event": "step.started", "procedure": "suppress", "step": "1"]) }
    }

    @Test("a failed channel is heard on the working one, through a real webhook")
    func failedChannelHeardOnTheOther() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(200)], log: log) { port in
            let site = try RuntimeHarness(
                notify: """
                    ops: { webhook: "http://127.0.0.1:\(port)/hook", timeout: 2s }
                    pager: { command: [/bin/false], timeout: 2s }
                    """)
            defer { site.remove() }
            let daemon = try site.start()
            #expect(await site.waitReady() != nil)
            try site.set("gas", .input, 0, [1])  // off-gas: the zone escalates, and people are told
            #expect(await site.waitForRecord(["event": "notify.failed"]))
            // The failure notice reaches ops, naming the channel that failed.
            let heard = await Self.heard(log) { $0.contains("\"notify.failed\"") }
            #expect(heard.first?.contains("notification channel pager failed") == true)
            // Ops heard the escalation itself too; pager's failure notices are never sent back to pager.
            #expect(log.matching("/hook ").contains { $0.contains("\"zone.state\"") })
            await daemon.stop()
        }
    }

    @Test("reminders of an unacknowledged alarm reach a real webhook, say for how long, and stop after ack")
    func remindersUntilAck() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(200)], log: log) { port in
            let site = try RuntimeHarness(
                notify: """
                    ops: { webhook: "http://127.0.0.1:\(port)/hook", timeout: 2s }
                    \(RuntimeHarness.defaultNotify)
                    """, extra: "remind_every: 1s")
            defer { site.remove() }
            let daemon = try site.start()
            #expect(await site.waitReady() != nil)
            try site.set("gas", .input, 0, [1])  // off-gas: alarm, the zone isolates
            let heard = await Self.heard(log, count: 2) { $0.contains("reminder: room") }
            #expect(heard.count >= 2)
            #expect(heard.first?.contains("unacknowledged for ") == true)
            #expect(heard.first?.contains("`firewatch ack room` silences this") == true)
            #expect(try site.cli(["ack", "room", "--socket", site.socket]).status == 0)
            #expect(await site.waitForRecord(["event": "operator.ack"]))
            let atAck = log.matching("/hook ").filter { $0.contains("reminder: room") }.count
            // Three reminder intervals with nothing new: an acknowledged zone is not reminded.
            try await Task.sleep(for: .seconds(3))
            #expect(log.matching("/hook ").filter { $0.contains("reminder: room") }.count == atAck)
            // Reminders are notifications only: the alert log has the alarm and the ack, no reminder lines.
            #expect(!site.records().contains { $0["message"]?.stringValue?.hasPrefix("reminder") == true })
            await daemon.stop()
        }
    }

    @Test("notify test: a TEST message on each channel, delivered or why not, logged with the uid; exit 1 on a failure")
    func notifyTest() async throws {
        let log = EventLog()
        let dead = try RefusingPort()
        let deadPort = dead.port
        defer { withExtendedLifetime(dead) {} }
        try await withReceiver(["/hook": .respond(200)], log: log) { port in
            let site = try RuntimeHarness(
                notify: """
                    ops: { webhook: "http://127.0.0.1:\(port)/hook", timeout: 2s }
                    dead: { webhook: "http://127.0.0.1:\(deadPort)/hook", timeout: 1s }
                    \(RuntimeHarness.defaultNotify)
                    """)
            defer { site.remove() }
            let daemon = try site.start()
            #expect(await site.waitReady() != nil)
            let all = try site.cli(["notify", "test", "--socket", site.socket])
            #expect(all.status == 1, "\(all.stdout) \(all.stderr)")
            #expect(all.stdout.contains("1 of 3 channels failed"))
            #expect(all.stdout.contains("ops: delivered") && all.stdout.contains("pager: delivered"))
            #expect(all.stdout.contains("dead: NOT delivered: POST http://127.0.0.1:\(deadPort)/hook"))
            #expect(log.matching("/hook ").contains { $0.contains("\"notify.test\"") && $0.contains("TEST from firewatch") })
            let one = try site.cli(["notify", "test", "ops", "--socket", site.socket])
            #expect(one.status == 0 && one.stdout == "ops: delivered\n", "\(one.stdout) \(one.stderr)")
            let unknown = try site.cli(["notify", "test", "nope", "--socket", site.socket])
            #expect(unknown.status == 1 && unknown.stderr.contains("no channel named nope; channels are ops, dead, pager"))
            // Logged before sent, with the uid; the dead channel's failure is trouble like any other.
            #expect(await site.waitForRecord(["event": "notify.failed"]))
            let tests = site.records().filter { RuntimeHarness.matches($0, ["event": "notify.test"]) }
            #expect(tests.count == 2 && tests.allSatisfy { $0["uid"]?.stringValue == String(getuid()) })
            await daemon.stop()
        }
    }

    @Test("abort and resume over the real control socket: the countdown restarts in full, logged with the user")
    func resumeOverTheSocket() async throws {
        let site = try RuntimeHarness(suppressDelay: "60s")
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        #expect(try await Self.countDown(site))
        let refusedEarly = try site.cli(["resume", "room", "--socket", site.socket])
        #expect(refusedEarly.status == 1 && refusedEarly.stderr.contains("no aborted suppression to resume"))
        #expect(try site.cli(["abort", "room", "--socket", site.socket]).status == 0)
        #expect(await site.waitForRecord(["event": "zone.state", "to": "isolated"]))
        let resume = try site.cli(["resume", "room", "--socket", site.socket])
        #expect(resume.status == 0 && resume.stdout.contains("countdown restarts in full"))
        #expect(await site.waitFor("a second countdown") { _ in Self.delayStarts(site).count == 2 })
        let uid = String(getuid())
        let user = String(cString: getpwuid(getuid()).pointee.pw_name)
        let record = site.records().first { RuntimeHarness.matches($0, ["event": "operator.resume", "outcome": "accepted"]) }
        #expect(record?["uid"]?.stringValue == uid && record?["user"]?.stringValue == user)
        #expect(record?["message"]?.stringValue == "\(user) (uid \(uid)) resumed suppression of room")
        let abort = site.records().first { RuntimeHarness.matches($0, ["event": "operator.abort"]) }
        #expect(abort?["message"]?.stringValue == "\(user) (uid \(uid)) aborted suppression of room")
        // In full: the restarted delay ends 60 s after it started.
        let restarted = Self.delayStarts(site).last
        let start = restarted?["time"]?.stringValue.flatMap(Timestamp.init(iso8601:))
        let until = restarted?["until"]?.stringValue.flatMap(Timestamp.init(iso8601:))
        #expect(start != nil && until != nil && until! - start! == .seconds(60))
        #expect(site.writes(to: "panel").isEmpty)
    }

    @Test("the panel's own abort switch stops the countdown while held and restarts it in full when let go")
    func panelAbortSwitch() async throws {
        let site = try RuntimeHarness(suppressDelay: "60s")
        defer { site.remove() }
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        #expect(try await Self.countDown(site))
        try site.set("panel", .discrete, 1, [1])  // someone holds the abort switch
        #expect(
            await site.waitForRecord([
                "event": "operator.abort", "device": "panel", "point": "abort_switch", "outcome": "accepted",
            ]))
        #expect(await site.waitForRecord(["event": "step.aborted", "procedure": "suppress"]))
        let refused = try site.cli(["resume", "room", "--socket", site.socket])
        #expect(refused.status == 1 && refused.stderr.contains("abort switch panel.abort_switch is held"))
        try site.set("panel", .discrete, 1, [0])  // let go
        #expect(await site.waitForRecord(["event": "operator.resume", "device": "panel"]))
        #expect(await site.waitFor("a second countdown") { _ in Self.delayStarts(site).count == 2 })
        #expect(site.writes(to: "panel").isEmpty)
    }

    @Test("a command that does not confirm is retried, each retry logged before its write")
    func retriesLoggedBeforeWrites() async throws {
        let site = try RuntimeHarness()
        defer { site.remove() }
        site.recorder.revertFeedCoils.withLock { $0 = [0] }  // the exhaust relay drops out at once
        let daemon = try site.start()
        defer { Task { await daemon.stop() } }
        #expect(await site.waitReady() != nil)
        try site.set("gas", .input, 0, [1])
        #expect(await site.waitForRecord(["event": "step.failed", "procedure": "isolate", "step": "0"], limit: .seconds(30)))
        let retried = site.records().filter {
            RuntimeHarness.matches($0, ["event": "step.retried", "procedure": "isolate", "step": "0"])
        }
        // One write per attempt: the first announced by step.started, each later one by its step.retried.
        #expect(retried.count == 2)
        #expect(site.writes(to: "feed").filter { $0.address == 0 }.count == 1 + retried.count)
        #expect(retried.first?["detail"]?.stringValue?.hasPrefix("attempt 2 of 3; the last one: read back") == true)
    }

    @Test("walk test: a fire in a zone in test is detected, logged and notified as TEST, and nothing is written or run")
    func walkTest() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(200)], log: log) { port in
            let site = try RuntimeHarness(
                notify: """
                    ops: { webhook: "http://127.0.0.1:\(port)/hook", timeout: 2s }
                    \(RuntimeHarness.defaultNotify)
                    """)
            defer { site.remove() }
            let daemon = try site.start()
            #expect(await site.waitReady() != nil)
            let bad = try site.cli(["test", "room", "--socket", site.socket])
            #expect(bad.status != 0 && bad.stderr.contains("say how long with --for"), "\(bad.stderr)")
            let start = try site.cli(["test", "room", "--for", "1h", "--reason", "quarterly walk test", "--socket", site.socket])
            #expect(start.status == 0 && start.stdout.contains("room is in a walk test for 1h"), "\(start.stdout) \(start.stderr)")
            let status = try site.cli(["status", "--socket", site.socket])
            #expect(status.stdout.contains("WALK TEST until") && status.stdout.contains("1 in walk test"), "\(status.stdout)")
            #expect(await site.status()?.zones.first?.trouble == true, "a zone in test is trouble")
            let check = try site.cli(["check", "--config", site.siteFile])
            #expect(check.stdout.contains("room: WALK TEST until") && check.stdout.contains("quarterly walk test"), "\(check.stdout)")

            // Fire on temperature and smoke, with off-gas: the double knock that would release agent.
            try site.set("gas", .input, 0, [1])
            try site.set("temp1", .input, 1, [580])
            try site.set("smoke", .input, 0, [3])
            #expect(await site.waitForRecord(["event": "zone.state", "to": "suppressing"]))
            #expect(await site.waitForPolls(10), "the daemon keeps polling")
            #expect(site.writes(to: "feed").isEmpty && site.writes(to: "panel").isEmpty, "nothing is written")
            #expect(!FileManager.default.fileExists(atPath: site.directory.file("failover.ran")), "no run step runs")
            let zoneRecords = site.records().filter { $0["zone"]?.stringValue == "room" }
            #expect(!zoneRecords.contains { $0["event"]?.stringValue == "step.started" })
            let signals = zoneRecords.filter { $0["event"]?.stringValue == "signal.level" }
            #expect(signals.count >= 3 && signals.allSatisfy { $0["test"] == .bool(true) && $0["uid"] != nil })
            let heard = await Self.heard(log) { $0.contains("\"suppressing\"") }
            #expect(heard.first?.contains("TEST — ") == true && heard.first?.contains("\"test\":true") == true)

            // Back to normal, then the end: the test's latch is cleared, the zone is normal and armed again.
            try site.normal()
            #expect(await site.waitFor("signals back to normal") { records in
                records.last { $0["event"]?.stringValue == "signal.level" && $0["signal"]?.stringValue == "smoke" }?["to"]
                    == .string("normal")
            })
            let end = try site.cli(["test", "room", "--end", "--socket", site.socket])
            #expect(end.status == 0 && end.stdout.contains("walk test of room ended, now normal"), "\(end.stdout) \(end.stderr)")
            #expect(await site.waitForRecord(["event": "operator.test_end", "outcome": "accepted"]))
            #expect(await site.status()?.zones.first.map { $0.state == "normal" && $0.testUntil == nil } == true)
            let again = try site.cli(["test", "room", "--end", "--socket", site.socket])
            #expect(again.status == 1 && again.stderr.contains("room is not in a walk test"))
            #expect(site.writes(to: "feed").isEmpty && site.writes(to: "panel").isEmpty)
            await daemon.stop()
        }
    }

    @Test("supervised channels: a heartbeat at start and every interval; a dead channel is notify.failed, DOWN in status and metrics, heard on the other")
    func heartbeats() async throws {
        let log = EventLog()
        let dead = try RefusingPort()
        let deadPort = dead.port
        defer { withExtendedLifetime(dead) {} }
        let metricsPort = try freeLoopbackPort()
        try await withReceiver(["/hook": .respond(200)], log: log) { port in
            // Site time 20 × real: a 1m heartbeat comes every 3 s.
            let site = try RuntimeHarness(
                pollInterval: "1s",
                notify: """
                    ops: { webhook: "http://127.0.0.1:\(port)/hook", timeout: 2s, heartbeat: 1m }
                    dead: { webhook: "http://127.0.0.1:\(deadPort)/hook", timeout: 1s, heartbeat: 1m }
                    \(RuntimeHarness.defaultNotify)
                    """, extra: "metrics: 127.0.0.1:\(metricsPort)")
            defer { site.remove() }
            let clock = "20@\(SystemSiteClock().wallNow().nanoseconds)"
            let daemon = try site.start(environment: [ScaledSiteClock.environmentVariable: clock])
            #expect(await site.waitReady() != nil)
            let heartbeats = await Self.heard(log, count: 2) { $0.contains("\"notify.heartbeat\"") }
            #expect(heartbeats.count >= 2, "a heartbeat at start, then one every minute of site time")
            #expect(heartbeats.first?.contains("heartbeat from firewatch at test-site on ops") == true)
            #expect(heartbeats.first?.contains("the next within 1m; if none comes, this channel or FireWatch is down") == true)
            // The dead channel's heartbeat failed: trouble, logged, and heard on ops.
            #expect(await site.waitForRecord(["event": "notify.failed", "severity": "trouble"]))
            // Logged first, then sent on ops: wait for it there.
            let failures = await Self.heard(log) { $0.contains("\"notify.failed\"") && $0.contains("channel dead failed") }
            #expect(!failures.isEmpty)
            let status = try site.cli(["status", "--socket", site.socket])
            #expect(status.stdout.contains("NOTIFY CHANNEL DOWN: dead"), "\(status.stdout)")
            #expect(status.stdout.contains("1 notify channel DOWN"))
            let channels = await site.status()?.channels ?? []
            #expect(channels.first { $0.name == "ops" }?.up == true)
            #expect(channels.first { $0.name == "dead" }?.up == false)
            #expect(channels.first { $0.name == "ops" }?.heartbeat == "1m")
            let metrics = try await httpGet(port: metricsPort, "/metrics").body
            #expect(metrics.contains(#"firewatch_notify_channel_up{channel="ops"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"firewatch_notify_channel_up{channel="dead"} 0"#))
            // Heartbeats are sent, not logged: the log has the failure, never a heartbeat.
            #expect(!site.records().contains { $0["event"]?.stringValue == "notify.heartbeat" })
            await daemon.stop()
        }
    }
}

import FireSafety
import FireWatchTesting
import Foundation
@testable import Gateway
import Logging
import SiteConfig
import Testing

/// An `alertmanager:` channel in a `ChannelNotifier`, against a test receiver standing in for Alertmanager's API
/// (the real server: `AlertmanagerServerTests`).
@Suite("Alertmanager channel")
struct AlertmanagerChannelTests {
    static let path = "/api/v2/alerts"

    static func channel(port: Int, timeout: Duration = .seconds(3)) -> NotifyChannel {
        NotifyChannel(name: "am", target: .alertmanager(URL(string: "http://127.0.0.1:\(port)")!), timeout: timeout)
    }

    static func notifier(_ channels: [NotifyChannel], log: EventLog, repostEvery: Duration = .seconds(60))
        -> ChannelNotifier
    {
        var options = ChannelNotifier.Options(
            queueCapacity: 8, webhookAttempts: 3, retryBackoff: .milliseconds(10), commandKillGrace: .seconds(1))
        options.alertmanager.repostEvery = repostEvery
        // Firing alerts end far off, so "firing" and "resolved" are told apart by the wall clock however loaded
        // the machine is (a re-post every 200 ms would otherwise end 600 ms after each post).
        options.alertmanager.firingLasts = .seconds(600)
        return NotifyChannelTests.notifier(channels, log: log, options: options)
    }

    static func latched(_ level: Level = .alarm, zone: String = "battery-room-a") -> AlertRecord {
        AlertRecord(
            time: SystemSiteClock().wallNow(), site: "pangyo-a", zone: zone, severity: level.severity,
            event: .zoneState, from: "alert", to: level == .alarm ? "isolating" : "suppressing",
            message: "off-gas detected in \(zone)", level: level)
    }

    static func reset(zone: String = "battery-room-a") -> AlertRecord {
        AlertRecord(
            time: SystemSiteClock().wallNow(), site: "pangyo-a", zone: zone, severity: .info, event: .zoneState,
            from: "isolated", to: "normal", message: "\(zone) reset by alice — now normal")
    }

    /// The alerts of each POST the receiver got, in order.
    static func posts(_ log: EventLog) -> [[[String: Any]]] {
        log.matching(path + " ").compactMap { entry in
            try? JSONSerialization.jsonObject(with: Data(entry.dropFirst(path.count + 1).utf8)) as? [[String: Any]]
        }
    }

    static func labels(_ alert: [String: Any]) -> [String: String] { alert["labels"] as? [String: String] ?? [:] }

    /// Ended already: a resolved alert (a firing one ends minutes from now).
    static func isResolved(_ alert: [String: Any]) -> Bool {
        guard let text = alert["endsAt"] as? String, let ends = Timestamp(iso8601: text) else { return false }
        return ends <= SystemSiteClock().wallNow()
    }

    @Test("a latch fires, is re-posted while latched with a fresh endsAt, and is resolved on reset; then re-posts stop")
    func latchRepostReset() async throws {
        let log = EventLog()
        try await withReceiver([Self.path: .respond(200)], log: log) { port in
            let channel = Self.channel(port: port)
            let notifier = Self.notifier([channel], log: log, repostEvery: .milliseconds(200))
            try await withRunning(notifier.run) {
                notifier.send(Self.latched(), to: [channel])
                // The record's post, then at least two re-posts.
                await log.wait(for: 3, Self.path + " ", limit: .seconds(30))
                let posts = Self.posts(log)
                try #require(posts.count >= 3)
                for alerts in posts {
                    #expect(alerts.count == 1)
                    #expect(
                        Self.labels(alerts[0]) == [
                            "alertname": "FireWatch", "site": "pangyo-a", "zone": "battery-room-a", "severity": "alarm",
                            "event": "zone.state",
                        ])
                    #expect(!Self.isResolved(alerts[0]))
                }
                let ends = posts.compactMap { $0.first?["endsAt"] as? String }
                #expect(ends.last! > ends.first!, "each re-post moves endsAt on: \(ends)")
                #expect(Set(posts.compactMap { $0.first?["startsAt"] as? String }).count == 1)
                // Re-posts are not deliveries of a record.
                #expect(notifier.statistics()["am"]?.delivered == 1)

                notifier.send(Self.reset(), to: [channel])
                let resolved = try await Self.waitUntil("the resolved alert") {
                    Self.posts(log).contains {
                        $0.contains { Self.isResolved($0) && Self.labels($0)["zone"] == "battery-room-a" }
                    }
                }
                #expect(resolved)
                let atReset = Self.posts(log).count
                // Five re-post intervals with nothing latched: nothing more is posted.
                try await Task.sleep(for: .seconds(1))
                #expect(Self.posts(log).count == atReset)
            }
            #expect(log.matching("failed").isEmpty)
        }
    }

    @Test("a reset the daemon only logged (follow) resolves the latch; webhook channels ignore follow")
    func followResolves() async throws {
        let log = EventLog()
        try await withReceiver([Self.path: .respond(200), "/hook": .respond(200)], log: log) { port in
            let channel = Self.channel(port: port)
            let hook = NotifyChannelTests.webhook("hook", port: port, path: "/hook")
            let notifier = Self.notifier([channel, hook], log: log)
            try await withRunning(notifier.run) {
                notifier.send(Self.latched(), to: [channel])
                await log.wait(for: 1, "delivered am", limit: .seconds(30))
                // Logged, not notified: a signal record is no event, the same latch again changes nothing.
                let signal = AlertRecord(
                    time: SystemSiteClock().wallNow(), site: "pangyo-a", zone: "battery-room-a", severity: .alarm,
                    event: .signalLevel, from: "alert", to: "alarm", message: "offgas alarm", signal: "offgas")
                notifier.follow(signal, on: [channel, hook])
                notifier.follow(Self.latched(), on: [channel, hook])
                notifier.follow(Self.reset(), on: [channel, hook])
                await log.wait(for: 2, "delivered am", limit: .seconds(30))
            }
            let posts = Self.posts(log)
            try #require(posts.count == 2)
            #expect(posts[1].count == 1 && Self.isResolved(posts[1][0]))
            #expect(
                posts[1][0]["annotations"].flatMap { ($0 as? [String: String])?["summary"] }
                    == "battery-room-a reset by alice — now normal")
            #expect(log.matching("/hook ").isEmpty)
        }
    }

    @Test("alarm → fire on one zone: one post resolves the alarm alert and fires the fire one")
    func escalation() async throws {
        let log = EventLog()
        try await withReceiver([Self.path: .respond(200)], log: log) { port in
            let channel = Self.channel(port: port)
            let notifier = Self.notifier([channel], log: log)
            try await withRunning(notifier.run) {
                notifier.send(Self.latched(.alarm), to: [channel])
                await log.wait(for: 1, "delivered am", limit: .seconds(30))
                notifier.send(Self.latched(.fire), to: [channel])
                await log.wait(for: 2, "delivered am", limit: .seconds(30))
            }
            let posts = Self.posts(log)
            try #require(posts.count == 2)
            let severities = posts[1].map { (Self.labels($0)["severity"] ?? "?", Self.isResolved($0)) }
            #expect(severities.map(\.0) == ["alarm", "fire"])
            #expect(severities.map(\.1) == [true, false])
        }
    }

    @Test(
        "Alertmanager answering 500: the record's post fails after its attempts, re-posts report only the first failure"
    )
    func failures() async throws {
        let log = EventLog()
        try await withReceiver([Self.path: .respond(500)], log: log) { port in
            let channel = Self.channel(port: port)
            let notifier = Self.notifier([channel], log: log, repostEvery: .milliseconds(100))
            try await withRunning(notifier.run) {
                notifier.send(Self.latched(), to: [channel])
                // 3 attempts of the record's post, then at least 3 re-posts (one attempt each).
                await log.wait(for: 6, Self.path + " ", limit: .seconds(30))
                await log.wait(for: 2, "failed am", limit: .seconds(30))
            }
            let failures = log.matching("failed am")
            try #require(failures.count == 2, "\(failures)")
            #expect(failures[0].contains("HTTP 500") && failures[0].contains("3 attempts"))
            #expect(failures[0].contains("127.0.0.1:\(port)/api/v2/alerts"))
            #expect(failures[1].contains("re-posting 1 firing alert") && failures[1].contains("HTTP 500"))
            #expect(failures[1].contains("further failures are only logged"))
        }
    }

    @Test("nobody listening: the failure says connection refused, like a webhook's")
    func refused() async throws {
        let log = EventLog()
        let refusing = try RefusingPort()
        let channel = Self.channel(port: refusing.port, timeout: .seconds(1))
        let notifier = Self.notifier([channel], log: log)
        let failures = try await withRunning(notifier.run) {
            notifier.send(Self.latched(), to: [channel])
            return await log.wait(for: 1, "failed am", limit: .seconds(30))
        }
        try #require(failures.count == 1)
        #expect(failures[0].contains("connection refused"))
        withExtendedLifetime(refusing) {}
    }

    @Test("notify test posts an event alert with event notify.test and answers delivered")
    func notifyTest() async throws {
        let log = EventLog()
        try await withReceiver([Self.path: .respond(200)], log: log) { port in
            let channel = Self.channel(port: port)
            let notifier = Self.notifier([channel], log: log)
            let results = try await withRunning(notifier.run) {
                let record = AlertRecord(
                    time: SystemSiteClock().wallNow(), site: "pangyo-a", severity: .info, event: .notifyTest,
                    message: "TEST from firewatch", uid: "1000")
                return await notifier.test(record, on: [channel])
            }
            #expect(results.map(\.channel) == ["am"])
            #expect(results.first?.failure == nil)
            let alert = try #require(Self.posts(log).first?.first)
            #expect(Self.labels(alert)["event"] == "notify.test" && Self.labels(alert)["zone"] == nil)
            #expect(!Self.isResolved(alert))
        }
    }

    @Test("a reload that removes a latched zone resolves its alert (no record of that zone will ever come)")
    func removedZone() async throws {
        let log = EventLog()
        try await withReceiver([Self.path: .respond(200)], log: log) { port in
            func site(_ zones: [String]) throws -> (ConfigSiteFixture, LoadedSite) {
                let text = """
                    site: pangyo-a
                    poll_interval: 1s
                    alert_log: state/alerts.jsonl
                    control_socket: state/control.sock
                    notify:
                      am: { alertmanager: "http://127.0.0.1:\(port)", timeout: 3s }
                    devices:
                      gas: { profile: sensor/offgas, host: 127.0.0.1, port: 1502 }
                    zones:
                    \(zones.map { "  \($0):\n    signals:\n      offgas: { sources: [gas.offgas], alert: detected, alarm: detected }" }.joined(separator: "\n"))
                    """
                let fixture = try ConfigSiteFixture(site: text)
                return (fixture, try fixture.load().get())
            }
            let (both, before) = try site(["room", "annex"])
            let (one, after) = try site(["room"])
            let channel = try #require(before.channel(named: "am"))
            let notifier = Self.notifier([channel], log: log)
            var builder = Daemon.Builder(
                site: before,
                options: DaemonOptions(logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
            builder.notifier = notifier
            let daemon = try builder.build()
            try await withRunning(notifier.run) {
                notifier.send(Self.latched(zone: "annex"), to: [channel])
                await log.wait(for: 1, "delivered am", limit: .seconds(30))
                daemon.followRemovedZones(from: before, to: after)
                await log.wait(for: 2, "delivered am", limit: .seconds(30))
            }
            let posts = Self.posts(log)
            try #require(posts.count == 2)
            #expect(posts[1].map { Self.labels($0)["zone"] } == ["annex"])
            #expect(posts[1].allSatisfy(Self.isResolved))
            withExtendedLifetime((both, one)) {}
        }
    }

    /// Polls `condition` every 50 ms for up to 30 s.
    static func waitUntil(_ what: String, _ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<600 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("gave up waiting for \(what)")
        return false
    }
}

import FireSafety
import FireWatchTesting
import Foundation
import Gateway
import Logging
import SiteConfig
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port, clustering off, whose one
/// route sends every alert, each in its own group, to `webhook` (resolved ones too) within about a second.
final class AlertmanagerServer: Sendable {
    static let binary = "/usr/bin/prometheus-alertmanager"
    let port: Int
    let folder: TemporaryDirectory
    let process: Process

    init(webhook: String) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw TestFailure(
                "\(Self.binary) is not installed: `make deps` installs it (apt-get install prometheus-alertmanager)")
        }
        folder = try TemporaryDirectory(prefix: "fw-alertmanager")
        port = try freeLoopbackPort()
        let config = """
            route:
              receiver: test
              group_by: ['...']
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: test
                webhook_configs:
                  - url: \(webhook)
                    send_resolved: true
            """
        try config.write(toFile: folder.file("alertmanager.yml"), atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: folder.file("alertmanager.log"), contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = [
            "--config.file=\(folder.file("alertmanager.yml"))", "--storage.path=\(folder.file("data"))",
            "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: folder.file("alertmanager.log"))
        process.standardError = FileHandle(forWritingAtPath: folder.file("alertmanager.log"))
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            folder.remove()
            throw error
        }
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }
    var log: String { (try? String(contentsOfFile: folder.file("alertmanager.log"), encoding: .utf8)) ?? "" }

    /// Until `/-/ready` answers 200 (at most 30 s).
    func waitReady() async throws {
        _ = try await eventually("ready") { () async -> Bool? in
            guard let (status, _) = try? await httpGet(port: port, "/-/ready"), status == 200 else { return nil }
            return true
        }
    }

    /// `GET /api/v2/alerts`: the alerts it has that have not ended (active, silenced or inhibited).
    func alerts() async -> [[String: Any]]? {
        guard let (status, body) = try? await httpGet(port: port, "/api/v2/alerts"), status == 200 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]
    }

    /// Asks `check` every 100 ms for up to 30 s.
    func eventually<T>(_ what: String, _ check: () async -> T?) async throws -> T {
        for _ in 0..<300 {
            if let value = await check() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("Alertmanager on \(port): gave up waiting for \(what); its log:\n\(log)")
    }

    /// SIGTERM, SIGKILL after 5 s; then its folder goes.
    func stop() {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        folder.remove()
    }
}

/// One alert of a notification Alertmanager's webhook sent (`status` is `firing` or `resolved`).
struct WebhookAlert {
    var status: String
    var labels: [String: String]
    var annotations: [String: String]

    /// Every alert of every notification the receiver got on `path`, in order.
    static func all(_ log: EventLog, path: String = "/am") -> [WebhookAlert] {
        log.matching(path + " ").flatMap { entry -> [WebhookAlert] in
            guard
                let body = try? JSONSerialization.jsonObject(with: Data(entry.dropFirst(path.count + 1).utf8))
                    as? [String: Any],
                let alerts = body["alerts"] as? [[String: Any]]
            else { return [] }
            return alerts.map {
                WebhookAlert(
                    status: $0["status"] as? String ?? "", labels: $0["labels"] as? [String: String] ?? [:],
                    annotations: $0["annotations"] as? [String: String] ?? [:])
            }
        }
    }
}

/// The `alertmanager:` channel against the real thing: alerts it accepts, notifications it sends, and a real
/// daemon's latch and reset (and restart) seen through it.
@Suite("Alertmanager channel against a real Alertmanager", .serialized)
struct AlertmanagerServerTests {
    @Test(
        "a latched zone fires (webhook notified, listed active), a walk-test zone is labelled test, a reset resolves it"
    )
    func latchThenReset() async throws {
        let log = EventLog()
        try await withReceiver(["/am": .respond(200)], log: log) { receiver in
            let server = try AlertmanagerServer(webhook: "http://127.0.0.1:\(receiver)/am")
            defer { server.stop() }
            try await server.waitReady()
            let channel = NotifyChannel(name: "am", target: .alertmanager(server.url), timeout: .seconds(3))
            let notifier = NotifyChannelTests.notifier([channel], log: log)
            try await withRunning(notifier.run) {
                // notify test: Alertmanager takes the body (its schema, our timestamps) and answers 2xx.
                let test = AlertRecord(
                    time: SystemSiteClock().wallNow(), site: "pangyo-a", severity: .info, event: .notifyTest,
                    message: "TEST from firewatch", uid: "1000")
                let answers = await notifier.test(test, on: [channel])
                #expect(answers.first?.failure == nil, "\(answers)")

                notifier.send(AlertmanagerChannelTests.latched(), to: [channel])
                var walk = AlertmanagerChannelTests.latched(zone: "battery-room-b")
                walk.test = true
                notifier.send(walk, to: [channel])
                let firing = try await server.eventually("the firing notification of battery-room-a") {
                    WebhookAlert.all(log).first { $0.status == "firing" && $0.labels["zone"] == "battery-room-a" }
                }
                #expect(
                    firing.labels == [
                        "alertname": "FireWatch", "site": "pangyo-a", "zone": "battery-room-a", "severity": "alarm",
                        "event": "zone.state",
                    ])
                #expect(firing.annotations["summary"] == "off-gas detected in battery-room-a")
                let active = try await server.eventually("battery-room-a active in /api/v2/alerts") {
                    () async -> [String: Any]? in
                    await server.alerts()?.first {
                        ($0["labels"] as? [String: String])?["zone"] == "battery-room-a"
                            && ($0["status"] as? [String: Any])?["state"] as? String == "active"
                    }
                }
                #expect((active["labels"] as? [String: String])?["severity"] == "alarm")
                let walkTest = try await server.eventually("the walk-test zone's notification") {
                    WebhookAlert.all(log).first { $0.status == "firing" && $0.labels["zone"] == "battery-room-b" }
                }
                #expect(walkTest.labels["test"] == "true")
                #expect(firing.labels["test"] == nil)
                let tested = try await server.eventually("the notify.test alert") {
                    WebhookAlert.all(log).first { $0.labels["event"] == "notify.test" }
                }
                #expect(tested.annotations["uid"] == "1000")

                notifier.send(AlertmanagerChannelTests.reset(), to: [channel])
                let resolved = try await server.eventually("the resolved notification of battery-room-a") {
                    WebhookAlert.all(log).first { $0.status == "resolved" && $0.labels["zone"] == "battery-room-a" }
                }
                #expect(resolved.labels == firing.labels)
                #expect(resolved.annotations["summary"] == "battery-room-a reset by alice — now normal")
                _ = try await server.eventually("battery-room-a gone from /api/v2/alerts") { () async -> Bool? in
                    guard let alerts = await server.alerts() else { return nil }
                    return alerts.contains { ($0["labels"] as? [String: String])?["zone"] == "battery-room-a" }
                        ? nil : true
                }
                // The walk-test zone is still latched: still firing.
                #expect(
                    !WebhookAlert.all(log).contains { $0.status == "resolved" && $0.labels["zone"] == "battery-room-b" }
                )
            }
            #expect(log.matching("failed").isEmpty, "\(log.matching("failed"))")
        }
    }

    @Test("a real daemon: off-gas latches room and it fires; a restart keeps posting it; the reset resolves it")
    func daemonLatchRestartReset() async throws {
        let log = EventLog()
        try await withReceiver(["/am": .respond(200)], log: log) { receiver in
            let server = try AlertmanagerServer(webhook: "http://127.0.0.1:\(receiver)/am")
            defer { server.stop() }
            try await server.waitReady()
            let site = try RuntimeHarness(
                notify: """
                    am: { alertmanager: "http://127.0.0.1:\(server.port)", timeout: 3s }
                    \(RuntimeHarness.defaultNotify)
                    """)
            defer { site.remove() }
            var daemon = try site.start()
            do {
                try await Self.latchRestartReset(site: site, daemon: &daemon, server: server, log: log)
            } catch {
                await daemon.stop()
                throw error
            }
            await daemon.stop()
        }
    }

    private static func latchRestartReset(
        site: RuntimeHarness, daemon: inout DaemonProcess, server: AlertmanagerServer, log: EventLog
    ) async throws {
        func roomAlert() async -> [String: Any]? {
            await server.alerts()?.first {
                ($0["labels"] as? [String: String])?["zone"] == "room"
                    && ($0["labels"] as? [String: String])?["event"] == "zone.state"
            }
        }
        #expect(await site.waitReady() != nil)
        try site.set("gas", .input, 0, [1])  // off-gas: alarm, the zone isolates and latches
        let fired = try await server.eventually("room's latch alert") { await roomAlert() }
        #expect((fired["labels"] as? [String: String])?["severity"] == "alarm")
        #expect((fired["labels"] as? [String: String])?["site"] == "test-site")
        _ = try await server.eventually("the firing notification of room") {
            WebhookAlert.all(log).first {
                $0.status == "firing" && $0.labels["zone"] == "room" && $0.labels["event"] == "zone.state"
            }
        }

        // A restart: the new process posts room's latch again (Alertmanager's updatedAt moves on) rather than
        // leaving it to expire.
        await daemon.stop()
        let before = try #require(await roomAlert()?["updatedAt"] as? String)
        daemon = try site.start()
        #expect(await site.waitReady() != nil)
        let again = try await server.eventually("room's alert updated by the restarted daemon") { () async -> String? in
            guard let updated = await roomAlert()?["updatedAt"] as? String, updated > before else { return nil }
            return updated
        }
        #expect(again > before)

        // Gas gone, then the operator resets (refused while a step of the isolation still runs): the reset is
        // logged, not notified, and still resolves the alert.
        try site.set("gas", .input, 0, [0])
        #expect(await site.waitForRecord(["event": "signal.level", "signal": "offgas", "to": "normal"]))
        var accepted = false
        for _ in 0..<60 where !accepted {
            accepted = try site.cli(["reset", "room", "--socket", site.socket]).status == 0
            if !accepted { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(accepted, "reset was refused every time")
        let resolved = try await server.eventually("the resolved notification of room") {
            WebhookAlert.all(log).first {
                $0.status == "resolved" && $0.labels["zone"] == "room" && $0.labels["event"] == "zone.state"
            }
        }
        #expect(resolved.labels["severity"] == "alarm")
        #expect(resolved.annotations["summary"]?.contains("reset by") == true)
        _ = try await server.eventually("room gone from /api/v2/alerts") { () async -> Bool? in
            guard await server.alerts() != nil else { return nil }
            return await roomAlert() == nil ? true : nil
        }
        #expect(
            !site.records().contains {
                $0["event"]?.stringValue == "notify.failed"
                    && $0["message"]?.stringValue?.hasPrefix("notification channel am failed") == true
            })
    }
}

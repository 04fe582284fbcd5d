import FireSafety
import FireWatchTesting
import Foundation
import Gateway
import Logging
import SiteConfig
import Testing

@Suite("Notify channels")
struct NotifyChannelTests {
    static func record(_ message: String = "off-gas detected in battery-room-a") -> AlertRecord {
        AlertRecord(
            time: Timestamp(seconds: 1_795_000_000), site: "pangyo-a", zone: "battery-room-a", severity: .alarm,
            event: .zoneState, from: "alert", to: "isolating", device: "gas-a", point: "offgas", value: "detected",
            message: message, level: .alarm)
    }

    static func notifier(
        _ channels: [NotifyChannel], log: EventLog,
        options: ChannelNotifier.Options = .init(
            queueCapacity: 8, webhookAttempts: 3, retryBackoff: .milliseconds(10), commandKillGrace: .seconds(1))
    ) -> ChannelNotifier {
        ChannelNotifier(
            channels: channels, options: options,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            onDelivered: { channel, record in log.append("delivered \(channel) \(record.message)") },
            onFailure: { channel, record, reason in log.append("failed \(channel) \(record.message): \(reason)") })
    }

    static func webhook(_ name: String, port: Int, path: String, timeout: Duration = .seconds(5)) -> NotifyChannel {
        NotifyChannel(name: name, target: .webhook(URL(string: "http://127.0.0.1:\(port)\(path)")!), timeout: timeout)
    }

    @Test("a webhook gets the record as JSON with the alert log's keys")
    func webhookBody() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(204)], log: log) { port in
            let channel = Self.webhook("ops-webhook", port: port, path: "/hook")
            let notifier = Self.notifier([channel], log: log)
            try await withRunning(notifier.run) {
                notifier.send(Self.record(), to: [channel])
                await log.wait(for: 1, "delivered ops-webhook")
            }
            let bodies = log.matching("/hook ")
            try #require(bodies.count == 1)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(bodies[0].dropFirst("/hook ".count).utf8))
                    as? [String: Any])
            #expect(json["event"] as? String == "zone.state")
            #expect(json["zone"] as? String == "battery-room-a")
            #expect(json["site"] as? String == "pangyo-a")
            #expect(json["severity"] as? String == "alarm")
            #expect(json["from"] as? String == "alert")
            #expect(json["to"] as? String == "isolating")
            #expect(json["device"] as? String == "gas-a")
            #expect(json["value"] as? String == "detected")
            #expect(json["level"] as? String == "alarm")
            #expect(json["message"] as? String == "off-gas detected in battery-room-a")
            #expect(json["time"] as? String == Timestamp(seconds: 1_795_000_000).description)
            #expect(json["seq"] == nil && json["prev"] == nil)
            #expect(notifier.statistics()["ops-webhook"] == .init(delivered: 1, failed: 0, dropped: 0, queued: 0))
        }
    }

    @Test("a webhook answering 500 fails after every attempt, and onFailure says why")
    func webhook500() async throws {
        let log = EventLog()
        try await withReceiver(["/hook": .respond(500)], log: log) { port in
            let channel = Self.webhook("ops-webhook", port: port, path: "/hook")
            let notifier = Self.notifier([channel], log: log)
            let failures = try await withRunning(notifier.run) {
                notifier.send(Self.record(), to: [channel])
                return await log.wait(for: 1, "failed ops-webhook")
            }
            try #require(failures.count == 1)
            #expect(failures[0].contains("HTTP 500"))
            #expect(failures[0].contains("3 attempts"))
            #expect(log.matching("/hook ").count == 3)
            #expect(log.matching("delivered").isEmpty)
            #expect(notifier.statistics()["ops-webhook"]?.failed == 1)
        }
    }

    @Test("a hung webhook times out while a healthy channel delivers first")
    func hungChannelDoesNotDelayOthers() async throws {
        let log = EventLog()
        try await withReceiver(["/hang": .hang, "/ok": .respond(200)], log: log) { port in
            let hung = Self.webhook("hung", port: port, path: "/hang", timeout: .milliseconds(300))
            let healthy = Self.webhook("healthy", port: port, path: "/ok")
            let notifier = Self.notifier([hung, healthy], log: log)
            try await withRunning(notifier.run) {
                // The hung channel first, so a shared queue would make the healthy one wait behind it.
                notifier.send(Self.record("first"), to: [hung, healthy])
                notifier.send(Self.record("second"), to: [hung, healthy])
                await log.wait(for: 2, "failed hung")
            }
            let events = log.all
            let delivered = try #require(events.lastIndex { $0 == "delivered healthy second" })
            let firstFailure = try #require(events.firstIndex { $0.hasPrefix("failed hung first") })
            #expect(delivered < firstFailure, "healthy channel delivered both before the hung one's first failure")
            #expect(events[firstFailure].contains("no answer within"))
            #expect(log.matching("/hang ").count == 6)  // 3 attempts for each of the 2 records
            #expect(notifier.statistics()["healthy"]?.delivered == 2)
            #expect(notifier.statistics()["hung"]?.failed == 2)
        }
    }

    @Test("a command channel gets the record JSON on stdin")
    func commandStdin() async throws {
        let log = EventLog()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/page.json"
        let channel = NotifyChannel(
            name: "pager", target: .command(["/bin/sh", "-c", "cat > '\(file)'"]), timeout: .seconds(10))
        let notifier = Self.notifier([channel], log: log)
        try await withRunning(notifier.run) {
            notifier.send(Self.record(), to: [channel])
            await log.wait(for: 1, "delivered pager")
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasSuffix("}\n"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(json["event"] as? String == "zone.state")
        #expect(json["message"] as? String == "off-gas detected in battery-room-a")
        #expect(log.matching("failed").isEmpty)
    }

    @Test("a command that exits non-zero is a failure")
    func commandFails() async throws {
        let log = EventLog()
        let channel = NotifyChannel(name: "pager", target: .command(["/bin/false"]), timeout: .seconds(10))
        let notifier = Self.notifier([channel], log: log)
        let failures = try await withRunning(notifier.run) {
            notifier.send(Self.record(), to: [channel])
            return await log.wait(for: 1, "failed pager")
        }
        try #require(failures.count == 1)
        #expect(failures[0].contains("exit status 1"))
        #expect(failures[0].contains("/bin/false"))
        #expect(notifier.statistics()["pager"]?.failed == 1)
    }

    @Test("a full queue drops the oldest records and reports each drop")
    func queueOverflow() async throws {
        let log = EventLog()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/pages.jsonl"
        let channel = NotifyChannel(
            name: "pager", target: .command(["/bin/sh", "-c", "cat >> '\(file)'"]), timeout: .seconds(10))
        let notifier = Self.notifier(
            [channel], log: log, options: .init(queueCapacity: 2, webhookAttempts: 1, retryBackoff: .milliseconds(10)))
        // Not running yet: nothing drains, so the queue fills deterministically.
        for index in 0..<5 { notifier.send(Self.record("m\(index)"), to: [channel]) }
        #expect(notifier.statistics()["pager"] == .init(delivered: 0, failed: 3, dropped: 3, queued: 2))
        try await withRunning(notifier.run) {
            await log.wait(for: 3, "failed pager")
            await log.wait(for: 2, "delivered pager")
        }
        let failures = log.matching("failed pager")
        #expect(
            failures.map { String($0.split(separator: ":")[0]) }
                == ["failed pager m0", "failed pager m1", "failed pager m2"])
        #expect(failures.allSatisfy { $0.contains("queue full") })
        #expect(log.matching("delivered pager") == ["delivered pager m3", "delivered pager m4"])
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains("\"message\":\"m3\"") || $0.contains("\"message\":\"m4\"") })
    }

    @Test("a webhook nobody listens on fails with the reason a person can act on")
    func refused() async throws {
        let log = EventLog()
        let refusing = try RefusingPort()
        let port = refusing.port
        let channel = Self.webhook("dead", port: port, path: "/hook", timeout: .seconds(1))
        let notifier = Self.notifier([channel], log: log)
        let failures = try await withRunning(notifier.run) {
            notifier.send(Self.record(), to: [channel])
            return await log.wait(for: 1, "failed dead")
        }
        try #require(failures.count == 1)
        #expect(failures[0].contains("connection refused"))
        #expect(failures[0].contains("127.0.0.1:\(port)/hook"))
        withExtendedLifetime(refusing) {}
    }
}

import FireSafety
import Foundation
import Logging
import SiteConfig
import Synchronization
import Testing

@testable import Gateway

/// The daemon's side of failed channels and of an alert log that is not durable, run in-process.
@Suite("Failure notices")
struct FailureNoticeTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A site with two channels whose alert log path is, at first, a folder (so the log cannot be opened).
    static func fixture() throws -> ConfigSiteFixture {
        let fixture = try ConfigSiteFixture(
            site: """
                site: notices
                poll_interval: 1s
                alert_log: state/alerts.jsonl
                control_socket: state/control.sock
                notify:
                  ops:   { webhook: "http://127.0.0.1:9/hook", timeout: 1s }
                  pager: { command: [/bin/false], timeout: 1s }
                devices:
                  gas: { profile: sensor/offgas, host: 127.0.0.1, port: 9 }
                zones:
                  room:
                    signals:
                      offgas: { sources: [gas.offgas], alert: detected, alarm: detected }
                """)
        try FileManager.default.createDirectory(
            atPath: fixture.folder + "/state/alerts.jsonl", withIntermediateDirectories: true)
        return fixture
    }

    static func until(_ condition: () -> Bool) async {
        for _ in 0..<200 where !condition() { try? await Task.sleep(for: .milliseconds(50)) }
    }

    @Test("notify.failed goes to every other channel; a failed failure notice is only logged")
    func failureNoticeOnOtherChannels() async throws {
        let fixture = try Self.fixture()
        let notifier = RecordingNotifier()
        var builder = Daemon.Builder(
            site: try fixture.load().get(), options: DaemonOptions(logger: Self.logger, handleSignals: false))
        builder.notifier = notifier
        let daemon = try builder.build()
        try await withRunning({ try await daemon.run() }) {
            let about = AlertRecord(
                time: Timestamp(seconds: 0), site: "notices", zone: "room", severity: .alarm, event: .zoneState,
                message: "room isolating")
            await daemon.notificationFailed(channel: "pager", record: about, error: "exit status 1")
            #expect(notifier.sends(.notifyFailed) == [["ops"]])
            // The notice itself fails on ops: logged, not sent again (two dead channels must not ping-pong).
            let notice = AlertRecord(
                time: Timestamp(seconds: 0), site: "notices", zone: "room", severity: .trouble, event: .notifyFailed,
                message: "notification channel pager failed")
            await daemon.notificationFailed(channel: "ops", record: notice, error: "connection refused")
            #expect(notifier.sends(.notifyFailed) == [["ops"]])
            await daemon.shutdown()
        }
    }

    @Test("ALERT LOG NOT DURABLE and its recovery are sent on every channel, and logged once the log takes them")
    func durabilityNotices() async throws {
        let fixture = try Self.fixture()
        let notifier = RecordingNotifier()
        var builder = Daemon.Builder(
            site: try fixture.load().get(), options: DaemonOptions(logger: Self.logger, handleSignals: false))
        builder.notifier = notifier
        let daemon = try builder.build()
        let path = fixture.folder + "/state/alerts.jsonl"
        try await withRunning({ try await daemon.run() }) {
            await Self.until { !notifier.sends(.logNotDurable).isEmpty }
            #expect(notifier.sends(.logNotDurable) == [["ops", "pager"]])
            #expect(await daemon.status().alertLog.degraded)
            // The operator frees the path; the daemon's once-a-second retry writes what it held.
            try FileManager.default.removeItem(atPath: path)
            await Self.until { !notifier.sends(.logDurable).isEmpty }
            #expect(notifier.sends(.logDurable) == [["ops", "pager"]])
            await daemon.shutdown()
        }
        let events = try AlertRecord.readLog(at: path).map(\.event)
        #expect(events.contains(.logNotDurable) && events.contains(.logDurable))
        #expect(events.firstIndex(of: .logNotDurable)! < events.firstIndex(of: .logDurable)!)
    }
}

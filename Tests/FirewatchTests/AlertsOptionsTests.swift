import AlertLog
import FireWatchTesting
import Foundation
import Testing

@testable import firewatch

/// Where `firewatch alerts` meets the site file: the log's path from `alert_log:` and `--since`/`--until` in the
/// site file's duration spelling.
@Suite("Alerts: the command's options")
struct AlertsOptionsTests {
    @Test("--since and --until take a duration back from now or an RFC 3339 time")
    func timeBounds() {
        #expect(AlertTimeBound.parse("500ms", now: 10_000) == 9_500)
        #expect(AlertTimeBound.parse("10m", now: 1_000_000) == 400_000)
        #expect(AlertTimeBound.parse("1d", now: 86_400_000) == 0)
        #expect(AlertTimeBound.parse("2h", now: 10_000_000) == 2_800_000)
        #expect(AlertTimeBound.parse("2026-11-24T03:12:09.125Z", now: 0) == 1_795_489_929_125)
        for bad in ["ten minutes", "1h30m", "-5m", "yesterday", ""] {
            #expect(AlertTimeBound.parse(bad, now: 0) == nil, "\(bad)")
        }
    }

    @Test("the log path comes from --log, else alert_log: relative to the site file, else the default")
    func logPath() throws {
        let folder = try TemporaryDirectory(prefix: "alerts-cfg")
        defer { folder.remove() }
        let site = folder.file("site.yaml")
        try "site: x\nalert_log: state/alerts.jsonl\n".write(toFile: site, atomically: true, encoding: .utf8)
        #expect(try AlertLogPath.resolve(log: "/x/y", config: site).path == "/x/y")
        #expect(try AlertLogPath.resolve(log: nil, config: site).path == folder.path + "/state/alerts.jsonl")
        #expect(try AlertLogPath.resolve(log: nil, config: nil).path == AlertLogPath.defaultPath)
        try "site: x\nalert_log: [1, 2]\n".write(toFile: site, atomically: true, encoding: .utf8)
        let error = #expect(throws: AlertReadError.self) { try AlertLogPath.resolve(log: nil, config: site) }
        #expect(error?.code == .badConfig)
        #expect(error?.message.contains("site.yaml:2") == true)
    }
}

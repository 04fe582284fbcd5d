import FireSafety
import Foundation
import Testing

@testable import Gateway

/// The in-process pieces of the runtime: the record ↔ JSON mapping, the status line, readings from a poll.
struct RuntimeUnitTests {
    @Test func everyAlertRecordFieldRoundTripsThroughTheLogWithItsDocumentedKey() throws {
        let record = AlertRecord(
            time: Timestamp(iso8601: "2026-11-24T03:12:09.125Z")!, site: "pangyo-a", zone: "battery-room-a",
            severity: .alarm, event: .stepStarted, from: "alert", to: "isolating", device: "gas-a", point: "offgas",
            value: "detected", message: "off-gas detected", signal: "offgas", level: .alarm, procedure: .powerCut,
            step: 2, stepText: "command feed-a.open_feed_1", uid: "1000",
            until: Timestamp(iso8601: "2026-11-24T03:12:39.125Z")!, reason: "maintenance", outcome: "accepted",
            detail: "exit status 0")
        let members = record.jsonMembers(extra: [JSONMember("version", "0.1.0"), JSONMember("message", "dup")])
        let keys = members.map(\.key)
        #expect(
            keys == [
                "time", "site", "zone", "severity", "event", "from", "to", "device", "point", "value", "message",
                "signal", "level", "procedure", "step", "step_text", "uid", "until", "reason", "outcome", "detail",
                "version",
            ])
        // Through the bytes the log holds, and back.
        let line = JSONWriter.serialize(members: members + [JSONMember("unknown_field", 7)])
        let fields = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        guard case .object(let parsed) = fields else {
            Issue.record("not an object")
            return
        }
        let back = AlertRecord(
            jsonFields: Dictionary(parsed.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }))
        #expect(back == record)
    }

    @Test func aRecordWithoutOptionalFieldsLeavesThemOutAndALineThatIsNoRecordIsSkipped() {
        let record = AlertRecord(
            time: Timestamp(seconds: 0), site: "s", severity: .info, event: .daemonStarted, message: "hi")
        #expect(record.jsonMembers().map(\.key) == ["time", "site", "severity", "event", "message"])
        #expect(AlertRecord(jsonFields: ["event": "log.truncated", "time": "1970-01-01T00:00:00.000Z"]) == nil)
        #expect(AlertRecord(jsonFields: ["event": "zone.state", "site": "s", "severity": "bad"]) == nil)
    }

    @Test func theStatusLineCountsZonesByStateAndDevicesUp() {
        let zones = ["a", "b", "c"].map { ZoneSpec(name: $0, signals: [], isolate: [], suppress: [], powerCut: []) }
        let engine = Engine(
            model: SiteModel(site: "s", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: zones))
        let line = DaemonStatus.summaryLine(zones: engine.status, devicesUp: 17, devices: 18)
        #expect(line == "3 zones: 3 normal; 17/18 devices up")
    }
}

import FireSafety
import Foundation
import Testing

@testable import Gateway

/// The pure part of an `alertmanager:` channel: which alerts records make, and what stays firing.
@Suite("Alertmanager alerts from records")
struct AlertmanagerAlertsTests {
    static let start = Timestamp(seconds: 1_795_000_000)

    static func zoneState(
        _ from: String, _ to: String, severity: Severity, level: Level?, at seconds: Int64 = 0,
        message: String? = nil, test: Bool = false
    ) -> AlertRecord {
        var record = AlertRecord(
            time: start + .seconds(seconds), site: "pangyo-a", zone: "battery-room-a", severity: severity,
            event: .zoneState, from: from, to: to, message: message ?? "battery-room-a \(from) → \(to)", level: level)
        record.test = test
        return record
    }

    static let base = ["alertname": "FireWatch", "site": "pangyo-a", "zone": "battery-room-a", "event": "zone.state"]

    @Test("a latched zone fires one alert with the site, zone, severity and event labels, ending 3 re-posts later")
    func latchFires() throws {
        var alerts = AlertmanagerAlerts()
        let record = Self.zoneState(
            "alert", "isolating", severity: .alarm, level: .alarm, message: "off-gas in battery-room-a")
        let now = Self.start + .seconds(2)
        let change = alerts.take(record, notified: true, at: now)
        #expect(change.alerts.isEmpty && change.firingChanged)
        let firing = alerts.firing(at: now)
        try #require(firing.count == 1)
        #expect(firing[0].labels == Self.base.merging(["severity": "alarm"]) { $1 })
        #expect(firing[0].annotations["summary"] == "off-gas in battery-room-a")
        #expect(firing[0].annotations["to"] == "isolating" && firing[0].annotations["level"] == "alarm")
        #expect(firing[0].startsAt == record.time)
        #expect(firing[0].endsAt == now + .seconds(180))
        // Posted again later: same start, a fresh end.
        #expect(alerts.firing(at: now + .seconds(60)).map(\.endsAt) == [now + .seconds(240)])
        #expect(alerts.firing(at: now + .seconds(60)).map(\.startsAt) == [record.time])
    }

    @Test("alarm → fire resolves the alarm alert and fires the fire one; reset resolves that; nothing fires after")
    func alarmFireReset() throws {
        var alerts = AlertmanagerAlerts()
        _ = alerts.take(
            Self.zoneState("alert", "isolating", severity: .alarm, level: .alarm), notified: true, at: Self.start)
        // Same labels again (isolating → isolated, a reminder): an update, not a new alert.
        let update = alerts.take(
            Self.zoneState("isolating", "isolated", severity: .alarm, level: .alarm, at: 5), notified: true,
            at: Self.start + .seconds(5))
        #expect(update.alerts.isEmpty && !update.firingChanged)
        #expect(alerts.firing(at: Self.start + .seconds(5)).map(\.startsAt) == [Self.start])
        #expect(alerts.firing(at: Self.start + .seconds(5)).first?.annotations["to"] == "isolated")

        let fireAt = Self.start + .seconds(10)
        let fire = alerts.take(
            Self.zoneState("isolated", "suppressing", severity: .fire, level: .fire, at: 10), notified: true, at: fireAt
        )
        #expect(fire.firingChanged)
        try #require(fire.alerts.count == 1)
        #expect(fire.alerts[0].labels["severity"] == "alarm")
        #expect(fire.alerts[0].startsAt == Self.start && fire.alerts[0].endsAt == fireAt)
        let firing = alerts.firing(at: fireAt)
        #expect(firing.map { $0.labels["severity"] } == ["fire"])
        #expect(firing.map(\.startsAt) == [fireAt])

        // A trouble overlay while latched keeps the fire alert (its level is still fire).
        let trouble = alerts.take(
            Self.zoneState("suppressing", "trouble", severity: .trouble, level: .fire, at: 12), notified: true,
            at: Self.start + .seconds(12))
        #expect(trouble.alerts.isEmpty && !trouble.firingChanged)

        let resetAt = Self.start + .seconds(30)
        let reset = alerts.take(
            Self.zoneState(
                "suppressed", "normal", severity: .info, level: nil, at: 30, message: "battery-room-a reset by alice"),
            notified: false, at: resetAt)
        #expect(reset.firingChanged)
        try #require(reset.alerts.count == 1)
        #expect(reset.alerts[0].labels == Self.base.merging(["severity": "fire"]) { $1 })
        #expect(reset.alerts[0].endsAt == resetAt && reset.alerts[0].startsAt == fireAt)
        #expect(reset.alerts[0].annotations["summary"] == "battery-room-a reset by alice")
        #expect(alerts.firing(at: resetAt).isEmpty)
        #expect(alerts.latches.isEmpty)
    }

    @Test("other notified records are events that end by themselves; followed ones are not posted")
    func events() throws {
        var alerts = AlertmanagerAlerts()
        let signal = AlertRecord(
            time: Self.start, site: "pangyo-a", zone: "battery-room-a", severity: .alert, event: .signalLevel,
            from: "normal", to: "alert", device: "gas-a", point: "offgas", value: "detected",
            message: "offgas alert in battery-room-a", signal: "offgas")
        let now = Self.start + .seconds(1)
        let change = alerts.take(signal, notified: true, at: now)
        #expect(!change.firingChanged && alerts.firing(at: now).isEmpty)
        try #require(change.alerts.count == 1)
        let event = change.alerts[0]
        #expect(
            event.labels == [
                "alertname": "FireWatch", "site": "pangyo-a", "zone": "battery-room-a", "severity": "alert",
                "event": "signal.level", "signal": "offgas", "device": "gas-a",
            ])
        #expect(event.startsAt == Self.start && event.endsAt == Self.start + .seconds(300))
        #expect(event.annotations["value"] == "detected" && event.annotations["point"] == "offgas")
        #expect(event.annotations["site"] == nil && event.annotations["message"] == nil)
        #expect(alerts.take(signal, notified: false, at: now).alerts.isEmpty)

        // A zone reaching alert latches nothing: an event too.
        let alert = Self.zoneState("normal", "alert", severity: .alert, level: nil)
        #expect(alerts.take(alert, notified: true, at: now).alerts.map { $0.labels["event"] } == ["zone.state"])
        #expect(alerts.latches.isEmpty)

        // Site-wide records have no zone label; an operator's uid is an annotation.
        let failed = AlertRecord(
            time: Self.start, site: "pangyo-a", severity: .trouble, event: .notifyFailed,
            message: "notification channel pager failed", uid: "1000")
        let site = try #require(alerts.take(failed, notified: true, at: now).alerts.first)
        #expect(site.labels["zone"] == nil && site.labels["event"] == "notify.failed")
        #expect(site.annotations["uid"] == "1000")
    }

    @Test("records of a zone in a walk test are labelled test=\"true\", latched or not")
    func walkTest() throws {
        var alerts = AlertmanagerAlerts()
        _ = alerts.take(
            Self.zoneState("alert", "isolating", severity: .alarm, level: .alarm, test: true), notified: true,
            at: Self.start)
        #expect(alerts.firing(at: Self.start).map { $0.labels["test"] } == ["true"])
        let end = alerts.take(
            Self.zoneState("test", "normal", severity: .info, level: nil, at: 60, test: true), notified: true,
            at: Self.start + .seconds(60))
        #expect(end.alerts.map { $0.labels["test"] } == ["true"])
        #expect(end.alerts.map(\.endsAt) == [Self.start + .seconds(60)])
        let event = alerts.take(
            Self.zoneState("normal", "alert", severity: .alert, level: nil, test: true), notified: true, at: Self.start)
        #expect(event.alerts.map { $0.labels["test"] } == ["true"])
        let live = alerts.take(
            Self.zoneState("normal", "alert", severity: .alert, level: nil), notified: true, at: Self.start)
        #expect(live.alerts.map { $0.labels["test"] } == [nil])
    }

    @Test("a record stamped later than the wall clock starts now, so endsAt never precedes startsAt")
    func futureRecord() {
        var alerts = AlertmanagerAlerts()
        let now = Self.start
        _ = alerts.take(
            Self.zoneState("alert", "isolating", severity: .alarm, level: .alarm, at: 3600), notified: true, at: now)
        #expect(alerts.firing(at: now).map(\.startsAt) == [now])
        let reset = alerts.take(
            Self.zoneState("isolated", "normal", severity: .info, level: nil, at: 3600), notified: true, at: now)
        #expect(reset.alerts.allSatisfy { $0.endsAt >= $0.startsAt })
    }

    @Test("the body is a JSON array of postable alerts with ISO 8601 UTC times")
    func body() throws {
        var alerts = AlertmanagerAlerts()
        _ = alerts.take(
            Self.zoneState("alert", "isolating", severity: .alarm, level: .alarm), notified: true, at: Self.start)
        let bytes = AlertmanagerAlerts.body(alerts.firing(at: Self.start))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]])
        try #require(json.count == 1)
        #expect(Set(json[0].keys) == ["labels", "annotations", "startsAt", "endsAt"])
        #expect((json[0]["labels"] as? [String: String])?["zone"] == "battery-room-a")
        #expect(json[0]["startsAt"] as? String == "2026-11-18T11:06:40.000Z")
        #expect(json[0]["endsAt"] as? String == (Self.start + .seconds(180)).description)
        #expect(AlertmanagerAlerts.body([]) == Array("[]".utf8))
    }
}

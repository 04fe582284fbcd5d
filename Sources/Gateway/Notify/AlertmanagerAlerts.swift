import AlertLog
import FireSafety
import Foundation
import SiteConfig

/// How an `alertmanager:` channel keeps its alerts alive (`ChannelNotifier.Options.alertmanager`).
public struct AlertmanagerOptions: Sendable {
    /// How often the firing alerts (latched zones) are posted again while nothing else is posted.
    public var repostEvery: Duration {
        didSet { firingLasts = repostEvery * 3 }
    }
    /// A firing alert's `endsAt` is this far after each post; 3 × `repostEvery` unless set: three re-posts in a row
    /// must be missed (FireWatch down, the network cut) before Alertmanager resolves it by itself, as with
    /// Prometheus's 4 × its interval.
    public var firingLasts: Duration
    /// How long an event alert (anything but a latch) lasts: Alertmanager resolves it by itself after this.
    public var eventLasts: Duration
    /// Wall time for `startsAt`/`endsAt`. Real time even in a compressed demo: Alertmanager expires alerts on its
    /// own wall clock.
    public var clock: any SiteClock

    public init(
        repostEvery: Duration = .seconds(60), eventLasts: Duration = .seconds(300),
        clock: any SiteClock = SystemSiteClock()
    ) {
        self.repostEvery = repostEvery
        self.firingLasts = repostEvery * 3
        self.eventLasts = eventLasts
        self.clock = clock
    }
}

/// What an `alertmanager:` channel has Alertmanager show, decided from records alone (no I/O, no clock reads).
///
/// - A latched zone (a `zone.state` record with `level` `alarm` or `fire`) has one *firing* alert, labelled
///   `event="zone.state"` and `severity` = its level; the channel posts it again every
///   `AlertmanagerOptions.repostEvery` with a fresh `endsAt`, as Prometheus does, so it stays firing while the
///   zone is latched.
/// - A later `zone.state` record of that zone without a latch (a reset, the end of a walk test) resolves it:
///   the same labels with `endsAt` = now. A latch that changes labels (alarm → fire) resolves the old alert and
///   fires the new one, so a zone has at most one firing latch alert.
/// - Every other notified record is an *event*: posted once, with `endsAt` = its start + `eventLasts`.
/// - Labels: `alertname="FireWatch"`, `site`, `zone` (absent for site-wide records), `severity`, `event`, and
///   `test="true"` on records of a zone in a walk test; events also carry `signal` and `device` when the record
///   names them, so two sensors' events are two alerts. Annotations: `summary` (the record's message) and the
///   record's other alert-log members (`from`, `to`, `value`, `uid`, `time`…).
struct AlertmanagerAlerts: Sendable {
    /// One alert as `POST /api/v2/alerts` takes it (`postableAlert`; no `generatorURL`: there is no page to link).
    struct Alert: Sendable, Hashable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: Timestamp
        var endsAt: Timestamp

        var json: JSONValue {
            func set(_ pairs: [String: String]) -> JSONValue {
                .object(pairs.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value)) })
            }
            return .object([
                JSONMember("labels", set(labels)), JSONMember("annotations", set(annotations)),
                JSONMember("startsAt", .string(startsAt.description)),
                JSONMember("endsAt", .string(endsAt.description)),
            ])
        }
    }

    /// A latched zone's alert, while it fires.
    struct Latch: Sendable, Hashable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: Timestamp
        /// The latest record of the zone, for a failure report.
        var record: AlertRecord
    }

    var eventLasts: Duration
    var firingLasts: Duration
    /// By zone name.
    private(set) var latches: [String: Latch] = [:]

    init(eventLasts: Duration = .seconds(300), firingLasts: Duration = .seconds(180)) {
        self.eventLasts = eventLasts
        self.firingLasts = firingLasts
    }

    init(_ options: AlertmanagerOptions) {
        self.init(eventLasts: options.eventLasts, firingLasts: options.firingLasts)
    }

    /// What `record` changes, at wall time `now`: the alerts it resolves or announces (the firing ones are
    /// `firing(at:)`), and whether the set of firing alerts changed. A record only followed (`notified` false: a
    /// logged record the engine did not send, such as a reset) resolves and fires latches but is no event.
    mutating func take(_ record: AlertRecord, notified: Bool, at now: Timestamp) -> (
        alerts: [Alert], firingChanged: Bool
    ) {
        if record.event == .zoneState, let zone = record.zone {
            if let level = record.level, level >= .alarm {
                let labels = Self.labels(of: record, severity: level.severity, latch: true)
                let old = latches[zone]
                var resolved: [Alert] = []
                if let old, old.labels != labels { resolved.append(Self.resolved(old, at: now)) }
                let same = old?.labels == labels
                latches[zone] = Latch(
                    labels: labels, annotations: Self.annotations(of: record),
                    startsAt: same ? old!.startsAt : min(record.time, now), record: record)
                return (resolved, !same)
            }
            if var old = latches.removeValue(forKey: zone) {
                // The resolved alert says what cleared it ("reset by …").
                old.annotations = Self.annotations(of: record)
                return ([Self.resolved(old, at: now)], true)
            }
        }
        guard notified else { return ([], false) }
        let start = min(record.time, now)
        let event = Alert(
            labels: Self.labels(of: record, severity: record.severity, latch: false),
            annotations: Self.annotations(of: record), startsAt: start, endsAt: start + eventLasts)
        return ([event], false)
    }

    /// The firing alerts as posted at `now`: each ends `firingLasts` later unless posted again.
    func firing(at now: Timestamp) -> [Alert] {
        latches.keys.sorted().compactMap { zone in
            latches[zone].map {
                Alert(labels: $0.labels, annotations: $0.annotations, startsAt: $0.startsAt, endsAt: now + firingLasts)
            }
        }
    }

    /// What `firewatch check` says of a channel posting to `base`.
    static func summary(of base: URL, _ options: AlertmanagerOptions = AlertmanagerOptions()) -> String {
        "alertmanager \(base.appendingPathComponent("api/v2/alerts").absoluteString): latched zones fire until reset, "
            + "re-posted every \(options.repostEvery.configText); events expire after \(options.eventLasts.configText)"
    }

    /// The `POST /api/v2/alerts` body.
    static func body(_ alerts: [Alert]) -> [UInt8] {
        Array(JSONWriter.serialize(.array(alerts.map(\.json))).utf8)
    }

    private static func resolved(_ latch: Latch, at now: Timestamp) -> Alert {
        Alert(
            labels: latch.labels, annotations: latch.annotations, startsAt: latch.startsAt,
            endsAt: max(now, latch.startsAt))
    }

    static func labels(of record: AlertRecord, severity: Severity, latch: Bool) -> [String: String] {
        var labels = [
            "alertname": "FireWatch", "site": record.site, "severity": severity.name, "event": record.event.rawValue,
        ]
        labels["zone"] = record.zone
        if record.test { labels["test"] = "true" }
        if !latch {
            labels["signal"] = record.signal
            labels["device"] = record.device
        }
        return labels
    }

    /// `summary` is the message; the record's other members (the alert log's keys, CONTRACT.md) as text.
    static func annotations(of record: AlertRecord) -> [String: String] {
        let labelled: Set = ["site", "zone", "severity", "event", "message", "test"]
        var annotations: [String: String] = [:]
        if !record.message.isEmpty { annotations["summary"] = record.message }
        for member in record.jsonMembers() where !labelled.contains(member.key) {
            switch member.value {
            case .string(let text): annotations[member.key] = text
            case .int(let number): annotations[member.key] = String(number)
            case .bool(let flag): annotations[member.key] = flag ? "true" : "false"
            default: continue
            }
        }
        return annotations
    }
}

import FireSafety
import Modbus
import Prometheus
import SiteConfig
import Synchronization

/// Turns what the daemon reports through `RuntimeObserver` into Prometheus metrics in a registry it owns.
///
/// The library never bootstraps the global `MetricsSystem`: the registry is passed in (or made here) and served
/// by `MetricsServer`. An executable that also wants swift-metrics users (hummingbird middleware, NIO) on the
/// same page bootstraps `MetricsSystem` with `metricsFactory`.
///
/// Metric names (all gauges unless the name ends in `_total`, `_seconds` histograms say so):
/// - `firewatch_build_info{version,site}` 1.
/// - `firewatch_zone_state{zone,state}`: 1 for the zone's current state, 0 for the six others (a Prometheus
///   state set, so `firewatch_zone_state{state!="normal"} == 1` selects every zone not normal).
///   `firewatch_zone_state_code{zone}`: the same as a number, 0 normal, 1 alert, 2 isolating, 3 isolated,
///   4 suppressing, 5 suppressed, 6 power_cut (ordered by tier, so `> 1` means actuation was decided).
/// - `firewatch_zone_trouble{zone}`, `firewatch_zone_inhibited{zone}`, `firewatch_zone_acknowledged{zone}`:
///   overlays, 0/1.
/// - `firewatch_signal_level{zone,signal,level}`: a state set over `normal|alert|alarm|fire|trouble`;
///   `firewatch_signal_degraded{zone,signal}` 0/1.
/// - `firewatch_point_value{device,point}`: each decoded point (numbers after scale and offset, bools and bits
///   0/1, enums their raw register value; NaN when undecodable); `point` is `point.bit` for named bits.
///   `firewatch_point_valid{device,point}` 0/1 (out of range, unknown enum and undecodable are 0).
/// - `firewatch_device_up{device}` 0/1; `firewatch_device_last_poll_success_timestamp_seconds{device}` (site
///   time, Unix seconds: age is `time() - …`; 0 until the first success, so a device that never answered alerts
///   too); `firewatch_poll_duration_seconds{device}` histogram;
///   `firewatch_poll_errors_total{device,kind}` with `kind` one of `exception`, `timeout`, `connection_refused`,
///   `connection_reset`, `host_unreachable`, `invalid_response`, `invalid_request`, `closed`, `other`.
/// - `firewatch_poll_lateness_seconds` histogram (one series for the site): how long after its due tick each poll
///   started; `firewatch_polling_late` 0/1, 1 from a `poll.late` record to its `poll.on_time`.
/// - `firewatch_steps_total{zone,procedure,outcome}` (`succeeded|failed|skipped`).
/// - `firewatch_notification_failures_total{channel}`; `firewatch_notifications_delivered_total{channel}` (from
///   `notificationDelivered`, which the wiring calls from `ChannelNotifier`'s `onDelivered`);
///   `firewatch_notify_channel_up{channel}` 1 after a delivery (a notification or a heartbeat), 0 after a failure,
///   absent until the channel has been tried.
/// - `firewatch_alert_log_records_total{severity,durable}` (`durable="false"`: held in the in-memory backlog),
///   `firewatch_alert_log_degraded` (1 while the latest append was not durable),
///   `firewatch_alert_log_fsync_duration_seconds` histogram (durable appends only).
public final class MetricsObserver: RuntimeObserver {
    /// The registry every metric of this observer lives in; `MetricsServer` serves it.
    public let registry: PrometheusCollectorRegistry

    /// A swift-metrics factory writing into the same registry, for an executable that bootstraps `MetricsSystem`.
    public var metricsFactory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    private let pollBuckets: [Duration]
    private let fsyncBuckets: [Duration]
    /// Devices the site configures: health waits for each of them, not just for those seen so far.
    private let expectedDevices: [String]
    /// Per device, the site time its last poll finished (any outcome): what `pollProgress` judges.
    private let lastPoll = Mutex<[String: Timestamp]>([:])
    /// Series touched on every poll, looked up once: the registry validates names and labels on each lookup,
    /// and a site polls dozens of devices several times a second.
    private let deviceSeries = Mutex<[String: DeviceSeries]>([:])
    private let pointSeries = Mutex<[PointKey: PointSeries]>([:])
    /// What each zone's gauges show now; an evaluation that changes nothing for a zone costs one comparison.
    private let shownZones = Mutex<[String: ShownZone]>([:])

    /// - Parameters:
    ///   - registry: where the metrics go; a fresh one by default.
    ///   - site: the site name for `firewatch_build_info`.
    ///   - devices: the configured devices, so `pollProgress` reports one that never finished a poll.
    ///   - version: the daemon's version for `firewatch_build_info`.
    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), site: String = "",
        devices: [String] = [], version: String = BuildInfo.version
    ) {
        self.registry = registry
        self.expectedDevices = devices
        // Modbus/TCP polls take milliseconds on a healthy LAN; timeouts sit at seconds.
        self.pollBuckets = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        // fsync on a healthy disk is sub-millisecond to a few ms; a dying one takes seconds.
        self.fsyncBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ]
        self.latenessHistogram = registry.makeDurationHistogram(
            descriptor: Self.descriptor(Name.pollLateness, Help.pollLateness), labels: [],
            buckets: Self.latenessBuckets)
        gauge(Name.buildInfo, Help.buildInfo, [("version", version), ("site", site)])
            .set(to: 1)
        gauge(Name.pollingLate, Help.pollingLate).set(to: 0)
    }

    /// Every poll records its lateness here: made once, not looked up per poll.
    private let latenessHistogram: DurationHistogram
    private static let latenessBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10),
    ]

    // MARK: RuntimeObserver

    public func pollStarted(device: String, lateness: Duration) {
        latenessHistogram.record(lateness)
    }

    public func pollingLate(_ late: Bool) {
        gauge(Name.pollingLate, Help.pollingLate).set(to: late ? 1 : 0)
    }

    public func pollFinished(device: String, duration: Duration, error: ModbusError?, at: Timestamp) {
        lastPoll.withLock { $0[device] = at }
        let series = series(of: device)
        series.duration.record(duration)
        if let error {
            counter(Name.pollErrors, Help.pollErrors, [("device", device), ("kind", Self.kind(of: error.code))])
                .increment()
        } else {
            series.lastSuccess.set(to: Double(at.nanoseconds) / 1e9)
            // A completed poll proves reachability; losing it is the daemon's call (it may debounce).
            series.up.set(to: 1)
        }
    }

    public func pointsRead(device: String, readings: [PointReading], at: Timestamp) {
        for reading in readings {
            let valid: Double = reading.isValid ? 1 : 0
            setPoint(device: device, point: reading.point, value: Self.number(reading), valid: valid)
            for (bit, on) in reading.bits {
                setPoint(device: device, point: reading.point + "." + bit, value: on ? 1 : 0, valid: valid)
            }
        }
    }

    public func deviceAvailability(device: String, up: Bool, at: Timestamp) {
        series(of: device).up.set(to: up ? 1 : 0)
    }

    public func stepFinished(zone: String, procedure: ProcedureKind, index: Int, outcome: StepOutcome) {
        let labels = [("zone", zone), ("procedure", procedure.rawValue), ("outcome", outcome.rawValue)]
        counter(Name.steps, Help.steps, labels).increment()
    }

    public func recordAppended(_ record: AlertRecord, fsyncLatency: Duration, durable: Bool) {
        let labels = [("severity", record.severity.name), ("durable", durable ? "true" : "false")]
        counter(Name.records, Help.records, labels).increment()
        gauge(Name.logDegraded, Help.logDegraded).set(to: durable ? 0 : 1)
        if durable {
            histogram(Name.fsync, Help.fsync, buckets: fsyncBuckets)
                .record(fsyncLatency)
        }
    }

    public func engineEvaluated(zones: [ZoneStatus], at: Timestamp) {
        let changed = shownZones.withLock { shown in
            zones.filter { zone in
                let now = ShownZone(status: zone, inhibited: zone.inhibitedUntil.map { $0 > at } ?? false)
                if shown[zone.name] == now { return false }
                shown[zone.name] = now
                return true
            }
        }
        for zone in changed {
            for state in ZoneState.allCases {
                let labels = [("zone", zone.name), ("state", state.rawValue)]
                gauge(Name.zoneState, Help.zoneState, labels).set(to: state == zone.state ? 1 : 0)
            }
            let code = ZoneState.allCases.firstIndex(of: zone.state).map(Double.init) ?? -1
            gauge(Name.zoneStateCode, Help.zoneStateCode, [("zone", zone.name)])
                .set(to: code)
            gauge(Name.zoneTrouble, Help.zoneTrouble, [("zone", zone.name)])
                .set(to: zone.trouble ? 1 : 0)
            let inhibited = zone.inhibitedUntil.map { $0 > at } ?? false
            gauge(Name.zoneInhibited, Help.zoneInhibited, [("zone", zone.name)])
                .set(to: inhibited ? 1 : 0)
            gauge(Name.zoneAcknowledged, Help.zoneAck, [("zone", zone.name)])
                .set(to: zone.acknowledged ? 1 : 0)
            for signal in zone.signals {
                let labels = [("zone", zone.name), ("signal", signal.name)]
                for condition in SignalCondition.allCases {
                    let level = labels + [("level", condition.rawValue)]
                    gauge(Name.signalLevel, Help.signalLevel, level).set(to: condition == signal.condition ? 1 : 0)
                }
                gauge(Name.signalDegraded, Help.signalDegraded, labels)
                    .set(to: signal.degraded ? 1 : 0)
            }
        }
    }

    public func notificationFailed(channel: String) {
        counter(Name.notifyFailures, Help.notifyFailures, [("channel", channel)])
            .increment()
        gauge(Name.notifyChannelUp, Help.notifyChannelUp, [("channel", channel)]).set(to: 0)
    }

    public func standbyRole(_ role: String, epoch: Int64, etcdReachable: Bool) {
        for kind in ["owner", "standby", "unknown"] {
            gauge(Name.standbyRole, Help.standbyRole, [("role", kind)]).set(to: kind == role ? 1 : 0)
        }
        gauge(Name.ownerEpoch, Help.ownerEpoch).set(to: Double(epoch))
        gauge(Name.etcdUp, Help.etcdUp).set(to: etcdReachable ? 1 : 0)
    }

    /// A notification channel delivered a record (not part of `RuntimeObserver`: the notifier reports it).
    public func notificationDelivered(channel: String) {
        counter(Name.notifyDelivered, Help.notifyDelivered, [("channel", channel)]).increment()
        gauge(Name.notifyChannelUp, Help.notifyChannelUp, [("channel", channel)]).set(to: 1)
    }

    // MARK: Health

    /// Whether polling makes progress at site time `now`: every configured device (and every device seen) has
    /// finished a poll, successful or not, within `maxAge`. A device that is down but polled still counts as
    /// progress; `firewatch_device_up` reports it.
    public func pollProgress(now: Timestamp, maxAge: Duration) -> Health {
        let polls = lastPoll.withLock { $0 }
        let devices = Set(expectedDevices).union(polls.keys).sorted()
        if devices.isEmpty { return .unhealthy("no poll has finished yet") }
        var late: [String] = []
        for device in devices {
            guard let last = polls[device] else {
                late.append("\(device) (never polled)")
                continue
            }
            if now - last > maxAge { late.append("\(device) (last poll \(now - last) ago)") }
        }
        if late.isEmpty { return .healthy }
        return .unhealthy("no poll finished within \(maxAge) for " + late.joined(separator: ", "))
    }

    // MARK: Helpers

    // The registry hands back the existing series for a known name and label set; the descriptor form is the
    // one swift-prometheus keeps (the `name:help:` calls are deprecated).
    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Counter {
        registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
    }

    private func histogram(
        _ name: String, _ help: String, _ labels: [(String, String)] = [], buckets: [Duration]
    ) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func setPoint(device: String, point: String, value: Double, valid: Double) {
        let series = pointSeries.withLock { all in
            let key = PointKey(device: device, point: point)
            if let known = all[key] { return known }
            let labels = [("device", device), ("point", point)]
            let made = PointSeries(
                value: gauge(Name.pointValue, Help.pointValue, labels),
                valid: gauge(Name.pointValid, Help.pointValid, labels))
            all[key] = made
            return made
        }
        series.value.set(to: value)
        series.valid.set(to: valid)
    }

    private func series(of device: String) -> DeviceSeries {
        deviceSeries.withLock { all in
            if let known = all[device] { return known }
            let labels = [("device", device)]
            let made = DeviceSeries(
                duration: histogram(Name.pollDuration, Help.pollDuration, labels, buckets: pollBuckets),
                lastSuccess: gauge(Name.lastPollSuccess, Help.lastPollSuccess, labels),
                up: gauge(Name.deviceUp, Help.deviceUp, labels))
            all[device] = made
            return made
        }
    }

    /// The number a point's gauge shows; NaN when nothing decoded.
    static func number(_ reading: PointReading) -> Double {
        switch reading.value {
        case .number(let value)?: return value
        case .flag(let on)?: return on ? 1 : 0
        // Enum names cannot be a sample value; the raw register is, and the profile maps it back.
        case .name?: return reading.raw.first.map(Double.init) ?? .nan
        case nil:
            if case .unknownEnum(let raw) = reading.validity { return Double(raw) }
            return .nan
        }
    }

    /// The `kind` label of a poll error.
    static func kind(of code: ModbusError.Code) -> String {
        switch code {
        case .exception: return "exception"
        case .timeout: return "timeout"
        case .connectionRefused: return "connection_refused"
        case .connectionReset: return "connection_reset"
        case .hostUnreachable: return "host_unreachable"
        case .invalidResponse: return "invalid_response"
        case .invalidRequest: return "invalid_request"
        case .closed: return "closed"
        case .other: return "other"
        }
    }

    /// Metric names, in one place so the deploy rules and tests can be checked against them.
    enum Name {
        static let buildInfo = "firewatch_build_info"
        static let zoneState = "firewatch_zone_state"
        static let zoneStateCode = "firewatch_zone_state_code"
        static let zoneTrouble = "firewatch_zone_trouble"
        static let zoneInhibited = "firewatch_zone_inhibited"
        static let zoneAcknowledged = "firewatch_zone_acknowledged"
        static let signalLevel = "firewatch_signal_level"
        static let signalDegraded = "firewatch_signal_degraded"
        static let pointValue = "firewatch_point_value"
        static let pointValid = "firewatch_point_valid"
        static let deviceUp = "firewatch_device_up"
        static let lastPollSuccess = "firewatch_device_last_poll_success_timestamp_seconds"
        static let pollDuration = "firewatch_poll_duration_seconds"
        static let pollErrors = "firewatch_poll_errors_total"
        static let steps = "firewatch_steps_total"
        static let notifyFailures = "firewatch_notification_failures_total"
        static let notifyDelivered = "firewatch_notifications_delivered_total"
        static let notifyChannelUp = "firewatch_notify_channel_up"
        static let records = "firewatch_alert_log_records_total"
        static let logDegraded = "firewatch_alert_log_degraded"
        static let fsync = "firewatch_alert_log_fsync_duration_seconds"
        static let standbyRole = "firewatch_standby_role"
        static let ownerEpoch = "firewatch_owner_epoch"
        static let etcdUp = "firewatch_standby_etcd_up"
        static let pollLateness = "firewatch_poll_lateness_seconds"
        static let pollingLate = "firewatch_polling_late"
    }

    /// One help text per name: the registry refuses a second, different one.
    private enum Help {
        static let buildInfo = "FireWatch daemon build; always 1."
        static let zoneState = "1 for the zone's current state, 0 for the others."
        static let zoneStateCode =
            "Zone state as a number: 0 normal, 1 alert, 2 isolating, 3 isolated, 4 suppressing, 5 suppressed, "
            + "6 power_cut."
        static let zoneTrouble = "1 while some signal of the zone is degraded or has no healthy source."
        static let zoneInhibited = "1 while an operator inhibit holds the zone's actuation."
        static let zoneAck = "1 while an operator acknowledged the zone's current state."
        static let signalLevel = "1 for the signal's current level after voting, 0 for the others."
        static let signalDegraded = "1 while some source of the signal is failed, stale, invalid or missing."
        static let pointValue =
            "Last decoded value of a device point (bools and bits 0/1, enums their raw value, NaN when undecodable)."
        static let pointValid = "1 when the point's last reading was valid (decoded, in range, known enum value)."
        static let deviceUp = "1 while the device answers its polls, 0 after communication loss."
        static let lastPollSuccess = "Site time of the device's last successful poll, in Unix seconds; 0 until one."
        static let pollDuration = "Time one poll of a device took, in seconds."
        static let pollErrors = "Failed polls by device and kind of error."
        static let steps = "Procedure steps finished, by zone, procedure and outcome."
        static let notifyFailures = "Notifications a channel failed to deliver (after retries) or dropped."
        static let notifyDelivered = "Notifications a channel delivered."
        static let notifyChannelUp = "1 when the channel's last delivery (a notification or a heartbeat) succeeded, 0 when it failed."
        static let records = "Alert log records appended, by severity and whether they reached the disk."
        static let logDegraded = "1 while the alert log holds records only in memory (disk full or failing)."
        static let fsync = "Time to write and fsync one alert log record, in seconds."
        static let standbyRole =
            "Hot-standby pair: 1 for this gateway's role (owner holds the site's etcd lease and acts; standby writes "
            + "nothing; unknown: etcd not reached since start), 0 for the others."
        static let ownerEpoch = "Hot-standby pair: the epoch of the site's lease as this gateway last saw it."
        static let etcdUp = "Hot-standby pair: 1 while etcd answers this gateway."
        static let pollLateness =
            "How long after it was due each poll started, in seconds (due at its tick, or one interval after the previous poll if earlier)."
        static let pollingLate = "1 while polling is late (a poll started a whole poll interval or more after it was due)."
    }
}

private struct DeviceSeries: Sendable {
    var duration: DurationHistogram
    var lastSuccess: Prometheus.Gauge
    var up: Prometheus.Gauge
}

private struct PointKey: Hashable, Sendable {
    var device: String
    var point: String
}

private struct PointSeries: Sendable {
    var value: Prometheus.Gauge
    var valid: Prometheus.Gauge
}

private struct ShownZone: Equatable, Sendable {
    var status: ZoneStatus
    var inhibited: Bool
}

/// What `/healthz` answers: healthy, or unhealthy with the reason a person reads.
public enum Health: Sendable, Equatable {
    case healthy
    case unhealthy(String)
}

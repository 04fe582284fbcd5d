import Foundation
import FireSafety

/// What `firewatch status` shows: the daemon, every zone and every device. `Codable` with snake_case keys (the
/// control socket's `status` answer carries it as `data`).
public struct DaemonStatus: Sendable, Codable, Hashable {
    /// One zone: its state and overlays, what is causing them, and the procedure under way.
    public struct Zone: Sendable, Codable, Hashable {
        public var name: String
        /// `normal`, `alert`, `isolating`, `isolated`, `suppressing`, `suppressed`, `power_cut`.
        public var state: String
        /// `alarm` or `fire` while latched.
        public var latched: String?
        public var trouble: Bool
        public var acknowledged: Bool
        /// ISO 8601, while inhibited.
        public var inhibitedUntil: String?
        public var inhibitReason: String?
        /// ISO 8601, while a walk test runs (`firewatch test`): nothing of the zone's procedures runs until then.
        public var testUntil: String? = nil
        public var testReason: String? = nil
        /// Who started it, as records name an operator (`root (uid 0)`).
        public var testBy: String? = nil
        /// Signals that are not normal: `offgas: alarm`, `temperature: trouble (degraded)`.
        public var causes: [String]
        /// `idle`, `running step N`, `done` or `aborted`, per procedure.
        public var isolate: String
        public var suppress: String
        public var powerCut: String
        /// The step running now, if any.
        public var running: Step?
    }

    /// The step a zone is running.
    public struct Step: Sendable, Codable, Hashable {
        public var procedure: String
        /// Zero-based, as in the alert log.
        public var index: Int
        /// As configured (`command feed-a.stop_hvac`).
        public var text: String
        public var startedAt: String
        /// End of a delay step.
        public var until: String?
    }

    /// One device: is it answering, and when was it last polled.
    public struct Device: Sendable, Codable, Hashable {
        public var name: String
        public var endpoint: String
        /// Nil until its first poll has finished.
        public var up: Bool?
        /// ISO 8601 end of the last poll.
        public var lastPoll: String?
        /// Seconds of site time since the last poll ended.
        public var lastPollAgeSeconds: Double?
        public var polls: Int
        public var failedPolls: Int
        public var lastError: String?
    }

    /// One notification channel: does it work, as its last delivery (a notification or a heartbeat) said.
    public struct Channel: Sendable, Codable, Hashable {
        public var name: String
        /// `webhook URL` or `command /path` (what `check` prints).
        public var target: String
        /// `1h` for a supervised channel, nil without a heartbeat.
        public var heartbeat: String?
        /// Nil until the channel has been tried.
        public var up: Bool?
        public var delivered: Int
        public var failed: Int
        public var lastError: String?
        /// ISO 8601 of the last delivery and the last failure.
        public var lastDelivered: String?
        public var lastFailed: String?
    }

    /// The alert log's health.
    public struct AlertLogState: Sendable, Codable, Hashable {
        public var path: String
        /// Records are held in memory because the disk does not take them.
        public var degraded: Bool
        public var backlog: Int
        public var lastError: String?
        public var nextSeq: Int
    }

    /// A hot-standby pair's gateway: who it is, who holds the site's lease, and how fresh that is.
    public struct Standby: Sendable, Codable, Hashable {
        public var gateway: String
        public var peers: [String]
        /// `owner`, `standby` or `unknown` (etcd not reached since start).
        public var role: String
        public var owner: String?
        public var epoch: Int64
        /// Seconds since this gateway became owner (nil unless owner).
        public var leaseAgeSeconds: Double?
        /// Seconds its lease is surely valid for, on its monotonic clock (nil unless owner).
        public var leaseLeftSeconds: Double?
        /// `reachable`, or why etcd did not answer.
        public var etcd: String
        public var lastContactAgeSeconds: Double?
        /// Whether this gateway writes, runs and notifies now.
        public var acting: Bool
        /// Acting although its lease cannot be renewed (etcd unreachable): the pair's policy, and trouble.
        public var actingWithoutLease: Bool
    }

    public var site: String
    public var version: String
    public var configFile: String
    public var startedAt: String
    public var now: String
    public var dryRun: Bool
    /// Every device has finished its first poll (systemd `READY=1` was sent).
    public var ready: Bool
    /// The `STATUS=` line.
    public var summary: String
    public var zones: [Zone]
    public var devices: [Device]
    public var channels: [Channel] = []
    /// Polls start a whole poll interval or more after they are due (from `poll.late` to `poll.on_time`).
    public var pollingLate = false
    public var alertLog: AlertLogState
    /// Nil for a gateway that acts alone.
    public var standby: Standby?
}

extension DaemonStatus {
    /// `3 zones: 2 normal, 1 isolated; 17/18 devices up` (what systemd shows as STATUS=).
    public static func summaryLine(zones: [ZoneStatus], devicesUp: Int, devices: Int) -> String {
        var counts: [(ZoneState, Int)] = []
        for state in ZoneState.allCases {
            let n = zones.filter { $0.state == state }.count
            if n > 0 { counts.append((state, n)) }
        }
        let trouble = zones.filter(\.trouble).count
        let testing = zones.filter { $0.testUntil != nil }.count
        var parts = counts.map { "\($0.1) \($0.0.rawValue)" }
        if trouble > 0 { parts.append("\(trouble) in trouble") }
        if testing > 0 { parts.append("\(testing) in walk test") }
        return "\(zones.count) zone\(zones.count == 1 ? "" : "s"): \(parts.joined(separator: ", ")); "
            + "\(devicesUp)/\(devices) devices up"
    }

    /// The human form of `firewatch status`: a header, one block per zone, one line per device.
    public func rendered() -> String {
        var lines: [String] = []
        lines.append("firewatch \(version) — site \(site)\(dryRun ? " (dry run: nothing is written)" : "")")
        lines.append("  \(summary)")
        lines.append("  config \(configFile); started \(startedAt); \(ready ? "ready" : "waiting for first polls")")
        let log = alertLog
        if log.degraded {
            lines.append(
                "  ALERT LOG DEGRADED: \(log.backlog) record(s) held in memory"
                    + (log.lastError.map { " — \($0)" } ?? ""))
        } else {
            lines.append("  alert log \(log.path) (next seq \(log.nextSeq))")
        }
        if let pair = standby {
            var line = "  standby pair \(pair.peers.joined(separator: " + ")): this is \(pair.gateway), \(pair.role.uppercased())"
            if let owner = pair.owner { line += "; owner \(owner), epoch \(pair.epoch)" }
            if let age = pair.leaseAgeSeconds { line += "; lease held \(Self.age(age))" }
            if let left = pair.leaseLeftSeconds { line += ", \(Self.age(left)) left" }
            lines.append(line)
            if pair.etcd != "reachable" {
                lines.append(
                    "  ETCD UNREACHABLE: \(pair.etcd)"
                        + (pair.lastContactAgeSeconds.map { " (last answer \(Self.age($0)) ago)" } ?? " (never answered)"))
            }
            lines.append(
                pair.actingWithoutLease ? "  ACTING WITHOUT A LEASE (the pair's rule while etcd is unreachable)"
                    : pair.acting ? "  this gateway writes, runs and notifies" : "  this gateway writes nothing")
        }
        for zone in zones {
            lines.append("")
            var overlays: [String] = []
            if let latched = zone.latched { overlays.append("latched \(latched)") }
            if zone.trouble { overlays.append("TROUBLE") }
            if let until = zone.inhibitedUntil {
                overlays.append("inhibited until \(until)" + (zone.inhibitReason.map { " (\($0))" } ?? ""))
            }
            if let until = zone.testUntil {
                overlays.append(
                    "WALK TEST until \(until)" + (zone.testReason.map { " (\($0)" + (zone.testBy.map { ", \($0)" } ?? "") + ")" } ?? "")
                        + ": nothing runs")
            }
            if zone.acknowledged { overlays.append("acknowledged") }
            lines.append(
                "zone \(zone.name): \(zone.state)" + (overlays.isEmpty ? "" : " [\(overlays.joined(separator: ", "))]"))
            lines.append("  causes: " + (zone.causes.isEmpty ? "none" : zone.causes.joined(separator: "; ")))
            lines.append("  isolate \(zone.isolate), suppress \(zone.suppress), power_cut \(zone.powerCut)")
            if let step = zone.running {
                lines.append(
                    "  running: \(step.procedure) step \(step.index + 1): \(step.text) since \(step.startedAt)"
                        + (step.until.map { " until \($0)" } ?? ""))
            }
        }
        if pollingLate {
            lines.insert(
                "  POLLING LATE: polls start a whole poll interval or more after they are due (the poll.late record "
                    + "says which device first); detection is late by as much", at: 4)
        }
        let down = channels.filter { $0.up == false }
        if !down.isEmpty {
            lines.insert(
                contentsOf: down.map { "  NOTIFY CHANNEL DOWN: \($0.name)" + ($0.lastError.map { " — \($0)" } ?? "") },
                at: 4)
        }
        if !channels.isEmpty {
            lines.append("")
            lines.append("channels:")
            let width = channels.map(\.name.count).max() ?? 0
            for channel in channels {
                let heartbeat = channel.heartbeat.map { "heartbeat every \($0)" } ?? "no heartbeat"
                lines.append(
                    Self.line(
                        channel.name, width: width, up: channel.up, unknown: "untried", lastError: channel.lastError,
                        "\(channel.target); \(heartbeat); \(channel.delivered) delivered, \(channel.failed) failed"))
            }
        }
        lines.append("")
        lines.append("devices:")
        let width = devices.map(\.name.count).max() ?? 0
        for device in devices {
            let age = device.lastPollAgeSeconds.map { "last poll \(Self.age($0)) ago" } ?? "not polled yet"
            lines.append(
                Self.line(
                    device.name, width: width, up: device.up, unknown: "pending", lastError: device.lastError,
                    "\(age)  \(device.endpoint)"))
        }
        return lines.joined(separator: "\n")
    }

    /// `  name  up      detail`, with ` — why` when it is down: one line of the devices' or the channels' block.
    private static func line(
        _ name: String, width: Int, up: Bool?, unknown: String, lastError: String?, _ detail: String
    ) -> String {
        let state = up.map { $0 ? "up" : "DOWN" } ?? unknown
        return "  \(name.padding(toLength: width, withPad: " ", startingAt: 0))  "
            + "\(state.padding(toLength: 7, withPad: " ", startingAt: 0)) \(detail)"
            + (up == false ? (lastError.map { " — \($0)" } ?? "") : "")
    }

    private static func age(_ seconds: Double) -> String {
        if seconds < 10 { return "\((seconds * 10).rounded() / 10) s" }
        if seconds < 120 { return "\(Int(seconds)) s" }
        if seconds < 7200 { return "\(Int(seconds / 60)) min" }
        return "\(Int(seconds / 3600)) h"
    }
}

import FireSafety
import Foundation
import Modbus

/// One device of the site: where it is and which profile describes it.
public struct DeviceConfig: Sendable, Hashable {
    /// The name used in references (`gas-a` in `gas-a.offgas`).
    public var name: String
    /// The profile reference as written (`sensor/offgas`, or a path ending in `.yaml`).
    public var profile: String
    public var host: String
    /// TCP port, 502 when not given.
    public var port: Int
    /// Modbus unit identifier, 1 when not given.
    public var unit: Int
    /// Overrides the site's `poll_interval` for this device.
    public var pollInterval: Duration?
    /// Overrides the site's per-request `timeout` for this device.
    public var timeout: Duration?
    /// Overrides the profile's and site's `max_gap` for this device.
    public var maxGap: Int?
    /// The simulator's settings for this device (`simulate: { zone: …, powered_by_feed: 1 }`), passed through.
    public var simulate: [String: LocatedText] = [:]

    public init(
        name: String, profile: String, host: String, port: Int = 502, unit: Int = 1, pollInterval: Duration? = nil,
        timeout: Duration? = nil, maxGap: Int? = nil
    ) {
        self.name = name
        self.profile = profile
        self.host = host
        self.port = port
        self.unit = unit
        self.pollInterval = pollInterval
        self.timeout = timeout
        self.maxGap = maxGap
    }

    /// `host:port unit N`, for messages.
    public var endpoint: String { "\(host):\(port) unit \(unit)" }
}

/// Where a notification goes.
public enum NotifyTarget: Sendable, Hashable {
    /// POST the event JSON to this http(s) URL.
    case webhook(URL)
    /// Run this program (argv, no shell) with the event JSON on stdin.
    case command([String])
    /// POST alerts to this Alertmanager's v2 API: the base URL (no trailing `/`); `/api/v2/alerts` is appended.
    case alertmanager(URL)
}

/// A named notification channel (`notify:` in the site file).
public struct NotifyChannel: Sendable, Hashable {
    public var name: String
    public var target: NotifyTarget
    public var timeout: Duration
    /// `heartbeat:`: a supervised channel gets a heartbeat this often (and one at start); a heartbeat that fails
    /// is a `notify.failed` like any notification. Nil: no heartbeat.
    public var heartbeat: Duration?

    public init(name: String, target: NotifyTarget, timeout: Duration, heartbeat: Duration? = nil) {
        self.name = name
        self.target = target
        self.timeout = timeout
        self.heartbeat = heartbeat
    }

    /// The shortest `heartbeat:` accepted: more often floods the people who read the channel.
    public static let minimumHeartbeat: Duration = .seconds(60)
}

/// `host:port`, for the metrics listener.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port` or `[v6]:port`; nil when malformed or the port is outside 0…65535.
    public init?(parsing text: String) {
        let host: Substring, portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(" "), let port = Int(portText), (0...65535).contains(port) else {
            return nil
        }
        self.init(host: String(host), port: port)
    }
}

/// Where the profile used for a reference was found (`check` prints it).
public enum ProfileOrigin: Sendable, Hashable, CustomStringConvertible {
    /// `devices/` beside the site file.
    case besideSite
    /// One of the site's `profile_path:` folders.
    case profilePath(String)
    /// The profiles FireWatch ships.
    case shipped
    /// A file path given directly (`profile: ./my-ups.yaml`).
    case file

    public var description: String {
        switch self {
        case .besideSite: return "site devices/"
        case .profilePath(let folder): return "profile_path \(folder)"
        case .shipped: return "shipped"
        case .file: return "file"
        }
    }
}

/// A profile together with the file it came from.
public struct ResolvedProfile: Sendable, Hashable {
    /// The reference as written in the site file.
    public var reference: String
    /// Absolute path of the file that won the lookup.
    public var path: String
    public var origin: ProfileOrigin
    public var profile: DeviceProfile

    public init(reference: String, path: String, origin: ProfileOrigin, profile: DeviceProfile) {
        self.reference = reference
        self.path = path
        self.origin = origin
        self.profile = profile
    }
}

/// A validated site: the engine's `SiteModel` plus everything the gateway needs to poll, act and notify.
///
/// Produced only by `SiteLoader`, so every reference in it resolves: each source names a device
/// whose profile has that point (and bit), each command step a declared command, each notify step a channel.
public struct LoadedSite: Sendable {
    /// Absolute path of the site file.
    public var file: String
    /// Zones, signals, votes, thresholds and procedures for the engine.
    public var model: SiteModel
    /// Devices in file order.
    public var devices: [DeviceConfig]
    /// Profiles by reference (`ups/apc-smart-ups`), with where each came from.
    public var profiles: [String: ResolvedProfile]
    /// Notification channels in file order.
    public var notify: [NotifyChannel]
    /// Absolute path of the alert log.
    public var alertLog: String
    /// Rotate the alert log before a file would grow past this (`alert_log_max_size`, default 16 MiB).
    public var alertLogMaxBytes = LoadedSite.defaultAlertLogMaxBytes
    /// Rotated alert-log files kept besides the live one (`alert_log_keep`, default 10). Every file starts with a
    /// checkpoint of the state, so dropping the oldest forgets no latch.
    public var alertLogKeep = LoadedSite.defaultAlertLogKeep
    public static let defaultAlertLogMaxBytes = 16 << 20
    public static let minimumAlertLogMaxBytes = 1 << 10
    public static let defaultAlertLogKeep = 10
    /// Absolute path of the control socket.
    public var controlSocket: String
    /// Where to serve metrics; nil when the site has no `metrics:`.
    public var metrics: HostPort?
    /// Per-request Modbus response timeout, unless a device overrides it.
    public var requestTimeout: Duration
    /// Largest gap the planner bridges, unless the profile or device overrides it.
    public var maxGap: Int
    /// The simulator's settings per zone (`simulate: { strings: 4, feeds: 2 }`), passed through unread.
    public var zoneSimulation: [String: [String: LocatedText]] = [:]
    /// The hot-standby pair (`standby:`); nil for a gateway that acts alone.
    public var standby: StandbyConfig?

    public init(
        file: String, model: SiteModel, devices: [DeviceConfig], profiles: [String: ResolvedProfile],
        notify: [NotifyChannel], alertLog: String, controlSocket: String, metrics: HostPort?,
        requestTimeout: Duration, maxGap: Int
    ) {
        self.file = file
        self.model = model
        self.devices = devices
        self.profiles = profiles
        self.notify = notify
        self.alertLog = alertLog
        self.controlSocket = controlSocket
        self.metrics = metrics
        self.requestTimeout = requestTimeout
        self.maxGap = maxGap
    }

    public func device(named name: String) -> DeviceConfig? { devices.first { $0.name == name } }

    /// The profile of a device (always present for a device of a loaded site).
    public func profile(of device: String) -> DeviceProfile? {
        self.device(named: device).flatMap { profiles[$0.profile]?.profile }
    }

    public func channel(named name: String) -> NotifyChannel? { notify.first { $0.name == name } }

    public func pollInterval(of device: DeviceConfig) -> Duration { device.pollInterval ?? model.pollInterval }
    public func timeout(of device: DeviceConfig) -> Duration { device.timeout ?? requestTimeout }

    /// Device setting, then profile setting, then the site's.
    public func maxGap(of device: DeviceConfig) -> Int {
        device.maxGap ?? profiles[device.profile]?.profile.maxGap ?? maxGap
    }

    /// The point (and its profile) a source refers to.
    public func point(for source: SourceRef) -> PointSpec? {
        profile(of: source.device)?.point(named: source.point)
    }
}

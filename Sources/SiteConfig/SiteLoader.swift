import FireSafety
import Foundation
import Modbus

/// Reads `site.yaml` and every profile it names, validates all of it, and builds a `LoadedSite`.
///
/// Validation runs to the end and reports every problem (`ConfigErrors`), so `firewatch check`
/// shows a person the whole list at once. Relative paths in the site file (`alert_log`,
/// `control_socket`, `profile_path`, `run` programs, profile files) are relative to the folder of the site file.
public struct SiteLoader: Sendable {
    /// Folder of the profiles FireWatch ships, searched last.
    public var shippedDevices: String?

    public static let defaultPollInterval = Duration.seconds(1)
    public static let defaultRequestTimeout = Duration.seconds(1)
    public static let defaultMaxGap = 8
    public static let defaultRunTimeout = Duration.seconds(30)
    public static let defaultNotifyTimeout = Duration.seconds(5)
    public static let defaultRateWindow = Duration.seconds(60)
    public static let defaultControlSocket = "/run/firewatch/control.sock"
    /// `sun_path` holds 108 bytes including the terminating NUL on Linux.
    public static let maxSocketPathBytes = 107

    static let siteFields = [
        "site", "poll_interval", "stale_after", "timeout", "max_gap", "alert_log", "alert_log_max_size",
        "alert_log_keep", "control_socket", "metrics",
        "profile_path", "notify", "remind_every", "quiet_period", "devices", "zones", "standby",
    ]
    static let deviceFields = ["profile", "host", "port", "unit", "poll_interval", "timeout", "max_gap", "simulate"]
    static let channelFields = ["webhook", "command", "alertmanager", "timeout", "heartbeat"]
    static let zoneFields = ["signals", "isolate", "suppress", "power_cut", "simulate"]
    static let signalFields = [
        "sources", "vote", "alert", "alarm", "fire", "deadband", "rate_of_rise", "rate_window", "kind",
    ]
    static let stepActions = ["command", "run", "delay", "notify"]
    static let stepFields = stepActions + ["timeout", "abortable"]

    public init(shippedDevices: String? = ProfileLocator.shippedDevicesDirectory()) {
        self.shippedDevices = shippedDevices
    }

    /// Loads and validates the site file at `path` and its profiles.
    public func load(path: String) throws(ConfigErrors) -> LoadedSite {
        let diagnostics = Diagnostics()
        let absolute = Self.absolute(path, relativeTo: FileManager.default.currentDirectoryPath)
        guard let source = YAMLSource.load(path: absolute, displayName: path, diagnostics: diagnostics) else {
            throw ConfigErrors(diagnostics.sorted)
        }
        var reader = SiteReader(
            file: absolute, directory: (absolute as NSString).deletingLastPathComponent, shipped: shippedDevices,
            diagnostics: diagnostics)
        let site = reader.read(source.located(diagnostics))
        guard let site, diagnostics.isEmpty else { throw ConfigErrors(diagnostics.sorted) }
        return site
    }

    /// A path from a site file as the daemon uses it: absolute paths as written, relative ones from the site
    /// file's folder (not from wherever the operator stands).
    public static func absolute(_ path: String, relativeTo directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }
}

/// The state of one site load: the devices and profiles read so far, for checking references.
struct SiteReader {
    let file: String
    let directory: String
    let shipped: String?
    let diagnostics: Diagnostics

    var devices: [DeviceConfig] = []
    var deviceNodes: [String: Located] = [:]
    var profiles: [String: ResolvedProfile] = [:]
    /// Devices whose profile failed to load: references to them are not checked further (one error, not fifty).
    var brokenDevices: Set<String> = []
    /// Profile references already found unusable (reported once, however many devices use them).
    var brokenProfiles: Set<String> = []
    var channels: [NotifyChannel] = []
    /// `device.command` → zone whose `power_cut` uses it.
    var powerCutOwners: [String: String] = [:]
    /// Zone → the simulator's settings, passed through.
    var zoneSimulation: [String: [String: LocatedText]] = [:]
    /// The site's `poll_interval`, for devices that set none.
    var sitePoll = SiteLoader.defaultPollInterval

    init(file: String, directory: String, shipped: String?, diagnostics: Diagnostics) {
        self.file = file
        self.directory = directory
        self.shipped = shipped
        self.diagnostics = diagnostics
    }

    func path(_ text: String) -> String { SiteLoader.absolute(text, relativeTo: directory) }

    mutating func read(_ root: Located) -> LoadedSite? {
        guard
            let fields = root.fields(
                SiteLoader.siteFields, required: ["site", "alert_log", "devices", "zones"], what: "a site file")
        else { return nil }
        let site = fields["site"]?.name(what: "site name") ?? ""
        let poll = positiveDuration(fields["poll_interval"]) ?? SiteLoader.defaultPollInterval
        sitePoll = poll
        let timeout = positiveDuration(fields["timeout"]) ?? SiteLoader.defaultRequestTimeout
        let maxGap = fields["max_gap"]?.int(in: 0...124, what: "max_gap") ?? SiteLoader.defaultMaxGap
        let alertLog = fields["alert_log"]?.string(what: "a file path").map(path) ?? ""
        var alertLogMaxBytes = LoadedSite.defaultAlertLogMaxBytes
        if let node = fields["alert_log_max_size"], let text = node.string(what: "a size such as 16MiB") {
            if let bytes = ByteSizeText.parse(text), bytes >= LoadedSite.minimumAlertLogMaxBytes {
                alertLogMaxBytes = bytes
            } else {
                node.error(
                    "'\(text)' is not a size of at least 1KiB",
                    hint: "write e.g. 16MiB, 512KiB or a number of bytes; the log rotates before a file grows past it")
            }
        }
        let alertLogKeep =
            fields["alert_log_keep"]?.int(
                in: 1...1000, what: "alert_log_keep",
                hint: "how many rotated files to keep besides the live one, e.g. 10") ?? LoadedSite.defaultAlertLogKeep
        var controlSocket = SiteLoader.defaultControlSocket
        if let node = fields["control_socket"], let text = node.string(what: "a socket path") {
            controlSocket = path(text)
            if controlSocket.utf8.count > SiteLoader.maxSocketPathBytes {
                node.error(
                    "the control socket path is \(controlSocket.utf8.count) bytes once made absolute; "
                        + "Unix sockets allow \(SiteLoader.maxSocketPathBytes)",
                    hint: "use a shorter path, e.g. /run/firewatch/control.sock")
            }
        }
        var metrics: HostPort?
        if let node = fields["metrics"], let text = node.string(what: "host:port") {
            metrics = HostPort(parsing: text)
            if metrics == nil {
                node.error("'\(text)' is not host:port", hint: "write e.g. 127.0.0.1:9780")
            }
        }
        var profilePath: [String] = []
        if let node = fields["profile_path"] {
            for (text, item) in node.stringList(what: "folders") ?? [] {
                let folder = path(text)
                var isDirectory: ObjCBool = false
                if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) || !isDirectory.boolValue
                {
                    item.error(
                        "folder \(folder) does not exist",
                        hint: "fix the path, which starts at the site file, or remove it"
                    )
                }
                profilePath.append(folder)
            }
        }
        let locator = ProfileLocator(siteDirectory: directory, profilePath: profilePath, shipped: shipped)

        if let node = fields["notify"], !node.isNull { readChannels(node) }
        if let node = fields["devices"] { readDevices(node, locator: locator) }

        // Three missed polls of the slowest device before its readings count as stale.
        let slowest = devices.map { $0.pollInterval ?? poll }.max() ?? poll
        var staleAfter = slowest * 3
        if let node = fields["stale_after"], let value = positiveDuration(node) {
            staleAfter = value
            if value <= slowest {
                node.error(
                    "stale_after (\(value.configText)) must be longer than the slowest poll interval "
                        + "(\(slowest.configText))",
                    hint: "readings would go stale between two polls; use at least \((slowest * 2).configText)")
            }
        }

        var zones: [ZoneSpec] = []
        if let list = fields["zones"]?.entries(what: "a mapping of zone names to zones") {
            if list.isEmpty {
                fields["zones"]?.error("a site needs at least one zone", hint: "add a zone with signals")
            }
            for (_, keyNode, value) in list {
                guard let name = keyNode.name(what: "zone name") else { continue }
                if let zone = readZone(name, value) { zones.append(zone) }
            }
        }
        var model = SiteModel(site: site, pollInterval: poll, staleAfter: staleAfter, zones: zones)
        readNotificationTiming(fields, poll: poll, into: &model)
        var standby: StandbyConfig?
        if let node = fields["standby"] {
            standby = readStandby(node, poll: poll, longestWrite: longestWrite(in: zones))
        }
        var loaded = LoadedSite(
            file: file, model: model, devices: devices, profiles: profiles, notify: channels, alertLog: alertLog,
            controlSocket: controlSocket, metrics: metrics, requestTimeout: timeout, maxGap: maxGap)
        loaded.zoneSimulation = zoneSimulation
        loaded.alertLogMaxBytes = alertLogMaxBytes
        loaded.alertLogKeep = alertLogKeep
        loaded.standby = standby
        return loaded
    }

    /// The longest confirmation window of any command a zone's steps write.
    func longestWrite(in zones: [ZoneSpec]) -> Duration {
        var longest: Duration = .zero
        for zone in zones {
            for case .command(let device, let command) in zone.isolate + zone.suppress + zone.powerCut {
                guard let config = devices.first(where: { $0.name == device }),
                    let spec = profiles[config.profile]?.profile.command(named: command)
                else { continue }
                longest = max(longest, spec.confirmWindow)
            }
        }
        return longest
    }

    /// `remind_every` (0 = off, else at least one poll interval) and `quiet_period` (0 = off, at most 15 min).
    func readNotificationTiming(_ fields: Fields, poll: Duration, into model: inout SiteModel) {
        if let node = fields["remind_every"], let value = durationOrZero(node) {
            if value == .zero {
                model.remindEvery = nil
            } else if value < poll {
                node.error(
                    "remind_every (\(value.configText)) is shorter than the poll interval (\(poll.configText))",
                    hint: "use e.g. 5m (the default), or 0 to send no reminders")
            } else {
                model.remindEvery = value
            }
        }
        if let node = fields["quiet_period"], let value = durationOrZero(node) {
            if value > .seconds(900) {
                node.error(
                    "quiet_period (\(value.configText)) is longer than 15m: a real change would wait that long to be sent",
                    hint: "use e.g. 1m (the default), or 0 to send every change")
            } else {
                model.quietPeriod = value
            }
        }
    }

    /// A duration where `0` means "off".
    func durationOrZero(_ node: Located) -> Duration? {
        if node.scalarText?.trimmingCharacters(in: .whitespaces) == "0" { return .zero }
        return node.duration()
    }

    func positiveDuration(_ node: Located?) -> Duration? {
        guard let node, let value = node.duration() else { return nil }
        guard value > .zero else {
            node.error("must be longer than 0", hint: "use e.g. 1s")
            return nil
        }
        return value
    }
}

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
        "profile_path", "notify", "devices", "zones",
    ]
    static let deviceFields = ["profile", "host", "port", "unit", "poll_interval", "timeout", "max_gap", "simulate"]
    static let channelFields = ["webhook", "command", "timeout"]
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

    static func absolute(_ path: String, relativeTo directory: String) -> String {
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
        let model = SiteModel(site: site, pollInterval: poll, staleAfter: staleAfter, zones: zones)
        var loaded = LoadedSite(
            file: file, model: model, devices: devices, profiles: profiles, notify: channels, alertLog: alertLog,
            controlSocket: controlSocket, metrics: metrics, requestTimeout: timeout, maxGap: maxGap)
        loaded.zoneSimulation = zoneSimulation
        loaded.alertLogMaxBytes = alertLogMaxBytes
        loaded.alertLogKeep = alertLogKeep
        return loaded
    }

    func positiveDuration(_ node: Located?) -> Duration? {
        guard let node, let value = node.duration() else { return nil }
        guard value > .zero else {
            node.error("must be longer than 0", hint: "use e.g. 1s")
            return nil
        }
        return value
    }

    // MARK: Notification channels

    mutating func readChannels(_ node: Located) {
        guard let list = node.entries(what: "a mapping of channel names to channels") else { return }
        for (_, keyNode, value) in list {
            guard let name = keyNode.name(what: "channel name"),
                let fields = value.fields(SiteLoader.channelFields, what: "a notify channel")
            else { continue }
            let timeout = positiveDuration(fields["timeout"]) ?? SiteLoader.defaultNotifyTimeout
            switch (fields["webhook"], fields["command"]) {
            case (let hook?, nil):
                guard let text = hook.string(what: "a URL") else { continue }
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    hook.error("'\(text)' is not an http(s) URL", hint: "write e.g. https://alerts.example/hook")
                    continue
                }
                channels.append(NotifyChannel(name: name, target: .webhook(url), timeout: timeout))
            case (nil, let command?):
                guard let argv = argv(command) else { continue }
                channels.append(NotifyChannel(name: name, target: .command(argv), timeout: timeout))
            case (_?, _?):
                value.error(
                    "a channel is either `webhook:` or `command:`, not both", hint: "split it into two channels")
            case (nil, nil):
                value.error("a channel needs `webhook: URL` or `command: [program, args…]`", hint: "add one of them")
            }
        }
    }

    /// A program and its arguments; the program must be a path (no `$PATH` lookup in a safety procedure).
    func argv(_ node: Located) -> [String]? {
        guard let items = node.stringList(what: "program and arguments") else { return nil }
        var argv = items.map(\.0)
        guard let first = items.first else {
            node.error("the list is empty; it needs at least the program", hint: "write [/path/to/program, args…]")
            return nil
        }
        guard argv[0].contains("/") else {
            first.1.error(
                "'\(argv[0])' is not a path; programs are not looked up in $PATH",
                hint: "write the full path, e.g. /usr/local/bin/\(argv[0]), or ./\(argv[0]) beside the site file")
            return nil
        }
        argv[0] = path(argv[0])
        if !FileManager.default.isExecutableFile(atPath: argv[0]) {
            first.1.error(
                "\(argv[0]) does not exist or is not executable",
                hint: "install it, fix the path (a relative one starts at the site file), or make it executable")
        }
        return argv
    }

    // MARK: Devices

    mutating func readDevices(_ node: Located, locator: ProfileLocator) {
        guard let list = node.entries(what: "a mapping of device names to devices") else { return }
        if list.isEmpty { node.error("a site needs at least one device", hint: "add devices the zones read") }
        var endpoints: [String: String] = [:]
        for (_, keyNode, value) in list {
            guard let name = keyNode.name(what: "device name"),
                let fields = value.fields(SiteLoader.deviceFields, required: ["profile", "host"], what: "a device")
            else { continue }
            guard let profileNode = fields["profile"], let reference = profileNode.string(what: "a profile"),
                let host = fields["host"]?.string(what: "a host name or address")
            else {
                brokenDevices.insert(name)
                continue
            }
            let port = fields["port"]?.int(in: 1...65535, what: "port") ?? 502
            let unit =
                fields["unit"]?.int(in: 0...255, what: "unit", hint: "Modbus/TCP unit ids are 0…255, usually 1")
                ?? 1
            var device = DeviceConfig(name: name, profile: reference, host: host, port: port, unit: unit)
            device.pollInterval = positiveDuration(fields["poll_interval"])
            device.timeout = positiveDuration(fields["timeout"])
            device.maxGap = fields["max_gap"]?.int(in: 0...124, what: "max_gap")
            device.simulate = fields["simulate"]?.locatedTexts(what: "simulator settings") ?? [:]
            if host.isEmpty || host.contains(" ")
                || (host.contains(":") && !host.contains("::") && host.filter({ $0 == ":" }).count == 1)
            {
                fields["host"]?.error(
                    "'\(host)' is not a host name or address", hint: "give the port in `port:`, not in host")
            }
            let endpoint = "\(host.lowercased()):\(port):\(unit)"
            if let other = endpoints[endpoint] {
                let line = deviceNodes[other]?.line ?? 0
                value.error(
                    "\(name) and \(other) (line \(line)) are both \(host):\(port) unit \(unit)",
                    hint: "two devices cannot share host, port and unit; fix the port or unit of one")
            } else {
                endpoints[endpoint] = name
            }
            deviceNodes[name] = keyNode
            if !resolveProfile(reference, node: profileNode, locator: locator) { brokenDevices.insert(name) }
            devices.append(device)
        }
    }

    /// Finds and loads a profile once per reference; false when it cannot be used.
    mutating func resolveProfile(_ reference: String, node: Located, locator: ProfileLocator) -> Bool {
        if profiles[reference] != nil { return true }
        if brokenProfiles.contains(reference) { return false }
        brokenProfiles.insert(reference)
        let found: (path: String, origin: ProfileOrigin)
        if ProfileLocator.isFileReference(reference) {
            found = (path(reference), .file)
            guard FileManager.default.fileExists(atPath: found.path) else {
                node.error(
                    "profile file \(found.path) does not exist",
                    hint: "fix the path; a relative one starts at the site file")
                return false
            }
        } else if ProfileLocator.isKindName(reference) {
            guard let located = locator.locate(reference) else {
                let searched = locator.folders.map(\.path).joined(separator: ", ")
                var hint = Suggestion.hint(for: reference, in: locator.available(), noun: "profile")
                if shipped == nil {
                    hint +=
                        "; shipped profiles were not found: set \(ProfileLocator.environmentVariable) "
                        + "to FireWatch's devices/ folder"
                }
                node.error("unknown profile '\(reference)' (searched \(searched))", hint: hint)
                return false
            }
            found = located
        } else {
            node.error(
                "'\(reference)' is neither kind/name nor a .yaml file",
                hint: "write e.g. `profile: sensor/offgas` or `profile: ./devices/my-sensor.yaml`")
            return false
        }
        let before = diagnostics.count
        guard let profile = ProfileLoader.load(path: found.path, displayName: found.path, diagnostics: diagnostics),
            diagnostics.count == before
        else { return false }
        brokenProfiles.remove(reference)
        profiles[reference] = ResolvedProfile(
            reference: reference, path: found.path, origin: found.origin, profile: profile)
        return true
    }

    func profile(of device: String) -> DeviceProfile? {
        devices.first { $0.name == device }.flatMap { profiles[$0.profile]?.profile }
    }

    // MARK: Zones

    mutating func readZone(_ name: String, _ node: Located) -> ZoneSpec? {
        guard let fields = node.fields(SiteLoader.zoneFields, required: ["signals"], what: "a zone") else { return nil }
        var signals: [SignalSpec] = []
        var signalNodes: [String: Located] = [:]
        let errorsBefore = diagnostics.count
        var signalsRead = true
        if let list = fields["signals"]?.entries(what: "a mapping of signal names to signals") {
            if list.isEmpty {
                fields["signals"]?.error("a zone needs at least one signal", hint: "add e.g. temperature")
            }
            for (_, keyNode, value) in list {
                guard let signalName = keyNode.name(what: "signal name"), let signal = readSignal(signalName, value)
                else {
                    signalsRead = false
                    continue
                }
                signals.append(signal)
                signalNodes[signalName] = value
            }
        }
        let isolate = fields["isolate"].map { readSteps($0, zone: name, kind: .isolate) } ?? []
        let suppress = fields["suppress"].map { readSteps($0, zone: name, kind: .suppress) } ?? []
        let powerCut = fields["power_cut"].map { readSteps($0, zone: name, kind: .powerCut) } ?? []
        if let node = fields["simulate"] { zoneSimulation[name] = node.locatedTexts(what: "simulator settings") }
        // Steps no tier can ever reach are a configuration mistake a person would not spot by reading.
        // Only when the zone itself read cleanly: a broken signal would make these checks cry wolf.
        if diagnostics.count == errorsBefore, signalsRead {
            if !isolate.isEmpty, !signals.contains(where: { $0.thresholds[.alarm] != nil }) {
                fields.keys["isolate"]?.error(
                    "no signal of zone \(name) has an `alarm:` threshold, so these isolate steps can never run",
                    hint: "add alarm: to the signals that should isolate the zone, e.g. off-gas, temperature, BMS flags"
                )
            }
            let fireKinds = Set(signals.filter { $0.thresholds[.fire] != nil }.map(\.kind))
            if !(suppress.isEmpty && powerCut.isEmpty), fireKinds.count < 2 {
                let found = fireKinds.isEmpty ? "none" : "only \(fireKinds.sorted().joined(separator: ", "))"
                (fields.keys["suppress"] ?? fields.keys["power_cut"])?.error(
                    "tier 3 needs two different kinds of evidence at `fire:` (double knock), zone \(name) has \(found)",
                    hint: "add fire: to a second signal, e.g. smoke or the panel's fire_input, "
                        + "or set `kind:` when two signals measure different things")
            } else if !(suppress.isEmpty && powerCut.isEmpty) {
                checkIndependence(zone: name, signals: signals, nodes: signalNodes)
            }
        }
        return ZoneSpec(
            name: name, signals: signals, isolate: isolate, suppress: suppress, powerCut: powerCut,
            abortSwitches: abortSwitches(commandedBy: suppress))
    }

    /// Refuses a tier 3 that one device could reach alone: two kinds count together only when the sources that
    /// put them at fire share no device, so some choice of voting sources of two kinds must use disjoint devices.
    /// Judged on the configured votes (all sources healthy): a double knock that exists only while a sensor
    /// is failed is not one.
    func checkIndependence(zone: String, signals: [SignalSpec], nodes: [String: Located]) {
        let fireSignals = signals.filter { $0.thresholds[.fire] != nil }
        // Each way a signal reaches fire: any `required` of its sources, as the set of devices they sit on.
        func witnesses(_ signal: SignalSpec) -> [Set<String>] {
            var result: [Set<String>] = []
            func pick(_ start: Int, _ chosen: Set<String>, _ left: Int) {
                if left == 0 {
                    result.append(chosen)
                    return
                }
                guard start < signal.sources.count else { return }
                for index in start..<signal.sources.count {
                    pick(index + 1, chosen.union([signal.sources[index].device]), left - 1)
                }
            }
            pick(0, [], min(signal.vote.required, signal.sources.count))
            return result
        }
        // The pair of different kinds that comes closest, to name what they share.
        var closest: (first: SignalSpec, second: SignalSpec, shared: Set<String>)?
        for (index, first) in fireSignals.enumerated() {
            for second in fireSignals[(index + 1)...] where second.kind != first.kind {
                for a in witnesses(first) {
                    for b in witnesses(second) {
                        let shared = a.intersection(b)
                        if shared.isEmpty { return }
                        if closest.map({ shared.count < $0.shared.count }) ?? true { closest = (first, second, shared) }
                    }
                }
            }
        }
        guard let (first, second, shared) = closest else { return }
        let names = shared.sorted()
        let devices = "device\(names.count == 1 ? "" : "s") \(names.joined(separator: ", "))"
        let line = nodes[first.name]?.lookup("sources")?.line ?? nodes[first.name]?.line ?? 0
        let target = nodes[second.name]?.lookup("sources") ?? nodes[second.name]
        target?.error(
            "tier 3 of zone \(zone) could be reached from one device: every way \(first.name) (\(first.kind), line "
                + "\(line)) and \(second.name) (\(second.kind)) both reach `fire:` shares \(devices), and two kinds "
                + "count as independent evidence only when their sources share no device",
            hint: "give one of them sources on a device of its own (e.g. the aspirating smoke detector or the "
                + "releasing panel's fire_input), or remove its `fire:` threshold: points of one device fail together")
    }

    /// A source checked against its device's profile: its point and the kind of value it yields.
    struct ResolvedSource {
        let ref: SourceRef
        let point: PointSpec
        let kind: ValueKind
        let node: Located
    }

    func resolveSource(_ text: String, _ node: Located) -> ResolvedSource?? {
        guard let ref = SourceRef(parsing: text), Located.isName(ref.device), Located.isName(ref.point),
            ref.bit.map(Located.isName) ?? true
        else {
            node.error("'\(text)' is not device.point or device.point.bit", hint: "write e.g. temp-a1.temperature")
            return .some(nil)
        }
        guard devices.contains(where: { $0.name == ref.device }) else {
            if brokenDevices.contains(ref.device) { return nil }
            node.error(
                "unknown device '\(ref.device)'",
                hint: Suggestion.hint(for: ref.device, in: devices.map(\.name), noun: "device"))
            return .some(nil)
        }
        guard let profile = profile(of: ref.device) else { return nil }
        guard let point = profile.point(named: ref.point) else {
            node.error(
                "device \(ref.device) (\(profile.name)) has no point '\(ref.point)'",
                hint: Suggestion.hint(for: ref.point, in: profile.points.map(\.name), noun: "point"))
            return .some(nil)
        }
        if let bit = ref.bit {
            guard point.type == .bits else {
                node.error(
                    "\(ref.device).\(ref.point) is \(point.type.rawValue) and has no named bits",
                    hint: "refer to \(ref.device).\(ref.point) itself")
                return .some(nil)
            }
            guard point.bitNumber(named: bit) != nil else {
                node.error(
                    "\(ref.device).\(ref.point) has no bit '\(bit)'",
                    hint: Suggestion.hint(for: bit, in: point.bitNames, noun: "bit"))
                return .some(nil)
            }
            return ResolvedSource(ref: ref, point: point, kind: .flag, node: node)
        }
        if point.type == .bits {
            node.error(
                "\(ref.device).\(ref.point) is a set of bits; a signal reads one of them",
                hint: "write \(ref.device).\(ref.point).<bit>, bits: \(point.bitNames.joined(separator: ", "))")
            return .some(nil)
        }
        return ResolvedSource(ref: ref, point: point, kind: point.valueKind, node: node)
    }

    func readSignal(_ name: String, _ node: Located) -> SignalSpec? {
        guard let fields = node.fields(SiteLoader.signalFields, required: ["sources"], what: "a signal") else {
            return nil
        }
        guard let sourcesNode = fields["sources"], let items = sourcesNode.stringList(what: "sources (device.point)")
        else {
            return nil
        }
        if items.isEmpty {
            sourcesNode.error("a signal needs at least one source", hint: "write [device.point, …]")
            return nil
        }
        var resolved: [ResolvedSource] = []
        var incomplete = false
        var seen: Set<String> = []
        for (text, item) in items {
            if !seen.insert(text).inserted {
                item.error("source \(text) is listed twice", hint: "a source counts once in a vote; remove the copy")
                incomplete = true
                continue
            }
            switch resolveSource(text, item) {
            case .some(.some(let source)): resolved.append(source)
            case .some(.none): incomplete = true
            case .none: incomplete = true  // device with a broken profile: already reported
            }
        }

        var vote: Vote?
        if let voteNode = fields["vote"], let text = voteNode.string(what: "a vote") {
            if let parsed = Vote(rawValue: text) {
                vote = parsed
                if parsed.sourceCount != items.count {
                    let fitting = Vote.allCases.filter { $0.sourceCount == items.count }.map(\.rawValue)
                    voteNode.error(
                        "vote \(text) needs \(parsed.sourceCount) source\(parsed.sourceCount == 1 ? "" : "s"), "
                            + "but the signal has \(items.count)",
                        hint: fitting.isEmpty
                            ? "FireWatch votes over 1 to 3 sources; split the sources into signals"
                            : "with \(items.count) sources use \(fitting.joined(separator: " or "))"
                                + ", or change the sources"
                    )
                }
            } else {
                voteNode.error(
                    "unknown vote '\(text)'; expected 1oo1, 1oo2, 2oo2 or 2oo3",
                    hint: Suggestion.hint(for: text, in: Vote.allCases.map(\.rawValue), noun: "vote"))
            }
        } else {
            vote = Vote.defaultVote(sourceCount: items.count)
            if vote == nil {
                sourcesNode.error(
                    "\(items.count) sources, but FireWatch votes over 1 to 3",
                    hint: "split them into signals of at most 3 sources each")
            }
        }

        // All sources must yield the same kind of value, or thresholds cannot apply to all of them.
        let kinds = Set(resolved.map(\.kind))
        if kinds.count > 1 {
            sourcesNode.error(
                "sources mix \(resolved.map { "\($0.ref) (\($0.kind.rawValue))" }.joined(separator: ", "))",
                hint: "a signal's sources must all be numbers, all enum names, or all flags")
            incomplete = true
        }
        let units = Set(resolved.compactMap(\.point.unit))
        if kinds == [.number], units.count > 1 {
            sourcesNode.error(
                "sources measure different units (\(units.sorted().joined(separator: ", ")))",
                hint: "a vote compares like with like; use sources with the same unit")
        }
        var mixedEnums = false
        if resolved.first?.kind == .name {
            let valueSets = Set(resolved.map(\.point.valueNames))
            if valueSets.count > 1 {
                mixedEnums = true
                sourcesNode.error("enum sources have different values", hint: "use sources of the same profile point")
                incomplete = true
            }
        }
        // Thresholds are checked against the sources that did resolve, so one typo in a source
        // does not hide a threshold error on the same signal.
        let kind = kinds.count == 1 && !mixedEnums ? resolved.first?.kind : nil
        let reference = resolved.first?.point

        var thresholds: [Level: Threshold] = [:]
        var thresholdNodes: [Level: Located] = [:]
        for level in Level.allCases {
            guard let levelNode = fields[level.description] else { continue }
            thresholdNodes[level] = levelNode
            guard let kind, let reference else { continue }
            if let threshold = readThreshold(levelNode, kind: kind, point: reference) { thresholds[level] = threshold }
        }
        if let kind, let reference { checkOrder(thresholds, nodes: thresholdNodes, kind: kind, point: reference) }

        var deadband = 0.0
        if let node = fields["deadband"], let value = node.number() {
            if value < 0 {
                node.error("deadband must not be negative", hint: "use 0 or a positive number in the signal's unit")
            } else if kind.map({ $0 != .number }) ?? false {
                node.error("deadband applies to numeric signals only", hint: "remove it")
            } else {
                deadband = value
            }
        }
        var rateOfRise: RateOfRise?
        if let node = fields["rate_of_rise"] {
            let window = positiveDuration(fields["rate_window"]) ?? SiteLoader.defaultRateWindow
            if kind.map({ $0 != .number }) ?? false {
                node.error("rate_of_rise applies to numeric signals only", hint: "remove it")
            } else if let perSecond = rate(node) {
                rateOfRise = RateOfRise(perSecond: perSecond, window: window)
                // The slope needs five samples over half the window and restarts after a gap of a quarter of
                // it: a slower device would make the rate of rise silently never fire.
                let slow = resolved.compactMap { source -> (String, Duration)? in
                    let interval = devices.first { $0.name == source.ref.device }?.pollInterval ?? sitePoll
                    return interval * 6 > window ? (source.ref.device, interval) : nil
                }
                if let (device, interval) = slow.first {
                    node.error(
                        "a rate of rise over \(window.configText) needs a reading at least every "
                            + "\((window / 6).configText), but \(device) is polled every \(interval.configText)",
                        hint: "poll \(device) faster, or set a longer `rate_window:` (at least "
                            + "\((interval * 6).configText))")
                }
            }
        } else if let node = fields["rate_window"] {
            node.error("rate_window without rate_of_rise has no effect", hint: "add `rate_of_rise: 5/min` or remove it")
        }
        if fields["alert"] == nil, fields["alarm"] == nil, fields["fire"] == nil, fields["rate_of_rise"] == nil {
            node.error(
                "signal '\(name)' has no threshold, so it can never raise anything", hint: "add alert:, alarm: or fire:"
            )
        }
        let signalKind = fields["kind"]?.name(what: "kind")
        guard !incomplete, let vote else { return nil }
        return SignalSpec(
            name: name, kind: signalKind, sources: resolved.map(\.ref), vote: vote, thresholds: thresholds,
            deadband: deadband, rateOfRise: rateOfRise, unit: reference?.unit)
    }

    /// `5/min`, `0.5/s`, `30/h` → units per second.
    func rate(_ node: Located) -> Double? {
        guard let text = node.scalarText else {
            node.error("expected a rate like 5/min, found \(node.kindName)", hint: "write an amount per s, min or h")
            return nil
        }
        let parts = text.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
        let per: [String: Double] = ["s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600]
        guard parts.count == 2, let amount = Double(parts[0]), amount > 0, let seconds = per[parts[1]] else {
            node.error("'\(text)' is not a rate; expected an amount per s, min or h", hint: "write e.g. 5/min")
            return nil
        }
        return amount / seconds
    }

    func readThreshold(_ node: Located, kind: ValueKind, point: PointSpec) -> Threshold? {
        switch kind {
        case .number:
            guard
                let value = node.number(what: "a number (the sources are numeric\(point.unit.map { ", \($0)" } ?? ""))")
            else { return nil }
            // A threshold outside what the sensor can report is never reached (a reading above the range counts
            // only as its top) or always reached: both are configuration mistakes.
            if let range = point.range, !range.contains(value) {
                let unit = point.unit.map { " \($0)" } ?? ""
                let bounds = "\(Value.number(range.lowerBound))…\(Value.number(range.upperBound))\(unit)"
                if value > range.upperBound {
                    node.error(
                        "\(Value.number(value)) is above what \(point.name) can report (range \(bounds)): a reading "
                            + "past the top counts only as \(Value.number(range.upperBound))\(unit) (and trouble), so "
                            + "this level can never be reached",
                        hint: "use a sensor whose range covers the threshold, or lower the threshold into its range")
                } else {
                    node.error(
                        "\(Value.number(value)) is below the range of \(point.name) (\(bounds)): every valid reading "
                            + "reaches it",
                        hint: "raise the threshold into the sensor's range")
                }
                return nil
            }
            return .atLeast(value)
        case .flag:
            return node.bool(what: "true or false (the sources are flags)").map(Threshold.equals)
        case .name:
            var names: [(String, Located)] = []
            if case .sequence = node.node {
                names = node.stringList(what: "enum names") ?? []
            } else if let text = node.scalarText, !node.isNull {
                names = [(text, node)]
            } else {
                node.error(
                    "expected one of \(point.valueNames.joined(separator: ", ")), found \(node.kindName)",
                    hint: "write one of the names")
                return nil
            }
            var valid: [String] = []
            for (text, item) in names {
                if point.rawValue(named: text) != nil {
                    valid.append(text)
                } else {
                    item.error(
                        "'\(text)' is not a value of \(point.name) (\(point.valueNames.joined(separator: ", ")))",
                        hint: Suggestion.hint(for: text, in: point.valueNames, noun: "value"))
                }
            }
            guard valid.count == names.count, !valid.isEmpty else { return nil }
            // One name on an ordered enum means "this or worse".
            if valid.count == 1, point.ordered, let raw = point.rawValue(named: valid[0]) {
                return .oneOf(point.values.filter { $0.key >= raw }.sorted { $0.key < $1.key }.map(\.value))
            }
            return .oneOf(valid)
        case .bitfield:
            return nil
        }
    }

    func checkOrder(_ thresholds: [Level: Threshold], nodes: [Level: Located], kind: ValueKind, point: PointSpec) {
        func rank(_ threshold: Threshold) -> Double? {
            switch threshold {
            case .atLeast(let value): return value
            case .oneOf(let names) where point.ordered:
                return names.compactMap(point.rawValue(named:)).min().map(Double.init)
            default: return nil
            }
        }
        var previous: (Level, Double)?
        for level in Level.allCases {
            guard let threshold = thresholds[level], let value = rank(threshold) else { continue }
            if let (lower, lowerValue) = previous, value < lowerValue {
                nodes[level]?.error(
                    "\(level) (\(threshold)) is below \(lower) (\(thresholds[lower]!)); "
                        + "thresholds must rise alert ≤ alarm ≤ fire",
                    hint: "swap them, or check which level each number belongs to")
            }
            previous = (level, value)
        }
    }

    // MARK: Steps

    mutating func readSteps(_ node: Located, zone: String, kind: ProcedureKind) -> [Step] {
        if node.isNull { return [] }
        guard case .sequence(let sequence) = node.node else {
            node.error("expected a list of steps, found \(node.kindName)", hint: "write one `- step` per line")
            return []
        }
        var steps: [Step] = []
        for (index, item) in sequence.enumerated() {
            let stepNode = node.item(index, item)
            if let step = readStep(stepNode, zone: zone, kind: kind) { steps.append(step) }
        }
        return steps
    }

    mutating func readStep(_ node: Located, zone: String, kind: ProcedureKind) -> Step? {
        guard let fields = node.fields(SiteLoader.stepFields, what: "a step") else { return nil }
        let actions = SiteLoader.stepActions.filter(fields.has)
        guard actions.count == 1, let action = actions.first, let value = fields[action] else {
            node.error(
                actions.isEmpty
                    ? "a step needs one of command, run, delay, notify"
                    : "a step does one thing, not \(actions.joined(separator: " and "))",
                hint: actions.isEmpty
                    ? "e.g. `- command: feed-a.start_exhaust`" : "split it into \(actions.count) steps")
            return nil
        }
        if action != "run", let extra = fields["timeout"] {
            extra.error(
                "timeout belongs to `run` steps",
                hint: action == "delay" ? "the delay itself is the duration" : "remove it")
        }
        if action != "delay", let extra = fields["abortable"] {
            extra.error("abortable belongs to `delay` steps", hint: "remove it, or put it on the pre-discharge delay")
        }
        switch action {
        case "command":
            return commandStep(value, zone: zone, kind: kind)
        case "run":
            guard let argv = argv(value) else { return nil }
            let timeout = positiveDuration(fields["timeout"]) ?? SiteLoader.defaultRunTimeout
            return .run(argv: argv, timeout: timeout)
        case "delay":
            guard let duration = value.duration() else { return nil }
            let abortable = fields["abortable"]?.bool() ?? false
            return .delay(duration, abortable: abortable)
        default:
            guard let items = value.stringList(what: "channel names") else { return nil }
            if items.isEmpty { value.error("notify names no channel", hint: "list channels from `notify:`") }
            var ok = !items.isEmpty
            for (name, item) in items where !channels.contains(where: { $0.name == name }) {
                item.error(
                    "unknown notify channel '\(name)'",
                    hint: Suggestion.hint(for: name, in: channels.map(\.name), noun: "channel"))
                ok = false
            }
            return ok ? .notify(channels: items.map(\.0)) : nil
        }
    }

    mutating func commandStep(_ node: Located, zone: String, kind: ProcedureKind) -> Step? {
        guard let text = node.string(what: "device.command") else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, parts.allSatisfy(Located.isName) else {
            node.error("'\(text)' is not device.command", hint: "write e.g. feed-a.start_exhaust")
            return nil
        }
        let (device, command) = (parts[0], parts[1])
        guard devices.contains(where: { $0.name == device }) else {
            if !brokenDevices.contains(device) {
                node.error(
                    "unknown device '\(device)'",
                    hint: Suggestion.hint(for: device, in: devices.map(\.name), noun: "device"))
            }
            return nil
        }
        guard let profile = profile(of: device) else { return nil }
        guard profile.command(named: command) != nil else {
            var hint = Suggestion.hint(for: command, in: profile.commands.map(\.name), noun: "command")
            if profile.point(named: command) != nil { hint = "'\(command)' is a point, not a command; " + hint }
            node.error("device \(device) (\(profile.name)) has no command '\(command)'", hint: hint)
            return nil
        }
        if kind == .powerCut {
            if let owner = powerCutOwners[text], owner != zone {
                node.error(
                    "\(text) is already in the power_cut of zone \(owner)",
                    hint: "a power cut is scoped to its zone's own feeds; each feed belongs to one zone")
            }
            powerCutOwners[text] = zone
        }
        return .command(device: device, command: command)
    }
}

import FireSafety
import Foundation
import Simulator
import SiteConfig
import Yams

/// One timed takeover of a hot-standby pair, played by the real product through ``PairDemoRun`` (one etcd member
/// with its data under `directory`, the simulator in this process, `firewatch run --gateway gw-a` then `gw-b`):
/// a fire is raised in the first zone whose `suppress` has an abortable delay (every fire signal's sources set
/// past their `fire` threshold at 1 s), the owner is killed (`kill -9`) the moment its alert log shows that delay
/// started, and the trial measures kill → gw-b's status says owner and kill → the first Modbus write the
/// simulator receives after the kill (gw-a is gone by then, so it is gw-b's).
///
/// The site is played as a copy whose abortable `suppress` delays are `suppressDelay` (so the countdown is over
/// long before the lease lapses) and whose lease is the shortest `firewatch check` accepts for it:
/// `3 × poll_interval + the longest command write window`, rounded up to whole seconds.
public struct TakeoverTrial: Sendable {
    /// The `firewatch` binary the gateways run.
    public var executable: String
    /// The site file as the user wrote it (its folder holds the hooks it runs).
    public var siteFile: String
    /// Where the trial's site copy, etcd's data and each gateway's folder go (absolute); created if missing.
    public var directory: String
    /// What the copy's abortable `suppress` delays become.
    public var suppressDelay: Duration
    /// Scenario time allowed before the kill (the fire is raised at 1 s; isolate and the first suppress steps run).
    public var lead: Duration
    public var shippedDevices: String?

    public init(
        executable: String, siteFile: String, directory: String, suppressDelay: Duration = .milliseconds(500),
        lead: Duration = .seconds(20), shippedDevices: String? = ProfileLocator.shippedDevicesDirectory()
    ) {
        self.executable = URL(fileURLWithPath: executable).standardizedFileURL.path
        self.siteFile = siteFile
        // Absolute: the site copies name their alert log and socket by it, and a site file's relative paths are
        // relative to its own folder.
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        self.suppressDelay = suppressDelay
        self.lead = lead
        self.shippedDevices = shippedDevices
    }

    /// The lease and the windows it is made of, as the loaded site gives them.
    public struct Timing: Sendable, Hashable {
        public var pollInterval: Duration
        /// The longest confirmation window (`verify.within`, or the read-back window) of any command a zone writes.
        public var longestWrite: Duration
        /// The confirmation window of the first command after the countdown: the step the old owner may have begun.
        public var nextWithin: Duration
        /// Whole seconds, the shortest `firewatch check` accepts.
        public var ttl: Int
        /// The issue's goal for a takeover: the lease plus one poll.
        public var goal: Duration { .seconds(ttl) + pollInterval }
    }

    /// Runs one trial. Throws when the pair could not be set up (etcd, a gateway that does not start); a trial that
    /// ran but saw no takeover returns a result with nil figures and its problems.
    public func run() async throws -> TakeoverTrialResult {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (site, copy) = try shortenedSite()
        guard let zone = site.model.zones.first(where: { PairDemoRun.countdown(in: $0) != nil }) else {
            throw ProcessRunError("\(siteFile): no zone has an abortable delay in `suppress` to kill the owner in")
        }
        let timing = Self.timing(of: site, zone: zone)
        let settle = timing.goal + timing.nextWithin + timing.pollInterval * 3 + .seconds(5)
        let scenario = try fireScenario(in: zone, duration: lead + settle)
        let pairFolder = directory + "/pair"  // the control sockets go in here: keep the path short (107 bytes)
        try FileManager.default.createDirectory(atPath: pairFolder, withIntermediateDirectories: true)
        let pair = PairDemoRun(
            executable: executable, siteFile: copy, site: site, scenario: scenario, directory: pairFolder,
            ttl: timing.ttl, killAfter: .zero)
        let report = try await pair.run()

        var problems: [String] = []
        if report.killedAt == nil {
            problems.append("gw-a never started the countdown of \(zone.name) within \(DurationText.format(scenario.duration))")
        } else if report.tookOverAt == nil {
            problems.append("gw-b did not become the owner within \(3 * timing.ttl) s of the kill")
        }
        let gwB = report.writesBy["gw-b"] ?? []
        if report.killedAt != nil && gwB.isEmpty { problems.append("gw-b wrote nothing after the kill") }
        if !report.writtenTwice.isEmpty {
            problems.append("written twice: " + report.writtenTwice.map { "\($0.command) ×\($0.count)" }.joined(separator: ", "))
        }
        if report.gwBActedBeforeTakeover > 0 {
            problems.append("gw-b acted \(report.gwBActedBeforeTakeover) times before it held the lease")
        }
        let first = gwB.first
        return TakeoverTrialResult(
            timing: timing, zone: zone.name,
            killToOwner: report.killedAt.flatMap { killed in report.tookOverAt.map { $0 - killed } },
            killToFirstWrite: report.killedAt.flatMap { killed in first.map { $0.at - killed } },
            firstWrite: first.map { "\($0.device).\($0.command ?? "\($0.table.rawValue) \($0.address)")" },
            epochs: (report.firstEpoch, report.newEpoch), problems: problems)
    }

    /// The lease for `site`: `3 × poll_interval + the longest write window` in whole seconds, as `check` demands.
    public static func timing(of site: LoadedSite, zone: ZoneSpec) -> Timing {
        func within(_ device: String, _ command: String) -> Duration {
            guard let config = site.devices.first(where: { $0.name == device }),
                let spec = site.profiles[config.profile]?.profile.command(named: command)
            else { return .zero }
            return spec.confirmWindow
        }
        var longest: Duration = .zero
        for zone in site.model.zones {
            for case .command(let device, let command) in zone.isolate + zone.suppress + zone.powerCut {
                longest = max(longest, within(device, command))
            }
        }
        var next: Duration = .zero
        if let countdown = PairDemoRun.countdown(in: zone) {
            for case .command(let device, let command) in zone.suppress[(countdown + 1)...] {
                next = within(device, command)
                break
            }
        }
        let poll = site.model.pollInterval
        let ttl = Int((poll * 3 + longest).secondsValue.rounded(.up))
        return Timing(pollInterval: poll, longestWrite: longest, nextWithin: next, ttl: max(ttl, 1))
    }

    /// A copy of the site (free ports, state in `directory/site`) whose abortable `suppress` delays are
    /// `suppressDelay`, loaded.
    func shortenedSite() throws -> (LoadedSite, String) {
        let folder = directory + "/site"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: siteFile, encoding: .utf8)
        guard case .mapping(let root)? = try Yams.compose(yaml: text), case .mapping(var zones)? = root["zones"] else {
            throw ProcessRunError("\(siteFile) has no zones: mapping")
        }
        let delay = Node(DurationText.format(suppressDelay))
        for (name, zone) in zones {
            guard case .mapping(var fields) = zone, case .sequence(let steps)? = fields["suppress"] else { continue }
            fields["suppress"] = Node(
                steps.map { step in
                    guard case .mapping(var item) = step, item["delay"] != nil, item["abortable"]?.bool == true
                    else { return step }
                    item["delay"] = delay
                    return .mapping(item)
                })
            zones[name] = .mapping(fields)
        }
        let copy = folder + "/site.yaml"
        try SiteCopy(of: siteFile, speed: 1).write(to: copy, state: folder, adding: ["zones": .mapping(zones)])
        do {
            return (try SiteLoader(shippedDevices: shippedDevices).load(path: copy), copy)
        } catch {
            throw ProcessRunError("\(copy) (\(siteFile) with a \(DurationText.format(suppressDelay)) countdown): \(error)")
        }
    }

    /// A scenario that sets, at 1 s and for good, every source of the zone's fire-level signals past `fire`.
    func fireScenario(in zone: ZoneSpec, duration: Duration) throws -> Scenario {
        var lines = [
            "name: takeover-trial",
            "description: fire in \(zone.name); the owner is killed as its countdown starts",
            "duration: \(Int(duration.secondsValue.rounded(.up)))s",
            "speed: 1",
            "timeline:",
        ]
        for signal in zone.signals {
            guard let threshold = signal.thresholds[.fire] else { continue }
            let value: String
            switch threshold {
            case .atLeast(let number): value = "\(number + 1)"
            case .oneOf(let names): value = names[0]
            case .equals(let flag): value = flag ? "true" : "false"
            }
            for source in signal.sources where source.bit == nil {
                lines.append("  - at: 1s")
                lines.append("    set: { device: \(source.device), point: \(source.point), value: \"\(value)\" }")
            }
        }
        let file = directory + "/takeover-trial.yaml"
        let yaml = lines.joined(separator: "\n") + "\n"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        do { return try Scenario(yaml: yaml, file: file) } catch {
            throw ProcessRunError("\(file): \(error)")
        }
    }
}

/// What one ``TakeoverTrial`` measured (real time; the pair runs at speed 1).
public struct TakeoverTrialResult: Sendable {
    public var timing: TakeoverTrial.Timing
    public var zone: String
    /// The kill → gw-b's status said `owner` (polled every 50 ms).
    public var killToOwner: Duration?
    /// The kill → the first write the simulator received after it.
    public var killToFirstWrite: Duration?
    /// That write, `device.command`.
    public var firstWrite: String?
    public var epochs: (old: Int64, new: Int64?)
    /// What went wrong in a trial that ran (empty when the takeover was clean).
    public var problems: [String]

    public var passed: Bool { problems.isEmpty && killToOwner != nil && killToFirstWrite != nil }
}

import FireSafety
import Foundation
import Gateway
import Simulator
import SiteConfig
import Yams

/// A hot-standby pair losing its owner mid-incident, played by the real product: an etcd member, the simulator
/// (in this process, serving the site over Modbus/TCP on loopback) and two `firewatch run --gateway` processes on
/// one site file each. When the owner starts the zone's pre-discharge countdown it is killed (`kill -9`)
/// `killAfter` into it; the standby takes over once the lease lapses. Real time throughout (speed 1): the lease
/// is etcd's, in real seconds. `firewatch demo --scenario gateway-failover` runs it.
public struct PairDemoRun: Sendable {
    /// The `firewatch` binary the gateways run.
    public var executable: String
    /// The site file as the user wrote it (its folder holds the hooks it runs); each gateway plays a copy.
    public var siteFile: String
    public var site: LoadedSite
    public var scenario: Scenario
    /// Where etcd's data, each gateway's site copy, alert log, socket and output go; must exist.
    public var directory: String
    /// The pair's lease, whole seconds.
    public var ttl: Int
    /// How far into the pre-discharge countdown the owner is killed.
    public var killAfter: Duration
    public static let gateways = ["gw-a", "gw-b"]

    public init(
        executable: String, siteFile: String, site: LoadedSite, scenario: Scenario, directory: String, ttl: Int = 10,
        killAfter: Duration = .seconds(10)
    ) {
        self.executable = executable
        self.siteFile = siteFile
        self.site = site
        self.scenario = scenario
        self.directory = directory
        self.ttl = ttl
        self.killAfter = killAfter
    }

    public func folder(_ gateway: String) -> String { directory + "/" + gateway }
    public func alertLog(_ gateway: String) -> String { folder(gateway) + "/alerts.jsonl" }
    public func socket(_ gateway: String) -> String { folder(gateway) + "/control.sock" }

    /// Plays the scenario to its end and reports what each gateway did.
    /// - Parameters:
    ///   - onEvent: the simulator's events as they happen.
    ///   - onStart: when both gateways are up (gw-a owner, gw-b standby) and the scenario starts.
    ///   - onEnd: when the scenario's time is up, before the gateways are stopped (what a stopping daemon logs —
    ///     its devices going stale once it stops polling — is not part of the story).
    ///   - say: one line about the pair as it happens (the kill, the takeover).
    public func run(
        onEvent: (@Sendable (HostEvent) -> Void)? = nil, onStart: (@Sendable (SimulatorHost) -> Void)? = nil,
        onEnd: (@Sendable () -> Void)? = nil, say: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> PairDemoReport {
        guard let zone = site.model.zones.first(where: { zone in Self.countdown(in: zone) != nil }) else {
            throw ProcessRunError("\(site.file): no zone has an abortable delay in `suppress` to kill the owner in")
        }
        let countdown = Self.countdown(in: zone)!
        let etcd = try EtcdCluster(folder: directory + "/etcd")
        defer { etcd.stopAll() }
        try await etcd.start()

        let anchor = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
        let clock = ScaledSiteClock(speed: 1, anchor: anchor)
        var environment = ProcessInfo.processInfo.environment
        environment[ScaledSiteClock.environmentVariable] = "1.0@\(anchor.nanoseconds)"
        let host = try SimulatorHost(
            site: site, scenario: scenario, clock: clock, seed: 1, ports: .ephemeral, held: true, onEvent: onEvent)
        defer { host.stop() }
        let ports = Dictionary(uniqueKeysWithValues: host.devices.map { ($0.name, $0.port) })
        let standby: Node = [
            "etcd": Node(etcd.endpoints.map { Node($0) }), "ttl": Node("\(ttl)s"),
            "peers": Node(Self.gateways.map { Node($0) }),
        ]
        for gateway in Self.gateways {
            try FileManager.default.createDirectory(atPath: folder(gateway), withIntermediateDirectories: true)
            try SiteCopy(of: siteFile, speed: 1).write(
                to: folder(gateway) + "/site.yaml", state: folder(gateway), ports: ports, adding: ["standby": standby])
        }

        let began = ContinuousClock.now
        var processes: [String: Process] = [:]
        defer { for process in processes.values where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        for gateway in Self.gateways {
            let output = try OutputFile(folder(gateway) + "/run.err")
            processes[gateway] = try ProcessCampaignRun.start(
                executable, ["run", "--config", folder(gateway) + "/site.yaml", "--gateway", gateway, "--log-level", "warning"],
                environment: environment, output: output)
            // gw-a first, so that it is the owner when the scenario starts.
            let role = gateway == "gw-a" ? "owner" : "standby"
            guard await waitFor(gateway, processes[gateway]!, { $0.ready && $0.standby?.role == role }) != nil else {
                throw ProcessRunError("\(gateway) did not become \(role) within 30 s; see \(folder(gateway))/run.err")
            }
        }
        let first = await waitFor("gw-a", processes["gw-a"]!) { $0.zones.allSatisfy { !$0.trouble } }
        guard let firstEpoch = first?.standby?.epoch else {
            throw ProcessRunError("gw-a's zones did not clear of trouble within 30 s; see \(folder("gw-a"))/run.err")
        }
        host.begin()
        onStart?(host)

        // The scenario's time runs on its own; meanwhile the owner dies `killAfter` into its countdown.
        let duration = scenario.duration
        let played = Task { await host.run(until: duration) }
        var killedAt: Duration?
        var tookOverAt: Duration?
        var newEpoch: Int64?
        let started = await Self.waitForRecord(alertLog("gw-a"), within: duration) {
            $0.event == .stepStarted && $0.zone == zone.name && $0.procedure == .suppress && $0.step == countdown
        }
        if started != nil {
            try await clock.sleep(for: killAfter)
            kill(processes["gw-a"]!.processIdentifier, SIGKILL)
            killedAt = host.elapsed
            say(
                "gw-a killed (kill -9), \(DurationText.format(killAfter)) into the pre-discharge: gw-b takes over "
                    + "once gw-a's \(ttl) s lease lapses at etcd")
            if let now = await waitFor("gw-b", processes["gw-b"]!, limit: .seconds(Int64(ttl) * 3), { $0.standby?.role == "owner" }),
                let killedAt
            {
                tookOverAt = host.elapsed
                newEpoch = now.standby?.epoch
                say("gw-b is the owner now (epoch \(newEpoch ?? 0)), \(DurationText.format(host.elapsed - killedAt)) after the kill")
            }
        }
        await played.value
        onEnd?()
        for process in processes.values where process.isRunning { process.terminate() }
        for process in processes.values { _ = await ProcessCampaignRun.exited(process, within: .seconds(30)) }

        // The new owner walked the whole incident (it followed every step of gw-a's): its log is the site's story.
        let records = try Self.gateways.reduce(into: [String: [AlertRecord]]()) {
            $0[$1] = try AlertRecord.readLog(at: alertLog($1))
        }
        let start = host.start
        let end = start + scenario.duration
        let during = records["gw-b"]!.filter { $0.time >= start && $0.time <= end }
        let observations = Observation.fromAlertLog(during, since: start)
            + host.observations
        let evaluator = ExpectationEvaluator(escalation: ZoneState.allCases.map(\.rawValue))
        let report = ScenarioReport(
            scenario: scenario, start: start, speed: 1, realDuration: ContinuousClock.now - began,
            ran: min(host.elapsed, scenario.duration), records: during, events: host.events,
            writes: host.writes.filter { $0.at <= scenario.duration }, observations: observations,
            results: scenario.evaluate(observations, with: evaluator),
            zones: site.model.zones.compactMap { host.zone($0.name) }, devices: host.devices, notifications: [],
            alertLog: alertLog("gw-b"))
        return PairDemoReport(
            scenario: report, zone: zone.name, records: records, firstEpoch: firstEpoch, newEpoch: newEpoch,
            killedAt: killedAt, tookOverAt: tookOverAt, ttl: ttl, etcd: etcd.endpoints)
    }

    /// The index of the first abortable delay of a zone's `suppress` (its pre-discharge), if it has one.
    static func countdown(in zone: ZoneSpec) -> Int? {
        zone.suppress.firstIndex { if case .delay(_, abortable: true) = $0 { true } else { false } }
    }

    /// Polls `gateway`'s status until `condition` holds (nil after `limit`, or when the process is gone).
    private func waitFor(
        _ gateway: String, _ process: Process, limit: Duration = .seconds(30), _ condition: (DaemonStatus) -> Bool
    ) async -> DaemonStatus? {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            if let status = await ProcessCampaignRun.status(socket: socket(gateway)), condition(status) { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Reads `log` every 50 ms until a record satisfies `condition` (nil after `limit`).
    private static func waitForRecord(
        _ log: String, within limit: Duration, _ condition: (AlertRecord) -> Bool
    ) async -> AlertRecord? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let found = (try? AlertRecord.readLog(at: log))?.first(where: condition) { return found }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}

/// What the pair did: the scenario as the new owner saw it, each gateway's alert log, and the handover.
public struct PairDemoReport: Sendable {
    public var scenario: ScenarioReport
    public var zone: String
    public var records: [String: [AlertRecord]]
    public var firstEpoch: Int64
    public var newEpoch: Int64?
    /// Scenario time of the kill and of the moment gw-b said it was the owner.
    public var killedAt: Duration?
    public var tookOverAt: Duration?
    public var ttl: Int
    public var etcd: [String]

    /// Writes by gateway. gw-a wrote until it was killed (it is gone after); gw-b's log shows it wrote nothing
    /// before it held the lease (`gwBActedBeforeTakeover`), so every write after the kill is gw-b's.
    public var writesBy: [String: [SimWrite]] {
        guard let killedAt else { return ["gw-a": scenario.writes, "gw-b": []] }
        return [
            "gw-a": scenario.writes.filter { $0.at <= killedAt }, "gw-b": scenario.writes.filter { $0.at > killedAt },
        ]
    }

    /// Commands written more than once, with their count.
    public var writtenTwice: [(command: String, count: Int)] {
        let names = scenario.writes.map { "\($0.device).\($0.command ?? "\($0.table.rawValue) \($0.address)")" }
        return Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.map { ($0.key, $0.value.count) }
            .sorted { $0.command < $1.command }
    }

    /// gw-b's records of steps it performed itself (owner gw-b) before it became the owner: must be none.
    public var gwBActedBeforeTakeover: Int {
        let gwB = records["gw-b"] ?? []
        guard let took = gwB.first(where: { $0.event == .standbyOwner && $0.to == "gw-b" }) else {
            return gwB.filter { $0.event == .stepSucceeded && $0.owner == "gw-b" }.count
        }
        return gwB.filter { $0.time < took.time && $0.event == .stepSucceeded && $0.owner == "gw-b" }.count
    }

    /// The release of agent, written exactly once, by the new owner.
    public var passed: Bool {
        scenario.passed && killedAt != nil && tookOverAt != nil && (newEpoch ?? 0) > firstEpoch
            && writtenTwice.isEmpty && gwBActedBeforeTakeover == 0 && !(writesBy["gw-b"] ?? []).isEmpty
    }

    /// The pair's part of the summary.
    public func render() -> String {
        var lines = ["The pair (etcd \(etcd.joined(separator: ", ")), lease \(ttl) s):"]
        func commands(_ writes: [SimWrite]) -> String {
            writes.isEmpty
                ? "nothing"
                : writes.map { "\($0.device).\($0.command ?? "?") \(ScenarioSummary.offset($0.at))" }
                    .joined(separator: ", ")
        }
        let killed = killedAt.map { "killed (kill -9) at \(ScenarioSummary.offset($0)), in the pre-discharge" }
        lines.append("  gw-a  owner from the start (epoch \(firstEpoch)); \(killed ?? "never killed (the countdown never started)")")
        lines.append("        wrote: \(commands(writesBy["gw-a"] ?? []))")
        if let tookOverAt, let killedAt, let newEpoch {
            lines.append(
                "  gw-b  standby, followed every step through etcd; owner at \(ScenarioSummary.offset(tookOverAt)) "
                    + "(epoch \(newEpoch)), \(DurationText.format(tookOverAt - killedAt)) after the kill")
        } else {
            lines.append("  gw-b  did NOT take over")
        }
        let firstWrite = (writesBy["gw-b"] ?? []).first.flatMap { write in killedAt.map { write.at - $0 } }
        lines.append(
            "        wrote: \(commands(writesBy["gw-b"] ?? []))"
                + (firstWrite.map { "; first write \(DurationText.format($0)) after the kill" } ?? ""))
        if gwBActedBeforeTakeover > 0 {
            lines.append("  gw-b acted \(gwBActedBeforeTakeover) times before it held the lease: FAILED")
        }
        let twice = writtenTwice
        lines.append(
            twice.isEmpty
                ? "Nothing was written twice: \(scenario.writes.count) writes, each command once."
                : "Written more than once: " + twice.map { "\($0.command) ×\($0.count)" }.joined(separator: ", "))
        lines.append(
            "Each gateway's alert log: " + PairDemoRun.gateways.map { "\($0) \(records[$0]?.count ?? 0) records" }
                .joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}

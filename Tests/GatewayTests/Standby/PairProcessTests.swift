import AlertLog
import FireWatchTesting
import Foundation
import Gateway
import Modbus
import Scenarios
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two `firewatch run` processes over one simulated site, coordinated by a real etcd member: each gateway reaches
/// every device through its own `ModbusTap`, so the test sees which gateway wrote what.
final class PairHarness: Sendable {
    let site: RuntimeHarness
    let etcd: EtcdClientTests.Member
    let gateways = ["gw-a", "gw-b"]
    /// Per gateway, per device: the tap the gateway's site file points at.
    let taps: [String: [String: ModbusTap]]
    let configs: [String: String]
    /// Per gateway, the port of its `metrics:` address.
    let metricsPorts: [String: Int]
    static let devices = ["gas", "temp1", "temp2", "smoke", "panel", "feed"]
    /// 3 × 150 ms polls + the panel's 5 s release verify window = 5.45 s: the shortest lease `check` allows is 6 s.
    static let ttl = 6

    init(suppressDelay: String) async throws {
        site = try RuntimeHarness(suppressDelay: suppressDelay, pollInterval: "150ms")
        etcd = try await EtcdClientTests.Member.start()
        var taps: [String: [String: ModbusTap]] = [:]
        var configs: [String: String] = [:]
        var metricsPorts: [String: Int] = [:]
        let standby = """
            standby:
              etcd: [\(etcd.cluster.endpoints.joined(separator: ", "))]
              ttl: \(Self.ttl)s
              peers: [gw-a, gw-b]
            """
        for gateway in gateways {
            var mine: [String: ModbusTap] = [:]
            for device in Self.devices { mine[device] = try ModbusTap(target: site.servers[device]!.port) }
            taps[gateway] = mine
            metricsPorts[gateway] = try freeLoopbackPort()
            try FileManager.default.createDirectory(
                atPath: site.directory.file("state-\(gateway)"), withIntermediateDirectories: true)
            let text = site.siteYAML(
                suppressDelay: suppressDelay, pollInterval: "150ms", alertLog: "state-\(gateway)/alerts.jsonl",
                controlSocket: "state-\(gateway)/control.sock", ports: mine.mapValues(\.port),
                extra: standby + "\nmetrics: 127.0.0.1:\(metricsPorts[gateway]!)")
            let file = site.directory.file("site-\(gateway).yaml")
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            configs[gateway] = file
        }
        self.taps = taps
        self.configs = configs
        self.metricsPorts = metricsPorts
    }

    func socket(_ gateway: String) -> String { site.directory.file("state-\(gateway)/control.sock") }
    func log(_ gateway: String) -> String { site.directory.file("state-\(gateway)/alerts.jsonl") }

    func start(_ gateway: String) throws -> DaemonProcess {
        try site.start(["--gateway", gateway], config: configs[gateway])
    }

    /// Starts gw-a and waits until it holds the lease, then gw-b until it is standby under gw-a: both processes
    /// and what each one's status said. Throws (having stopped what it started) when either does not get there.
    func startPair() async throws -> (
        a: DaemonProcess, b: DaemonProcess, owner: DaemonStatus.Standby, standby: DaemonStatus.Standby
    ) {
        let a = try start("gw-a")
        guard let owner = await waitRole("gw-a", { $0.role == "owner" }) else {
            await a.stop()
            throw TestFailure("gw-a never became the owner")
        }
        let b: DaemonProcess
        do { b = try start("gw-b") } catch {
            await a.stop()
            throw error
        }
        guard let standby = await waitRole("gw-b", { $0.role == "standby" && $0.owner == "gw-a" }) else {
            await a.stop()
            await b.stop()
            throw TestFailure("gw-b never became the standby under gw-a")
        }
        return (a, b, owner, standby)
    }

    /// Waits until `gateway` is ready and its pair status satisfies `condition`.
    func waitRole(
        _ gateway: String, limit: Duration = .seconds(20), _ condition: (DaemonStatus.Standby) -> Bool
    ) async -> DaemonStatus.Standby? {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<2000 {
            if let status = await site.status(socket: socket(gateway)), status.ready, let pair = status.standby,
                condition(pair)
            {
                return pair
            }
            if ContinuousClock.now > deadline { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// `firewatch_standby_role{role}` and `firewatch_owner_epoch` as `gateway` serves them.
    func pairMetrics(_ gateway: String) async throws -> (role: String?, epoch: Double?) {
        let (status, body) = try await httpGet(port: metricsPorts[gateway]!, "/metrics")
        guard status == 200 else { throw TestFailure("\(gateway) /metrics answered \(status)") }
        let samples = parseExposition(body)
        let role = ["owner", "standby", "unknown"].first { samples.value("firewatch_standby_role", ["role": $0]) == 1 }
        return (role, samples.value("firewatch_owner_epoch"))
    }

    func records(_ gateway: String) -> [[String: JSONValue]] { site.records(log: log(gateway)) }

    func waitForRecord(_ gateway: String, _ members: [String: String], limit: Duration = .seconds(30)) async -> Bool {
        await site.waitFor("\(gateway): \(members)", limit: limit, log: log(gateway)) { records in
            records.contains { RuntimeHarness.matches($0, members) }
        }
    }

    /// Every write `gateway` put on the wire, as `device.address`.
    func writes(_ gateway: String) -> [(device: String, write: ModbusTap.Write)] {
        taps[gateway]!.flatMap { device, tap in tap.writes.map { (device, $0) } }.sorted { $0.write.at < $1.write.at }
    }

    func writeNames(_ gateway: String) -> [String] { writes(gateway).map { "\($0.device).\($0.write.address)" } }

    /// How many times the isolate procedure's failover hook ran, on either gateway (one line per run).
    func failoverRuns() -> Int {
        let text = (try? String(contentsOfFile: site.directory.file("failover.ran"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").count
    }

    func remove() {
        for tap in taps.values.flatMap(\.values) { tap.close() }
        etcd.end()
        site.remove()
    }
}

@Suite("Hot-standby pair: two daemons, one etcd", .serialized)
struct PairProcessTests {
    @Test("only the owner writes and the standby walks its procedure in step; a graceful stop hands over at once")
    func ownerWritesStandbyWaitsGracefulHandover() async throws {
        let pair = try await PairHarness(suppressDelay: "500ms")
        defer { pair.remove() }
        let (a, b, owner, standby) = try await pair.startPair()
        defer { Task { await a.stop() } }
        defer { Task { await b.stop() } }
        #expect(standby.epoch == owner.epoch && owner.epoch > 0)
        #expect(await pair.waitForRecord("gw-b", ["event": "standby.owner", "to": "gw-a", "owner": "gw-a"]))
        #expect(owner.leaseAgeSeconds != nil && owner.leaseLeftSeconds != nil && standby.leaseAgeSeconds == nil)
        #expect(try await pair.pairMetrics("gw-a") == ("owner", Double(owner.epoch)))
        #expect(try await pair.pairMetrics("gw-b") == ("standby", Double(owner.epoch)))

        try pair.site.set("temp1", .input, 1, [580])  // 58 °C: fire
        try pair.site.set("smoke", .input, 0, [3])  // fire1
        #expect(
            await pair.waitForRecord(
                "gw-a", ["event": "step.succeeded", "procedure": "power_cut", "step": "2"], limit: .seconds(40)))
        #expect(pair.writeNames("gw-a") == ["feed.0", "feed.1", "panel.0", "feed.2", "feed.3"])
        #expect(pair.writes("gw-b").isEmpty, "the standby wrote: \(pair.writeNames("gw-b"))")
        // The owner's steps carry its name and epoch; the standby decided the same steps and waits on them.
        let epoch = "\(owner.epoch)"
        let ownerSteps = pair.records("gw-a").filter { $0["event"]?.stringValue == "step.succeeded" }
        #expect(!ownerSteps.isEmpty)
        #expect(ownerSteps.allSatisfy { RuntimeHarness.matches($0, ["owner": "gw-a", "epoch": epoch]) })
        #expect(
            await pair.waitForRecord(
                "gw-b", ["event": "step.started", "procedure": "isolate", "step": "0", "owner": "gw-a", "epoch": epoch]))
        // The owner's progress reaches the standby through etcd: it finishes each step as gw-a did, without acting.
        #expect(
            await pair.waitForRecord(
                "gw-b", ["event": "step.succeeded", "procedure": "power_cut", "step": "2", "owner": "gw-a"]))
        // Delays are timed by each gateway's own engine; every other step is gw-a's.
        func acted(_ records: [[String: JSONValue]]) -> [[String: JSONValue]] {
            records.filter { $0["event"]?.stringValue == "step.succeeded" && $0["detail"]?.stringValue != "delay elapsed" }
        }
        let followed = acted(pair.records("gw-b"))
        #expect(followed.count == acted(ownerSteps).count && followed.count == 7)
        #expect(
            followed.allSatisfy { $0["detail"]?.stringValue?.hasPrefix("gw-a did it (epoch \(epoch))") == true },
            "\(followed.map { $0["detail"]?.stringValue ?? "" })")
        #expect(pair.failoverRuns() == 1, "the failover hook ran on both gateways")

        // An upgrade: the owner stops; its lease is revoked and the standby takes over within a tick or two.
        let stopped = ContinuousClock.now
        a.signal(SIGTERM)
        #expect(await a.waitExit(limit: .seconds(20))?.status == 0)
        let took = try #require(await pair.waitRole("gw-b", limit: .seconds(Int64(PairHarness.ttl))) { $0.role == "owner" })
        #expect(took.epoch > owner.epoch)
        #expect(ContinuousClock.now - stopped < .seconds(Int64(PairHarness.ttl)), "handed over only after the lease lapsed")
        #expect(await pair.waitForRecord("gw-b", ["event": "standby.owner", "from": "gw-a", "to": "gw-b"]))
        #expect(try await pair.pairMetrics("gw-b") == ("owner", Double(took.epoch)))
        // Nothing was left to do: the new owner writes nothing and runs nothing again.
        try await Task.sleep(for: .seconds(1))
        #expect(pair.writes("gw-b").isEmpty, "the new owner wrote again: \(pair.writeNames("gw-b"))")
        #expect(pair.failoverRuns() == 1)
    }

    @Test("owner killed (-9) during the pre-discharge: the standby takes over after the TTL, releases once, cuts power")
    func ownerKilledDuringPreDischarge() async throws {
        let pair = try await PairHarness(suppressDelay: "4s")
        defer { pair.remove() }
        let (a, b, owner, _) = try await pair.startPair()
        defer { Task { await a.stop() } }
        defer { Task { await b.stop() } }

        try pair.site.set("temp1", .input, 1, [580])
        try pair.site.set("smoke", .input, 0, [3])
        #expect(await pair.waitForRecord("gw-a", ["event": "step.started", "procedure": "suppress", "step": "1"]))
        a.signal(SIGKILL)
        let killed = ContinuousClock.now
        _ = await a.waitExit(limit: .seconds(5))
        #expect(pair.writeNames("gw-a") == ["feed.0", "feed.1"], "gw-a wrote exhaust and HVAC off, then died")
        // The lease lapses at etcd after the TTL; the standby's next tick takes the key. The bound is loose (a
        // loaded CI machine); the figure itself goes to the log, and to the bench.
        let role = try #require(await pair.waitRole("gw-b", limit: .seconds(Int64(PairHarness.ttl) * 3)) { $0.role == "owner" })
        let roleTakeover = ContinuousClock.now - killed
        print("takeover: owner killed → gw-b owner (epoch \(role.epoch)) after \(roleTakeover)")
        #expect(roleTakeover < .seconds(Int64(PairHarness.ttl) * 2))
        #expect(pair.writes("gw-b").isEmpty, "gw-b wrote before it held the lease")
        // gw-b followed gw-a's isolate procedure through etcd: those steps were not done again.
        let isolate = pair.records("gw-b").filter {
            RuntimeHarness.matches($0, ["event": "step.succeeded", "procedure": "isolate"])
        }
        #expect(isolate.count == 3)
        #expect(isolate.allSatisfy { $0["detail"]?.stringValue?.hasPrefix("gw-a did it") == true })

        #expect(
            await pair.waitForRecord(
                "gw-b", ["event": "step.succeeded", "procedure": "power_cut", "step": "2", "owner": "gw-b"],
                limit: .seconds(90)))
        let took = try #require(await pair.waitRole("gw-b") { $0.role == "owner" })
        #expect(took.epoch > owner.epoch)
        // The release went out exactly once, from the new owner; then its own power cut.
        let releases = (pair.writes("gw-a") + pair.writes("gw-b")).filter { $0.device == "panel" && $0.write.address == 0 }
        #expect(releases.count == 1)
        #expect(pair.writeNames("gw-b") == ["panel.0", "feed.2", "feed.3"])
        #expect(pair.failoverRuns() == 1, "the failover hook ran again after the takeover")
        if let first = pair.writes("gw-b").first {
            let takeover = first.write.at - killed
            print("takeover: owner killed → first write by the new owner after \(takeover)")
            // Not before the old lease could have lapsed: the standby never writes while gw-a might.
            #expect(takeover >= .seconds(Int64(PairHarness.ttl) - 1))
        }
    }

    @Test("an abort given on the standby stops the owner's countdown: nothing is released; both log it with the uid")
    func abortOnStandbyStopsTheOwner() async throws {
        let pair = try await PairHarness(suppressDelay: "3s")
        defer { pair.remove() }
        let (a, b, _, _) = try await pair.startPair()
        defer { Task { await a.stop() } }
        defer { Task { await b.stop() } }

        try pair.site.set("temp1", .input, 1, [580])
        try pair.site.set("smoke", .input, 0, [3])
        // The standby walks the procedure in step with the owner: it is in its own countdown too.
        #expect(await pair.waitForRecord("gw-b", ["event": "step.started", "procedure": "suppress", "step": "1"]))
        let abort = try pair.site.cli(["abort", "room", "--socket", pair.socket("gw-b")])
        #expect(abort.status == 0, "\(abort.stderr)")
        #expect(abort.stdout.contains("sent to the other gateway through etcd"), "\(abort.stdout)")
        let uid = String(getuid())
        #expect(
            await pair.waitForRecord("gw-a", ["event": "operator.abort", "outcome": "accepted", "uid": uid], limit: .seconds(5)))
        let relayed = pair.records("gw-a").first { RuntimeHarness.matches($0, ["event": "operator.abort"]) }
        #expect(relayed?["message"]?.stringValue?.contains("given on gw-b by uid \(uid)") == true, "\(relayed ?? [:])")
        #expect(await pair.waitForRecord("gw-a", ["event": "step.aborted", "procedure": "suppress"]))
        #expect(await pair.waitForRecord("gw-b", ["event": "operator.abort", "outcome": "accepted", "uid": uid]))
        // Past the end of the countdown, with room to spare: neither gateway released agent.
        try await Task.sleep(for: .seconds(4))
        #expect(pair.writeNames("gw-a") == ["feed.0", "feed.1"], "gw-a wrote \(pair.writeNames("gw-a"))")
        #expect(pair.writes("gw-b").isEmpty, "gw-b wrote \(pair.writeNames("gw-b"))")
        #expect(!pair.records("gw-a").contains { RuntimeHarness.matches($0, ["event": "standby.command_refused"]) })
    }
}

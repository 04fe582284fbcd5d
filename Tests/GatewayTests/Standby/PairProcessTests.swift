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
    /// The gateways that reach etcd through a proxy the test can cut (the others reach the member directly).
    let proxies: [String: LoopbackProxy]
    static let devices = ["gas", "temp1", "temp2", "smoke", "panel", "feed"]
    /// 3 × 150 ms polls + the panel's 5 s release verify window = 5.45 s: the shortest lease `check` allows is 6 s.
    static let ttl = 6

    init(suppressDelay: String, proxied: Set<String> = []) async throws {
        site = try RuntimeHarness(suppressDelay: suppressDelay, pollInterval: "150ms")
        etcd = try await EtcdClientTests.Member.start()
        var taps: [String: [String: ModbusTap]] = [:]
        var configs: [String: String] = [:]
        var metricsPorts: [String: Int] = [:]
        var proxies: [String: LoopbackProxy] = [:]
        for gateway in proxied { proxies[gateway] = try LoopbackProxy(target: etcd.cluster.members[0].clientPort) }
        for gateway in gateways {
            let endpoints = proxies[gateway].map { ["http://127.0.0.1:\($0.port)"] } ?? etcd.cluster.endpoints
            let standby = """
                standby:
                  etcd: [\(endpoints.joined(separator: ", "))]
                  ttl: \(Self.ttl)s
                  peers: [gw-a, gw-b]
                """
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
        self.proxies = proxies
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
        for proxy in proxies.values { proxy.close() }
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
        let standbySteps = { pair.records("gw-b").filter { $0["event"]?.stringValue?.hasPrefix("step.") == true } }
        #expect(
            await pair.waitForRecord("gw-b", ["event": "step.started", "procedure": "suppress", "step": "1"]),
            "the standby's steps: \(standbySteps().map { "\($0["event"]?.stringValue ?? "") \($0["procedure"]?.stringValue ?? "") \($0["step"].map { "\($0)" } ?? "")" })")
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

    /// `gateway`'s step records that it acted on itself (not the ones it followed from the other gateway, nor delays).
    private static func acted(_ records: [[String: JSONValue]], by gateway: String) -> [[String: JSONValue]] {
        records.filter {
            RuntimeHarness.matches($0, ["event": "step.succeeded", "owner": gateway])
                && $0["detail"]?.stringValue != "delay elapsed"
        }
    }

    @Test("owner cut from etcd by a proxy, not from the devices: both act, never under one epoch; healed, it steps down")
    func ownerPartitionedFromEtcd() async throws {
        let pair = try await PairHarness(suppressDelay: "500ms", proxied: ["gw-a"])
        defer { pair.remove() }
        let (a, b, owner, _) = try await pair.startPair()
        defer { Task { await a.stop() } }
        defer { Task { await b.stop() } }
        let first = owner.epoch

        pair.proxies["gw-a"]!.cut()
        #expect(await pair.waitForRecord("gw-a", ["event": "standby.etcd_lost", "owner": "gw-a", "epoch": "\(first)"]))
        // By the policy it keeps acting: it cannot tell etcd down from itself cut off, and sees no newer owner.
        let cutOff = try #require(await pair.waitRole("gw-a") { $0.actingWithoutLease })
        #expect(cutOff.role == "owner" && cutOff.acting && cutOff.etcd != "reachable")
        // The standby takes the lapsed lease under a newer epoch.
        let took = try #require(
            await pair.waitRole("gw-b", limit: .seconds(Int64(PairHarness.ttl) * 3)) { $0.role == "owner" })
        #expect(took.epoch > first && took.owner == "gw-b" && !took.actingWithoutLease)
        #expect(await pair.waitForRecord("gw-b", ["event": "standby.owner", "from": "gw-a", "to": "gw-b"]))
        #expect(pair.writes("gw-a").isEmpty && pair.writes("gw-b").isEmpty, "a write before any incident")

        // A fire while the cut lasts: both gateways see it and both act, each under its own epoch (the README's row).
        try pair.site.set("temp1", .input, 1, [580])
        try pair.site.set("smoke", .input, 0, [3])
        for gateway in pair.gateways {
            #expect(
                await pair.waitForRecord(
                    gateway, ["event": "step.succeeded", "procedure": "power_cut", "step": "2", "owner": gateway],
                    limit: .seconds(40)))
        }
        let sequence = ["feed.0", "feed.1", "panel.0", "feed.2", "feed.3"]
        #expect(pair.writeNames("gw-a") == sequence, "gw-a wrote \(pair.writeNames("gw-a"))")
        #expect(Set(pair.writeNames("gw-b")).isSubset(of: sequence), "gw-b wrote \(pair.writeNames("gw-b"))")
        let epochsA = Set(Self.acted(pair.records("gw-a"), by: "gw-a").compactMap { $0["epoch"]?.intValue })
        let epochsB = Set(Self.acted(pair.records("gw-b"), by: "gw-b").compactMap { $0["epoch"]?.intValue })
        #expect(epochsA == [Int(first)], "gw-a acted under \(epochsA)")
        #expect(epochsB == [Int(took.epoch)], "gw-b acted under \(epochsB)")
        #expect(epochsA.isDisjoint(with: epochsB), "two writers under one epoch")

        // Healed: the former owner learns of the newer one, steps down, and writes nothing more.
        pair.proxies["gw-a"]!.restore()
        let down = try #require(
            await pair.waitRole("gw-a") { $0.role == "standby" && $0.owner == "gw-b" && $0.epoch == took.epoch })
        #expect(!down.acting && !down.actingWithoutLease && down.etcd == "reachable")
        #expect(await pair.waitForRecord("gw-a", ["event": "standby.etcd_restored"]))
        #expect(
            await pair.waitForRecord("gw-a", ["event": "standby.owner", "to": "gw-b"]),
            "\(pair.records("gw-a").filter { $0["event"]?.stringValue?.hasPrefix("standby.") == true })")
        let written = pair.writes("gw-a").count
        try await Task.sleep(for: .seconds(1))
        #expect(pair.writes("gw-a").count == written, "the former owner wrote after it saw the newer owner")
        #expect(try await pair.pairMetrics("gw-a") == ("standby", Double(took.epoch)))
    }

    @Test("etcd stopped under both daemons: the owner watches and acts on without a lease, the standby never acts")
    func etcdStoppedUnderThePair() async throws {
        let pair = try await PairHarness(suppressDelay: "500ms")
        defer { pair.remove() }
        let (a, b, owner, _) = try await pair.startPair()
        defer { Task { await a.stop() } }
        defer { Task { await b.stop() } }

        let stopped = ContinuousClock.now
        pair.etcd.cluster.stopAll()
        for gateway in pair.gateways {
            #expect(await pair.waitForRecord(gateway, ["event": "standby.etcd_lost"]))
        }
        let acting = try #require(await pair.waitRole("gw-a") { $0.actingWithoutLease })
        #expect(acting.role == "owner" && acting.epoch == owner.epoch)
        let waiting = try #require(await pair.waitRole("gw-b") { $0.etcd != "reachable" })
        #expect(waiting.role == "standby" && !waiting.acting)

        // A fire during the outage is handled, by the owner alone.
        try pair.site.set("temp1", .input, 1, [580])
        try pair.site.set("smoke", .input, 0, [3])
        #expect(
            await pair.waitForRecord(
                "gw-a", ["event": "step.succeeded", "procedure": "power_cut", "step": "2", "owner": "gw-a"],
                limit: .seconds(40)))
        #expect(pair.writeNames("gw-a") == ["feed.0", "feed.1", "panel.0", "feed.2", "feed.3"])
        // The standby watched (it decided the same steps) and, without a lease, never acted — past twice the TTL.
        // It stays at the first step it cannot see the owner finish (etcd carries the owner's progress), so a
        // gateway that never saw a step done never does it behind the owner's back.
        #expect(await pair.waitForRecord("gw-b", ["event": "step.started", "procedure": "isolate", "step": "0"]))
        #expect(
            !pair.records("gw-b").contains { $0["event"]?.stringValue == "step.started" && $0["procedure"]?.stringValue != "isolate" })
        let pastTwoTTLs = stopped + .seconds(Int64(PairHarness.ttl) * 2)
        if ContinuousClock.now < pastTwoTTLs { try await Task.sleep(until: pastTwoTTLs) }
        #expect(pair.writes("gw-b").isEmpty, "the standby wrote without a lease: \(pair.writeNames("gw-b"))")
        #expect(await pair.waitRole("gw-b", limit: .zero) { $0.role == "standby" } != nil)

        // etcd back: both say so, and exactly one owns, named by the other; nothing was released twice.
        try pair.etcd.cluster.start("m1")
        try await pair.etcd.cluster.waitUntilServing()
        for gateway in pair.gateways {
            #expect(await pair.waitForRecord(gateway, ["event": "standby.etcd_restored"]))
        }
        var settled = false
        for _ in 0..<100 {
            if let a = await pair.waitRole("gw-a", limit: .zero, { _ in true }),
                let b = await pair.waitRole("gw-b", limit: .zero, { _ in true }),
                [a.role, b.role].sorted() == ["owner", "standby"], a.epoch == b.epoch, a.etcd == "reachable",
                b.etcd == "reachable"
            {
                settled = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(settled, "the pair did not settle on one owner after etcd came back")
        let releases = (pair.writes("gw-a") + pair.writes("gw-b")).filter { $0.device == "panel" && $0.write.address == 0 }
        #expect(releases.count == 1)
    }
}

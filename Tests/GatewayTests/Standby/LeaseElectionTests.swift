import FireWatchTesting
import Foundation
import Logging
import Scenarios
import Synchronization
import Testing

@testable import Gateway

/// The pair's rule of who writes, as a pure function: no etcd needed.
@Suite("Lease policy")
struct LeasePolicyTests {
    let start = ContinuousClock.now
    let primary = LeasePolicy(gateway: "gw-a", primary: true, writeGuard: .seconds(1), unreachableGrace: .seconds(20))
    let secondary = LeasePolicy(gateway: "gw-b", primary: false, writeGuard: .seconds(1), unreachableGrace: .seconds(20))

    func owner(validFor left: Duration, etcdProblem: String? = nil) -> StandbyRole {
        var role = StandbyRole.initial(at: start)
        role.kind = .owner
        role.owner = "gw-a"
        role.epoch = 7
        role.leaseValidUntil = start + left
        role.lastContact = start
        role.etcdProblem = etcdProblem
        return role
    }

    @Test("the owner writes under its epoch while the lease has the guard to spare")
    func ownerWithLease() {
        #expect(primary.permit(owner(validFor: .seconds(5)), at: start) == .granted(ActuationToken(owner: "gw-a", epoch: 7)))
        #expect(!primary.actsWithoutLease(owner(validFor: .seconds(5)), at: start))
    }

    @Test("an owner whose lease was not renewed in time waits while etcd answers, acts through an etcd outage")
    func ownerLeaseRunningOut() {
        let late = owner(validFor: .milliseconds(500))
        guard case .deferred(let reason) = primary.permit(late, at: start) else {
            Issue.record("granted on a lease that may have lapsed")
            return
        }
        #expect(reason.contains("not renewed in time"))

        let cutOff = owner(validFor: .milliseconds(500), etcdProblem: "no etcd member answered")
        #expect(primary.permit(cutOff, at: start + .seconds(60)) == .granted(ActuationToken(owner: "gw-a", epoch: 7)))
        #expect(primary.actsWithoutLease(cutOff, at: start + .seconds(60)))
    }

    @Test("a standby never writes, and says who holds the lease")
    func standby() {
        var role = StandbyRole.initial(at: start)
        role.kind = .standby
        role.owner = "gw-a"
        role.epoch = 7
        role.lastContact = start
        for problem in [nil, "no etcd member answered"] {
            role.etcdProblem = problem
            for policy in [primary, secondary] {
                #expect(policy.permit(role, at: start + .seconds(3600)) == .deferred(reason: "standby: gw-a holds the site's lease (epoch 7)"))
            }
        }
    }

    @Test("etcd never reached since start: the primary acts alone after the grace, the other never does")
    func neverReached() {
        var role = StandbyRole.initial(at: start)
        role.etcdProblem = "no etcd member answered"
        #expect(primary.permit(role, at: start + .seconds(19)) != .granted(ActuationToken(owner: "gw-a", epoch: 0)))
        #expect(primary.permit(role, at: start + .seconds(20)) == .granted(ActuationToken(owner: "gw-a", epoch: 0)))
        #expect(primary.actsWithoutLease(role, at: start + .seconds(20)))
        #expect(secondary.permit(role, at: start + .seconds(3600)) == .deferred(reason: "standby pair: no lease yet (etcd not reached since start)"))
        // Once etcd has answered, an unknown role is not an outage since start: nobody acts without the lease.
        role.lastContact = start + .seconds(1)
        #expect(primary.permit(role, at: start + .seconds(3600)) != .granted(ActuationToken(owner: "gw-a", epoch: 0)))
    }
}

/// Two elections on a real etcd: exactly one owner, handover on resign, on a crash and on a partition, and what
/// each gateway's gate grants meanwhile.
@Suite("Lease election", .serialized)
struct LeaseElectionTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let ttl: Duration = .seconds(2)

    final class Pair: Sendable {
        let a: LeaseElection
        let b: LeaseElection
        let clients: [EtcdClient]
        let gateA: StandbyGate
        let gateB: StandbyGate
        /// Every token either gate granted while sampled, by gateway.
        let grants = Mutex<[String: Set<Int64>]>([:])

        init(endpointsA: [String], endpointsB: [String], site: String = "s") {
            let clientA = EtcdClient(endpoints: endpointsA, requestTimeout: .milliseconds(300))
            let clientB = EtcdClient(endpoints: endpointsB, requestTimeout: .milliseconds(300))
            clients = [clientA, clientB]
            a = LeaseElection(client: clientA, site: site, gateway: "gw-a", ttl: LeaseElectionTests.ttl,
                tick: .milliseconds(100), logger: LeaseElectionTests.logger)
            b = LeaseElection(client: clientB, site: site, gateway: "gw-b", ttl: LeaseElectionTests.ttl,
                tick: .milliseconds(100), logger: LeaseElectionTests.logger)
            let guardTime: Duration = .milliseconds(500)
            gateA = StandbyGate(election: a, policy: LeasePolicy(gateway: "gw-a", primary: true, writeGuard: guardTime, unreachableGrace: .seconds(4)))
            gateB = StandbyGate(election: b, policy: LeasePolicy(gateway: "gw-b", primary: false, writeGuard: guardTime, unreachableGrace: .seconds(4)))
        }

        /// Asks both gates once and remembers what they granted.
        func sample() async {
            let request = ActuationRequest(zone: "z", procedure: .isolate, step: .delay(.seconds(1), abortable: false), action: .write(attempt: 1))
            for (name, gate) in [("gw-a", gateA), ("gw-b", gateB)] {
                if case .granted(let token?) = await gate.permit(request) {
                    grants.withLock { _ = $0[name, default: []].insert(token.epoch) }
                }
            }
        }

        /// Epochs both gateways were granted: must stay empty.
        var sharedEpochs: Set<Int64> {
            grants.withLock { ($0["gw-a"] ?? []).intersection($0["gw-b"] ?? []) }
        }

        func shutdown() async {
            for client in clients { await client.shutdown() }
        }
    }

    /// Runs `election` until the returned task is cancelled (a crash: no resign).
    static func running(_ election: LeaseElection) -> Task<Void, Never> {
        Task { try? await election.run() }
    }

    /// Samples `pair` every 50 ms until `condition` holds or `limit` passes.
    static func sampling(_ pair: Pair, within limit: Duration, until condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            await pair.sample()
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test("one owner, one standby naming it with the same epoch; a resign hands over at the next tick")
    func oneOwnerAndResign() async throws {
        let member = try await EtcdClientTests.Member.start()
        defer { member.end() }
        let pair = Pair(endpointsA: member.cluster.endpoints, endpointsB: member.cluster.endpoints)
        let runA = Self.running(pair.a)
        try await Task.sleep(for: .milliseconds(300))
        let runB = Self.running(pair.b)
        defer {
            runA.cancel()
            runB.cancel()
        }
        #expect(await Self.sampling(pair, within: .seconds(5)) { pair.a.role.kind == .owner && pair.b.role.kind == .standby })
        #expect(pair.b.role.owner == "gw-a")
        #expect(pair.b.role.epoch == pair.a.role.epoch)
        #expect(pair.a.role.epoch > 0)
        let first = pair.a.role.epoch

        runA.cancel()
        await pair.a.resign()
        #expect(await Self.sampling(pair, within: .seconds(5)) { pair.b.role.kind == .owner })
        #expect(pair.b.role.epoch > first, "a new owner has a newer epoch")
        #expect(pair.sharedEpochs.isEmpty, "granted to both: \(pair.grants.withLock { $0 })")
        await pair.shutdown()
    }

    @Test("an owner that stops renewing (kill -9) is replaced once its lease lapses at etcd")
    func crashedOwner() async throws {
        let member = try await EtcdClientTests.Member.start()
        defer { member.end() }
        let pair = Pair(endpointsA: member.cluster.endpoints, endpointsB: member.cluster.endpoints)
        let runA = Self.running(pair.a)
        try await Task.sleep(for: .milliseconds(300))
        let runB = Self.running(pair.b)
        defer { runB.cancel() }
        #expect(await Self.sampling(pair, within: .seconds(5)) { pair.a.role.kind == .owner && pair.b.role.kind == .standby })
        let first = pair.a.role.epoch

        runA.cancel()  // no resign: the lease is left to lapse
        #expect(await Self.sampling(pair, within: Self.ttl * 3) { pair.b.role.kind == .owner })
        #expect(pair.b.role.epoch > first)
        #expect(pair.b.role.owner == "gw-b")
        await pair.shutdown()
    }

    @Test("owner cut from etcd: it acts on without a lease, the standby takes a newer epoch, never the same one")
    func partitionedOwner() async throws {
        let member = try await EtcdClientTests.Member.start()
        defer { member.end() }
        let proxy = try LoopbackProxy(target: member.cluster.members[0].clientPort)
        defer { proxy.close() }
        let pair = Pair(endpointsA: ["http://127.0.0.1:\(proxy.port)"], endpointsB: member.cluster.endpoints)
        let runA = Self.running(pair.a)
        try await Task.sleep(for: .milliseconds(300))
        let runB = Self.running(pair.b)
        defer {
            runA.cancel()
            runB.cancel()
        }
        #expect(await Self.sampling(pair, within: .seconds(5)) { pair.a.role.kind == .owner && pair.b.role.kind == .standby })
        let first = pair.a.role.epoch

        proxy.cut()
        #expect(await Self.sampling(pair, within: .seconds(3)) { pair.a.role.etcdProblem != nil })
        // By the policy the cut-off owner keeps acting (it cannot see a newer owner) ...
        #expect(pair.a.role.kind == .owner)
        #expect(await pair.gateA.permit(Self.request) == .granted(ActuationToken(owner: "gw-a", epoch: first)))
        // ... while the standby takes the lapsed lease under a newer epoch.
        #expect(await Self.sampling(pair, within: Self.ttl * 3) { pair.b.role.kind == .owner })
        #expect(pair.b.role.epoch > first)

        proxy.restore()
        // Back in touch, the former owner learns its lease lapsed and that gw-b holds the key: it is a standby.
        #expect(await Self.sampling(pair, within: .seconds(5)) { pair.a.role.kind == .standby && pair.a.role.owner == "gw-b" })
        #expect(pair.a.role.epoch == pair.b.role.epoch)
        if case .granted = await pair.gateA.permit(Self.request) {
            Issue.record("the former owner may still write after it saw the newer owner")
        }
        #expect(pair.sharedEpochs.isEmpty, "granted to both: \(pair.grants.withLock { $0 })")
        await pair.shutdown()
    }

    @Test("quorum lost (3 members, 2 down): the owner acts on, the standby does not; back to normal after")
    func quorumLost() async throws {
        let member = try await EtcdClientTests.Member.start(size: 3)
        defer { member.end() }
        let pair = Pair(endpointsA: member.cluster.endpoints, endpointsB: member.cluster.endpoints)
        let runA = Self.running(pair.a)
        try await Task.sleep(for: .milliseconds(300))
        let runB = Self.running(pair.b)
        defer {
            runA.cancel()
            runB.cancel()
        }
        #expect(await Self.sampling(pair, within: .seconds(5)) { pair.a.role.kind == .owner && pair.b.role.kind == .standby })
        let first = pair.a.role.epoch

        member.cluster.stop("m2")
        member.cluster.stop("m3")
        #expect(await Self.sampling(pair, within: .seconds(8)) { pair.a.role.etcdProblem != nil && pair.b.role.etcdProblem != nil })
        // Longer than the TTL without quorum: nobody can renew or take the lease.
        for _ in 0..<Int(Self.ttl.components.seconds * 20) {
            await pair.sample()
            try await Task.sleep(for: .milliseconds(75))
        }
        #expect(pair.a.role.kind == .owner)
        #expect(pair.b.role.kind == .standby)
        #expect(pair.grants.withLock { $0["gw-b"] } == nil, "the standby was granted without quorum")
        #expect(pair.grants.withLock { $0["gw-a"] } == [first])

        try member.cluster.start("m2")
        try member.cluster.start("m3")
        #expect(await Self.sampling(pair, within: .seconds(15)) { pair.a.role.etcdProblem == nil && pair.b.role.etcdProblem == nil })
        // Whoever owns now, exactly one does, and the other names it.
        #expect(await Self.sampling(pair, within: .seconds(5)) {
            let (a, b) = (pair.a.role, pair.b.role)
            return [a.kind, b.kind].sorted { $0.rawValue < $1.rawValue } == [.owner, .standby]
                && a.epoch == b.epoch
        })
        #expect(pair.sharedEpochs.isEmpty, "granted to both: \(pair.grants.withLock { $0 })")
        await pair.shutdown()
    }

    @Test("etcd down from the start: only the primary acts, after the grace, under epoch 0")
    func etcdDownFromStart() async throws {
        let dead = try LoopbackPorts.free(1)[0]
        let pair = Pair(endpointsA: ["http://127.0.0.1:\(dead)"], endpointsB: ["http://127.0.0.1:\(dead)"])
        let runA = Self.running(pair.a)
        let runB = Self.running(pair.b)
        defer {
            runA.cancel()
            runB.cancel()
        }
        #expect(await Self.sampling(pair, within: .seconds(10)) { pair.grants.withLock { $0["gw-a"] } != nil })
        #expect(pair.a.role.kind == .unknown)
        #expect(pair.grants.withLock { $0["gw-a"] } == [0])
        #expect(pair.grants.withLock { $0["gw-b"] } == nil)
        await pair.shutdown()
    }

    static let request = ActuationRequest(
        zone: "z", procedure: .isolate, step: .delay(.seconds(1), abortable: false), action: .write(attempt: 1))
}

import FireSafety
import FireWatchTesting
import Foundation
import Logging
import Testing

@testable import Gateway

/// The pair's shared progress against a real etcd member: what the owner publishes under its epoch, what the other
/// gateway follows and trusts, and what it does not.
@Suite("Shared procedure progress", .serialized)
struct SharedProgressTests {
    static let site = "s"
    static let ownerKey = "/firewatch/s/owner"
    static let logger = Logger(label: "test")

    /// A started member and a client of it; the caller ends both.
    static func etcd() async throws -> (EtcdClientTests.Member, EtcdClient) {
        let member = try await EtcdClientTests.Member.start()
        return (member, EtcdClient(endpoints: member.cluster.endpoints))
    }

    static func record(
        _ event: AlertEvent, _ procedure: ProcedureKind, _ step: Int, owner: String = "gw-a", epoch: Int64,
        detail: String = "wrote it"
    ) -> AlertRecord {
        var record = AlertRecord(
            time: Timestamp(nanoseconds: 0), site: site, zone: "room", severity: .fire, event: event,
            message: "\(procedure.rawValue) \(step)", detail: detail)
        record.procedure = procedure
        record.step = step
        record.owner = owner
        record.epoch = epoch
        return record
    }

    /// The owner key made by gateway `name` on a fresh lease; its create revision is the epoch.
    static func own(_ client: EtcdClient, as name: String) async throws -> (epoch: Int64, lease: Int64) {
        let lease = try await client.grant(ttl: 30)
        guard case .created(let revision) = try await client.createIfAbsent(ownerKey, value: name, lease: lease.id)
        else { throw TestFailure("the owner key was already held") }
        return (revision, lease.id)
    }

    @Test("the owner publishes under its epoch; the other gateway trusts what finished, never a skip or a start")
    func publishedAndFollowed() async throws {
        let (member, client) = try await Self.etcd()
        defer { member.end() }
        defer { Task { await client.shutdown() } }
        let a = SharedProgress(client: client, site: Self.site, gateway: "gw-a", logger: Self.logger)
        let b = SharedProgress(client: client, site: Self.site, gateway: "gw-b", logger: Self.logger)
        let (epoch, _) = try await Self.own(client, as: "gw-a")

        a.logged(Self.record(.stepStarted, .isolate, 0, epoch: epoch))
        a.logged(Self.record(.stepSucceeded, .isolate, 0, epoch: epoch, detail: "exhaust on"))
        a.logged(Self.record(.stepSkipped, .isolate, 1, epoch: epoch))
        a.logged(Self.record(.stepStarted, .suppress, 0, epoch: epoch))
        a.logged(Self.record(.stepFailed, .isolate, 2, epoch: epoch, detail: "exit 1"))
        await a.exchange(ownerEpoch: epoch, follow: false)
        await b.exchange(ownerEpoch: nil, follow: true)

        let done = try #require(b.finishedElsewhere(zone: "room", procedure: .isolate, index: 0))
        #expect(done == ZoneProgress.Finished(outcome: "succeeded", detail: "exhaust on", owner: "gw-a", epoch: epoch))
        #expect(b.finishedElsewhere(zone: "room", procedure: .isolate, index: 2)?.outcome == "failed")
        #expect(b.finishedElsewhere(zone: "room", procedure: .isolate, index: 1) == nil, "a skip is not done")
        #expect(b.finishedElsewhere(zone: "room", procedure: .suppress, index: 0) == nil, "started is not done")
        #expect(b.finishedElsewhere(zone: "other", procedure: .isolate, index: 0) == nil)
        // A gateway never takes its own word back from etcd as another's.
        await a.exchange(ownerEpoch: nil, follow: true)
        #expect(a.finishedElsewhere(zone: "room", procedure: .isolate, index: 0) == nil)

        // What etcd holds is the JSON the README shows.
        let stored = try #require(try await client.get("/firewatch/s/progress/room"))
        let decoded = try JSONDecoder().decode(ZoneProgress.self, from: Data(stored.value.utf8))
        #expect(decoded.owner == "gw-a" && decoded.epoch == epoch && decoded.steps.count == 2)

        // Back to normal: the owner deletes the zone's progress; the follower forgets it.
        var normal = AlertRecord(
            time: Timestamp(nanoseconds: 0), site: Self.site, zone: "room", severity: .info, event: .zoneState,
            to: "normal", message: "room is normal")
        normal.owner = "gw-a"
        a.logged(normal)
        await a.exchange(ownerEpoch: epoch, follow: false)
        #expect(try await client.get("/firewatch/s/progress/room") == nil)
        await b.exchange(ownerEpoch: nil, follow: true)
        #expect(b.finishedElsewhere(zone: "room", procedure: .isolate, index: 0) == nil)
    }

    @Test("a former owner's publish is refused by etcd once the lease has a newer owner; the new one republishes")
    func fencedByEpoch() async throws {
        let (member, client) = try await Self.etcd()
        defer { member.end() }
        defer { Task { await client.shutdown() } }
        let a = SharedProgress(client: client, site: Self.site, gateway: "gw-a", logger: Self.logger)
        let b = SharedProgress(client: client, site: Self.site, gateway: "gw-b", logger: Self.logger)
        let (old, lease) = try await Self.own(client, as: "gw-a")
        a.logged(Self.record(.stepStarted, .isolate, 0, epoch: old))
        a.logged(Self.record(.stepSucceeded, .isolate, 0, epoch: old))
        await a.exchange(ownerEpoch: old, follow: false)
        await b.exchange(ownerEpoch: nil, follow: true)
        // gw-b follows and walks the same step (its record says who did it).
        b.logged(Self.record(.stepSucceeded, .isolate, 0, owner: "gw-a", epoch: old, detail: "gw-a did it"))

        // gw-a's lease goes; gw-b takes the key under a newer epoch.
        try await client.revoke(lease)
        let (new, _) = try await Self.own(client, as: "gw-b")
        #expect(new > old)
        // gw-a, stalled, still believes it owns and publishes a late step: refused.
        a.logged(Self.record(.stepSucceeded, .suppress, 0, epoch: old))
        await a.exchange(ownerEpoch: old, follow: false)
        let afterLate = try #require(try await client.get("/firewatch/s/progress/room"))
        #expect(!afterLate.value.contains("suppress/0"), "a former owner's late publish went through: \(afterLate.value)")
        // gw-b publishes everything it knows under its epoch at its first exchange as owner.
        await b.exchange(ownerEpoch: new, follow: false)
        let republished = try JSONDecoder().decode(
            ZoneProgress.self, from: Data(try #require(try await client.get("/firewatch/s/progress/room")).value.utf8))
        #expect(republished.owner == "gw-b" && republished.epoch == new)
        #expect(republished.steps["isolate/0"]?.owner == "gw-a", "who did the step is kept")
    }

    @Test("commands relayed: the other gateway's, once, in order, inhibit intact; never one put before the first read")
    func commandsRelayed() async throws {
        let (member, client) = try await Self.etcd()
        defer { member.end() }
        defer { Task { await client.shutdown() } }
        let a = CommandRelay(client: client, site: Self.site, gateway: "gw-a", logger: Self.logger)
        let b = CommandRelay(client: client, site: Self.site, gateway: "gw-b", logger: Self.logger)

        // Given before gw-b first looked: history, not a command for gw-b (an old abort must not stop a new countdown).
        try await a.send(.abort(zone: "room", uid: "1000"), user: "alice")
        #expect(try await b.receive() == [])
        try await a.send(.ack(zone: "room", uid: "1000"), user: "alice")
        try await a.send(.inhibit(zone: "room", uid: "1001", duration: .seconds(90), reason: "walk test"), user: nil)
        try await b.send(.reset(zone: "room", uid: "1002"), user: "bob")
        let received = try await b.receive()
        #expect(received.map(\.command) == ["ack", "inhibit"], "gw-b's own reset is not handed back to it")
        #expect(received.map(\.gateway) == ["gw-a", "gw-a"])
        #expect(received.first?.user == "alice")
        #expect(received.last?.operatorCommand == .inhibit(zone: "room", uid: "1001", duration: .seconds(90), reason: "walk test"))
        #expect(try await b.receive() == [], "each command is applied once")
        // gw-a had not read yet: its first read is history too, gw-b's reset included.
        #expect(try await a.receive() == [])
        try await b.send(.enable(zone: "room", uid: "1002"), user: "bob")
        #expect(try await a.receive().map(\.operatorCommand) == [.enable(zone: "room", uid: "1002")])
    }
}

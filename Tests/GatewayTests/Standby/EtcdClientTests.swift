import FireWatchTesting
import Foundation
import Scenarios
import Testing

@testable import Gateway

/// The v3 JSON gateway client against a real etcd member started by the test.
@Suite("etcd client", .serialized)
struct EtcdClientTests {
    /// One started member in a temporary folder; stopped and removed by `end()`.
    struct Member {
        let directory: TemporaryDirectory
        let cluster: EtcdCluster

        static func start(size: Int = 1) async throws -> Member {
            let directory = try TemporaryDirectory(prefix: "firewatch-etcd")
            let cluster = try EtcdCluster(folder: directory.path, size: size)
            try await cluster.start()
            return Member(directory: directory, cluster: cluster)
        }

        func end() {
            cluster.stopAll()
            directory.remove()
        }
    }

    @Test("leases: granted, kept alive, revoked; a revoked lease keeps nothing alive")
    func leases() async throws {
        let member = try await Member.start()
        defer { member.end() }
        let client = EtcdClient(endpoints: member.cluster.endpoints)
        defer { Task { await client.shutdown() } }

        let lease = try await client.grant(ttl: 5)
        #expect(lease.ttl == 5)
        #expect(lease.id != 0)
        let left = try await client.keepAlive(lease.id)
        #expect(left == 5)
        try await client.put("/t/on-lease", value: "x", lease: lease.id)
        #expect(try await client.get("/t/on-lease")?.lease == lease.id)

        try await client.revoke(lease.id)
        #expect(try await client.keepAlive(lease.id) == 0)
        #expect(try await client.get("/t/on-lease") == nil, "a revoked lease takes its keys with it")
        // Revoking again is not an error: the lease is gone either way.
        try await client.revoke(lease.id)
    }

    @Test("create-if-absent: the first creates the key and learns its revision, the second finds it held")
    func createIfAbsent() async throws {
        let member = try await Member.start()
        defer { member.end() }
        let client = EtcdClient(endpoints: member.cluster.endpoints)
        defer { Task { await client.shutdown() } }
        let first = try await client.grant(ttl: 5)
        let second = try await client.grant(ttl: 5)

        let won = try await client.createIfAbsent("/firewatch/s/owner", value: "gw-a", lease: first.id)
        guard case .created(let revision) = won else {
            Issue.record("the first create found the key held: \(won)")
            return
        }
        let lost = try await client.createIfAbsent("/firewatch/s/owner", value: "gw-b", lease: second.id)
        guard case .held(let holder) = lost else {
            Issue.record("the second create made the key again: \(lost)")
            return
        }
        #expect(holder.value == "gw-a")
        #expect(holder.lease == first.id)
        #expect(holder.createRevision == revision)

        // A later put keeps the create revision (the epoch) and moves the mod revision.
        try await client.put("/firewatch/s/owner", value: "gw-a", lease: first.id)
        let after = try #require(try await client.get("/firewatch/s/owner"))
        #expect(after.createRevision == revision)
        #expect(after.modRevision > revision)
    }

    @Test("prefix reads return every key under the prefix and nothing beside it; delete removes one")
    func prefixAndDelete() async throws {
        let member = try await Member.start()
        defer { member.end() }
        let client = EtcdClient(endpoints: member.cluster.endpoints)
        defer { Task { await client.shutdown() } }
        try await client.put("/firewatch/s/zone/a", value: "1")
        try await client.put("/firewatch/s/zone/b", value: "2")
        try await client.put("/firewatch/s/zonf", value: "beside")
        try await client.put("/firewatch/t/zone/a", value: "other site")

        let zones = try await client.get(prefix: "/firewatch/s/zone/")
        #expect(zones.map(\.key) == ["/firewatch/s/zone/a", "/firewatch/s/zone/b"])
        #expect(zones.map(\.value) == ["1", "2"])
        try await client.delete("/firewatch/s/zone/a")
        #expect(try await client.get(prefix: "/firewatch/s/zone/").map(\.key) == ["/firewatch/s/zone/b"])
    }

    @Test("a member that does not answer is skipped for the next endpoint; none answering is `unreachable`")
    func endpoints() async throws {
        let member = try await Member.start()
        defer { member.end() }
        let dead = try LoopbackPorts.free(1)[0]
        let client = EtcdClient(endpoints: ["http://127.0.0.1:\(dead)"] + member.cluster.endpoints)
        defer { Task { await client.shutdown() } }
        try await client.put("/t/k", value: "v")
        #expect(try await client.get("/t/k")?.value == "v")

        let nobody = EtcdClient(endpoints: ["http://127.0.0.1:\(dead)"], requestTimeout: .milliseconds(500))
        defer { Task { await nobody.shutdown() } }
        do {
            _ = try await nobody.get("/t/k")
            Issue.record("a read from a closed port succeeded")
        } catch {
            #expect(error.kind == .unreachable)
            #expect(error.description.contains("127.0.0.1:\(dead)"), "the error names the member: \(error)")
        }
    }
}

import Foundation
import Gateway

/// Real etcd members on free 127.0.0.1 ports, each with its own data directory under `folder`: what the standby
/// tests, the failover demo and the bench coordinate through. Debian's `etcd-server` provides `/usr/bin/etcd`.
///
/// Members can be stopped (`kill -9`, as a crash) and started again on the same ports and data, so a test can
/// take a cluster's quorum away and give it back.
public final class EtcdCluster: @unchecked Sendable {
    // @unchecked: `processes` is only touched under `lock`.
    public struct Member: Sendable {
        public var name: String
        public var clientPort: Int
        public var peerPort: Int
        public var dataDirectory: String
        public var clientURL: String { "http://127.0.0.1:\(clientPort)" }
        public var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    }

    public let folder: String
    public let members: [Member]
    public let executable: String
    private var processes: [String: Process] = [:]
    private let lock = NSLock()

    /// Every member's client URL, for a site's `standby: { etcd: [...] }`.
    public var endpoints: [String] { members.map(\.clientURL) }

    /// Where etcd is, or nil (then `make deps` installs Debian's `etcd-server`).
    public static func findExecutable() -> String? {
        for path in ["/usr/bin/etcd", "/usr/local/bin/etcd"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }

    /// Lays out `size` members (not started yet).
    public init(folder: String, size: Int = 1) throws {
        guard let executable = Self.findExecutable() else {
            throw ProcessRunError("etcd is not installed: `make deps` installs Debian's etcd-server")
        }
        self.executable = executable
        self.folder = folder
        let ports = try LoopbackPorts.free(2 * size)
        members = (0..<size).map { index in
            Member(
                name: "m\(index + 1)", clientPort: ports[2 * index], peerPort: ports[2 * index + 1],
                dataDirectory: folder + "/m\(index + 1).etcd")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    deinit { stopAll() }

    /// Starts every member and waits (up to `within`) until the cluster serves requests.
    public func start(within limit: Duration = .seconds(20)) async throws {
        for member in members { try launch(member) }
        try await waitUntilServing(within: limit)
    }

    /// Starts `name` again (after `stop`), on its ports and its data.
    public func start(_ name: String) throws {
        guard let member = members.first(where: { $0.name == name }) else {
            throw ProcessRunError("no etcd member \(name)")
        }
        try launch(member)
    }

    /// Kills `name` with SIGKILL and waits for it to be gone.
    public func stop(_ name: String) {
        let process = lock.withLock { processes.removeValue(forKey: name) }
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    public func stopAll() {
        for member in members { stop(member.name) }
    }

    /// Waits until a put through the v3 API succeeds (a leader is elected and the quorum is there).
    public func waitUntilServing(within limit: Duration = .seconds(20)) async throws {
        let client = EtcdClient(endpoints: endpoints, requestTimeout: .milliseconds(500))
        defer { Task { await client.shutdown() } }
        let deadline = ContinuousClock.now + limit
        var last = "not tried"
        while ContinuousClock.now < deadline {
            do {
                try await client.put("/firewatch-cluster-check", value: "ok")
                return
            } catch {
                last = error.description
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProcessRunError(
            "etcd in \(folder) did not serve within \(limit): \(last); see the members' logs there")
    }

    private func launch(_ member: Member) throws {
        let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDirectory,
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", "firewatch-\(ProcessInfo.processInfo.processIdentifier)",
            // Short election timing, so a lost member is noticed within a test's patience.
            "--heartbeat-interval", "100", "--election-timeout", "500",
            "--log-level", "warn",
        ]
        let logPath = folder + "/\(member.name).log"
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw ProcessRunError("cannot write \(logPath)") }
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { processes[member.name] = process }
    }
}

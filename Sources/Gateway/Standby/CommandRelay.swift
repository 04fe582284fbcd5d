import FireSafety
import Foundation
import Logging
import Synchronization

/// An operator command as one gateway of the pair hands it to the other: the value of
/// `/firewatch/<site>/commands/<gateway>/<id>`, JSON.
public struct RelayedCommand: Codable, Sendable, Hashable {
    /// The gateway it was given on.
    public var gateway: String
    /// `ack`, `reset`, `abort`, `resume`, `inhibit`, `enable`, `test` or `test_end`.
    public var command: String
    public var zone: String
    /// The uid of the control socket's peer, and its name when known.
    public var uid: String
    public var user: String?
    /// `inhibit` and `test` only.
    public var seconds: Double?
    public var reason: String?

    public init(gateway: String, command: OperatorCommand, user: String?) {
        self.gateway = gateway
        self.zone = command.zone
        self.uid = command.uid
        self.user = user
        switch command {
        case .ack: self.command = "ack"
        case .reset: self.command = "reset"
        case .abort: self.command = "abort"
        case .resume: self.command = "resume"
        case .enable: self.command = "enable"
        case .inhibit(_, _, let duration, let reason):
            self.command = "inhibit"
            seconds = duration.secondsValue
            self.reason = reason
        case .test(_, _, let duration, let reason):
            self.command = "test"
            seconds = duration.secondsValue
            self.reason = reason
        case .endTest: self.command = "test_end"
        }
    }

    /// The command to give this gateway's engine; nil for a kind this version does not know.
    public var operatorCommand: OperatorCommand? {
        switch command {
        case "ack": return .ack(zone: zone, uid: uid)
        case "reset": return .reset(zone: zone, uid: uid)
        case "abort": return .abort(zone: zone, uid: uid)
        case "resume": return .resume(zone: zone, uid: uid)
        case "enable": return .enable(zone: zone, uid: uid)
        case "inhibit":
            guard let seconds, let reason else { return nil }
            return .inhibit(zone: zone, uid: uid, duration: .milliseconds(Int64(seconds * 1000)), reason: reason)
        case "test":
            guard let seconds, let reason else { return nil }
            return .test(zone: zone, uid: uid, duration: .milliseconds(Int64(seconds * 1000)), reason: reason)
        case "test_end": return .endTest(zone: zone, uid: uid)
        default: return nil
        }
    }
}

/// Carries operator commands between the gateways of a pair (issue 16): a command given on either gateway's control
/// socket is carried out there, then put under `/firewatch/<site>/commands/` (on a one-minute lease, so the prefix
/// stays small); every gateway reads the prefix every 100 ms and gives each command another gateway put there to
/// its own engine, in etcd's order, once. So an `abort` given on the standby stops the owner's countdown within a
/// few tenths of a second.
///
/// Only commands put after this gateway first read the prefix are carried out: a command given while it was down
/// is not replayed later (an old `abort` must never stop a new incident's countdown); its own log and the other
/// gateway's records say what was done meanwhile.
public final class CommandRelay: Sendable {
    public let client: EtcdClient
    public let gateway: String
    public let prefix: String
    let logger: Logger
    /// How often the prefix is read.
    public static let interval: Duration = .milliseconds(100)
    /// How long a command stays in etcd.
    public static let lifetime: Int64 = 60

    /// The highest revision taken from the prefix; nil until the first read.
    private let taken = Mutex<Int64?>(nil)

    public init(client: EtcdClient, site: String, gateway: String, logger: Logger) {
        self.client = client
        self.gateway = gateway
        self.prefix = "/firewatch/\(site)/commands/"
        self.logger = logger
    }

    /// Hands `command` (carried out here) to the other gateways; throws when etcd does not take it.
    public func send(_ command: OperatorCommand, user: String?) async throws(EtcdError) {
        let relayed = RelayedCommand(gateway: gateway, command: command, user: user)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(relayed) else {
            throw EtcdError(kind: .malformed, description: "cannot encode the command \(relayed.command)")
        }
        let lease = try await client.grant(ttl: Self.lifetime)
        try await client.put(
            prefix + gateway + "/" + UUID().uuidString, value: String(decoding: data, as: UTF8.self), lease: lease.id)
    }

    /// The commands other gateways put since the last call, in the order etcd took them. The first call only
    /// notes where the prefix stands.
    public func receive() async throws(EtcdError) -> [RelayedCommand] {
        let values = try await client.get(prefix: prefix).sorted { $0.modRevision < $1.modRevision }
        let newest = values.last?.modRevision ?? 0
        let since = taken.withLock { taken -> Int64? in
            defer { taken = max(taken ?? 0, newest) }
            return taken
        }
        guard let since else { return [] }
        var commands: [RelayedCommand] = []
        for value in values where value.modRevision > since {
            guard let command = try? JSONDecoder().decode(RelayedCommand.self, from: Data(value.value.utf8)) else {
                logger.warning("a command in etcd is not what a gateway writes; ignored", metadata: ["key": "\(value.key)"])
                continue
            }
            if command.gateway != gateway { commands.append(command) }
        }
        return commands
    }
}

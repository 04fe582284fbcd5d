import AlertLog
import FireSafety
import Foundation
import SiteConfig
import Synchronization

/// Maps control-socket requests to operator commands (the peer's uid from SO_PEERCRED) and `status` to JSON.
struct ControlHandler: Sendable {
    let core: SafetyCore
    let status: StatusSource
    /// A hot-standby pair's relay: a command carried out here goes to the other gateway too.
    var relay: CommandRelay? = nil
    /// For `notify test`.
    var notifier: (any AlertNotifier)? = nil

    func handle(_ request: ControlRequest, peer: PeerCredentials) async -> ControlResponse {
        let uid = String(peer.uid)
        let user = UserName.of(uid: peer.uid)
        let command: OperatorCommand
        switch request {
        case .status:
            let status = await status.status()
            return .success(status.summary, data: Self.json(status))
        case .ack(let zone): command = .ack(zone: zone, uid: uid)
        case .reset(let zone): command = .reset(zone: zone, uid: uid)
        case .abort(let zone): command = .abort(zone: zone, uid: uid)
        case .resume(let zone): command = .resume(zone: zone, uid: uid)
        case .enable(let zone): command = .enable(zone: zone, uid: uid)
        case .inhibit(let zone, let duration, let reason):
            command = .inhibit(zone: zone, uid: uid, duration: duration, reason: reason)
        case .test(let zone, let duration, let reason):
            command = .test(zone: zone, uid: uid, duration: duration, reason: reason)
        case .endTest(let zone): command = .endTest(zone: zone, uid: uid)
        case .notifyTest(let channel):
            return await testChannels(channel, uid: uid, user: user)
        }
        var response = await Self.submit(command, user: user, to: core)
        guard response.ok, let relay else { return response }
        do {
            try await relay.send(command, user: user)
            response.message += "; sent to the other gateway through etcd"
        } catch {
            response.message += "; NOT sent to the other gateway (etcd: \(error)) — give it there too"
        }
        return response
    }

    /// `notify test`: logs `notify.test`, then sends it on the channel (or each) and answers per channel. Exit 1
    /// (`ok: false`, error `not_delivered`) when any failed; each failure is also a `notify.failed`.
    func testChannels(_ name: String?, uid: String, user: String?) async -> ControlResponse {
        let all = await core.site.notify
        var channels = all
        if let name {
            channels = all.filter { $0.name == name }
            guard !channels.isEmpty else {
                let known = all.isEmpty ? "the site has no notify: channels" : "channels are " + all.map(\.name).joined(separator: ", ")
                return .failure("unknown_channel", "no channel named \(name); \(known)")
            }
        }
        guard let notifier, !channels.isEmpty else {
            return .failure("no_channels", "the site has no notify: channels; add one to its site file")
        }
        let record = await core.notificationTest(channels: channels.map(\.name), uid: uid, user: user)
        let results = await notifier.test(record, on: channels)
        let failed = results.filter { $0.failure != nil }.count
        var lines: [String] = []
        var members: [JSONMember] = []
        for (channel, failure) in results {
            lines.append("\(channel): " + (failure.map { "NOT delivered: \($0)" } ?? "delivered"))
            members.append(JSONMember(channel, failure.map { .string($0) } ?? .null))
        }
        let text = lines.joined(separator: "\n")
        guard failed == 0 else {
            var response = ControlResponse.failure(
                "not_delivered", "\(failed) of \(results.count) channel\(results.count == 1 ? "" : "s") failed\n" + text)
            response.data = .object(members)
            return response
        }
        return .success(text, data: .object(members))
    }

    static func submit(_ command: OperatorCommand, user: String? = nil, to core: SafetyCore) async -> ControlResponse {
        let zones = await core.site.model.zones.map(\.name)
        guard zones.contains(command.zone) else {
            return .failure(
                "unknown_zone", "no zone named \(command.zone); zones are \(zones.joined(separator: ", "))")
        }
        let out = await core.command(command, user: user)
        if let refused = out.refused { return .failure("refused", refused) }
        let zone = command.zone
        switch command {
        case .ack: return .success("\(zone) acknowledged; reminders are silenced until the next escalation")
        case .reset: return .success("\(zone) reset")
        case .abort:
            return .success(
                "suppression in \(zone) aborted; the zone is held isolated until `firewatch resume \(zone)` "
                    + "(countdown in full) or a reset")
        case .resume: return .success("suppression in \(zone) resumed; its countdown restarts in full")
        case .inhibit(_, _, let duration, let reason):
            return .success("\(zone) inhibited for \(DurationText.format(duration)) (\(reason))")
        case .enable: return .success("\(zone) enabled; actuation is armed again")
        case .test(_, _, let duration, let reason):
            return .success(
                "\(zone) is in a walk test for \(DurationText.format(duration)) (\(reason)): its records and "
                    + "notifications are marked TEST, nothing is written and no step runs there; it ends by itself "
                    + "then, or with `firewatch test \(zone) --end`")
        case .endTest:
            let state = out.records.last { $0.event == .zoneState }?.to.map { ", now \($0)" } ?? ""
            return .success(
                "walk test of \(zone) ended\(state); what it latched is cleared and actuation is armed again "
                    + "(a signal still at alarm acts now, as any alarm)")
        }
    }

    /// `DaemonStatus` as the JSON the socket sends (snake_case keys).
    static func json(_ status: DaemonStatus) -> JSONValue? {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(status) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }
}

extension DaemonStatus {
    /// Decodes the `data` of a `status` answer.
    public init?(json: JSONValue) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let value = try? decoder.decode(DaemonStatus.self, from: Data(JSONWriter.serialize(json).utf8)) else {
            return nil
        }
        self = value
    }
}

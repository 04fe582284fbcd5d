import FireSafety
import Foundation
import Modbus

/// The `notify:` section: named channels (webhooks, commands, Alertmanagers) with their timeouts.
extension SiteReader {
    mutating func readChannels(_ node: Located) {
        guard let list = node.entries(what: "a mapping of channel names to channels") else { return }
        for (_, keyNode, value) in list {
            guard let name = keyNode.name(what: "channel name"),
                let fields = value.fields(SiteLoader.channelFields, what: "a notify channel")
            else { continue }
            let timeout = positiveDuration(fields["timeout"]) ?? SiteLoader.defaultNotifyTimeout
            let heartbeat = readHeartbeat(fields["heartbeat"], timeout: timeout)
            if let manager = fields["alertmanager"] {
                if let url = alertmanagerURL(manager, besides: fields) {
                    channels.append(
                        NotifyChannel(name: name, target: .alertmanager(url), timeout: timeout, heartbeat: heartbeat))
                }
                continue
            }
            switch (fields["webhook"], fields["command"]) {
            case (let hook?, nil):
                guard let text = hook.string(what: "a URL") else { continue }
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    hook.error("'\(text)' is not an http(s) URL", hint: "write e.g. https://alerts.example/hook")
                    continue
                }
                channels.append(NotifyChannel(name: name, target: .webhook(url), timeout: timeout, heartbeat: heartbeat))
            case (nil, let command?):
                guard let argv = argv(command) else { continue }
                channels.append(NotifyChannel(name: name, target: .command(argv), timeout: timeout, heartbeat: heartbeat))
            case (_?, _?):
                value.error(
                    "a channel is either `webhook:` or `command:`, not both", hint: "split it into two channels")
            case (nil, nil):
                value.error(
                    "a channel needs `webhook: URL`, `command: [program, args…]` or `alertmanager: URL`",
                    hint: "add one of them")
            }
        }
    }

    /// `heartbeat: 1h`: at least a minute, and longer than the channel's timeout.
    func readHeartbeat(_ node: Located?, timeout: Duration) -> Duration? {
        guard let node, let every = positiveDuration(node) else { return nil }
        guard every >= NotifyChannel.minimumHeartbeat else {
            node.error(
                "a heartbeat every \(every.configText) would flood the channel",
                hint: "use at least \(NotifyChannel.minimumHeartbeat.configText); 1h is usual")
            return nil
        }
        guard every > timeout else {
            node.error(
                "the heartbeat (\(every.configText)) must be longer than the channel's timeout (\(timeout.configText))",
                hint: "lengthen the heartbeat or shorten timeout")
            return nil
        }
        return every
    }

    /// A program and its arguments; the program must be a path (no `$PATH` lookup in a safety procedure).
    func argv(_ node: Located) -> [String]? {
        guard let items = node.stringList(what: "program and arguments") else { return nil }
        var argv = items.map(\.0)
        guard let first = items.first else {
            node.error("the list is empty; it needs at least the program", hint: "write [/path/to/program, args…]")
            return nil
        }
        guard argv[0].contains("/") else {
            first.1.error(
                "'\(argv[0])' is not a path; programs are not looked up in $PATH",
                hint: "write the full path, e.g. /usr/local/bin/\(argv[0]), or ./\(argv[0]) beside the site file")
            return nil
        }
        argv[0] = path(argv[0])
        if !FileManager.default.isExecutableFile(atPath: argv[0]) {
            first.1.error(
                "\(argv[0]) does not exist or is not executable",
                hint: "install it, fix the path (a relative one starts at the site file), or make it executable")
        }
        return argv
    }
}

import FireSafety
import Modbus
import SiteConfig

/// The text `firewatch check` prints for a valid site: what a person reviews before the daemon runs it.
public enum SiteSummary {
    public static func render(_ site: LoadedSite) -> String {
        var out: [String] = []
        let model = site.model
        let plans = site.devices.map { ($0, site.readPlan(for: $0)) }
        let requests = plans.reduce(0) { $0 + $1.1.requests.count }
        out.append(
            "site \(model.site): \(site.devices.count) devices, \(model.zones.count) zones, "
                + "\(requests) read requests per poll cycle")
        out.append(
            "  poll every \(model.pollInterval.configText), stale after \(model.staleAfter.configText), "
                + "request timeout \(site.requestTimeout.configText), max gap \(site.maxGap)")
        out.append(
            "  alert log       \(site.alertLog) (rotates at \(ByteSizeText.format(site.alertLogMaxBytes)), "
                + "keeps \(site.alertLogKeep) rotated file\(site.alertLogKeep == 1 ? "" : "s"); each starts with a state checkpoint)")
        out.append("  control socket  \(site.controlSocket)")
        out.append("  metrics         \(site.metrics.map(\.description) ?? "off")")
        if let pair = site.standby {
            out.append(
                "  standby pair    \(pair.peers.joined(separator: " + ")) (primary \(pair.primary)); lease ttl "
                    + "\(pair.ttl.configText) on etcd \(pair.etcd.joined(separator: ", ")); run each with --gateway NAME")
        } else {
            out.append("  standby pair    none (this gateway acts alone)")
        }

        out.append("notify:")
        if site.notify.isEmpty { out.append("  (none: alerts reach people only through the alert log)") }
        let channelWidth = site.notify.map(\.name.count).max() ?? 0
        for channel in site.notify {
            let target = channel.target.summary
            let heartbeat = channel.heartbeat.map { ", heartbeat every \($0.configText)" } ?? ""
            out.append(
                "  \(pad(channel.name, channelWidth))  \(target) (timeout \(channel.timeout.configText)\(heartbeat))")
        }
        let reminders = site.model.remindEvery.map { "every \($0.configText) until acknowledged" } ?? "off"
        let quiet = site.model.quietPeriod
        out.append(
            "  reminders \(reminders); quiet period "
                + (quiet == .zero ? "off (every change is sent)" : "\(quiet.configText) per zone and severity (never at fire)"))

        out.append("devices:")
        let deviceWidth = site.devices.map(\.name.count).max() ?? 0
        for (device, plan) in plans {
            let resolved = site.profiles[device.profile]
            var line =
                "  \(pad(device.name, deviceWidth))  \(device.host):\(device.port) unit \(device.unit)"
                + "  \(device.profile)"
            if let resolved { line += " → \(resolved.path) (\(resolved.origin))" }
            out.append(line)
            var settings: [String] = []
            if let poll = device.pollInterval { settings.append("poll \(poll.configText)") }
            if let timeout = device.timeout { settings.append("timeout \(timeout.configText)") }
            let points = resolved?.profile.points.count ?? 0
            let reads = plan.requests.map(\.description).joined(separator: ", ")
            let count = plan.requests.count, plural = count == 1 ? "" : "s"
            out.append(
                "  \(pad("", deviceWidth))  \(points) points, \(count) request\(plural) per poll: \(reads)"
                    + (settings.isEmpty ? "" : "; " + settings.joined(separator: ", ")))
        }

        // Split up: with ServiceLifecycle's modules linked into Gateway, the one-expression form no longer
        // type-checks in reasonable time.
        var used = Set<String>()
        for zone in model.zones {
            for signal in zone.signals { used.formUnion(signal.sources.map(\.device)) }
            let steps: [Step] = zone.isolate + zone.suppress + zone.powerCut
            for case .command(let device, _) in steps { used.insert(device) }
        }
        let unused = site.devices.map(\.name).filter { !used.contains($0) }
        if !unused.isEmpty {
            out.append(
                "  not used by any signal or step (polled, nothing decides on them): " + unused.joined(separator: ", "))
        }

        out.append("zones:")
        for zone in model.zones {
            out.append("  \(zone.name)")
            out.append("    signals:")
            let signalWidth = zone.signals.map(\.name.count).max() ?? 0
            for signal in zone.signals {
                let sources = signal.sources.map(\.description).joined(separator: ", ")
                let kind = signal.kind == signal.name ? "" : " [kind \(signal.kind)]"
                let unit = signal.unit.map { " (\($0))" } ?? ""
                out.append(
                    "      \(pad(signal.name, signalWidth))  \(signal.vote.rawValue) of \(sources)\(unit)\(kind)")
                out.append("      \(pad("", signalWidth))  \(thresholds(signal))")
            }
            let fireKinds = Set(zone.signals.filter { $0.thresholds[.fire] != nil }.map(\.kind)).sorted()
            out.append("    tier 3 evidence (two different kinds at fire): \(fireKinds.joined(separator: ", "))")
            let procedures: [(String, [Step])] = [
                ("isolate (tier 2, alarm)", zone.isolate), ("suppress (tier 3, fire)", zone.suppress),
                ("power_cut (tier 3, after suppress)", zone.powerCut),
            ]
            for (title, steps) in procedures {
                out.append("    \(title):" + (steps.isEmpty ? " nothing" : ""))
                for (index, step) in steps.enumerated() {
                    out.append("      \(index + 1). \(describe(step, site: site))")
                }
            }
        }
        return out.joined(separator: "\n")
    }

    static func thresholds(_ signal: SignalSpec) -> String {
        var parts: [String] = []
        for level in Level.allCases {
            guard let threshold = signal.thresholds[level] else { continue }
            switch threshold {
            case .atLeast(let value): parts.append("\(level) ≥ \(Value.number(value))")
            case .oneOf(let names) where names.count == 1: parts.append("\(level) = \(names[0])")
            case .oneOf(let names): parts.append("\(level) ∈ {\(names.joined(separator: ", "))}")
            case .equals(let flag): parts.append("\(level) = \(flag)")
            }
        }
        if signal.deadband > 0 { parts.append("deadband \(Value.number(signal.deadband))") }
        if let rate = signal.rateOfRise {
            parts.append("alert on rise ≥ \(Value.number(rate.perSecond * 60))/min over \(rate.window.configText)")
        }
        return parts.isEmpty ? "no thresholds" : parts.joined(separator: ", ")
    }

    /// One step as the actuator will run it: the exact table, address, value and verify of a command.
    public static func describe(_ step: Step, site: LoadedSite) -> String {
        switch step {
        case .command(let device, let name):
            guard let command = site.profile(of: device)?.command(named: name) else {
                return "command \(device).\(name)"
            }
            var text =
                "command \(device).\(name): write \(command.table.rawValue) \(command.address) = \(command.value)"
            if let verify = command.verify {
                text += ", verify \(verify.reference) = \(verify.equals) within \(verify.within.configText)"
            } else {
                text += ", no read-back (the device's acknowledgement only)"
            }
            return text
        case .run(let argv, let timeout):
            return "run \(argv.joined(separator: " ")) (timeout \(timeout.configText))"
        case .delay(let duration, let abortable):
            return "delay \(duration.configText)" + (abortable ? " (abortable: `firewatch abort` stops here)" : "")
        case .notify(let channels):
            return "notify \(channels.joined(separator: ", "))"
        }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

extension NotifyTarget {
    /// `webhook URL` or `command /path args…`: how `check` and `status` name where a channel goes.
    public var summary: String {
        switch self {
        case .webhook(let url): "webhook \(url.absoluteString)"
        case .command(let argv): "command \(argv.joined(separator: " "))"
        case .alertmanager(let url): AlertmanagerAlerts.summary(of: url)
        }
    }
}

import FireSafety
import Foundation
import Modbus

/// A zone's procedures: `command`, `run`, `notify` and `delay` steps, and who owns each power cut.
extension SiteReader {
    mutating func readSteps(_ node: Located, zone: String, kind: ProcedureKind) -> [Step] {
        if node.isNull { return [] }
        guard case .sequence(let sequence) = node.node else {
            node.error("expected a list of steps, found \(node.kindName)", hint: "write one `- step` per line")
            return []
        }
        var steps: [Step] = []
        for (index, item) in sequence.enumerated() {
            let stepNode = node.item(index, item)
            if let step = readStep(stepNode, zone: zone, kind: kind) { steps.append(step) }
        }
        return steps
    }

    mutating func readStep(_ node: Located, zone: String, kind: ProcedureKind) -> Step? {
        guard let fields = node.fields(SiteLoader.stepFields, what: "a step") else { return nil }
        let actions = SiteLoader.stepActions.filter(fields.has)
        guard actions.count == 1, let action = actions.first, let value = fields[action] else {
            node.error(
                actions.isEmpty
                    ? "a step needs one of command, run, delay, notify"
                    : "a step does one thing, not \(actions.joined(separator: " and "))",
                hint: actions.isEmpty
                    ? "e.g. `- command: feed-a.start_exhaust`" : "split it into \(actions.count) steps")
            return nil
        }
        if action != "run", let extra = fields["timeout"] {
            extra.error(
                "timeout belongs to `run` steps",
                hint: action == "delay" ? "the delay itself is the duration" : "remove it")
        }
        if action != "delay", let extra = fields["abortable"] {
            extra.error("abortable belongs to `delay` steps", hint: "remove it, or put it on the pre-discharge delay")
        }
        switch action {
        case "command":
            return commandStep(value, zone: zone, kind: kind)
        case "run":
            guard let argv = argv(value) else { return nil }
            let timeout = positiveDuration(fields["timeout"]) ?? SiteLoader.defaultRunTimeout
            return .run(argv: argv, timeout: timeout)
        case "delay":
            guard let duration = value.duration() else { return nil }
            let abortable = fields["abortable"]?.bool() ?? false
            return .delay(duration, abortable: abortable)
        default:
            guard let items = value.stringList(what: "channel names") else { return nil }
            if items.isEmpty { value.error("notify names no channel", hint: "list channels from `notify:`") }
            var ok = !items.isEmpty
            for (name, item) in items where !channels.contains(where: { $0.name == name }) {
                item.error(
                    "unknown notify channel '\(name)'",
                    hint: Suggestion.hint(for: name, in: channels.map(\.name), noun: "channel"))
                ok = false
            }
            return ok ? .notify(channels: items.map(\.0)) : nil
        }
    }

    mutating func commandStep(_ node: Located, zone: String, kind: ProcedureKind) -> Step? {
        guard let text = node.string(what: "device.command") else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, parts.allSatisfy(Located.isName) else {
            node.error("'\(text)' is not device.command", hint: "write e.g. feed-a.start_exhaust")
            return nil
        }
        let (device, command) = (parts[0], parts[1])
        guard devices.contains(where: { $0.name == device }) else {
            if !brokenDevices.contains(device) {
                node.error(
                    "unknown device '\(device)'",
                    hint: Suggestion.hint(for: device, in: devices.map(\.name), noun: "device"))
            }
            return nil
        }
        guard let profile = profile(of: device) else { return nil }
        guard profile.command(named: command) != nil else {
            var hint = Suggestion.hint(for: command, in: profile.commands.map(\.name), noun: "command")
            if profile.point(named: command) != nil { hint = "'\(command)' is a point, not a command; " + hint }
            node.error("device \(device) (\(profile.name)) has no command '\(command)'", hint: hint)
            return nil
        }
        if kind == .powerCut {
            if let owner = powerCutOwners[text], owner != zone {
                node.error(
                    "\(text) is already in the power_cut of zone \(owner)",
                    hint: "a power cut is scoped to its zone's own feeds; each feed belongs to one zone")
            }
            powerCutOwners[text] = zone
        }
        return .command(device: device, command: command)
    }
}

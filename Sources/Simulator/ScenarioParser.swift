import Foundation
import SiteConfig

extension Scenario {
    /// Reads a scenario file with the reader site files use (size, encoding and alias guards included). Every
    /// mistake in the file is reported, each as `file:line:column: error: field: message (hint)`.
    public init(contentsOf path: String) throws(ConfigErrors) {
        let diagnostics = Diagnostics()
        guard let source = YAMLSource.load(path: path, diagnostics: diagnostics) else {
            throw ConfigErrors(diagnostics.sorted)
        }
        try self.init(source, diagnostics)
    }

    /// Parses scenario YAML; `file` names it in messages and is where a `reload:`'s relative site path starts.
    public init(yaml: String, file: String) throws(ConfigErrors) {
        let diagnostics = Diagnostics()
        guard let source = YAMLSource.parse(text: yaml, file: file, diagnostics: diagnostics) else {
            throw ConfigErrors(diagnostics.sorted)
        }
        try self.init(source, diagnostics)
    }

    private init(_ source: YAMLSource, _ diagnostics: Diagnostics) throws(ConfigErrors) {
        let scenario = ScenarioReader(file: source.file).read(source.located(diagnostics))
        guard let scenario, diagnostics.isEmpty else { throw ConfigErrors(diagnostics.sorted) }
        self = scenario
    }
}

/// Reads one scenario file's tree; each problem is reported where it is and reading goes on, so one pass
/// shows them all. A part with a problem reads as nil.
struct ScenarioReader {
    let file: String

    static let eventKinds = [
        "thermal_runaway", "offgas", "sensor_fault", "comm_loss", "slow_device", "exception", "set", "abort_switch",
        "clock_step", "reload", "restart",
    ]

    /// The most occurrences one `every:` item may expand to.
    static let maximumRepeats = 10_000

    func read(_ root: Located) -> Scenario? {
        guard
            let fields = root.fields(
                ["name", "description", "site", "duration", "speed", "timeline", "expect"],
                required: ["name", "duration"], what: "a scenario file")
        else { return nil }
        let name = fields["name"]?.string(what: "the scenario's name")
        let description = fields["description"]?.string(what: "a description") ?? ""
        let site = fields["site"]?.string(what: "a site file path")
        var duration: Duration?
        if let node = fields["duration"], let value = self.duration(node) {
            if value > .zero { duration = value } else { node.error("must be longer than 0", hint: "write e.g. 10m") }
        }
        var speed: Double? = 1
        if let node = fields["speed"] {
            speed = node.number(what: "a speed")
            if let value = speed, value <= 0 {
                node.error("must be above 0", hint: "write e.g. speed: 20")
                speed = nil
            }
        }
        var timeline: [ScheduledEvent] = []
        if let list = fields["timeline"], let items = list.items(what: "events", firstIndex: 1), let duration {
            for item in items {
                guard let event = event(item) else { continue }
                guard event.at <= duration else {
                    item.lookup("at")?.error(
                        "\(DurationText.format(event.at)) is after the scenario's duration "
                            + DurationText.format(duration),
                        hint: "move the event earlier or make duration longer")
                    continue
                }
                timeline += repeats(of: event, in: item, until: duration) ?? []
            }
        }
        var expectations: [ScenarioExpectation] = []
        if let list = fields["expect"], let items = list.items(what: "expectations", firstIndex: 1) {
            for item in items {
                guard let text = item.string(what: "an expectation") else { continue }
                do {
                    expectations.append(ScenarioExpectation(try ExpectedOutcome(parsing: text), line: item.line))
                } catch {
                    item.error(
                        "'\(text)': \(error.problem)",
                        hint: "write e.g. 'zone battery-room-a reaches isolated by 120s' or 'no writes to panel-a'")
                }
            }
        }
        guard let name, let duration, let speed else { return nil }
        // Stable: equal times keep file order.
        let ordered = timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
        return Scenario(
            name: name, description: description, site: site, duration: duration, speed: speed,
            timeline: ordered.map(\.element), expectations: expectations, file: file)
    }

    /// A scenario's durations may be compound and in days (`1m30s`, `29d`), unlike the site file's.
    private func duration(_ node: Located) -> Duration? {
        guard let text = node.string(what: "a duration") else { return nil }
        guard let value = DurationText.parse(text) else {
            node.error("'\(text)' is not a duration", hint: "write e.g. 500ms, 90s, 2m, 1h")
            return nil
        }
        return value
    }

    /// `event` and, with `every: D`, its repeats every D until the scenario's end: a device that flaps all
    /// month is one item. A repeat whose `for:` would reach the next one is refused (the faults would overlap).
    private func repeats(of event: ScheduledEvent, in item: Located, until end: Duration) -> [ScheduledEvent]? {
        guard let node = item.lookup("every") else { return [event] }
        guard let every = duration(node) else { return nil }
        guard every > .zero else {
            node.error("must be longer than 0", hint: "write e.g. every: 6h")
            return nil
        }
        if let lasts = event.event.lasts, lasts >= every {
            node.error(
                "\(DurationText.format(every)) is not longer than the event's for: \(DurationText.format(lasts))",
                hint: "make every: longer than for:, so that one occurrence ends before the next begins")
            return nil
        }
        let count = Int(((end - event.at) / every).rounded(.down)) + 1
        guard count <= Self.maximumRepeats else {
            node.error(
                "repeats \(count) times before the scenario ends (at most \(Self.maximumRepeats))",
                hint: "make every: longer")
            return nil
        }
        return (0..<count).map { k in
            var next = event
            next.at = event.at + every * k
            return next
        }
    }

    /// `- at: 90s` plus exactly one event key.
    private func event(_ item: Located) -> ScheduledEvent? {
        let reported = item.diagnostics.count
        guard
            let fields = item.fields(["at", "every"] + Self.eventKinds, required: ["at"], what: "a timeline item")
        else { return nil }
        let kinds = Self.eventKinds.filter { fields.has($0) }
        guard kinds.count == 1, let kind = kinds.first, let body = fields[kind] else {
            // A misspelt event key is already reported, with its "did you mean"; "no event" would only repeat it.
            if kinds.isEmpty && item.diagnostics.count > reported { return nil }
            item.error(
                kinds.isEmpty ? "no event" : "more than one event (\(kinds.joined(separator: ", ")))",
                hint: "give each '- at:' item exactly one of: \(Self.eventKinds.joined(separator: ", "))")
            return nil
        }
        guard let atNode = fields["at"], let at = duration(atNode), let event = event(kind, body) else { return nil }
        return ScheduledEvent(at: at, event: event, line: item.line)
    }

    private func event(_ kind: String, _ body: Located) -> ScenarioEvent? {
        func settings(_ allowed: [String], required: [String]) -> Fields? {
            body.fields(allowed, required: required, what: "a \(kind) event")
        }
        func text(_ f: Fields, _ key: String) -> String? { f[key]?.string(what: "a \(key)") }
        func optionalDuration(_ f: Fields, _ key: String) -> Duration?? {
            guard let node = f[key] else { return .some(nil) }
            return duration(node).map { .some($0) }
        }
        func stringNumber(_ f: Fields) -> Int? {
            f["string"]?.int(in: 1...999, what: "string", hint: "strings and feeds count from 1")
        }
        switch kind {
        case "thermal_runaway":
            guard let f = settings(["zone", "string"], required: ["zone", "string"]), let zone = text(f, "zone"),
                let string = stringNumber(f)
            else { return nil }
            return .thermalRunaway(zone: zone, string: string)
        case "offgas":
            guard
                let f = settings(
                    ["zone", "string", "point_of_no_return", "runaway_after"], required: ["zone", "string"]),
                let zone = text(f, "zone"), let string = stringNumber(f),
                let pointOfNoReturn = optionalDuration(f, "point_of_no_return"),
                let runawayAfter = optionalDuration(f, "runaway_after")
            else { return nil }
            return .offgas(zone: zone, string: string, pointOfNoReturn: pointOfNoReturn, runawayAfter: runawayAfter)
        case "sensor_fault":
            guard
                let f = settings(
                    ["device", "point", "mode", "for", "value", "amplitude", "rate"], required: ["device", "mode"]),
                let device = text(f, "device"), let modeNode = f["mode"], let modeText = modeNode.string(what: "a mode"),
                let lasts = optionalDuration(f, "for")
            else { return nil }
            let point = f["point"].flatMap { $0.string(what: "a point") }
            if f.has("point") && point == nil { return nil }
            func number(_ key: String, _ otherwise: Double?) -> Double?? {
                guard let node = f[key] else { return .some(otherwise) }
                return node.number(what: "a number").map { .some($0) }
            }
            let mode: SensorFaultMode
            switch modeText {
            case "stuck": mode = .stuck
            case "offline": mode = .offline
            case "out_of_range":
                guard let value = number("value", nil) else { return nil }
                mode = .outOfRange(value: value)
            case "noise":
                guard let amplitude = number("amplitude", 5), let amplitude else { return nil }
                mode = .noise(amplitude: amplitude)
            case "drift":
                guard let rate = number("rate", 2), let rate else { return nil }
                mode = .drift(perMinute: rate)
            default:
                modeNode.error("unknown mode '\(modeText)'", hint: "use stuck, offline, out_of_range, noise or drift")
                return nil
            }
            return .sensorFault(device: device, point: point, mode: mode, for: lasts)
        case "comm_loss":
            guard let f = settings(["device", "for"], required: ["device"]), let device = text(f, "device"),
                let lasts = optionalDuration(f, "for")
            else { return nil }
            return .commLoss(device: device, for: lasts)
        case "slow_device":
            guard let f = settings(["device", "delay", "for"], required: ["device", "delay"]),
                let device = text(f, "device"), let delay = f["delay"].flatMap(duration),
                let lasts = optionalDuration(f, "for")
            else { return nil }
            return .slowDevice(device: device, delay: delay, for: lasts)
        case "exception":
            guard let f = settings(["device", "code", "for"], required: ["device", "code"]),
                let device = text(f, "device"), let codeNode = f["code"], let codeText = codeNode.string(what: "a code"),
                let lasts = optionalDuration(f, "for")
            else { return nil }
            guard let code = SimException(rawValue: codeText) else {
                codeNode.error(
                    "unknown exception '\(codeText)'",
                    hint: "use one of: \(SimException.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return .exception(device: device, code: code, for: lasts)
        case "clock_step":
            guard let f = settings(["by"], required: ["by"]), let byNode = f["by"],
                let text = byNode.string(what: "a step")
            else { return nil }
            let back = text.hasPrefix("-")
            let size = DurationText.parse(back || text.hasPrefix("+") ? String(text.dropFirst()) : text)
            guard let size, size > .zero else {
                byNode.error("'\(text)' is not a step of the clock", hint: "write e.g. 1h (forward) or -1h (back)")
                return nil
            }
            return .clockStep(by: back ? .zero - size : size)
        case "reload":
            guard let f = settings(["site"], required: ["site"]), let site = text(f, "site") else { return nil }
            let folder = (file as NSString).deletingLastPathComponent
            return .reload(site: site.hasPrefix("/") || folder.isEmpty ? site : folder + "/" + site)
        case "restart":
            guard body.isNull || body.scalarText == "" || body.isEmptyMapping else {
                body.error("takes no settings", hint: "write restart: {}")
                return nil
            }
            return .restart
        case "abort_switch":
            guard let f = settings(["zone", "for"], required: ["zone", "for"]), let zone = text(f, "zone"),
                let lasts = f["for"].flatMap(duration)
            else { return nil }
            return .abortSwitch(zone: zone, for: lasts)
        default:  // "set"
            guard
                let f = settings(["device", "point", "value", "for"], required: ["device", "point", "value"]),
                let device = text(f, "device"), let point = text(f, "point"), let value = text(f, "value"),
                let lasts = optionalDuration(f, "for")
            else { return nil }
            return .set(device: device, point: point, value: SimValue(scalar: value), for: lasts)
        }
    }
}

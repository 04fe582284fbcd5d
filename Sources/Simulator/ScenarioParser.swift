import Foundation
import SiteConfig
import Yams

extension Scenario {
    /// Reads a scenario file. Errors name file:line and the field.
    public init(contentsOf path: String) throws(ScenarioError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ScenarioError(
                file: path, line: 0, column: 0, field: "", message: "cannot read the file (\(error.localizedDescription))",
                hint: "check the path given to --scenario")
        }
        try self.init(yaml: text, file: path)
    }

    /// Parses scenario YAML; `file` is only used in messages.
    public init(yaml: String, file: String) throws(ScenarioError) {
        let reader = YAMLReader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ScenarioError(
                    file: file, line: 0, column: 0, field: "", message: "the file is empty",
                    hint: "start with name:, duration: and timeline:")
            }
            root = node
        } catch let error as ScenarioError {
            throw error
        } catch let error as YamlError {
            throw reader.syntaxError(error)
        } catch {
            throw ScenarioError(file: file, line: 0, column: 0, field: "", message: "\(error)", hint: "fix the YAML")
        }

        let fields = try reader.mapping(
            root, field: "", allowed: ["name", "description", "site", "duration", "speed", "timeline", "expect"],
            required: ["name", "duration"])
        name = try reader.string(fields["name"]!, field: "name")
        description =
            try fields["description"].map { node throws(ScenarioError) in
                try reader.string(node, field: "description")
            } ?? ""
        site = try fields["site"].map { node throws(ScenarioError) in try reader.string(node, field: "site") }
        duration = try reader.duration(fields["duration"]!, field: "duration")
        guard duration > .zero else {
            throw reader.error(fields["duration"]!, field: "duration", "must be longer than 0", hint: "write e.g. 10m")
        }
        speed = try fields["speed"].map { node throws(ScenarioError) in try reader.number(node, field: "speed") } ?? 1
        guard speed > 0 else {
            throw reader.error(fields["speed"]!, field: "speed", "must be above 0", hint: "write e.g. speed: 20")
        }
        self.file = file

        var timeline: [ScheduledEvent] = []
        if let node = fields["timeline"] {
            for (index, item) in try reader.sequence(node, field: "timeline").enumerated() {
                let field = "timeline[\(index + 1)]"
                let event = try reader.event(item, field: field)
                guard event.at <= duration else {
                    throw reader.error(
                        item, field: "\(field).at",
                        "\(DurationText.format(event.at)) is after the scenario's duration "
                            + DurationText.format(duration),
                        hint: "move the event earlier or make duration longer")
                }
                timeline += try reader.repeats(of: event, in: item, field: field, until: duration)
            }
        }
        // Stable: equal times keep file order.
        self.timeline = timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
            .map(\.element)

        var expectations: [ScenarioExpectation] = []
        if let node = fields["expect"] {
            for (index, item) in try reader.sequence(node, field: "expect").enumerated() {
                let text = try reader.string(item, field: "expect[\(index + 1)]")
                do {
                    expectations.append(
                        ScenarioExpectation(try ExpectedOutcome(parsing: text), line: reader.line(item)))
                } catch {
                    throw reader.error(
                        item, field: "expect[\(index + 1)]", "'\(text)': \(error.problem)",
                        hint: "write e.g. 'zone battery-room-a reaches isolated by 120s' or 'no writes to panel-a'")
                }
            }
        }
        self.expectations = expectations
    }
}

/// Reads Yams nodes with errors that carry file:line and a field path.
struct YAMLReader {
    let file: String

    func line(_ node: Node) -> Int { node.mark?.line ?? 0 }
    func column(_ node: Node) -> Int { node.mark?.column ?? 0 }

    func error(_ node: Node, field: String, _ problem: String, hint: String) -> ScenarioError {
        ScenarioError(file: file, line: line(node), column: column(node), field: field, message: problem, hint: hint)
    }

    func syntaxError(_ error: YamlError) -> ScenarioError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ScenarioError(
                file: file, line: mark.line, column: mark.column, field: "", message: "YAML: \(problem)", hint: "fix the YAML syntax")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ScenarioError(
                file: file, line: context.mark.line, column: context.mark.column, field: duplicates.joined(separator: ", "),
                message: "appears twice in one mapping (this is the first)", hint: "keep one")
        default:
            return ScenarioError(file: file, line: 0, column: 0, field: "", message: "YAML: \(error)", hint: "fix the YAML syntax")
        }
    }

    /// A mapping with known keys only; duplicates and unknown keys are errors.
    func mapping(_ node: Node, field: String, allowed: [String], required: [String] = []) throws(ScenarioError)
        -> [String: Node]
    {
        guard let mapping = node.mapping else {
            throw error(node, field: field, "expected a mapping (key: value lines)", hint: "see examples/scenarios/")
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                throw error(keyNode, field: field, "keys must be plain words", hint: "write key: value")
            }
            let path = field.isEmpty ? key : "\(field).\(key)"
            guard allowed.contains(key) else {
                throw error(
                    keyNode, field: path, "unknown field '\(key)'", hint: Suggestion.forField(key, in: allowed))
            }
            guard result[key] == nil else {
                throw error(keyNode, field: path, "'\(key)' appears twice", hint: "keep one")
            }
            result[key] = value
        }
        for key in required where result[key] == nil {
            let path = field.isEmpty ? key : "\(field).\(key)"
            throw error(node, field: path, "missing '\(key)'", hint: "add \(key):")
        }
        return result
    }

    func sequence(_ node: Node, field: String) throws(ScenarioError) -> [Node] {
        guard let sequence = node.sequence else {
            throw error(node, field: field, "expected a list", hint: "write one '- ' item per line")
        }
        return Array(sequence)
    }

    func string(_ node: Node, field: String) throws(ScenarioError) -> String {
        guard let scalar = node.scalar, !scalar.string.isEmpty else {
            throw error(
                node, field: field, "expected a single value",
                hint: "write \(field.split(separator: ".").last ?? ""): <text>")
        }
        return scalar.string
    }

    func duration(_ node: Node, field: String) throws(ScenarioError) -> Duration {
        let text = try string(node, field: field)
        guard let duration = DurationText.parse(text) else {
            throw error(node, field: field, "'\(text)' is not a duration", hint: "write e.g. 500ms, 90s, 2m, 1h")
        }
        return duration
    }

    func number(_ node: Node, field: String) throws(ScenarioError) -> Double {
        let text = try string(node, field: field)
        guard let number = Double(text) else {
            throw error(node, field: field, "'\(text)' is not a number", hint: "write a number such as 20 or 0.5")
        }
        return number
    }

    func positiveInt(_ node: Node, field: String) throws(ScenarioError) -> Int {
        let text = try string(node, field: field)
        guard let number = Int(text), number >= 1 else {
            throw error(node, field: field, "'\(text)' is not a number from 1", hint: "strings and feeds count from 1")
        }
        return number
    }

    static let eventKinds = [
        "thermal_runaway", "offgas", "sensor_fault", "comm_loss", "slow_device", "exception", "set", "abort_switch",
        "clock_step", "reload", "restart",
    ]

    /// The most occurrences one `every:` item may expand to.
    static let maximumRepeats = 10_000

    /// `event` and, with `every: D`, its repeats every D until the scenario's end: a device that flaps all
    /// month is one item. A repeat whose `for:` would reach the next one is refused (the faults would overlap).
    func repeats(of event: ScheduledEvent, in node: Node, field: String, until end: Duration) throws(ScenarioError)
        -> [ScheduledEvent]
    {
        guard let everyNode = node.mapping?.first(where: { $0.key.scalar?.string == "every" })?.value else {
            return [event]
        }
        let every = try duration(everyNode, field: "\(field).every")
        guard every > .zero else {
            throw error(everyNode, field: "\(field).every", "must be longer than 0", hint: "write e.g. every: 6h")
        }
        if let lasts = event.event.lasts, lasts >= every {
            throw error(
                everyNode, field: "\(field).every",
                "\(DurationText.format(every)) is not longer than the event's for: \(DurationText.format(lasts))",
                hint: "make every: longer than for:, so that one occurrence ends before the next begins")
        }
        let count = Int(((end - event.at) / every).rounded(.down)) + 1
        guard count <= Self.maximumRepeats else {
            throw error(
                everyNode, field: "\(field).every",
                "repeats \(count) times before the scenario ends (at most \(Self.maximumRepeats))",
                hint: "make every: longer")
        }
        return (0..<count).map { k in
            var next = event
            next.at = event.at + every * k
            return next
        }
    }

    /// `- at: 90s` plus exactly one event key.
    func event(_ node: Node, field: String) throws(ScenarioError) -> ScheduledEvent {
        let fields = try mapping(node, field: field, allowed: ["at", "every"] + Self.eventKinds, required: ["at"])
        let at = try duration(fields["at"]!, field: "\(field).at")
        let kinds = Self.eventKinds.filter { fields[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first, let body = fields[kind] else {
            throw error(
                node, field: field,
                kinds.isEmpty ? "no event" : "more than one event (\(kinds.joined(separator: ", ")))",
                hint: "give each '- at:' item exactly one of: \(Self.eventKinds.joined(separator: ", "))")
        }
        let path = "\(field).\(kind)"
        func optionalDuration(_ fields: [String: Node], _ key: String) throws(ScenarioError) -> Duration? {
            guard let node = fields[key] else { return nil }
            return try duration(node, field: "\(path).\(key)")
        }
        let event: ScenarioEvent
        switch kind {
        case "thermal_runaway":
            let f = try mapping(body, field: path, allowed: ["zone", "string"], required: ["zone", "string"])
            event = .thermalRunaway(
                zone: try string(f["zone"]!, field: "\(path).zone"),
                string: try positiveInt(f["string"]!, field: "\(path).string"))
        case "offgas":
            let f = try mapping(
                body, field: path, allowed: ["zone", "string", "point_of_no_return", "runaway_after"],
                required: ["zone", "string"])
            event = .offgas(
                zone: try string(f["zone"]!, field: "\(path).zone"),
                string: try positiveInt(f["string"]!, field: "\(path).string"),
                pointOfNoReturn: try optionalDuration(f, "point_of_no_return"),
                runawayAfter: try optionalDuration(f, "runaway_after"))
        case "sensor_fault":
            let f = try mapping(
                body, field: path, allowed: ["device", "point", "mode", "for", "value", "amplitude", "rate"],
                required: ["device", "mode"])
            let modeText = try string(f["mode"]!, field: "\(path).mode")
            let mode: SensorFaultMode
            switch modeText {
            case "stuck": mode = .stuck
            case "offline": mode = .offline
            case "out_of_range":
                mode = .outOfRange(
                    value: try f["value"].map { n throws(ScenarioError) in try number(n, field: "\(path).value") })
            case "noise":
                mode = .noise(
                    amplitude: try f["amplitude"].map { n throws(ScenarioError) in
                        try number(n, field: "\(path).amplitude")
                    } ?? 5)
            case "drift":
                mode = .drift(
                    perMinute: try f["rate"].map { n throws(ScenarioError) in
                        try number(n, field: "\(path).rate")
                    } ?? 2)
            default:
                throw error(
                    f["mode"]!, field: "\(path).mode", "unknown mode '\(modeText)'",
                    hint: "use stuck, offline, out_of_range, noise or drift")
            }
            event = .sensorFault(
                device: try string(f["device"]!, field: "\(path).device"),
                point: try f["point"].map { n throws(ScenarioError) in try string(n, field: "\(path).point") },
                mode: mode, for: try optionalDuration(f, "for"))
        case "comm_loss":
            let f = try mapping(body, field: path, allowed: ["device", "for"], required: ["device"])
            event = .commLoss(
                device: try string(f["device"]!, field: "\(path).device"), for: try optionalDuration(f, "for"))
        case "slow_device":
            let f = try mapping(body, field: path, allowed: ["device", "delay", "for"], required: ["device", "delay"])
            event = .slowDevice(
                device: try string(f["device"]!, field: "\(path).device"),
                delay: try duration(f["delay"]!, field: "\(path).delay"), for: try optionalDuration(f, "for"))
        case "exception":
            let f = try mapping(body, field: path, allowed: ["device", "code", "for"], required: ["device", "code"])
            let codeText = try string(f["code"]!, field: "\(path).code")
            guard let code = SimException(rawValue: codeText) else {
                throw error(
                    f["code"]!, field: "\(path).code", "unknown exception '\(codeText)'",
                    hint: "use one of: \(SimException.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            event = .exception(
                device: try string(f["device"]!, field: "\(path).device"), code: code,
                for: try optionalDuration(f, "for"))
        case "clock_step":
            let f = try mapping(body, field: path, allowed: ["by"], required: ["by"])
            let text = try string(f["by"]!, field: "\(path).by")
            let back = text.hasPrefix("-")
            guard let size = DurationText.parse(back ? String(text.dropFirst()) : text.replacingOccurrences(of: "+", with: "")),
                size > .zero
            else {
                throw error(
                    f["by"]!, field: "\(path).by", "'\(text)' is not a step of the clock",
                    hint: "write e.g. 1h (forward) or -1h (back)")
            }
            event = .clockStep(by: back ? .zero - size : size)
        case "reload":
            let f = try mapping(body, field: path, allowed: ["site"], required: ["site"])
            let site = try string(f["site"]!, field: "\(path).site")
            let folder = (file as NSString).deletingLastPathComponent
            event = .reload(site: site.hasPrefix("/") ? site : (folder.isEmpty ? site : folder + "/" + site))
        case "restart":
            guard body.mapping?.isEmpty == true || body.scalar?.string.isEmpty == true else {
                throw error(body, field: path, "takes no settings", hint: "write restart: {}")
            }
            event = .restart
        case "abort_switch":
            let f = try mapping(body, field: path, allowed: ["zone", "for"], required: ["zone", "for"])
            event = .abortSwitch(
                zone: try string(f["zone"]!, field: "\(path).zone"), for: try duration(f["for"]!, field: "\(path).for"))
        default:  // "set"
            let f = try mapping(
                body, field: path, allowed: ["device", "point", "value", "for"], required: ["device", "point", "value"])
            event = .set(
                device: try string(f["device"]!, field: "\(path).device"),
                point: try string(f["point"]!, field: "\(path).point"),
                value: SimValue(scalar: try string(f["value"]!, field: "\(path).value")),
                for: try optionalDuration(f, "for"))
        }
        return ScheduledEvent(at: at, event: event, line: line(node))
    }
}

import SiteConfig
import Yams

extension Scenario {
    /// The scenario as a scenario file, in the form `Scenario(contentsOf:)` reads back to the same timeline and
    /// expectations: how a generated run (a campaign's) becomes a file a `firewatch simulate` process plays and a
    /// person can replay.
    public var yaml: String {
        get throws {
            var root: [(String, Node)] = [("name", Node(name)), ("duration", Node(DurationText.format(duration)))]
            if !description.isEmpty { root.append(("description", Node(description))) }
            if let site { root.append(("site", Node(site))) }
            root.append(("speed", Node(String(speed))))
            if !timeline.isEmpty { root.append(("timeline", Node(timeline.map(\.node)))) }
            if !expectations.isEmpty { root.append(("expect", Node(expectations.map { Node($0.description) }))) }
            return try Yams.serialize(node: .mapping(Node.Mapping(root.map { (Node($0.0), $0.1) })))
        }
    }
}

extension ScheduledEvent {
    /// `{ at: 90s, <kind>: { … } }`, with the parser's field names.
    var node: Node {
        let (kind, fields) = event.fields
        let body: Node =
            fields.isEmpty ? .mapping(Node.Mapping([])) : .mapping(Node.Mapping(fields.map { (Node($0.0), $0.1) }))
        return .mapping(Node.Mapping([(Node("at"), Node(DurationText.format(at))), (Node(kind), body)]))
    }
}

extension ScenarioEvent {
    /// The event's key in a timeline item and its settings, in the order the README documents them.
    var fields: (String, [(String, Node)]) {
        func span(_ length: Duration?) -> [(String, Node)] { length.map { [("for", duration($0))] } ?? [] }
        func duration(_ value: Duration) -> Node { Node(DurationText.format(value)) }
        switch self {
        case .thermalRunaway(let zone, let string):
            return ("thermal_runaway", [("zone", Node(zone)), ("string", Node(String(string)))])
        case .offgas(let zone, let string, let pointOfNoReturn, let runawayAfter):
            var fields = [("zone", Node(zone)), ("string", Node(String(string)))]
            if let pointOfNoReturn { fields.append(("point_of_no_return", duration(pointOfNoReturn))) }
            if let runawayAfter { fields.append(("runaway_after", duration(runawayAfter))) }
            return ("offgas", fields)
        case .sensorFault(let device, let point, let mode, let length):
            var fields = [("device", Node(device))]
            if let point { fields.append(("point", Node(point))) }
            switch mode {
            case .stuck: fields.append(("mode", Node("stuck")))
            case .offline: fields.append(("mode", Node("offline")))
            case .outOfRange(let value):
                fields.append(("mode", Node("out_of_range")))
                if let value { fields.append(("value", Node(String(value)))) }
            case .noise(let amplitude): fields += [("mode", Node("noise")), ("amplitude", Node(String(amplitude)))]
            case .drift(let rate): fields += [("mode", Node("drift")), ("rate", Node(String(rate)))]
            }
            return ("sensor_fault", fields + span(length))
        case .commLoss(let device, let length): return ("comm_loss", [("device", Node(device))] + span(length))
        case .slowDevice(let device, let delay, let length):
            return ("slow_device", [("device", Node(device)), ("delay", duration(delay))] + span(length))
        case .exception(let device, let code, let length):
            return ("exception", [("device", Node(device)), ("code", Node(code.rawValue))] + span(length))
        case .set(let device, let point, let value, let length):
            return (
                "set", [("device", Node(device)), ("point", Node(point)), ("value", Node(value.description))] + span(length)
            )
        case .abortSwitch(let zone, let length): return ("abort_switch", [("zone", Node(zone)), ("for", duration(length))])
        case .clockStep(let by):
            let sign = by < .zero ? "-" : "+"
            return ("clock_step", [("by", Node(sign + DurationText.format(by < .zero ? .zero - by : by)))])
        case .reload(let site): return ("reload", [("site", Node(site))])
        case .restart: return ("restart", [])
        }
    }
}

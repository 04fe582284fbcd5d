import FireSafety
import Foundation
import Modbus

/// A zone: its signals (sources, votes, thresholds, rate of rise), the independence of its fire kinds.
extension SiteReader {
    mutating func readZone(_ name: String, _ node: Located) -> ZoneSpec? {
        guard let fields = node.fields(SiteLoader.zoneFields, required: ["signals"], what: "a zone") else { return nil }
        var signals: [SignalSpec] = []
        var signalNodes: [String: Located] = [:]
        let errorsBefore = diagnostics.count
        var signalsRead = true
        if let list = fields["signals"]?.entries(what: "a mapping of signal names to signals") {
            if list.isEmpty {
                fields["signals"]?.error("a zone needs at least one signal", hint: "add e.g. temperature")
            }
            for (_, keyNode, value) in list {
                guard let signalName = keyNode.name(what: "signal name"), let signal = readSignal(signalName, value)
                else {
                    signalsRead = false
                    continue
                }
                signals.append(signal)
                signalNodes[signalName] = value
            }
        }
        let isolate = fields["isolate"].map { readSteps($0, zone: name, kind: .isolate) } ?? []
        let suppress = fields["suppress"].map { readSteps($0, zone: name, kind: .suppress) } ?? []
        let powerCut = fields["power_cut"].map { readSteps($0, zone: name, kind: .powerCut) } ?? []
        if let node = fields["simulate"] { zoneSimulation[name] = node.locatedTexts(what: "simulator settings") }
        // Steps no tier can ever reach are a configuration mistake a person would not spot by reading.
        // Only when the zone itself read cleanly: a broken signal would make these checks cry wolf.
        if diagnostics.count == errorsBefore, signalsRead {
            if !isolate.isEmpty, !signals.contains(where: { $0.thresholds[.alarm] != nil }) {
                fields.keys["isolate"]?.error(
                    "no signal of zone \(name) has an `alarm:` threshold, so these isolate steps can never run",
                    hint: "add alarm: to the signals that should isolate the zone, e.g. off-gas, temperature, BMS flags"
                )
            }
            let fireKinds = Set(signals.filter { $0.thresholds[.fire] != nil }.map(\.kind))
            if !(suppress.isEmpty && powerCut.isEmpty), fireKinds.count < 2 {
                let found = fireKinds.isEmpty ? "none" : "only \(fireKinds.sorted().joined(separator: ", "))"
                (fields.keys["suppress"] ?? fields.keys["power_cut"])?.error(
                    "tier 3 needs two different kinds of evidence at `fire:` (double knock), zone \(name) has \(found)",
                    hint: "add fire: to a second signal, e.g. smoke or the panel's fire_input, "
                        + "or set `kind:` when two signals measure different things")
            } else if !(suppress.isEmpty && powerCut.isEmpty) {
                checkIndependence(zone: name, signals: signals, nodes: signalNodes)
            }
        }
        return ZoneSpec(
            name: name, signals: signals, isolate: isolate, suppress: suppress, powerCut: powerCut,
            abortSwitches: abortSwitches(commandedBy: suppress))
    }

    /// Refuses a tier 3 that one device could reach alone: two kinds count together only when the sources that
    /// put them at fire share no device, so some choice of voting sources of two kinds must use disjoint devices.
    /// Judged on the configured votes (all sources healthy): a double knock that exists only while a sensor
    /// is failed is not one.
    func checkIndependence(zone: String, signals: [SignalSpec], nodes: [String: Located]) {
        let fireSignals = signals.filter { $0.thresholds[.fire] != nil }
        // Each way a signal reaches fire: any `required` of its sources, as the set of devices they sit on.
        func witnesses(_ signal: SignalSpec) -> [Set<String>] {
            var result: [Set<String>] = []
            func pick(_ start: Int, _ chosen: Set<String>, _ left: Int) {
                if left == 0 {
                    result.append(chosen)
                    return
                }
                guard start < signal.sources.count else { return }
                for index in start..<signal.sources.count {
                    pick(index + 1, chosen.union([signal.sources[index].device]), left - 1)
                }
            }
            pick(0, [], min(signal.vote.required, signal.sources.count))
            return result
        }
        // The pair of different kinds that comes closest, to name what they share.
        var closest: (first: SignalSpec, second: SignalSpec, shared: Set<String>)?
        for (index, first) in fireSignals.enumerated() {
            for second in fireSignals[(index + 1)...] where second.kind != first.kind {
                for a in witnesses(first) {
                    for b in witnesses(second) {
                        let shared = a.intersection(b)
                        if shared.isEmpty { return }
                        if closest.map({ shared.count < $0.shared.count }) ?? true { closest = (first, second, shared) }
                    }
                }
            }
        }
        guard let (first, second, shared) = closest else { return }
        let names = shared.sorted()
        let devices = "device\(names.count == 1 ? "" : "s") \(names.joined(separator: ", "))"
        let line = nodes[first.name]?.lookup("sources")?.line ?? nodes[first.name]?.line ?? 0
        let target = nodes[second.name]?.lookup("sources") ?? nodes[second.name]
        target?.error(
            "tier 3 of zone \(zone) could be reached from one device: every way \(first.name) (\(first.kind), line "
                + "\(line)) and \(second.name) (\(second.kind)) both reach `fire:` shares \(devices), and two kinds "
                + "count as independent evidence only when their sources share no device",
            hint: "give one of them sources on a device of its own (e.g. the aspirating smoke detector or the "
                + "releasing panel's fire_input), or remove its `fire:` threshold: points of one device fail together")
    }

    /// A source checked against its device's profile: its point and the kind of value it yields.
    struct ResolvedSource {
        let ref: SourceRef
        let point: PointSpec
        let kind: ValueKind
        let node: Located
    }

    func resolveSource(_ text: String, _ node: Located) -> ResolvedSource?? {
        guard let ref = SourceRef(parsing: text), Located.isName(ref.device), Located.isName(ref.point),
            ref.bit.map(Located.isName) ?? true
        else {
            node.error("'\(text)' is not device.point or device.point.bit", hint: "write e.g. temp-a1.temperature")
            return .some(nil)
        }
        guard devices.contains(where: { $0.name == ref.device }) else {
            if brokenDevices.contains(ref.device) { return nil }
            node.error(
                "unknown device '\(ref.device)'",
                hint: Suggestion.hint(for: ref.device, in: devices.map(\.name), noun: "device"))
            return .some(nil)
        }
        guard let profile = profile(of: ref.device) else { return nil }
        guard let point = profile.point(named: ref.point) else {
            node.error(
                "device \(ref.device) (\(profile.name)) has no point '\(ref.point)'",
                hint: Suggestion.hint(for: ref.point, in: profile.points.map(\.name), noun: "point"))
            return .some(nil)
        }
        if let bit = ref.bit {
            guard point.type == .bits else {
                node.error(
                    "\(ref.device).\(ref.point) is \(point.type.rawValue) and has no named bits",
                    hint: "refer to \(ref.device).\(ref.point) itself")
                return .some(nil)
            }
            guard point.bitNumber(named: bit) != nil else {
                node.error(
                    "\(ref.device).\(ref.point) has no bit '\(bit)'",
                    hint: Suggestion.hint(for: bit, in: point.bitNames, noun: "bit"))
                return .some(nil)
            }
            return ResolvedSource(ref: ref, point: point, kind: .flag, node: node)
        }
        if point.type == .bits {
            node.error(
                "\(ref.device).\(ref.point) is a set of bits; a signal reads one of them",
                hint: "write \(ref.device).\(ref.point).<bit>, bits: \(point.bitNames.joined(separator: ", "))")
            return .some(nil)
        }
        return ResolvedSource(ref: ref, point: point, kind: point.valueKind, node: node)
    }

    func readSignal(_ name: String, _ node: Located) -> SignalSpec? {
        guard let fields = node.fields(SiteLoader.signalFields, required: ["sources"], what: "a signal") else {
            return nil
        }
        guard let sourcesNode = fields["sources"], let items = sourcesNode.stringList(what: "sources (device.point)")
        else {
            return nil
        }
        if items.isEmpty {
            sourcesNode.error("a signal needs at least one source", hint: "write [device.point, …]")
            return nil
        }
        var resolved: [ResolvedSource] = []
        var incomplete = false
        var seen: Set<String> = []
        for (text, item) in items {
            if !seen.insert(text).inserted {
                item.error("source \(text) is listed twice", hint: "a source counts once in a vote; remove the copy")
                incomplete = true
                continue
            }
            switch resolveSource(text, item) {
            case .some(.some(let source)): resolved.append(source)
            case .some(.none): incomplete = true
            case .none: incomplete = true  // device with a broken profile: already reported
            }
        }

        var vote: Vote?
        if let voteNode = fields["vote"], let text = voteNode.string(what: "a vote") {
            if let parsed = Vote(rawValue: text) {
                vote = parsed
                if parsed.sourceCount != items.count {
                    let fitting = Vote.allCases.filter { $0.sourceCount == items.count }.map(\.rawValue)
                    voteNode.error(
                        "vote \(text) needs \(parsed.sourceCount) source\(parsed.sourceCount == 1 ? "" : "s"), "
                            + "but the signal has \(items.count)",
                        hint: fitting.isEmpty
                            ? "FireWatch votes over 1 to 3 sources; split the sources into signals"
                            : "with \(items.count) sources use \(fitting.joined(separator: " or "))"
                                + ", or change the sources"
                    )
                }
            } else {
                voteNode.error(
                    "unknown vote '\(text)'; expected 1oo1, 1oo2, 2oo2 or 2oo3",
                    hint: Suggestion.hint(for: text, in: Vote.allCases.map(\.rawValue), noun: "vote"))
            }
        } else {
            vote = Vote.defaultVote(sourceCount: items.count)
            if vote == nil {
                sourcesNode.error(
                    "\(items.count) sources, but FireWatch votes over 1 to 3",
                    hint: "split them into signals of at most 3 sources each")
            }
        }

        // All sources must yield the same kind of value, or thresholds cannot apply to all of them.
        let kinds = Set(resolved.map(\.kind))
        if kinds.count > 1 {
            sourcesNode.error(
                "sources mix \(resolved.map { "\($0.ref) (\($0.kind.rawValue))" }.joined(separator: ", "))",
                hint: "a signal's sources must all be numbers, all enum names, or all flags")
            incomplete = true
        }
        let units = Set(resolved.compactMap(\.point.unit))
        if kinds == [.number], units.count > 1 {
            sourcesNode.error(
                "sources measure different units (\(units.sorted().joined(separator: ", ")))",
                hint: "a vote compares like with like; use sources with the same unit")
        }
        var mixedEnums = false
        if resolved.first?.kind == .name {
            let valueSets = Set(resolved.map(\.point.valueNames))
            if valueSets.count > 1 {
                mixedEnums = true
                sourcesNode.error("enum sources have different values", hint: "use sources of the same profile point")
                incomplete = true
            }
        }
        // Thresholds are checked against the sources that did resolve, so one typo in a source
        // does not hide a threshold error on the same signal.
        let kind = kinds.count == 1 && !mixedEnums ? resolved.first?.kind : nil
        let reference = resolved.first?.point

        var thresholds: [Level: Threshold] = [:]
        var thresholdNodes: [Level: Located] = [:]
        for level in Level.allCases {
            guard let levelNode = fields[level.description] else { continue }
            thresholdNodes[level] = levelNode
            guard let kind, let reference else { continue }
            if let threshold = readThreshold(levelNode, kind: kind, point: reference) { thresholds[level] = threshold }
        }
        if let kind, let reference { checkOrder(thresholds, nodes: thresholdNodes, kind: kind, point: reference) }

        var deadband = 0.0
        if let node = fields["deadband"], let value = node.number() {
            if value < 0 {
                node.error("deadband must not be negative", hint: "use 0 or a positive number in the signal's unit")
            } else if kind.map({ $0 != .number }) ?? false {
                node.error("deadband applies to numeric signals only", hint: "remove it")
            } else {
                deadband = value
            }
        }
        var rateOfRise: RateOfRise?
        if let node = fields["rate_of_rise"] {
            let window = positiveDuration(fields["rate_window"]) ?? SiteLoader.defaultRateWindow
            if kind.map({ $0 != .number }) ?? false {
                node.error("rate_of_rise applies to numeric signals only", hint: "remove it")
            } else if let perSecond = rate(node) {
                rateOfRise = RateOfRise(perSecond: perSecond, window: window)
                // The slope needs five samples over half the window and restarts after a gap of a quarter of
                // it: a slower device would make the rate of rise silently never fire.
                let slow = resolved.compactMap { source -> (String, Duration)? in
                    let interval = devices.first { $0.name == source.ref.device }?.pollInterval ?? sitePoll
                    return interval * 6 > window ? (source.ref.device, interval) : nil
                }
                if let (device, interval) = slow.first {
                    node.error(
                        "a rate of rise over \(window.configText) needs a reading at least every "
                            + "\((window / 6).configText), but \(device) is polled every \(interval.configText)",
                        hint: "poll \(device) faster, or set a longer `rate_window:` (at least "
                            + "\((interval * 6).configText))")
                }
            }
        } else if let node = fields["rate_window"] {
            node.error("rate_window without rate_of_rise has no effect", hint: "add `rate_of_rise: 5/min` or remove it")
        }
        if fields["alert"] == nil, fields["alarm"] == nil, fields["fire"] == nil, fields["rate_of_rise"] == nil {
            node.error(
                "signal '\(name)' has no threshold, so it can never raise anything", hint: "add alert:, alarm: or fire:"
            )
        }
        let signalKind = fields["kind"]?.name(what: "kind")
        guard !incomplete, let vote else { return nil }
        return SignalSpec(
            name: name, kind: signalKind, sources: resolved.map(\.ref), vote: vote, thresholds: thresholds,
            deadband: deadband, rateOfRise: rateOfRise, unit: reference?.unit)
    }

    /// `5/min`, `0.5/s`, `30/h` → units per second.
    func rate(_ node: Located) -> Double? {
        guard let text = node.scalarText else {
            node.error("expected a rate like 5/min, found \(node.kindName)", hint: "write an amount per s, min or h")
            return nil
        }
        let parts = text.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
        let per: [String: Double] = ["s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600]
        guard parts.count == 2, let amount = Double(parts[0]), amount > 0, let seconds = per[parts[1]] else {
            node.error("'\(text)' is not a rate; expected an amount per s, min or h", hint: "write e.g. 5/min")
            return nil
        }
        return amount / seconds
    }

    func readThreshold(_ node: Located, kind: ValueKind, point: PointSpec) -> Threshold? {
        switch kind {
        case .number:
            guard
                let value = node.number(what: "a number (the sources are numeric\(point.unit.map { ", \($0)" } ?? ""))")
            else { return nil }
            // A threshold outside what the sensor can report is never reached (a reading above the range counts
            // only as its top) or always reached: both are configuration mistakes.
            if let range = point.range, !range.contains(value) {
                let unit = point.unit.map { " \($0)" } ?? ""
                let bounds = "\(Value.number(range.lowerBound))…\(Value.number(range.upperBound))\(unit)"
                if value > range.upperBound {
                    node.error(
                        "\(Value.number(value)) is above what \(point.name) can report (range \(bounds)): a reading "
                            + "past the top counts only as \(Value.number(range.upperBound))\(unit) (and trouble), so "
                            + "this level can never be reached",
                        hint: "use a sensor whose range covers the threshold, or lower the threshold into its range")
                } else {
                    node.error(
                        "\(Value.number(value)) is below the range of \(point.name) (\(bounds)): every valid reading "
                            + "reaches it",
                        hint: "raise the threshold into the sensor's range")
                }
                return nil
            }
            return .atLeast(value)
        case .flag:
            return node.bool(what: "true or false (the sources are flags)").map(Threshold.equals)
        case .name:
            var names: [(String, Located)] = []
            if case .sequence = node.node {
                names = node.stringList(what: "enum names") ?? []
            } else if let text = node.scalarText, !node.isNull {
                names = [(text, node)]
            } else {
                node.error(
                    "expected one of \(point.valueNames.joined(separator: ", ")), found \(node.kindName)",
                    hint: "write one of the names")
                return nil
            }
            var valid: [String] = []
            for (text, item) in names {
                if point.rawValue(named: text) != nil {
                    valid.append(text)
                } else {
                    item.error(
                        "'\(text)' is not a value of \(point.name) (\(point.valueNames.joined(separator: ", ")))",
                        hint: Suggestion.hint(for: text, in: point.valueNames, noun: "value"))
                }
            }
            guard valid.count == names.count, !valid.isEmpty else { return nil }
            // One name on an ordered enum means "this or worse".
            if valid.count == 1, point.ordered, let raw = point.rawValue(named: valid[0]) {
                return .oneOf(point.values.filter { $0.key >= raw }.sorted { $0.key < $1.key }.map(\.value))
            }
            return .oneOf(valid)
        case .bitfield:
            return nil
        }
    }

    func checkOrder(_ thresholds: [Level: Threshold], nodes: [Level: Located], kind: ValueKind, point: PointSpec) {
        func rank(_ threshold: Threshold) -> Double? {
            switch threshold {
            case .atLeast(let value): return value
            case .oneOf(let names) where point.ordered:
                return names.compactMap(point.rawValue(named:)).min().map(Double.init)
            default: return nil
            }
        }
        var previous: (Level, Double)?
        for level in Level.allCases {
            guard let threshold = thresholds[level], let value = rank(threshold) else { continue }
            if let (lower, lowerValue) = previous, value < lowerValue {
                nodes[level]?.error(
                    "\(level) (\(threshold)) is below \(lower) (\(thresholds[lower]!)); "
                        + "thresholds must rise alert ≤ alarm ≤ fire",
                    hint: "swap them, or check which level each number belongs to")
            }
            previous = (level, value)
        }
    }
}

import FireSafety
import Foundation
import Modbus
import SiteConfig

extension SimulatorHost {
    /// Stores a device's bound points into its unit's registers and sets the unit's fault from its condition.
    /// Points without a `simulate:` text are left alone, so they read back whatever a client wrote.
    func publish(_ slot: DeviceSlot, _ state: inout HostState) {
        let site = state.site
        var condition = site.condition(device: slot.name)
        if condition != .silent,
            slot.bindings.points.keys.contains(where: { site.value(device: slot.name, point: $0) == .offline })
        {
            // One dead point cannot be left out of a Modbus answer: the device as a whole stops answering.
            condition = .silent
        }
        let fault: Server.Fault?
        switch condition {
        case .answering: fault = nil
        case .silent: fault = .silent
        // Network delays stay real time (as the daemon's timeouts do): a socket cannot be made faster.
        case .slow(let delay): fault = .delay(delay)
        case .exception(let code): fault = .exception(ModbusException(rawValue: code.code) ?? .serverDeviceFailure)
        }
        if state.faults[slot.name] != .some(fault) {
            slot.server.setFault(fault, unit: slot.unit)
            state.faults[slot.name] = fault
        }
        guard fault != .silent else { return }

        for point in slot.profile.points {
            let key = "\(slot.name).\(point.name)"
            var raw: [UInt16]?
            if slot.bindings.points[point.name] != nil, let value = site.value(device: slot.name, point: point.name) {
                raw = encode(value, for: point, slot: slot, key: key, state: &state)
            }
            if point.type == .bits {
                for bit in point.bitNames where slot.bindings.points["\(point.name).\(bit)"] != nil {
                    guard let value = site.value(device: slot.name, point: "\(point.name).\(bit)"),
                        let on = Self.flag(value)
                    else { continue }
                    let current = raw ?? state.published[key] ?? current(point, slot) ?? [0]
                    raw = try? point.encode(bit: bit, to: on, into: current)
                }
            }
            guard let raw, state.published[key] != raw else { continue }
            do {
                try slot.server.set(point.table, address: point.address, values: raw, unit: slot.unit)
                state.published[key] = raw
            } catch {
                note("\(key): cannot store \(raw): \(error)", &state)
            }
        }
    }

    private func current(_ point: PointSpec, _ slot: DeviceSlot) -> [UInt16]? {
        try? slot.server.get(point.table, address: point.address, count: point.width, unit: slot.unit)
    }

    private func note(_ problem: String, _ state: inout HostState) {
        if !state.problems.contains(problem) { state.problems.append(problem) }
    }

    /// The registers that make `point` read `value`; `.invalid` becomes a raw value the profile rejects.
    private func encode(
        _ value: SimValue, for point: PointSpec, slot: DeviceSlot, key: String, state: inout HostState
    ) -> [UInt16]? {
        let needsCurrent = point.type == .bool && point.bit != nil && !point.table.isBits
        switch Self.registers(value, for: point, current: needsCurrent ? current(point, slot) : nil) {
        case .success(let raw): return raw
        case .failure(let problem):
            note("\(key): \(problem.text)", &state)
            return nil
        }
    }

    /// Why a value cannot be put into a point's registers.
    public struct EncodeProblem: Error, Sendable, Hashable {
        public var text: String
    }

    /// The registers that make `point` read `value` when a client decodes them: `.invalid` becomes a raw value
    /// the profile rejects, a number the type cannot hold too. `current` is the register a bit of it sits in.
    /// The one encoding of a simulated value, for the served registers and for the in-process campaign alike.
    public static func registers(_ value: SimValue, for point: PointSpec, current: [UInt16]? = nil)
        -> Result<[UInt16], EncodeProblem>
    {
        if value == .invalid {
            guard let raw = invalidRaw(for: point) else {
                return .failure(
                    EncodeProblem(
                        text: "\(point.type.rawValue) without a range has no invalid value; keeps its last value"))
            }
            return .success(raw)
        }
        guard let converted = convert(value, for: point) else {
            return .failure(EncodeProblem(text: "serves \(value), which a \(point.type.rawValue) point cannot hold"))
        }
        do {
            return .success(try point.encode(converted, into: current))
        } catch {
            // A number the type cannot represent (an out_of_range fault of -5 on a uint16): still invalid.
            if case .number = converted, let raw = invalidRaw(for: point) { return .success(raw) }
            return .failure(EncodeProblem(text: "\(error)"))
        }
    }

    /// The model's value in the kind the point holds (a flag as 0/1 for a number, a number as a flag, …).
    static func convert(_ value: SimValue, for point: PointSpec) -> Value? {
        switch (value, point.valueKind) {
        case (.number(let number), .number), (.number(let number), .bitfield): return .number(number)
        case (.number(let number), .flag): return .flag(number != 0)
        case (.number(let number), .name): return point.values[Int(number)].map { .name($0) }
        case (.flag(let on), .number), (.flag(let on), .bitfield): return .number(on ? 1 : 0)
        case (.flag(let on), .flag): return .flag(on)
        case (.name(let name), .name): return .name(name)
        case (.name(let name), .flag): return flag(.name(name)).map { .flag($0) }
        default: return nil
        }
    }

    public static func flag(_ value: SimValue) -> Bool? {
        switch value {
        case .flag(let on): return on
        case .number(let number): return number != 0
        case .name(let name):
            switch name.lowercased() {
            case "true", "on", "yes": return true
            case "false", "off", "no": return false
            default: return nil
            }
        case .offline, .invalid: return nil
        }
    }

    /// A raw value the profile's own decoding marks invalid: an unlisted enum value, or a number outside
    /// `range`. Nil when the point has no invalid values (a bool, a number without a range).
    static func invalidRaw(for point: PointSpec) -> [UInt16]? {
        var candidates: [[UInt16]] = []
        if point.type == .enum {
            candidates.append([UInt16(min((point.values.keys.max() ?? 0) + 1, 65535))])
        }
        if let range = point.range {
            let span = max(1, range.upperBound - range.lowerBound)
            for number in [range.upperBound + span, range.lowerBound - span] {
                if let raw = try? Codec.encode(
                    number, as: point.type, order: point.wordOrder, scale: point.scale, offset: point.offset)
                {
                    candidates.append(raw)
                }
            }
            for extreme: UInt16 in [0xFFFF, 0x7FFF, 0x8000] {
                candidates.append(Array(repeating: extreme, count: point.width))
            }
        }
        return candidates.first { PointReading.decode(point, raw: $0).validity != .ok }
    }

    /// Served addresses per table: from the lowest to past the highest point or command of any profile.
    static func layout(for profiles: [DeviceProfile]) -> RegisterLayout {
        func range(_ table: Table) -> Range<Int> {
            var spans = profiles.flatMap { profile in
                profile.points.filter { $0.table == table }.map { $0.address..<($0.address + $0.width) }
            }
            spans += profiles.flatMap { profile in
                profile.commands.filter { $0.table == table }.map { command -> Range<Int> in
                    if case .registers(let values) = command.value {
                        return command.address..<(command.address + max(values.count, 1))
                    }
                    return command.address..<(command.address + 1)
                }
            }
            guard let low = spans.map(\.lowerBound).min(), let high = spans.map(\.upperBound).max() else {
                return 0..<1
            }
            return low..<high
        }
        return RegisterLayout(
            coils: range(.coil), discreteInputs: range(.discrete), inputRegisters: range(.input),
            holdingRegisters: range(.holding))
    }

    /// Every device whose host is not an IPv4 address in 127.0.0.0/8.
    static func loopbackProblems(_ site: LoadedSite) -> [String] {
        site.devices.compactMap { device in
            if isLoopback(device.host) { return nil }
            return "\(site.file):\(line(of: device.name, in: site.file)): devices.\(device.name).host: "
                + "the simulator serves only 127.0.0.0/8; device \(device.name) has host \(device.host). "
                + "Copy the site file and point its devices at 127.0.0.1 (distinct ports) to simulate it"
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return false }
        return parts[0] == "127"
    }

    /// The line a device is defined on in the site file (1 when it cannot be found).
    static func line(of device: String, in file: String) -> Int {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return 1 }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("\(device):") || trimmed.hasPrefix("\"\(device)\":") { return index + 1 }
        }
        return 1
    }
}

/// Scenario events in words, for `firewatch simulate` and the demo.
public enum ScenarioEventText {
    public static func describe(_ event: ScenarioEvent) -> String {
        func span(_ length: Duration?) -> String { length.map { " for \(DurationText.format($0))" } ?? "" }
        switch event {
        case .thermalRunaway(let zone, let string): return "thermal runaway of string \(string) in \(zone)"
        case .offgas(let zone, let string, let pointOfNoReturn, _):
            let fate = pointOfNoReturn == .zero ? " (already past the point of no return)" : ""
            return "string \(string) in \(zone) starts failing: off-gas soon\(fate)"
        case .sensorFault(let device, let point, let mode, let length):
            return "sensor fault on \(point.map { "\(device).\($0)" } ?? device): \(mode)\(span(length))"
        case .commLoss(let device, let length): return "\(device) stops answering\(span(length))"
        case .slowDevice(let device, let delay, let length):
            return "\(device) answers \(DurationText.format(delay)) late\(span(length))"
        case .exception(let device, let code, let length):
            return "\(device) answers with exception \(code.rawValue)\(span(length))"
        case .set(let device, let point, let value, let length):
            return "\(device).\(point) reads \(value)\(span(length))"
        case .clockStep(let step):
            return "the daemon's wall clock steps \(step > .zero ? "forward" : "back") by "
                + DurationText.format(step > .zero ? step : .zero - step)
        case .reload(let site):
            return "the daemon reloads its configuration from \((site as NSString).lastPathComponent)"
        case .abortSwitch(let zone, let length):
            return "someone holds the abort switch of \(zone)'s panel\(span(length))"
        case .restart:
            return "the daemon is stopped and started again on its alert log"
        }
    }
}

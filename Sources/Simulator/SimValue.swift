import Foundation

/// What a simulated device serves for one point: a value, or a reason it serves none.
///
/// The Modbus side (phase 2) encodes `.number`/`.name`/`.flag` with the point's profile (scale,
/// enum names, bits). `.offline` means "this point does not answer" (the sensor is dead or
/// de-energised); `.invalid` means "serve a raw value the profile declares invalid" (outside
/// `range`, an enum value not listed), which is how an `out_of_range` sensor fault looks on the wire.
public enum SimValue: Sendable, Hashable, CustomStringConvertible {
    /// A physical number in the point's unit, before the profile's scale is undone.
    case number(Double)
    /// A named state (`detected`, `fire1`, `released`, …), matched against the profile's enum names.
    case name(String)
    /// A boolean point or one named bit.
    case flag(Bool)
    /// The point does not answer.
    case offline
    /// The point answers with a value its profile rejects.
    case invalid

    /// The number, if this is one.
    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        case .name(let name): return name
        case .flag(let flag): return flag ? "true" : "false"
        case .offline: return "offline"
        case .invalid: return "invalid"
        }
    }

    /// Reads a YAML-ish scalar: `true`/`false` as flags, numbers as numbers, anything else as a name.
    public init(scalar text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch trimmed.lowercased() {
        case "true", "yes", "on": self = .flag(true)
        case "false", "no", "off": self = .flag(false)
        default:
            if let number = Double(trimmed) {
                self = .number(number)
            } else {
                self = .name(trimmed)
            }
        }
    }
}

/// How a simulated device answers on the wire as a whole, set by `comm_loss`, `slow_device`,
/// `exception` and `sensor_fault … mode: offline` events, or by an opened feed that powers it.
public enum DeviceCondition: Sendable, Hashable, CustomStringConvertible {
    /// Answers normally.
    case answering
    /// Does not answer at all (no response, connection may be accepted and then ignored).
    case silent
    /// Answers correctly, but only after this delay.
    case slow(Duration)
    /// Answers every request with this Modbus exception.
    case exception(SimException)

    public var description: String {
        switch self {
        case .answering: return "answering"
        case .silent: return "silent"
        case .slow(let delay): return "slow (\(delay))"
        case .exception(let code): return "exception \(code.rawValue)"
        }
    }
}

/// Modbus exception responses a scenario can make a device send; `code` is the byte on the wire.
public enum SimException: String, Sendable, Hashable, CaseIterable {
    case illegalFunction = "illegal_function"
    case illegalAddress = "illegal_address"
    case illegalValue = "illegal_value"
    case deviceFailure = "device_failure"
    case acknowledge = "acknowledge"
    case busy = "busy"
    case gatewayPathUnavailable = "gateway_path_unavailable"
    case gatewayTargetFailed = "gateway_target_failed"

    /// The Modbus exception code (Modbus Application Protocol v1.1b3, §7).
    public var code: UInt8 {
        switch self {
        case .illegalFunction: return 0x01
        case .illegalAddress: return 0x02
        case .illegalValue: return 0x03
        case .deviceFailure: return 0x04
        case .acknowledge: return 0x05
        case .busy: return 0x06
        case .gatewayPathUnavailable: return 0x0A
        case .gatewayTargetFailed: return 0x0B
        }
    }
}

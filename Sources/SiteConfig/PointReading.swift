import FireSafety
import Modbus

/// One point decoded from the registers a device returned: shared by the poller and `firewatch read`.
public struct PointReading: Sendable, Hashable {
    /// Why a reading is or is not usable. Anything but `ok` is trouble, never "normal".
    public enum Validity: Sendable, Hashable, CustomStringConvertible {
        case ok
        /// Decoded and above the top of the profile's `range`: the quantity is at least the top (a sensor pinned
        /// at its limit in a fire), so it counts as the top for the thresholds it crosses, and it is trouble.
        case aboveRange(ClosedRange<Double>)
        /// Decoded, but below the bottom of the profile's `range`: invalid.
        case belowRange(ClosedRange<Double>)
        /// The raw value is one of the point's `fault_values` (a sensor's open-circuit or "not available" code).
        case faultValue(Int)
        /// The registers could not be turned into a value (wrong count, NaN float).
        case decodeError(String)
        /// An enum register holds a value the profile does not name.
        case unknownEnum(Int)

        public var description: String {
            switch self {
            case .ok: return "ok"
            case .aboveRange: return "trouble: " + reason
            default: return "invalid: " + reason
            }
        }

        /// Why the value cannot be trusted, without the word "invalid" (for messages that already say it).
        public var reason: String {
            switch self {
            case .ok: return "ok"
            case .aboveRange(let range):
                return "above its range \(Self.text(range)), counted as at least \(Value.number(range.upperBound))"
            case .belowRange(let range):
                return "below its range \(Self.text(range))"
            case .faultValue(let raw):
                return "fault code \(raw) (the profile's fault_values)"
            case .decodeError(let why): return why
            case .unknownEnum(let raw): return "unknown value \(raw)"
            }
        }

        static func text(_ range: ClosedRange<Double>) -> String {
            "\(Value.number(range.lowerBound))…\(Value.number(range.upperBound))"
        }
    }

    public var point: String
    /// The registers as read (bits as 0/1).
    public var raw: [UInt16]
    /// The decoded value; present for out-of-range readings (to show them), nil when undecodable.
    public var value: Value?
    /// For `bits` points: each named bit.
    public var bits: [String: Bool]
    public var validity: Validity

    public init(point: String, raw: [UInt16], value: Value?, bits: [String: Bool] = [:], validity: Validity) {
        self.point = point
        self.raw = raw
        self.value = value
        self.bits = bits
        self.validity = validity
    }

    /// True only for a reading that can be taken at face value; an above-range reading is not (see `atLeast`).
    public var isValid: Bool { validity == .ok }

    /// For a reading above the top of its range: the top, which the quantity is known to have reached.
    public var atLeast: Double? {
        if case .aboveRange(let range) = validity { return range.upperBound }
        return nil
    }

    /// The value a source (`point` or `point.bit`) sees; nil when the reading is not valid.
    public func value(bit: String?) -> Value? {
        guard isValid else { return nil }
        if let bit { return bits[bit].map(Value.flag) }
        return value
    }

    /// What the engine is told of `source` (this point, or one of its bits): a value, `.aboveRange` (at least the
    /// top of its range, and trouble) or `.invalid` (the device answered but the value cannot be trusted).
    public func status(of source: SourceRef) -> Reading.Status {
        if let top = atLeast, source.bit == nil, case .number(let number)? = value {
            return .aboveRange(reading: number, top: top)
        }
        if !isValid { return .invalid(reason: validity.reason) }
        if let value = value(bit: source.bit) { return .value(value) }
        return .invalid(reason: "\(source): the point has no bit \(source.bit ?? "?")")
    }

    /// Decodes `raw` (exactly `point.width` registers or bits) with the point's type, order, scale and range.
    public static func decode(_ point: PointSpec, raw: [UInt16]) -> PointReading {
        guard raw.count == point.width else {
            return PointReading(
                point: point.name, raw: raw, value: nil,
                validity: .decodeError("expected \(point.width) value(s), got \(raw.count)"))
        }
        let first = raw[0]
        // A declared fault code is never a value, whatever it would decode to.
        if !point.faultValues.isEmpty, let code = faultCode(point, raw: raw), point.faultValues.contains(code) {
            return PointReading(point: point.name, raw: raw, value: nil, validity: .faultValue(code))
        }
        switch point.type {
        case .bool:
            let on = point.bit.map { Codec.bit($0, of: first) } ?? (first != 0)
            return PointReading(point: point.name, raw: raw, value: .flag(on), validity: .ok)
        case .bits:
            var bits: [String: Bool] = [:]
            for (number, name) in point.bits { bits[name] = Codec.bit(number, of: first) }
            return PointReading(point: point.name, raw: raw, value: .number(Double(first)), bits: bits, validity: .ok)
        case .enum:
            guard let name = point.values[Int(first)] else {
                return PointReading(point: point.name, raw: raw, value: nil, validity: .unknownEnum(Int(first)))
            }
            return PointReading(point: point.name, raw: raw, value: .name(name), validity: .ok)
        case .uint16, .int16, .uint32, .int32, .float32:
            let number: Double
            do {
                number = try Codec.decodeRaw(raw[...], as: point.type, order: point.wordOrder)
            } catch {
                return PointReading(point: point.name, raw: raw, value: nil, validity: .decodeError(error.description))
            }
            let value = Codec.scaled(number, scale: point.scale, offset: point.offset)
            if let range = point.range, !range.contains(value) {
                let validity: Validity = value > range.upperBound ? .aboveRange(range) : .belowRange(range)
                return PointReading(point: point.name, raw: raw, value: .number(value), validity: validity)
            }
            return PointReading(point: point.name, raw: raw, value: .number(value), validity: .ok)
        }
    }

    /// The raw integer `fault_values` are compared with: the register as its type reads it before scale (signed
    /// for int16/int32, word order applied for 32-bit types); nil for float32, which has no integer codes.
    static func faultCode(_ point: PointSpec, raw: [UInt16]) -> Int? {
        switch point.type {
        case .int16: return Int(Int16(bitPattern: raw[0]))
        case .uint16, .enum, .bits, .bool: return Int(raw[0])
        case .uint32, .int32:
            return (try? Codec.decodeRaw(raw[...], as: point.type, order: point.wordOrder)).map { Int($0) }
        case .float32: return nil
        }
    }
}

import FireSafety
import Modbus

/// One point decoded from the registers a device returned: shared by the poller and `firewatch read`.
public struct PointReading: Sendable, Hashable {
    /// Why a reading is or is not usable. Anything but `ok` is trouble, never "normal".
    public enum Validity: Sendable, Hashable, CustomStringConvertible {
        case ok
        /// Decoded, but outside the profile's `range` (e.g. a sensor's "not available" code).
        case outOfRange(ClosedRange<Double>)
        /// The registers could not be turned into a value (wrong count, NaN float).
        case decodeError(String)
        /// An enum register holds a value the profile does not name.
        case unknownEnum(Int)

        public var description: String { self == .ok ? "ok" : "invalid: " + reason }

        /// Why the value cannot be trusted, without the word "invalid" (for messages that already say it).
        public var reason: String {
            switch self {
            case .ok: return "ok"
            case .outOfRange(let range):
                return "out of range \(Value.number(range.lowerBound))…\(Value.number(range.upperBound))"
            case .decodeError(let why): return why
            case .unknownEnum(let raw): return "unknown value \(raw)"
            }
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

    public var isValid: Bool { validity == .ok }

    /// The value a source (`point` or `point.bit`) sees; nil when the reading is not valid.
    public func value(bit: String?) -> Value? {
        guard isValid else { return nil }
        if let bit { return bits[bit].map(Value.flag) }
        return value
    }

    /// Decodes `raw` (exactly `point.width` registers or bits) with the point's type, order, scale and range.
    public static func decode(_ point: PointSpec, raw: [UInt16]) -> PointReading {
        guard raw.count == point.width else {
            return PointReading(
                point: point.name, raw: raw, value: nil,
                validity: .decodeError("expected \(point.width) value(s), got \(raw.count)"))
        }
        let first = raw[0]
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
                return PointReading(point: point.name, raw: raw, value: .number(value), validity: .outOfRange(range))
            }
            return PointReading(point: point.name, raw: raw, value: .number(value), validity: .ok)
        }
    }
}

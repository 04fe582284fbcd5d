import FireSafety
import Modbus

extension PointSpec {
    /// The registers (or 0/1 bits) that make this point read `value`: the inverse of `PointReading.decode`,
    /// for simulators and tests. `current` is the point's present registers, needed when the point is one
    /// bit of a register (the other bits are kept). Named bits of a `bits` point are set with
    /// `encode(bit:to:into:)`.
    public func encode(_ value: Value, into current: [UInt16]? = nil) throws(DecodeError) -> [UInt16] {
        let base = current ?? Array(repeating: 0, count: width)
        guard base.count == width else { throw DecodeError("\(name) needs \(width) value(s), got \(base.count)") }
        switch (type, value) {
        case (.bool, .flag(let on)):
            guard let bit, !table.isBits else { return [on ? 1 : 0] }
            let mask = UInt16(1) << UInt16(bit)
            return [on ? base[0] | mask : base[0] & ~mask]
        case (.enum, .name(let text)):
            guard let raw = rawValue(named: text) else { throw DecodeError("\(name) has no value '\(text)'") }
            return [UInt16(raw)]
        case (.uint16, .number(let number)), (.int16, .number(let number)), (.uint32, .number(let number)),
            (.int32, .number(let number)), (.float32, .number(let number)), (.bits, .number(let number)):
            return try Codec.encode(number, as: type, order: wordOrder, scale: scale, offset: offset)
        default:
            throw DecodeError("\(name) is \(type.rawValue); it cannot hold \(value)")
        }
    }

    /// Sets or clears one named bit of a `bits` point, keeping the others.
    public func encode(bit bitName: String, to on: Bool, into current: [UInt16]) throws(DecodeError) -> [UInt16] {
        guard type == .bits, let number = bitNumber(named: bitName), current.count == 1 else {
            throw DecodeError("\(name) has no bit '\(bitName)'")
        }
        let mask = UInt16(1) << UInt16(number)
        return [on ? current[0] | mask : current[0] & ~mask]
    }
}

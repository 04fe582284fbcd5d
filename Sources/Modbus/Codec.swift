/// Register tables of the Modbus data model.
public enum Table: String, Sendable, Hashable, CaseIterable, Codable {
    /// Read/write single bits (FC 1, 5, 15).
    case coil
    /// Read-only single bits (FC 2).
    case discrete
    /// Read-only 16-bit registers (FC 4).
    case input
    /// Read/write 16-bit registers (FC 3, 6, 16).
    case holding

    /// Whether the table holds bits (coils, discrete inputs) rather than 16-bit registers.
    public var isBits: Bool { self == .coil || self == .discrete }
    /// The most items one read request may ask for (Modbus application protocol 1.1b3, 6.1–6.4).
    public var maxReadCount: Int { isBits ? 2000 : 125 }
    /// Whether a client may write this table.
    public var isWritable: Bool { self == .coil || self == .holding }
}

/// Order of the 16-bit words (and of the bytes inside them) of a 32-bit value.
///
/// Letters name the bytes of the value from most to least significant, in the order they appear
/// on the wire: `ABCD` is big-endian (high word first), `CDAB` swaps the words, `BADC` swaps the bytes
/// inside each word, `DCBA` is fully little-endian. These are FireWatch's own names, implemented in Swift:
/// libmodbus's float helpers changed meaning between 3.1.6 and 3.1.8 (libmodbus issues #358, #665).
public enum WordOrder: String, Sendable, Hashable, CaseIterable, Codable {
    case abcd = "ABCD"
    case cdab = "CDAB"
    case badc = "BADC"
    case dcba = "DCBA"

    /// Two registers as read from the wire → the 32-bit value.
    @inlinable
    public func combine(_ first: UInt16, _ second: UInt16) -> UInt32 {
        switch self {
        case .abcd: return UInt32(first) << 16 | UInt32(second)
        case .cdab: return UInt32(second) << 16 | UInt32(first)
        case .badc: return UInt32(first.byteSwapped) << 16 | UInt32(second.byteSwapped)
        case .dcba: return UInt32(second.byteSwapped) << 16 | UInt32(first.byteSwapped)
        }
    }

    /// The 32-bit value → two registers in wire order.
    @inlinable
    public func split(_ value: UInt32) -> (UInt16, UInt16) {
        let high = UInt16(truncatingIfNeeded: value >> 16)
        let low = UInt16(truncatingIfNeeded: value)
        switch self {
        case .abcd: return (high, low)
        case .cdab: return (low, high)
        case .badc: return (high.byteSwapped, low.byteSwapped)
        case .dcba: return (low.byteSwapped, high.byteSwapped)
        }
    }
}

/// How the raw registers or bits of a point are turned into a number.
public enum DataType: String, Sendable, Hashable, CaseIterable, Codable {
    case bool
    case uint16
    case int16
    case uint32
    case int32
    case float32
    /// A 16-bit register whose bits are named (each one a bool).
    case bits
    /// A 16-bit register whose values are named; a value not listed is invalid.
    case `enum`

    /// How many 16-bit registers (or bits, for `bool` in a bit table) one value occupies.
    public var width: Int {
        switch self {
        case .bool, .uint16, .int16, .bits, .enum: return 1
        case .uint32, .int32, .float32: return 2
        }
    }
}

/// Why raw data could not be decoded.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Encodes and decodes the numeric types of the Modbus register model, in Swift.
public enum Codec {
    /// Decodes `registers` (exactly `type.width` of them) as a raw number, before scale and offset.
    /// `bits` and `enum` decode as their unsigned 16-bit value; `bool` as 0 or 1 (non-zero is true).
    public static func decodeRaw(_ registers: ArraySlice<UInt16>, as type: DataType, order: WordOrder = .abcd) throws(DecodeError) -> Double {
        guard registers.count == type.width else {
            throw DecodeError("\(type.rawValue) needs \(type.width) register(s), got \(registers.count)")
        }
        let first = registers[registers.startIndex]
        switch type {
        case .bool: return first != 0 ? 1 : 0
        case .uint16, .bits, .enum: return Double(first)
        case .int16: return Double(Int16(bitPattern: first))
        case .uint32, .int32, .float32:
            let word = order.combine(first, registers[registers.startIndex + 1])
            switch type {
            case .uint32: return Double(word)
            case .int32: return Double(Int32(bitPattern: word))
            default:
                let value = Float(bitPattern: word)
                guard value.isFinite else { throw DecodeError("float32 is not a finite number (\(value))") }
                return Double(value)
            }
        }
    }

    /// Applies scale and offset: `raw × scale + offset`.
    @inlinable
    public static func scaled(_ raw: Double, scale: Double = 1, offset: Double = 0) -> Double {
        raw * scale + offset
    }

    /// Encodes an engineering value (after scale and offset) back into registers for `type`.
    /// Throws when the value does not fit the type after removing scale and offset.
    public static func encode(_ value: Double, as type: DataType, order: WordOrder = .abcd, scale: Double = 1, offset: Double = 0) throws(DecodeError) -> [UInt16] {
        guard scale != 0 else { throw DecodeError("scale must not be zero") }
        let raw = (value - offset) / scale
        func integer<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
            let rounded = raw.rounded()
            guard rounded.isFinite, let exact = T(exactly: rounded) else {
                throw DecodeError("\(value) does not fit \(type.rawValue) (raw \(raw))")
            }
            return exact
        }
        switch type {
        case .bool: return [raw != 0 ? 1 : 0]
        case .uint16, .bits, .enum: return [try integer(UInt16.self)]
        case .int16: return [UInt16(bitPattern: try integer(Int16.self))]
        case .uint32:
            let (a, b) = order.split(try integer(UInt32.self))
            return [a, b]
        case .int32:
            let (a, b) = order.split(UInt32(bitPattern: try integer(Int32.self)))
            return [a, b]
        case .float32:
            let (a, b) = order.split(Float(raw).bitPattern)
            return [a, b]
        }
    }

    /// Whether bit `index` (0 = least significant) of a register is set.
    @inlinable
    public static func bit(_ index: Int, of register: UInt16) -> Bool {
        index >= 0 && index < 16 && (register >> UInt16(index)) & 1 == 1
    }
}

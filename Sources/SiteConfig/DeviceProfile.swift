import FireSafety
import Modbus

/// A device's register map as data: what FireWatch can read from it and the few writes it may make.
///
/// Loaded from `devices/<kind>/<name>.yaml`; NUT's lesson is that device knowledge belongs in
/// files like this, not in Swift code.
public struct DeviceProfile: Sendable, Hashable {
    /// Human name of the device (`name:`).
    public var name: String
    /// Document, section or open-source driver the map follows; nil only for modeled profiles.
    public var source: String?
    /// True when no public map exists and the profile is modeled on a class of device.
    public var modeled: Bool
    /// What a modeled profile is modeled on.
    public var modeledOn: String?
    /// Free-text notes (layout assumptions, wiring conventions).
    public var notes: String?
    /// Default word order of 32-bit values (`byte_order:`), ABCD when absent.
    public var byteOrder: WordOrder
    /// Largest gap (registers) the read planner may bridge for this device type, if the profile sets one.
    public var maxGap: Int?
    /// Points in file order.
    public var points: [PointSpec]
    /// Commands in file order.
    public var commands: [CommandSpec]

    public init(
        name: String, source: String? = nil, modeled: Bool = false, modeledOn: String? = nil, notes: String? = nil,
        byteOrder: WordOrder = .abcd, maxGap: Int? = nil, points: [PointSpec], commands: [CommandSpec] = []
    ) {
        self.name = name
        self.source = source
        self.modeled = modeled
        self.modeledOn = modeledOn
        self.notes = notes
        self.byteOrder = byteOrder
        self.maxGap = maxGap
        self.points = points
        self.commands = commands
    }

    public func point(named name: String) -> PointSpec? { points.first { $0.name == name } }

    /// The simulator's `simulate:` texts, keyed by point (or `point.bit`) and by command name, as
    /// `SimBindings(points:commands:)` takes them. FireWatch itself never reads them.
    public var simulateTexts: (points: [String: String], commands: [String: String]) {
        var points: [String: String] = [:]
        for point in self.points {
            if let text = point.simulate { points[point.name] = text.text }
            for (bit, text) in point.simulateBits { points["\(point.name).\(bit)"] = text.text }
        }
        var commands: [String: String] = [:]
        for command in self.commands { if let text = command.simulate { commands[command.name] = text.text } }
        return (points, commands)
    }
    public func command(named name: String) -> CommandSpec? { commands.first { $0.name == name } }
}

/// What kind of value a point yields, which decides what its thresholds and verify values look like.
public enum ValueKind: String, Sendable, Hashable {
    /// `uint16`, `int16`, `uint32`, `int32`, `float32`: a number after scale and offset.
    case number
    /// `enum`: one of the named values.
    case name
    /// `bool`, and each named bit of a `bits` point.
    case flag
    /// `bits` as a whole; usable only through one of its bits (`device.point.bit`).
    case bitfield
}

/// One value a device serves: where it is, how to decode it, and what is valid.
public struct PointSpec: Sendable, Hashable {
    public var name: String
    public var table: Table
    /// Protocol (0-based) address of the first register or bit.
    public var address: Int
    public var type: DataType
    /// Word order of 32-bit types (the profile's `byte_order` unless the point sets `word_order`).
    public var wordOrder: WordOrder
    /// `value = raw × scale + offset`.
    public var scale: Double
    public var offset: Double
    public var unit: String?
    /// What the sensor can report. Above the top a reading counts as the top and is trouble; below the bottom
    /// it is invalid.
    public var range: ClosedRange<Double>?
    /// Raw register values (before scale; signed for int16/int32) the device reports instead of a reading, such
    /// as an open-circuit or "not implemented" code: such a reading is invalid, never evidence.
    public var faultValues: [Int] = []
    /// For a `bool` in a register table: the bit (0 = least significant) that holds it; nil means "register ≠ 0".
    public var bit: Int?
    /// For `bits`: bit number → name.
    public var bits: [Int: String]
    /// For `enum`: raw value → name.
    public var values: [Int: String]
    /// For `enum`: the values are listed from normal to worst, so a threshold naming one value also
    /// matches every value with a larger raw number (`alert: alert` on a VESDA level matches action, fire1, fire2).
    public var ordered: Bool
    public var description: String?
    /// What the simulator serves for this point (`simulate: room_temperature`); nil when not simulated.
    public var simulate: LocatedText?
    /// For `bits` points: what the simulator serves for each named bit (`simulate: { over_temp_alarm: … }`).
    public var simulateBits: [String: LocatedText] = [:]
    /// What the point is for FireWatch beyond a reading a signal may use (`role: abort_switch`).
    public var role: PointRole?

    public init(
        name: String, table: Table, address: Int, type: DataType, wordOrder: WordOrder = .abcd, scale: Double = 1,
        offset: Double = 0, unit: String? = nil, range: ClosedRange<Double>? = nil, bit: Int? = nil,
        bits: [Int: String] = [:], values: [Int: String] = [:], ordered: Bool = false, description: String? = nil
    ) {
        self.name = name
        self.table = table
        self.address = address
        self.type = type
        self.wordOrder = wordOrder
        self.scale = scale
        self.offset = offset
        self.unit = unit
        self.range = range
        self.bit = bit
        self.bits = bits
        self.values = values
        self.ordered = ordered
        self.description = description
    }

    /// Registers (or bits, in a bit table) the point occupies.
    public var width: Int { table.isBits ? 1 : type.width }

    public var valueKind: ValueKind {
        switch type {
        case .bool: return .flag
        case .bits: return .bitfield
        case .enum: return .name
        case .uint16, .int16, .uint32, .int32, .float32: return .number
        }
    }

    /// The bit number of a named bit.
    public func bitNumber(named name: String) -> Int? { bits.first { $0.value == name }?.key }
    /// The raw value of a named enum value.
    public func rawValue(named name: String) -> Int? { values.first { $0.value == name }?.key }
    /// Enum names sorted by raw value.
    public var valueNames: [String] { values.sorted { $0.key < $1.key }.map(\.value) }
    /// Bit names sorted by bit number.
    public var bitNames: [String] { bits.sorted { $0.key < $1.key }.map(\.value) }
}

/// A job a point does for FireWatch itself, marked in the profile so no Swift code knows a vendor's map.
public enum PointRole: String, Sendable, Hashable, CaseIterable {
    /// A releasing panel's hold-to-abort switch (a `bool`, true while held). A zone whose `suppress` steps
    /// command the device reads it: held, it stops the countdown like `firewatch abort`; let go, the countdown
    /// restarts in full like `firewatch resume`.
    case abortSwitch = "abort_switch"
}

/// What a command writes.
public enum CommandValue: Sendable, Hashable, CustomStringConvertible {
    /// One coil, on or off (FC 5).
    case coil(Bool)
    /// One or more holding registers starting at the command's address (FC 6 for one, FC 16 for more).
    case registers([UInt16])

    public var description: String {
        switch self {
        case .coil(let on): return on ? "true" : "false"
        case .registers(let values):
            let text = values.map { "\($0) (0x\(String($0, radix: 16, uppercase: true)))" }
            return values.count == 1 ? text[0] : "[" + text.joined(separator: ", ") + "]"
        }
    }
}

/// A write a profile declares. Only commands a profile declares and a zone's steps use are ever written.
public struct CommandSpec: Sendable, Hashable {
    public var name: String
    /// `coil` or `holding` (the writable tables).
    public var table: Table
    public var address: Int
    public var value: CommandValue
    /// How to prove the write took effect; nil means only the device's acknowledgement proves it.
    public var verify: VerifySpec?
    public var description: String?
    /// What the command does in the simulator (`simulate: open_feed[1]`); nil when not simulated.
    public var simulate: LocatedText?
    /// Without `verify`, read the written coil or registers back to confirm the write (`readback: false` for
    /// a register that is a command rather than a state, which reads back something else once acted on).
    public var readback = true

    /// How long a command without `verify:` waits for its own register or coil to read back what it wrote.
    public static let readbackWithin: Duration = .seconds(2)

    /// How long a write of this command may wait to be confirmed: its `verify.within`, else the read-back window,
    /// else nothing (only the device's acknowledgement).
    public var confirmWindow: Duration { verify?.within ?? (readback ? CommandSpec.readbackWithin : .zero) }

    public init(
        name: String, table: Table, address: Int, value: CommandValue, verify: VerifySpec? = nil,
        description: String? = nil
    ) {
        self.name = name
        self.table = table
        self.address = address
        self.value = value
        self.verify = verify
        self.description = description
    }
}

/// Read back `point` (or its named `bit`) until it equals `equals`, for at most `within`.
public struct VerifySpec: Sendable, Hashable {
    public var point: String
    public var bit: String?
    public var equals: Value
    public var within: Duration

    public init(point: String, bit: String? = nil, equals: Value, within: Duration) {
        self.point = point
        self.bit = bit
        self.equals = equals
        self.within = within
    }

    /// `point` or `point.bit`, as written in the profile.
    public var reference: String { bit.map { "\(point).\($0)" } ?? point }
}

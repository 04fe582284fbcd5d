import CModbus
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The synchronous face of a ``Client`` inside ``Client/perform(_:)``: same requests, same errors, run
/// directly on the client's I/O thread. Only valid inside the closure it was given to.
public struct Connection {
    let session: Session

    init(session: Session) { self.session = session }

    /// `host:port unit N`.
    public var endpoint: String { session.endpoint }

    public mutating func readCoils(address: Int, count: Int) throws(ModbusError) -> [Bool] {
        try readBits(.coil, address: address, count: count).map { $0 != 0 }
    }

    public mutating func readDiscreteInputs(address: Int, count: Int) throws(ModbusError) -> [Bool] {
        try readBits(.discrete, address: address, count: count).map { $0 != 0 }
    }

    public mutating func readHoldingRegisters(address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        try readRegisters(.holding, address: address, count: count)
    }

    public mutating func readInputRegisters(address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        try readRegisters(.input, address: address, count: count)
    }

    /// Reads any table; bits come back as 0 or 1.
    public mutating func read(_ table: Table, address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        if table.isBits { return try readBits(table, address: address, count: count).map { UInt16($0) } }
        return try readRegisters(table, address: address, count: count)
    }

    public mutating func writeCoil(address: Int, value: Bool) throws(ModbusError) {
        let name = { "write coil \(address)" }
        try Limits.check(address: address, count: 1, limit: 1, endpoint: session.endpoint, name)
        _ = try session.call(name()) { modbus_write_bit($0, Int32(address), value ? 1 : 0) }
    }

    public mutating func writeCoils(address: Int, values: [Bool]) throws(ModbusError) {
        let name = { "write coils \(address)+\(values.count)" }
        try Limits.check(
            address: address, count: values.count, limit: Limits.writeBits, endpoint: session.endpoint, name)
        let bytes = values.map { UInt8($0 ? 1 : 0) }
        _ = try session.call(name()) { modbus_write_bits($0, Int32(address), Int32(bytes.count), bytes) }
    }

    public mutating func writeRegister(address: Int, value: UInt16) throws(ModbusError) {
        let name = { "write register \(address)" }
        try Limits.check(address: address, count: 1, limit: 1, endpoint: session.endpoint, name)
        _ = try session.call(name()) { modbus_write_register($0, Int32(address), value) }
    }

    public mutating func writeRegisters(address: Int, values: [UInt16]) throws(ModbusError) {
        let name = { "write registers \(address)+\(values.count)" }
        try Limits.check(
            address: address, count: values.count, limit: Limits.writeRegisters, endpoint: session.endpoint, name)
        _ = try session.call(name()) { modbus_write_registers($0, Int32(address), Int32(values.count), values) }
    }

    /// Writes coils or holding registers: one value with FC 5/6, several with FC 15/16 (coils: non-zero is on).
    public mutating func write(_ table: Table, address: Int, values: [UInt16]) throws(ModbusError) {
        guard table.isWritable else {
            throw ModbusError(
                .invalidRequest, operation: "write \(table.rawValue) \(address)", endpoint: session.endpoint,
                detail: "the \(table.rawValue) table is read-only; only coils and holding registers can be written")
        }
        switch (table, values.count) {
        case (.coil, 1): try writeCoil(address: address, value: values[0] != 0)
        case (.coil, _): try writeCoils(address: address, values: values.map { $0 != 0 })
        case (_, 1): try writeRegister(address: address, value: values[0])
        default: try writeRegisters(address: address, values: values)
        }
    }

    private func readBits(_ table: Table, address: Int, count: Int) throws(ModbusError) -> [UInt8] {
        try read(table, address: address, count: count, table == .discrete ? modbus_read_input_bits : modbus_read_bits)
    }

    private func readRegisters(_ table: Table, address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        try read(
            table, address: address, count: count,
            table == .input ? modbus_read_input_registers : modbus_read_registers)
    }

    /// One read request: the count checked against the table's limit, then `count` bits or registers read by
    /// libmodbus's `read` for this table into a fresh array.
    private func read<Element: FixedWidthInteger>(
        _ table: Table, address: Int, count: Int,
        _ read: (OpaquePointer?, Int32, Int32, UnsafeMutablePointer<Element>?) -> Int32
    ) throws(ModbusError) -> [Element] {
        let name = { "read \(table.rawValue) \(address)+\(count)" }
        try Limits.check(address: address, count: count, limit: table.maxReadCount, endpoint: session.endpoint, name)
        var result = [Element](repeating: 0, count: count)
        _ = try result.withUnsafeMutableBufferPointer { buffer throws(ModbusError) in
            try session.call(name()) { context in read(context, Int32(address), Int32(count), buffer.baseAddress) }
        }
        return result
    }
}

@available(*, unavailable, message: "a Connection is only valid inside the perform closure that received it")
extension Connection: Sendable {}

/// Quantity limits of the Modbus application protocol 1.1b3 (section 6).
enum Limits {
    static let readBits = 2000
    static let readRegisters = 125
    static let writeBits = 1968
    static let writeRegisters = 123
    static let readWriteRegisters = 121

    /// Refuses, before any I/O, a count outside 1…limit or a range leaving the 16-bit address space.
    static func check(address: Int, count: Int, limit: Int, endpoint: String, _ name: () -> String) throws(ModbusError)
    {
        if count < 1 || count > limit {
            throw ModbusError(
                .invalidRequest, operation: name(), endpoint: endpoint,
                detail: "count \(count) is outside 1…\(limit), the Modbus limit for this function")
        }
        if address < 0 || address + count > 65536 {
            throw ModbusError(
                .invalidRequest, operation: name(), endpoint: endpoint,
                detail: "addresses \(address)…\(address + count - 1) leave the Modbus range 0…65535")
        }
    }
}

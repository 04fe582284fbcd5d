import CModbus
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which addresses of each table a ``Server`` serves (per unit id). Reads or writes outside them get the
/// "illegal data address" exception, as a real device answers.
public struct RegisterLayout: Sendable, Hashable {
    public var coils: Range<Int>
    public var discreteInputs: Range<Int>
    public var inputRegisters: Range<Int>
    public var holdingRegisters: Range<Int>

    public init(
        coils: Range<Int> = 0..<10_000, discreteInputs: Range<Int> = 0..<10_000,
        inputRegisters: Range<Int> = 0..<10_000, holdingRegisters: Range<Int> = 0..<10_000
    ) {
        self.coils = coils
        self.discreteInputs = discreteInputs
        self.inputRegisters = inputRegisters
        self.holdingRegisters = holdingRegisters
    }

    /// The served addresses of `table`.
    public func range(_ table: Table) -> Range<Int> {
        switch table {
        case .coil: return coils
        case .discrete: return discreteInputs
        case .input: return inputRegisters
        case .holding: return holdingRegisters
        }
    }
}

/// Counters of a ``Server`` since it started.
public struct ServerStatistics: Sendable, Hashable {
    /// Connections accepted and kept.
    public var accepted: Int
    /// Connections accepted and closed at once because the server was at its connection cap.
    public var rejected: Int
    /// Connections the server closed: malformed framing, half frames, idle, or a peer that does not read.
    public var dropped: Int
    /// Complete frames handled.
    public var requests: Int
    /// Exception responses the server built itself (bad quantities, unserved functions, configured faults).
    public var exceptions: Int
}

/// A Modbus/TCP server of the four register tables, on loopback, for the simulator and for tests.
///
/// One thread runs a `poll()` loop over non-blocking sockets (poll has no `FD_SETSIZE` limit, unlike select).
/// The server reads and checks the MBAP framing itself, with a buffer per connection, and validates
/// quantities and byte counts against the frame length before handing a frame to libmodbus's
/// `modbus_reply` (libmodbus 3.1.6 lacks the checks added after CVE-2022-0367 and CVE-2024-10918, and sends
/// nothing at all for functions it does not know). A connection with a half frame is closed after
/// `frameTimeout`; one whose peer stops reading is closed when its socket buffer fills.
///
/// Values can be set and read from any thread while serving. With `units` the server holds one map per
/// unit id (many devices behind one port, like a gateway); without, one map answers every unit id.
public final class Server: Sendable {
    /// A failure the server can be told to simulate for a unit.
    public enum Fault: Sendable, Hashable {
        /// Answer every valid request with this exception.
        case exception(ModbusException)
        /// Answer every request this much later (the connection's next requests wait behind it).
        case delay(Duration)
        /// Read requests and never answer.
        case silent
    }

    /// Called on the server thread after a client's write was applied: unit, table, first address and the
    /// values now stored (coils as 0 or 1). It must return quickly (the server waits for it) and must not call
    /// ``stop()`` (which waits for the server thread, the one running the hook).
    public typealias WriteHook = @Sendable (_ unit: UInt8, _ table: Table, _ address: Int, _ values: [UInt16]) -> Void

    /// Limits of a server.
    public struct Options: Sendable, Hashable {
        /// Connections served at once; more are accepted and closed at once.
        public var maxConnections: Int
        /// How long a connection may hold an incomplete frame before it is closed.
        public var frameTimeout: Duration
        /// How long a connection may stay silent before it is closed (`nil`: never).
        public var idleTimeout: Duration?
        /// Must be `true` to listen on anything but a loopback address.
        public var allowNonLoopback: Bool

        public init(
            maxConnections: Int = 128, frameTimeout: Duration = .seconds(5), idleTimeout: Duration? = .seconds(300),
            allowNonLoopback: Bool = false
        ) {
            self.maxConnections = maxConnections
            self.frameTimeout = frameTimeout
            self.idleTimeout = idleTimeout
            self.allowNonLoopback = allowNonLoopback
        }
    }

    /// The address the server listens on.
    public let host: String
    /// The bound port (the one the system picked when asked for port 0).
    public let port: Int
    public let layout: RegisterLayout
    /// The unit ids with a map of their own, or `nil` when one map answers every unit id.
    public let units: [UInt8]?
    public let options: Options

    private let shared: ServerShared
    private let wakeWriteFD: Int32
    private let exited = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)

    /// Binds and starts serving at once.
    /// - Parameters:
    ///   - host: a numeric address; anything but loopback is refused unless `options.allowNonLoopback`.
    ///   - port: 0 lets the system pick; see ``port``.
    ///   - units: unit ids that each get their own map (others get "gateway target failed"); `nil` for one map.
    ///   - onWrite: see ``WriteHook``.
    public init(
        host: String = "127.0.0.1", port: Int = 0, layout: RegisterLayout = RegisterLayout(), units: [UInt8]? = nil,
        options: Options = Options(), onWrite: WriteHook? = nil
    ) throws(ModbusError) {
        let endpoint = "\(host):\(port)"
        func refuse(_ detail: String, errno: Int32 = 0) -> ModbusError {
            ModbusError(.invalidRequest, errno: errno, operation: "start server", endpoint: endpoint, detail: detail)
        }
        if !options.allowNonLoopback && fw_is_loopback(host) == 0 {
            throw refuse(
                "\(host) is not a numeric loopback address (127.0.0.1 or ::1); "
                    + "pass allowNonLoopback: true to serve other networks")
        }
        for table in Table.allCases {
            let range = layout.range(table)
            if range.lowerBound < 0 || range.upperBound > 65536 {
                throw refuse("the \(table.rawValue) range \(range) leaves the Modbus address space 0…65535")
            }
        }
        if let units, units.isEmpty { throw refuse("units is empty; pass nil to answer every unit id") }
        if options.maxConnections < 1 { throw refuse("maxConnections must be at least 1") }

        var maps: [UInt8: MappingBox] = [:]
        for unit in units ?? [0] {
            guard let box = MappingBox(layout) else {
                throw refuse("out of memory for the register map", errno: ENOMEM)
            }
            maps[unit] = box
        }
        var boundPort: Int32 = 0
        let listenFD = fw_tcp_listen(host, Int32(port), 128, &boundPort)
        if listenFD < 0 {
            let number = fw_errno()
            throw ModbusError(
                .other(number), errno: number, operation: "start server", endpoint: endpoint,
                detail: number == EADDRINUSE ? "the port is in use; pick another or pass 0" : "cannot listen")
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0, fw_set_nonblocking(pipeFDs[0]) == 0, fw_set_nonblocking(pipeFDs[1]) == 0 else {
            let number = fw_errno()
            Glibc.close(listenFD)
            throw ModbusError(.other(number), errno: number, operation: "start server", endpoint: endpoint)
        }
        guard let replyContext = modbus_new_tcp("127.0.0.1", 502) else {
            Glibc.close(listenFD)
            Glibc.close(pipeFDs[0])
            Glibc.close(pipeFDs[1])
            throw refuse("libmodbus could not create a context", errno: ENOMEM)
        }

        self.host = host
        self.port = Int(boundPort)
        self.layout = layout
        self.units = units
        self.options = options
        self.wakeWriteFD = pipeFDs[1]
        let shared = ServerShared(store: Store(maps: maps, anyUnit: units == nil), hook: onWrite)
        self.shared = shared
        let loop = ServerLoop(
            listenFD: listenFD, wakeFD: pipeFDs[0], replyContext: replyContext, shared: shared, layout: layout,
            options: options)
        let exited = self.exited
        let thread = Thread {
            loop.run()
            exited.signal()
        }
        thread.name = "modbus-server-\(boundPort)"
        thread.start()
    }

    deinit { stop() }

    /// Stops serving: closes the listening socket and every connection, and waits for the server thread.
    /// Later calls do nothing. The port can be bound again right after.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shared.stopping.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriteFD, &byte, 1)
        exited.wait()
        Glibc.close(wakeWriteFD)
    }

    /// Counters since start.
    public var statistics: ServerStatistics { shared.statistics }

    /// Stores `values` at `address…` of `table` (coils and discrete inputs: non-zero is on).
    /// - Parameter unit: which unit's map, required when the server has ``units``; ignored otherwise.
    public func set(_ table: Table, address: Int, values: [UInt16], unit: UInt8? = nil) throws(ModbusError) {
        let layout = self.layout
        let endpoint = "127.0.0.1:\(port)"
        try shared.store.withLock { store throws(ModbusError) in
            let map = try store.map(for: unit, endpoint: endpoint)
            let offset = try Self.offset(layout, table, address, values.count, endpoint, "set")
            let mapping = map.pointer.pointee
            for (index, value) in values.enumerated() {
                switch table {
                case .coil: mapping.tab_bits[offset + index] = value != 0 ? 1 : 0
                case .discrete: mapping.tab_input_bits[offset + index] = value != 0 ? 1 : 0
                case .input: mapping.tab_input_registers[offset + index] = value
                case .holding: mapping.tab_registers[offset + index] = value
                }
            }
        }
    }

    /// The values at `address…` of `table` (bits as 0 or 1).
    public func get(_ table: Table, address: Int, count: Int, unit: UInt8? = nil) throws(ModbusError) -> [UInt16] {
        let layout = self.layout
        let endpoint = "127.0.0.1:\(port)"
        return try shared.store.withLock { store throws(ModbusError) in
            let map = try store.map(for: unit, endpoint: endpoint)
            let offset = try Self.offset(layout, table, address, count, endpoint, "get")
            return map.values(table, offset: offset, count: count)
        }
    }

    /// Makes the server simulate `fault` for `unit` (every unit when `nil`); `fault == nil` clears it.
    /// A unit's own fault wins over the one set for every unit.
    public func setFault(_ fault: Fault?, unit: UInt8? = nil) {
        shared.store.withLock { store in
            if let unit { store.faults[unit] = fault } else { store.defaultFault = fault }
        }
    }

    private static func offset(
        _ layout: RegisterLayout, _ table: Table, _ address: Int, _ count: Int, _ endpoint: String, _ verb: String
    ) throws(ModbusError) -> Int {
        let range = layout.range(table)
        guard count >= 0, address >= range.lowerBound, address + count <= range.upperBound else {
            throw ModbusError(
                .invalidRequest, operation: "\(verb) \(table.rawValue) \(address)+\(count)", endpoint: endpoint,
                detail: "the server's \(table.rawValue) table covers \(range)")
        }
        return address - range.lowerBound
    }
}

/// A libmodbus register map, freed with its owner.
// @unchecked: the map is only read or written while holding the server's `Mutex<Store>`.
final class MappingBox: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<modbus_mapping_t>

    init?(_ layout: RegisterLayout) {
        guard
            let pointer = modbus_mapping_new_start_address(
                UInt32(layout.coils.lowerBound), UInt32(layout.coils.count),
                UInt32(layout.discreteInputs.lowerBound), UInt32(layout.discreteInputs.count),
                UInt32(layout.holdingRegisters.lowerBound), UInt32(layout.holdingRegisters.count),
                UInt32(layout.inputRegisters.lowerBound), UInt32(layout.inputRegisters.count))
        else { return nil }
        self.pointer = pointer
    }

    deinit { modbus_mapping_free(pointer) }

    func values(_ table: Table, offset: Int, count: Int) -> [UInt16] {
        let mapping = pointer.pointee
        return (offset..<offset + count).map { index in
            switch table {
            case .coil: return UInt16(mapping.tab_bits[index])
            case .discrete: return UInt16(mapping.tab_input_bits[index])
            case .input: return mapping.tab_input_registers[index]
            case .holding: return mapping.tab_registers[index]
            }
        }
    }
}

/// The maps and faults, shared by the server thread and the callers of `set`/`get`/`setFault`.
struct Store {
    var maps: [UInt8: MappingBox]
    let anyUnit: Bool
    var faults: [UInt8: Server.Fault] = [:]
    var defaultFault: Server.Fault?

    /// The map a request for `unit` is answered from, or `nil` when that unit is not served.
    func map(wire unit: UInt8) -> MappingBox? { anyUnit ? maps[0] : maps[unit] }

    func fault(for unit: UInt8) -> Server.Fault? { faults[unit] ?? defaultFault }

    func map(for unit: UInt8?, endpoint: String) throws(ModbusError) -> MappingBox {
        if anyUnit { return maps[0]! }
        guard let unit else {
            throw ModbusError(
                .invalidRequest, operation: "access register map", endpoint: endpoint,
                detail: "this server has one map per unit id; name the unit")
        }
        guard let map = maps[unit] else {
            throw ModbusError(
                .invalidRequest, operation: "access register map", endpoint: endpoint,
                detail: "unit \(unit) is not served; served units: \(maps.keys.sorted())")
        }
        return map
    }
}

/// State shared between a ``Server`` and its thread.
final class ServerShared: Sendable {
    let store: Mutex<Store>
    let hook: Server.WriteHook?
    let stopping = Atomic<Bool>(false)
    let accepted = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let exceptions = Atomic<Int>(0)

    init(store: consuming sending Store, hook: Server.WriteHook?) {
        self.store = Mutex(store)
        self.hook = hook
    }

    var statistics: ServerStatistics {
        ServerStatistics(
            accepted: accepted.load(ordering: .relaxed), rejected: rejected.load(ordering: .relaxed),
            dropped: dropped.load(ordering: .relaxed), requests: requests.load(ordering: .relaxed),
            exceptions: exceptions.load(ordering: .relaxed))
    }
}

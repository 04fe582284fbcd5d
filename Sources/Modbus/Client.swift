import CModbus
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a ``Client`` waits before reconnecting after connection failures in a row.
///
/// The first failure is retried at once (a lost connection is usually just re-established); from the second
/// one on, the client waits `initialDelay`, doubling up to `maximumDelay`, and meanwhile fails fast with
/// the last error instead of touching the network.
public struct ReconnectPolicy: Sendable, Hashable {
    public var initialDelay: Duration
    public var maximumDelay: Duration

    public init(initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(5)) {
        self.initialDelay = initialDelay
        self.maximumDelay = max(initialDelay, maximumDelay)
    }

    /// 100 ms doubling to 5 s.
    public static let standard = ReconnectPolicy()
    /// Never waits (tests, or callers with their own pacing).
    public static let immediate = ReconnectPolicy(initialDelay: .zero, maximumDelay: .zero)

    /// The wait after `failures` connection failures in a row.
    public func delay(afterFailures failures: Int) -> Duration {
        guard failures > 1 else { return .zero }
        var delay = initialDelay
        for _ in 2..<min(failures, 40) where delay < maximumDelay { delay *= 2 }
        return min(delay, maximumDelay)
    }
}

/// Counters of a ``Client`` since it was created.
public struct ClientStatistics: Sendable, Hashable {
    /// Requests handed to the connection (requests refused by the limit checks are not counted).
    public var requests: Int
    /// Of those, the ones that failed: exceptions, timeouts, connection failures, backing off.
    public var failures: Int
    /// Successful TCP connects.
    public var connects: Int
    /// Successful connects after the first one.
    public var reconnects: Int
}

/// A Modbus/TCP client for one device (host, port, unit id).
///
/// Every libmodbus call runs on a thread of an ``IOPool``, never on the Swift cooperative pool; the client's
/// requests are serialised on its own lane of that pool. The client connects on its first request, and after
/// a connection failure (reset, timeout, malformed answer) closes the socket and reconnects on a later
/// request, following its ``ReconnectPolicy``. After a timeout the socket is always replaced, so a late
/// answer can never be taken for the answer to the next request.
///
/// Errors are always ``ModbusError``.
///
/// A plain `await` of a request costs two thread switches. A poll loop that runs inside
/// `withTaskExecutorPreference(pool) { … }` (the client's ``IOPool``) costs none, and then matches a plain C
/// libmodbus loop in CPU per request.
public final class Client: Sendable {
    public let host: String
    public let port: Int
    public let unit: UInt8
    public let responseTimeout: Duration
    public let byteTimeout: Duration
    /// `host:port unit N`, as errors name it.
    public let endpoint: String

    private let pool: IOPool
    private let lane: IOPool.Lane
    private let session: Session
    private let isClosed = Atomic<Bool>(false)

    /// Creates a client; nothing is connected until the first request.
    /// - Parameters:
    ///   - host: a host name, an IPv4 or an IPv6 address.
    ///   - responseTimeout: how long to wait for the first byte of an answer (and for the TCP connect).
    ///   - byteTimeout: how long to wait between bytes of one answer.
    public convenience init(
        host: String, port: Int = 502, unit: UInt8 = 1,
        responseTimeout: Duration = .seconds(1), byteTimeout: Duration = .milliseconds(500),
        reconnect: ReconnectPolicy = .standard, pool: IOPool = .shared
    ) {
        self.init(
            host: host, port: port, unit: unit, responseTimeout: responseTimeout, byteTimeout: byteTimeout,
            reconnect: reconnect, pool: pool, descriptorLimit: fw_fd_setsize())
    }

    /// - Parameter descriptorLimit: sockets at or above this number are lent to libmodbus under a low
    ///   descriptor number (tests lower it to exercise that path without opening a thousand files).
    init(
        host: String, port: Int, unit: UInt8, responseTimeout: Duration, byteTimeout: Duration,
        reconnect: ReconnectPolicy, pool: IOPool, descriptorLimit: Int32
    ) {
        self.host = host
        self.port = port
        self.unit = unit
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
        let endpoint = "\(host.contains(":") ? "[\(host)]" : host):\(port) unit \(unit)"
        self.endpoint = endpoint
        self.pool = pool
        self.lane = pool.makeLane()
        self.session = Session(
            host: host, port: port, unit: unit, responseTimeout: responseTimeout, byteTimeout: byteTimeout,
            policy: reconnect, endpoint: endpoint, descriptorLimit: descriptorLimit)
    }

    /// Closes the connection and returns once the socket is closed (after the requests already queued).
    /// Every later request fails with ``ModbusError/Code/closed``.
    public func close() async {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let session = self.session
        await pool.run(on: lane) { session.close() }
    }

    /// Counters a daemon can export.
    public var statistics: ClientStatistics { session.statistics }

    /// Runs several requests in one trip to the I/O thread (one device poll costs one thread hop).
    ///
    /// `body` runs on a pool thread, so it must not block on anything but the ``Connection``'s requests.
    /// It may throw any error; errors of the connection are ``ModbusError``.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (inout Connection) throws -> T) async throws -> T {
        guard !isClosed.load(ordering: .relaxed) else { throw session.closedError("perform") }
        let session = self.session
        let result: Result<T, any Error> = await pool.run(on: lane) {
            var connection = Connection(session: session)
            return Result { try body(&connection) }
        }
        return try result.get()
    }

    private func request<T: Sendable>(
        _ name: @autoclosure () -> String, _ body: @escaping @Sendable (inout Connection) throws(ModbusError) -> T
    ) async throws(ModbusError) -> T {
        guard !isClosed.load(ordering: .relaxed) else { throw session.closedError(name()) }
        let session = self.session
        let result: Result<T, ModbusError> = await pool.run(on: lane) {
            var connection = Connection(session: session)
            do throws(ModbusError) {
                return .success(try body(&connection))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reads coils (FC 1); `count` 1…2000.
    public func readCoils(address: Int, count: Int) async throws(ModbusError) -> [Bool] {
        try await request("read coils") { connection throws(ModbusError) in
            try connection.readCoils(address: address, count: count)
        }
    }

    /// Reads discrete inputs (FC 2); `count` 1…2000.
    public func readDiscreteInputs(address: Int, count: Int) async throws(ModbusError) -> [Bool] {
        try await request("read discrete inputs") { connection throws(ModbusError) in
            try connection.readDiscreteInputs(address: address, count: count)
        }
    }

    /// Reads holding registers (FC 3); `count` 1…125.
    public func readHoldingRegisters(address: Int, count: Int) async throws(ModbusError) -> [UInt16] {
        try await request("read holding registers") { connection throws(ModbusError) in
            try connection.readHoldingRegisters(address: address, count: count)
        }
    }

    /// Reads input registers (FC 4); `count` 1…125.
    public func readInputRegisters(address: Int, count: Int) async throws(ModbusError) -> [UInt16] {
        try await request("read input registers") { connection throws(ModbusError) in
            try connection.readInputRegisters(address: address, count: count)
        }
    }

    /// Reads any table; bits come back as 0 or 1.
    public func read(_ table: Table, address: Int, count: Int) async throws(ModbusError) -> [UInt16] {
        try await request("read \(table.rawValue)") { connection throws(ModbusError) in
            try connection.read(table, address: address, count: count)
        }
    }

    /// Writes one coil (FC 5).
    public func writeCoil(address: Int, value: Bool) async throws(ModbusError) {
        try await request("write coil") { connection throws(ModbusError) in
            try connection.writeCoil(address: address, value: value)
        }
    }

    /// Writes coils (FC 15); 1…1968 values.
    public func writeCoils(address: Int, values: [Bool]) async throws(ModbusError) {
        try await request("write coils") { connection throws(ModbusError) in
            try connection.writeCoils(address: address, values: values)
        }
    }

    /// Writes one holding register (FC 6).
    public func writeRegister(address: Int, value: UInt16) async throws(ModbusError) {
        try await request("write register") { connection throws(ModbusError) in
            try connection.writeRegister(address: address, value: value)
        }
    }

    /// Writes holding registers (FC 16); 1…123 values.
    public func writeRegisters(address: Int, values: [UInt16]) async throws(ModbusError) {
        try await request("write registers") { connection throws(ModbusError) in
            try connection.writeRegisters(address: address, values: values)
        }
    }

    /// Writes coils or holding registers: one value with FC 5/6, several with FC 15/16 (coils: non-zero is on).
    public func write(_ table: Table, address: Int, values: [UInt16]) async throws(ModbusError) {
        try await request("write \(table.rawValue)") { connection throws(ModbusError) in
            try connection.write(table, address: address, values: values)
        }
    }
}

/// The synchronous face of a ``Client`` inside ``Client/perform(_:)``: same requests, same errors, run
/// directly on the client's I/O thread. Only valid inside the closure it was given to.
public struct Connection {
    fileprivate let session: Session

    fileprivate init(session: Session) { self.session = session }

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
        let name = { "read \(table.rawValue) \(address)+\(count)" }
        try Limits.check(address: address, count: count, limit: table.maxReadCount, endpoint: session.endpoint, name)
        var result = [UInt8](repeating: 0, count: count)
        let input = table == .discrete
        _ = try result.withUnsafeMutableBufferPointer { buffer throws(ModbusError) in
            try session.call(name()) { context in
                input
                    ? modbus_read_input_bits(context, Int32(address), Int32(count), buffer.baseAddress)
                    : modbus_read_bits(context, Int32(address), Int32(count), buffer.baseAddress)
            }
        }
        return result
    }

    private func readRegisters(_ table: Table, address: Int, count: Int) throws(ModbusError) -> [UInt16] {
        let name = { "read \(table.rawValue) \(address)+\(count)" }
        try Limits.check(address: address, count: count, limit: table.maxReadCount, endpoint: session.endpoint, name)
        var result = [UInt16](repeating: 0, count: count)
        let input = table == .input
        _ = try result.withUnsafeMutableBufferPointer { buffer throws(ModbusError) in
            try session.call(name()) { context in
                input
                    ? modbus_read_input_registers(context, Int32(address), Int32(count), buffer.baseAddress)
                    : modbus_read_registers(context, Int32(address), Int32(count), buffer.baseAddress)
            }
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

/// The libmodbus context of one client and its connection state.
// @unchecked: the mutable fields are only touched by jobs of the client's IOPool lane, which never run
// concurrently and are ordered by the pool's mutex; the counters are atomics.
final class Session: @unchecked Sendable {
    let host: String
    let port: Int
    let unit: UInt8
    let responseTimeout: Duration
    let byteTimeout: Duration
    let policy: ReconnectPolicy
    let endpoint: String
    /// Sockets at or above this number are lent to libmodbus under a low number (its select() needs one).
    let descriptorLimit: Int32

    private var context: OpaquePointer?
    /// The connected socket, or -1.
    private(set) var descriptor: Int32 = -1
    private var connected = false
    private var closed = false
    private var failuresInARow = 0
    private var retryAt: ContinuousClock.Instant?
    private var lastError: ModbusError?

    private let requests = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let connects = Atomic<Int>(0)

    init(
        host: String, port: Int, unit: UInt8, responseTimeout: Duration, byteTimeout: Duration,
        policy: ReconnectPolicy, endpoint: String, descriptorLimit: Int32
    ) {
        self.descriptorLimit = descriptorLimit
        self.host = host
        self.port = port
        self.unit = unit
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
        self.policy = policy
        self.endpoint = endpoint
    }

    deinit {
        if let context {
            modbus_close(context)
            modbus_free(context)
        }
    }

    var statistics: ClientStatistics {
        let connects = connects.load(ordering: .relaxed)
        return ClientStatistics(
            requests: requests.load(ordering: .relaxed), failures: failures.load(ordering: .relaxed),
            connects: connects, reconnects: max(0, connects - 1))
    }

    func closedError(_ operation: String) -> ModbusError {
        ModbusError(.closed, operation: operation, endpoint: endpoint)
    }

    func close() {
        closed = true
        connected = false
        descriptor = -1
        if let context {
            modbus_close(context)
            modbus_free(context)
        }
        context = nil
    }

    /// Runs one libmodbus call on a connected context and turns a -1 into a ``ModbusError``, reading errno
    /// on this thread right after the call.
    func call(_ operation: @autoclosure () -> String, _ body: (OpaquePointer) -> Int32) throws(ModbusError) -> Int32 {
        requests.add(1, ordering: .relaxed)
        let context: OpaquePointer
        do throws(ModbusError) {
            context = try connectIfNeeded(operation)
        } catch {
            failures.add(1, ordering: .relaxed)
            throw error
        }
        let rc: Int32
        let number: Int32
        if descriptor < descriptorLimit {
            rc = body(context)
            number = fw_errno()
        } else {
            // libmodbus would FD_SET this descriptor past the end of its fd_set: for this one call it gets the
            // worker's low slot, a duplicate of the socket, which is parked on /dev/null again right after.
            guard let slot = IOPool.currentDescriptorSlot, dup2(descriptor, slot.descriptor) >= 0 else {
                failures.add(1, ordering: .relaxed)
                throw ModbusError(
                    .other(EMFILE), errno: EMFILE, operation: operation(), endpoint: endpoint,
                    detail: "socket \(descriptor) is above FD_SETSIZE and this I/O thread has no low descriptor "
                        + "to lend libmodbus; create the IOPool before opening many files")
            }
            modbus_set_socket(context, slot.descriptor)
            rc = body(context)
            number = fw_errno()
            modbus_set_socket(context, descriptor)
            dup2(slot.null, slot.descriptor)
        }
        if rc >= 0 {
            failuresInARow = 0
            return rc
        }
        failures.add(1, ordering: .relaxed)
        let error = ModbusError(
            ModbusError.code(forErrno: number), errno: number, operation: operation(), endpoint: endpoint)
        if case .exception = error.code {
            // The device answered, so the link works.
            failuresInARow = 0
        } else if error.isConnectionFailure {
            // Replacing the socket is what keeps a late answer from being read as the next response.
            modbus_close(context)
            descriptor = -1
            connected = false
            recordFailure(error)
        }
        throw error
    }

    private func recordFailure(_ error: ModbusError) {
        failuresInARow += 1
        lastError = error
        retryAt = ContinuousClock.now + policy.delay(afterFailures: failuresInARow)
    }

    private func connectIfNeeded(_ operation: () -> String) throws(ModbusError) -> OpaquePointer {
        if closed { throw closedError(operation()) }
        if connected, let context { return context }
        if let retryAt, let lastError, ContinuousClock.now < retryAt {
            var error = lastError
            error.operation = operation()
            error.detail = "not retried yet: backing off after \(failuresInARow) connection failures in a row"
            throw error
        }
        let context: OpaquePointer
        if let existing = self.context {
            context = existing
        } else {
            guard let created = modbus_new_tcp_pi(host, String(port)) else {
                let number = fw_errno()
                throw ModbusError(
                    .invalidRequest, errno: number, operation: operation(), endpoint: endpoint,
                    detail: "libmodbus refused the host or port")
            }
            modbus_set_slave(created, Int32(unit))
            let (responseSeconds, responseMicros) = Self.timeval(responseTimeout, minimum: 1)
            modbus_set_response_timeout(created, responseSeconds, responseMicros)
            let (byteSeconds, byteMicros) = Self.timeval(byteTimeout, minimum: 0)
            modbus_set_byte_timeout(created, byteSeconds, byteMicros)
            self.context = created
            context = created
        }
        // Connecting here rather than with modbus_connect: libmodbus 3.1.6 waits for the connect with select()
        // (unsafe for descriptors at or above FD_SETSIZE) and reports every failure, even a name that does not
        // resolve, as ECONNREFUSED.
        var resolveError: Int32 = 0
        let (seconds, attoseconds) = responseTimeout.components
        let milliseconds = Int32(clamping: max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        let socket = fw_tcp_connect(host, String(port), milliseconds, &resolveError)
        if socket < 0 {
            let number = fw_errno()
            let error: ModbusError
            if resolveError != 0 {
                error = ModbusError(
                    .hostUnreachable, operation: operation(), endpoint: endpoint,
                    detail: "cannot resolve \(host): \(String(cString: gai_strerror(resolveError)))")
            } else {
                error = ModbusError(
                    ModbusError.code(forErrno: number), errno: number, operation: operation(), endpoint: endpoint,
                    detail: number == ETIMEDOUT ? "TCP connect did not complete" : nil)
            }
            recordFailure(error)
            throw error
        }
        modbus_set_socket(context, socket)
        descriptor = socket
        connected = true
        connects.add(1, ordering: .relaxed)
        return context
    }

    private static func timeval(_ duration: Duration, minimum: Int64) -> (UInt32, UInt32) {
        let (seconds, attoseconds) = duration.components
        let total = max(minimum, max(0, seconds) * 1_000_000 + attoseconds / 1_000_000_000_000)
        return (UInt32(clamping: total / 1_000_000), UInt32(total % 1_000_000))
    }

}

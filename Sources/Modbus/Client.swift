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

import CModbus
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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

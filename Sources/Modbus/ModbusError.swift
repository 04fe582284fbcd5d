import CModbus

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A Modbus exception code sent back by a server (Modbus application protocol 1.1b3, section 7).
public enum ModbusException: UInt8, Sendable, Hashable, CaseIterable, Codable {
    case illegalFunction = 0x01
    case illegalDataAddress = 0x02
    case illegalDataValue = 0x03
    case serverDeviceFailure = 0x04
    case acknowledge = 0x05
    case serverBusy = 0x06
    case negativeAcknowledge = 0x07
    case memoryParity = 0x08
    case gatewayPathUnavailable = 0x0A
    case gatewayTargetFailed = 0x0B

    /// The name the specification uses, for messages.
    public var name: String {
        switch self {
        case .illegalFunction: return "illegal function"
        case .illegalDataAddress: return "illegal data address"
        case .illegalDataValue: return "illegal data value"
        case .serverDeviceFailure: return "server device failure"
        case .acknowledge: return "acknowledge"
        case .serverBusy: return "server device busy"
        case .negativeAcknowledge: return "negative acknowledge"
        case .memoryParity: return "memory parity error"
        case .gatewayPathUnavailable: return "gateway path unavailable"
        case .gatewayTargetFailed: return "gateway target device failed to respond"
        }
    }
}

/// Why a Modbus request failed: the kind (`code`), the raw `errno` libmodbus left, what was being done
/// (`operation`) and with whom (`endpoint`).
public struct ModbusError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of failure a caller can act on.
    public enum Code: Sendable, Hashable {
        /// The server answered with a Modbus exception.
        case exception(ModbusException)
        /// No (complete) answer within the response or byte timeout; the connection was closed.
        case timeout
        /// Nothing listens at the address (or the TCP connect failed).
        case connectionRefused
        /// The connection broke (reset, closed by the peer, broken pipe).
        case connectionReset
        /// The host name does not resolve, or the host or network is unreachable.
        case hostUnreachable
        /// The answer was malformed or did not match the request (wrong transaction, length, unit).
        case invalidResponse
        /// The request itself is invalid (count, address, value); refused before any I/O.
        case invalidRequest
        /// The client was closed (or the server stopped).
        case closed
        /// Any other errno.
        case other(Int32)
    }

    public var code: Code
    /// The errno read right after the failing libmodbus call, on its thread (0 when none applies).
    public var errno: Int32
    /// What was being done, e.g. `read holding 100+10`.
    public var operation: String
    /// `host:port unit N` of the client, or the server's address.
    public var endpoint: String
    /// Extra detail (e.g. which argument is out of range).
    public var detail: String?

    public init(_ code: Code, errno: Int32 = 0, operation: String, endpoint: String, detail: String? = nil) {
        self.code = code
        self.errno = errno
        self.operation = operation
        self.endpoint = endpoint
        self.detail = detail
    }

    /// The Modbus exception, when the server sent one.
    public var exception: ModbusException? {
        if case .exception(let exception) = code { return exception }
        return nil
    }

    /// Whether the failure concerns the connection (so the client closed it and reconnects later)
    /// rather than the request (an exception or an invalid request, after which the connection is fine).
    public var isConnectionFailure: Bool {
        switch code {
        case .exception, .invalidRequest, .closed: return false
        default: return true
        }
    }

    public var description: String {
        var text = "\(operation) at \(endpoint): \(reason)"
        if let detail { text += " (\(detail))" }
        switch code {
        case .exception, .other, .invalidResponse: break  // the reason already says it
        default: if errno != 0 { text += " [errno \(errno)]" }
        }
        if let hint { text += "; \(hint)" }
        return text
    }

    /// The failure in a few words ("connection refused", "Modbus exception 2 (illegal data address)"),
    /// without the request, the endpoint or the hint: for alert-log messages an operator reads per point.
    public var summary: String { reason }

    private var reason: String {
        switch code {
        case .exception(let exception):
            return "Modbus exception \(exception.rawValue) (\(exception.name))"
        case .timeout: return "no answer within the timeout"
        case .connectionRefused: return "connection refused"
        case .connectionReset: return "connection lost"
        case .hostUnreachable: return "host unreachable or name does not resolve"
        case .invalidResponse: return "invalid response (\(Self.libmodbusMessage(errno)))"
        case .invalidRequest: return "invalid request"
        case .closed: return "client is closed"
        case .other(let number): return "\(Self.libmodbusMessage(number)) [errno \(number)]"
        }
    }

    private var hint: String? {
        switch code {
        case .exception(.illegalDataAddress), .exception(.illegalFunction):
            return "check the register map (address, table, unit id) in the device profile"
        case .timeout: return "check that the device is powered and that the unit id is right"
        case .connectionRefused: return "check host and port, and that the device accepts Modbus/TCP"
        case .hostUnreachable: return "check the host name or address and the network path"
        default: return nil
        }
    }

    /// libmodbus's own text for an errno (it knows its EMB* values as well as the system's).
    static func libmodbusMessage(_ number: Int32) -> String {
        guard let text = modbus_strerror(number) else { return "errno \(number)" }
        return String(cString: text)
    }

    /// Maps the errno of a failed libmodbus call to a kind. Must be given the errno read with
    /// `fw_errno()` right after the call, on the same thread.
    static func code(forErrno number: Int32) -> Code {
        let base = fw_modbus_enobase()
        if number > base && number <= fw_embxgtar(), let exception = ModbusException(rawValue: UInt8(number - base)) {
            return .exception(exception)
        }
        switch number {
        case fw_embbaddata(), fw_embmdata(), fw_embbadexc(), fw_embunkexc(), fw_embbadcrc(), fw_embbadslave():
            return .invalidResponse
        case fw_embxilfun()...fw_embxgtar():
            // 9 is not an exception code; a server sending it answered nonsense.
            return .invalidResponse
        case ETIMEDOUT, EINPROGRESS, EAGAIN: return .timeout
        case ECONNREFUSED: return .connectionRefused
        case ECONNRESET, EPIPE, EBADF, ENOTCONN, ECONNABORTED, ESHUTDOWN: return .connectionReset
        case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN: return .hostUnreachable
        default: return .other(number)
        }
    }
}

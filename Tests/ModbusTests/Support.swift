import CModbus
import Foundation
import Testing

@testable import Modbus

/// A raw TCP connection to a test server, for sending bytes no well-behaved client would send.
final class RawPeer {
    let fd: Int32

    init(port: Int, receiveTimeoutMilliseconds: Int32 = 3000) throws {
        let fd = fw_tcp_connect_loopback(Int32(port))
        guard fd >= 0 else {
            throw ModbusError(.connectionRefused, errno: fw_errno(), operation: "raw connect", endpoint: "\(port)")
        }
        self.fd = fd
        fw_set_recv_timeout(fd, receiveTimeoutMilliseconds)
    }

    deinit { Glibc.close(fd) }

    /// Sends all of `bytes`; false when the socket refused (closed by the server, or a send timeout).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { fw_send(fd, $0.baseAddress, UInt($0.count)) }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    /// Up to `count` bytes: fewer when the server closed the connection or the receive timeout passed.
    func receive(_ count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(count, 1))
        while result.count < count {
            let got = recv(fd, &chunk, count - result.count, 0)
            if got <= 0 { break }
            result += chunk[0..<got]
        }
        return result
    }

    /// Whether the server closed this connection (end of stream or reset) before the receive timeout,
    /// discarding whatever it still had to read.
    func closedByServer(maxReads: Int = 100_000) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<maxReads {
            let got = recv(fd, &chunk, chunk.count, 0)
            if got > 0 { continue }
            if got == 0 { return true }
            return fw_errno() == ECONNRESET
        }
        return false
    }
}

/// An MBAP frame: transaction id, protocol id, length (computed unless given), unit and PDU.
func frame(
    transaction: UInt16 = 0x0102, protocolID: UInt16 = 0, length: Int? = nil, unit: UInt8 = 1, pdu: [UInt8]
) -> [UInt8] {
    let length = length ?? pdu.count + 1
    return [
        UInt8(transaction >> 8), UInt8(transaction & 0xFF), UInt8(protocolID >> 8), UInt8(protocolID & 0xFF),
        UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), unit,
    ] + pdu
}

/// The 9-byte exception response a server must send for `request`.
func exceptionResponse(to request: [UInt8], _ exception: ModbusException) -> [UInt8] {
    [request[0], request[1], 0, 0, 0, 3, request[6], request[7] | 0x80, exception.rawValue]
}

/// Big-endian bytes of a 16-bit value.
func be(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

/// How many descriptors this process holds.
func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
}

/// A test client with short timeouts and no reconnect backoff.
func testClient(_ server: Server, unit: UInt8 = 1, reconnect: ReconnectPolicy = .immediate) -> Client {
    Client(
        host: "127.0.0.1", port: server.port, unit: unit, responseTimeout: .seconds(2),
        byteTimeout: .milliseconds(500), reconnect: reconnect)
}

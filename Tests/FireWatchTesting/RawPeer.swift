import CModbus
import Foundation
import Modbus

/// A raw TCP connection to a test server, for sending bytes no well-behaved client would send.
public final class RawPeer {
    public let fd: Int32

    public init(port: Int, receiveTimeoutMilliseconds: Int32 = 3000) throws {
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
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { fw_send(fd, $0.baseAddress, UInt($0.count)) }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    /// Up to `count` bytes: fewer when the server closed the connection or the receive timeout passed.
    public func receive(_ count: Int) -> [UInt8] {
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
    public func closedByServer(maxReads: Int = 100_000) -> Bool {
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
public func frame(
    transaction: UInt16 = 0x0102, protocolID: UInt16 = 0, length: Int? = nil, unit: UInt8 = 1, pdu: [UInt8]
) -> [UInt8] {
    let length = length ?? pdu.count + 1
    return [
        UInt8(transaction >> 8), UInt8(transaction & 0xFF), UInt8(protocolID >> 8), UInt8(protocolID & 0xFF),
        UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), unit,
    ] + pdu
}

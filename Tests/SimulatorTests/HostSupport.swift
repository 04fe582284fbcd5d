import CModbus
import FireSafety
import Foundation
import Gateway
import Modbus
import Synchronization
import Testing

@testable import Simulator
import FireWatchTesting

/// The bundled example site, with the shipped profiles.
func loadExampleSite() throws -> LoadedSite {
    try SiteLoader(shippedDevices: Repository.root + "/devices").load(path: Repository.root + "/examples/site.yaml")
}

/// A client for a served device, with short timeouts and no reconnect backoff.
func client(for device: ServedDevice) -> Client {
    Client(
        host: "127.0.0.1", port: device.port, unit: UInt8(device.unit), responseTimeout: .seconds(2),
        byteTimeout: .milliseconds(500), reconnect: .immediate)
}

/// A raw TCP connection for sending bytes no well-behaved client would send.
final class RawPeer {
    let fd: Int32

    init(port: Int) throws {
        let fd = fw_tcp_connect_loopback(Int32(port))
        guard fd >= 0 else {
            throw ModbusError(.connectionRefused, errno: fw_errno(), operation: "raw connect", endpoint: "\(port)")
        }
        self.fd = fd
        fw_set_recv_timeout(fd, 500)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { fw_send(fd, $0.baseAddress, UInt($0.count)) }
            if count <= 0 { return }
            sent += count
        }
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
}

/// An MBAP frame: transaction id, protocol 0, length (computed unless given), unit and PDU.
func frame(length: Int? = nil, unit: UInt8 = 1, pdu: [UInt8]) -> [UInt8] {
    let length = length ?? pdu.count + 1
    return [0x01, 0x02, 0, 0, UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), unit] + pdu
}

/// Whether a value decoded from the wire is the one the model serves (numbers to the point's resolution).
func sameValue(_ read: Value?, _ model: SimValue?, resolution: Double) -> Bool {
    switch (read, model) {
    case (.number(let a), .number(let b)?): return abs(a - b) <= resolution / 2 + 1e-9
    case (.name(let a), .name(let b)?): return a == b
    case (.flag(let a), .flag(let b)?): return a == b
    case (.number(let a), .flag(let b)?): return (a != 0) == b
    case (.flag(let a), .number(let b)?): return a == (b != 0)
    default: return false
    }
}


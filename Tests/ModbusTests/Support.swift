import CModbus
import Foundation
import Testing

@testable import Modbus


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

import CModbus
import FireWatchTesting
import Foundation
import Testing

@testable import Modbus

/// A recorded write without its time, to compare with what a test sent.
private struct Seen: Hashable, CustomStringConvertible {
    var unit: UInt8
    var function: UInt8
    var address: Int
    var values: [UInt16]

    init(_ unit: UInt8, _ function: UInt8, _ address: Int, _ values: [UInt16]) {
        self.unit = unit
        self.function = function
        self.address = address
        self.values = values
    }

    init(_ write: ModbusTap.Write) { self.init(write.unit, write.function, write.address, write.values) }

    var description: String { "unit \(unit) fc\(function) @\(address) \(values)" }
}

private func seen(_ tap: ModbusTap) -> [Seen] { tap.writes.map(Seen.init) }

/// A client of `port` (the tap's) with short timeouts.
private func client(port: Int, unit: UInt8) -> Client {
    Client(
        host: "127.0.0.1", port: port, unit: unit, responseTimeout: .seconds(2), byteTimeout: .milliseconds(500),
        reconnect: .immediate)
}

/// The write-single-register response for `request` (an echo of its first 12 bytes).
private func echo(_ request: [UInt8]) -> [UInt8] { Array(request[0..<12]) }

/// The inodes of the IPv4 TCP sockets with local port `local` or remote port `remote`, in any process.
private func tcpInodes(localPort local: Int, remotePort remote: Int) -> Set<String> {
    // Read to the end: procfs hands the table out a page per read, and a one-read reader sees only the start.
    guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp"), let data = try? handle.readToEnd() else {
        return []
    }
    try? handle.close()
    var inodes: Set<String> = []
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        guard fields.count > 9 else { continue }
        let localPort = fields[1].split(separator: ":").last.flatMap { Int($0, radix: 16) }
        let remotePort = fields[2].split(separator: ":").last.flatMap { Int($0, radix: 16) }
        if localPort == local || remotePort == remote { inodes.insert(String(fields[9])) }
    }
    return inodes
}

/// The inodes of the sockets this process has open.
private func openSocketInodes() -> Set<String> {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return Set(
        fds.compactMap { fd in
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
                link.hasPrefix("socket:[")
            else { return nil }
            return String(link.dropFirst(8).dropLast())
        })
}

/// How many threads of this process carry a name starting with `prefix`.
private func threads(named prefix: String) -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.filter { task in
        let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
        return name?.hasPrefix(prefix) == true
    }.count
}

@Suite("Modbus tap")
struct ModbusTapTests {
    @Test("records every write through it, no read, and forwards both ways")
    func recordsWrites() async throws {
        let server = try Server()
        defer { server.stop() }
        let tap = try ModbusTap(target: server.port)
        defer { tap.close() }
        try server.set(.holding, address: 50, values: [11, 22, 33])
        try server.set(.input, address: 7, values: [0xABCD])
        let start = ContinuousClock.now

        let seven = client(port: tap.port, unit: 7)
        #expect(try await seven.readHoldingRegisters(address: 50, count: 3) == [11, 22, 33])
        try await seven.writeCoil(address: 3, value: true)
        try await seven.writeRegister(address: 9, value: 0xBEEF)
        #expect(try await seven.readInputRegisters(address: 7, count: 1) == [0xABCD])
        try await seven.writeRegisters(address: 100, values: [1, 2, 0xFFFF])
        // Nine coils: the tenth bit on is padding that must not be read as a coil.
        try await seven.writeCoils(address: 20, values: [true, false, true, true, false, false, false, false, true])
        try await seven.writeCoil(address: 3, value: false)
        let two = client(port: tap.port, unit: 2)
        try await two.writeRegister(address: 9, value: 0x1234)
        #expect(try await two.readCoils(address: 0, count: 8) == Array(repeating: false, count: 8))

        let expected = [
            Seen(7, 5, 3, [1]), Seen(7, 6, 9, [0xBEEF]), Seen(7, 16, 100, [1, 2, 0xFFFF]),
            Seen(7, 15, 20, [1, 0, 1, 1, 0, 0, 0, 0, 1]), Seen(7, 5, 3, [0]), Seen(2, 6, 9, [0x1234]),
        ]
        #expect(seen(tap) == expected)
        let times = tap.writes.map(\.at)
        #expect(times == times.sorted())
        #expect(times.allSatisfy { $0 >= start && $0 <= .now })

        // The values reached the server: read back directly and through the tap.
        #expect(try server.get(.coil, address: 3, count: 1) == [0])
        #expect(try server.get(.holding, address: 9, count: 1) == [0x1234])
        #expect(try server.get(.holding, address: 100, count: 3) == [1, 2, 0xFFFF])
        #expect(try server.get(.coil, address: 20, count: 10) == [1, 0, 1, 1, 0, 0, 0, 0, 1, 0])
        #expect(try await seven.readHoldingRegisters(address: 100, count: 3) == [1, 2, 0xFFFF])
        #expect(try await seven.readHoldingRegisters(address: 9, count: 1) == [0x1234])
        #expect(
            try await seven.readCoils(address: 20, count: 9) == [true, false, true, true, false, false, false, false, true])
        #expect(try await seven.readCoils(address: 3, count: 1) == [false])
        #expect(seen(tap) == expected, "reads are not recorded")

        #expect(tap.writes(function: ModbusTap.writeSingleCoil).map(Seen.init) == [expected[0], expected[4]])
        #expect(tap.writes(function: 6, address: 9).map(Seen.init) == [expected[1], expected[5]])
        #expect(tap.writes(function: 6, address: 9, unit: 2).map(Seen.init) == [expected[5]])
        #expect(tap.writes(function: 16, address: 101).isEmpty)
        #expect(tap.connections == 2)

        await seven.close()
        await two.close()
    }

    @Test("a frame split over two TCP sends is one write")
    func splitFrame() async throws {
        let server = try Server()
        defer { server.stop() }
        let tap = try ModbusTap(target: server.port)
        defer { tap.close() }
        let peer = try RawPeer(port: tap.port)
        let request = frame(
            transaction: 0x0A0B, unit: 3, pdu: [0x10, 0x00, 0x28, 0x00, 0x02, 0x04, 0x12, 0x34, 0xAB, 0xCD])

        #expect(peer.send(Array(request[0..<5])))
        try await Task.sleep(for: .milliseconds(100))
        #expect(tap.writes.isEmpty)
        #expect(peer.send(Array(request[5...])))
        #expect(peer.receive(12) == [0x0A, 0x0B, 0, 0, 0, 6, 3, 0x10, 0x00, 0x28, 0x00, 0x02])

        #expect(seen(tap) == [Seen(3, 16, 40, [0x1234, 0xABCD])])
        #expect(try server.get(.holding, address: 40, count: 2) == [0x1234, 0xABCD])
    }

    @Test("frames coalesced in one send, and a frame sent a byte at a time, are each parsed")
    func coalescedAndTrickled() async throws {
        let server = try Server()
        defer { server.stop() }
        let tap = try ModbusTap(target: server.port)
        defer { tap.close() }
        let peer = try RawPeer(port: tap.port)
        let first = frame(transaction: 1, unit: 1, pdu: [0x06, 0x00, 0x01, 0x00, 0x2A])
        let read = frame(transaction: 2, unit: 1, pdu: [0x03, 0x00, 0x01, 0x00, 0x01])
        let coil = frame(transaction: 3, unit: 1, pdu: [0x05, 0x00, 0x05, 0xFF, 0x00])
        // Not Modbus (protocol id 1): forwarded, never recorded.
        let foreign = frame(transaction: 4, protocolID: 1, unit: 1, pdu: [0x06, 0x00, 0x02, 0x00, 0x01])

        #expect(peer.send(first + read + coil))
        #expect(peer.receive(12) == echo(first))
        #expect(peer.receive(11) == [0, 2, 0, 0, 0, 5, 1, 0x03, 0x02, 0x00, 0x2A])
        #expect(peer.receive(12) == echo(coil))
        #expect(seen(tap) == [Seen(1, 6, 1, [42]), Seen(1, 5, 5, [1])])

        let trickled = frame(transaction: 5, unit: 9, pdu: [0x0F, 0x00, 0x10, 0x00, 0x03, 0x01, 0b0000_0101])
        for byte in trickled {
            #expect(peer.send([byte]))
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(peer.receive(12) == [0, 5, 0, 0, 0, 6, 9, 0x0F, 0x00, 0x10, 0x00, 0x03])
        #expect(seen(tap) == [Seen(1, 6, 1, [42]), Seen(1, 5, 5, [1]), Seen(9, 15, 16, [1, 0, 1])])
        #expect(try server.get(.coil, address: 16, count: 3) == [1, 0, 1])

        _ = peer.send(foreign)
        _ = peer.closedByServer()
        #expect(seen(tap).count == 3)
    }

    @Test("close ends every connection and thread and closes every socket, at once and more than once")
    func closing() async throws {
        let server = try Server()
        defer { server.stop() }
        let tap = try ModbusTap(target: server.port)
        let name = "mbtap-\(tap.port)-"
        let peers = try (0..<3).map { _ in try RawPeer(port: tap.port) }
        let modbus = client(port: tap.port, unit: 1)
        try await modbus.writeRegister(address: 1, value: 5)
        for (index, peer) in peers.enumerated() {
            let request = frame(transaction: UInt16(index), pdu: [0x06, 0x00, 0x02, 0x00, UInt8(index)])
            #expect(peer.send(request))
            #expect(peer.receive(12) == echo(request))
        }
        #expect(tap.connections == 4)
        // The tap's sockets: its listener and accepted ones have its port, and only it connects to the server.
        let tapSockets = openSocketInodes().intersection(tcpInodes(localPort: tap.port, remotePort: server.port))
        #expect(tapSockets.count == 9, "the listener, and two sockets per connection")
        // Each thread names itself once it runs: a pump just started may not have yet (seen once under load).
        #expect(await eventually { threads(named: name) == 9 }, "the accepting thread, and two per connection")

        let started = ContinuousClock.now
        tap.close()
        tap.close()
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(tap.connections == 0)
        #expect(openSocketInodes().isDisjoint(with: tapSockets), "every socket of the tap is closed")
        // close() returns once every thread's last step is done; the kernel lists a thread a moment longer.
        #expect(await eventually { threads(named: name) == 0 }, "every thread of the tap has ended")
        for peer in peers { #expect(peer.closedByServer()) }
        let again = fw_tcp_connect_loopback(Int32(tap.port))
        if again >= 0 { Glibc.close(again) }
        #expect(again < 0, "the tap no longer listens")
        #expect(tap.writes.count == 4, "the record outlives the tap")
        await modbus.close()
    }
}

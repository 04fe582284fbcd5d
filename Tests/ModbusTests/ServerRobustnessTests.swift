import CModbus
import Foundation
import Testing

@testable import Modbus
import FireWatchTesting

/// Bad input over raw sockets; after each case a well-behaved client must still read correctly.
@Suite("Server robustness")
struct ServerRobustnessTests {
    let server: Server
    let client: Client

    init() throws {
        server = try Server(options: Server.Options(maxConnections: 16, frameTimeout: .milliseconds(300)))
        try server.set(.holding, address: 0, values: [0x1234, 0x5678, 9])
        client = testClient(server)
    }

    /// The server still serves a well-behaved client correctly.
    func expectHealthy(_ comment: Comment? = nil) async throws {
        #expect(try await client.readHoldingRegisters(address: 0, count: 3) == [0x1234, 0x5678, 9], comment)
    }

    @Test("addresses other than loopback are refused unless allowed explicitly")
    func loopbackOnly() {
        for host in ["0.0.0.0", "::", "192.0.2.1", "localhost"] {
            #expect(throws: ModbusError.self, "\(host)") { try Server(host: host) }
        }
    }

    @Test("random bytes")
    func randomBytes() async throws {
        var generator = SplitMix64(seed: 0xF1BE)
        for round in 0..<20 {
            let peer = try RawPeer(port: server.port, receiveTimeoutMilliseconds: 500)
            peer.send((0..<(1 + round * 37)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try await expectHealthy("round \(round)")
        }
    }

    @Test("a truncated header, then the peer leaves")
    func truncatedHeader() async throws {
        let peer = try RawPeer(port: server.port)
        peer.send([0x00, 0x01, 0x00])
        try await expectHealthy()
    }

    @Test("a protocol id other than 0 closes the connection")
    func foreignProtocol() async throws {
        let peer = try RawPeer(port: server.port)
        peer.send(frame(protocolID: 1, pdu: [3] + be(0) + be(1)))
        #expect(peer.closedByServer())
        try await expectHealthy()
    }

    @Test("absurd MBAP lengths close the connection", arguments: [0, 1, 255, 256, 65535])
    func absurdLength(length: Int) async throws {
        let peer = try RawPeer(port: server.port)
        peer.send(frame(length: length, pdu: [3] + be(0) + be(1)))
        #expect(peer.closedByServer())
        try await expectHealthy()
    }

    @Test(
        "unserved function codes get an illegal function exception",
        arguments: [UInt8(0x07), 0x2B, 0x11, 0x16, 0x00, 0x7F])
    func illegalFunction(function: UInt8) async throws {
        let peer = try RawPeer(port: server.port)
        let request = frame(pdu: [function, 0x0E, 0x01, 0x00])
        peer.send(request)
        #expect(peer.receive(9) == exceptionResponse(to: request, .illegalFunction))
        try await expectHealthy()
    }

    @Test("write-multiple frames whose byte count disagrees with the quantity or the frame get illegal data value")
    func byteCountMismatch() async throws {
        let requests: [[UInt8]] = [
            // FC16: 2 registers need 4 bytes; says 6 and carries 6.
            frame(pdu: [16] + be(0) + be(2) + [6] + [1, 2, 3, 4, 5, 6]),
            // FC16: says 4 bytes, carries 2 (the frame length tells the truth).
            frame(pdu: [16] + be(0) + be(2) + [4] + [1, 2]),
            // FC16: says 4 bytes, carries 6.
            frame(pdu: [16] + be(0) + be(2) + [4] + [1, 2, 3, 4, 5, 6]),
            // FC16: byte count 0xFF for 1 register (CVE-2024-10918 shape).
            frame(pdu: [16] + be(0) + be(1) + [0xFF] + [1, 2]),
            // FC15: 10 coils need 2 bytes; says 1.
            frame(pdu: [15] + be(0) + be(10) + [1] + [0xFF]),
            // FC15: says 2 bytes, carries 3.
            frame(pdu: [15] + be(0) + be(10) + [2] + [0xFF, 0x03, 0x00]),
            // FC23: write byte count disagrees with the write quantity (CVE-2022-0367 function).
            frame(pdu: [23] + be(0) + be(1) + be(0) + be(2) + [2] + [0, 1]),
            // FC3 with trailing bytes.
            frame(pdu: [3] + be(0) + be(1) + [0]),
            // FC16 with no quantity at all.
            frame(pdu: [16] + be(0)),
        ]
        for (index, request) in requests.enumerated() {
            let peer = try RawPeer(port: server.port)
            peer.send(request)
            #expect(peer.receive(9) == exceptionResponse(to: request, .illegalDataValue), "request \(index)")
        }
        #expect(try server.get(.holding, address: 0, count: 3) == [0x1234, 0x5678, 9])
        try await expectHealthy()
    }

    @Test("quantity 0 and over the limit get illegal data value")
    func quantities() async throws {
        let peer = try RawPeer(port: server.port)
        let requests: [[UInt8]] = [
            frame(pdu: [3] + be(0) + be(0)), frame(pdu: [3] + be(0) + be(126)), frame(pdu: [4] + be(0) + be(0xFFFF)),
            frame(pdu: [1] + be(0) + be(0)), frame(pdu: [1] + be(0) + be(2001)), frame(pdu: [2] + be(0) + be(2001)),
            frame(pdu: [16] + be(0) + be(0) + [0]),
            frame(pdu: [16] + be(0) + be(124) + [200] + Array(repeating: 0, count: 200)),
            frame(pdu: [15] + be(0) + be(0) + [0]), frame(pdu: [5] + be(0) + be(0x1234)),
        ]
        // One connection: an exception leaves it usable, and answers keep the requests' order.
        for (index, request) in requests.enumerated() {
            peer.send(request)
            #expect(peer.receive(9) == exceptionResponse(to: request, .illegalDataValue), "request \(index)")
        }
        try await expectHealthy()
    }

    @Test("FC23 reads and writes in one request, and refuses ranges outside the map")
    func readWriteMultiple() async throws {
        let peer = try RawPeer(port: server.port)
        let request = frame(pdu: [23] + be(0) + be(2) + be(2) + be(1) + [2] + be(0xABCD))
        peer.send(request)
        #expect(peer.receive(13) == Array(request[0..<4]) + [0, 7, 1, 23, 4] + be(0x1234) + be(0x5678))
        #expect(try server.get(.holding, address: 2, count: 1) == [0xABCD])
        let outside = frame(pdu: [23] + be(0) + be(1) + be(65534) + be(2) + [4] + [0, 0, 0, 0])
        peer.send(outside)
        #expect(peer.receive(9) == exceptionResponse(to: outside, .illegalDataAddress))
        try server.set(.holding, address: 2, values: [9])
    }

    @Test("a half frame then silence: others are served, the silent one is closed")
    func halfFrame() async throws {
        let peer = try RawPeer(port: server.port)
        peer.send(Array(frame(pdu: [3] + be(0) + be(1)).prefix(9)))
        try await expectHealthy()
        #expect(peer.closedByServer())
        try await expectHealthy()
    }

    @Test("a client that floods requests and never reads is dropped without stalling others")
    func flood() async throws {
        let peer = try RawPeer(port: server.port, receiveTimeoutMilliseconds: 5000)
        fw_set_rcvbuf(peer.fd, 4096)
        let batch = (0..<1000).flatMap { frame(transaction: UInt16($0), pdu: [3] + be(0) + be(125)) }
        var sent = 0
        for _ in 0..<40 where peer.send(batch) { sent += 1 }
        try await expectHealthy()
        #expect(peer.closedByServer())
        #expect(server.statistics.dropped >= 1)
        try await expectHealthy("after \(sent) batches")
    }

    @Test("connections over the cap are accepted and closed at once")
    func connectionCap() async throws {
        let capped = try Server(options: Server.Options(maxConnections: 4))
        let peers = try (0..<4).map { _ in try RawPeer(port: capped.port) }
        for peer in peers {
            let request = frame(pdu: [3] + be(0) + be(1))
            peer.send(request)
            #expect(peer.receive(11).count == 11)
        }
        let extra = try RawPeer(port: capped.port)
        #expect(extra.closedByServer())
        #expect(capped.statistics.rejected >= 1)
        // Once one served connection leaves, a well-behaved client gets its place.
        let cappedClient = testClient(capped)
        _ = consume peers
        var value: [UInt16]?
        for _ in 0..<100 where value == nil {
            value = try? await cappedClient.readHoldingRegisters(address: 0, count: 1)
            if value == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(value == [0])
        await cappedClient.close()
    }
}


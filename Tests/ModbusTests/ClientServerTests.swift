import Testing

@testable import Modbus

@Suite("Client and Server")
struct ClientServerTests {
    @Test("every table round-trips through Client and Server")
    func tables() async throws {
        let server = try Server()
        let client = testClient(server)
        try server.set(.discrete, address: 5, values: [1, 0, 1])
        try server.set(.input, address: 100, values: [0xFFFF, 0, 42])
        #expect(try await client.readDiscreteInputs(address: 5, count: 3) == [true, false, true])
        #expect(try await client.readInputRegisters(address: 100, count: 3) == [0xFFFF, 0, 42])
        #expect(try await client.read(.discrete, address: 4, count: 3) == [0, 1, 0])

        try await client.writeCoil(address: 7, value: true)
        try await client.writeCoils(address: 20, values: [true, false, true, true])
        #expect(try server.get(.coil, address: 7, count: 1) == [1])
        #expect(try await client.readCoils(address: 20, count: 4) == [true, false, true, true])
        try await client.write(.coil, address: 30, values: [0, 5])
        #expect(try await client.read(.coil, address: 30, count: 2) == [0, 1])

        try await client.writeRegister(address: 9, value: 0xBEEF)
        try await client.writeRegisters(address: 200, values: Array(0..<123))
        #expect(try server.get(.holding, address: 9, count: 1) == [0xBEEF])
        #expect(try await client.readHoldingRegisters(address: 200, count: 123) == Array(0..<123))
        try await client.write(.holding, address: 0, values: [7])
        #expect(try await client.read(.holding, address: 0, count: 1) == [7])
        await client.close()
    }

    @Test("every type and word order round-trips through the wire", arguments: WordOrder.allCases)
    func types(order: WordOrder) async throws {
        let server = try Server()
        let client = testClient(server)
        let samples: [(DataType, Double)] = [
            (.bool, 1), (.uint16, 65535), (.int16, -32768), (.uint32, 4_000_000_000), (.int32, -2_000_000_000),
            (.float32, -1234.5), (.bits, 0xA5A5), (.enum, 3),
        ]
        var address = 0
        for (type, value) in samples {
            let registers = try Codec.encode(value, as: type, order: order)
            try await client.writeRegisters(address: address, values: registers)
            try server.set(.input, address: address, values: registers)
            let holding = try await client.readHoldingRegisters(address: address, count: type.width)
            let input = try await client.readInputRegisters(address: address, count: type.width)
            #expect(try Codec.decodeRaw(holding[...], as: type, order: order) == value, "\(type) \(order)")
            #expect(try Codec.decodeRaw(input[...], as: type, order: order) == value, "\(type) \(order)")
            address += type.width
        }
        await client.close()
    }

    @Test("perform runs several requests in one hop")
    func perform() async throws {
        let server = try Server()
        try server.set(.input, address: 0, values: [1, 2, 3])
        let client = testClient(server)
        let (inputs, coils) = try await client.perform { connection in
            try connection.writeCoils(address: 0, values: [true, true])
            return (
                try connection.readInputRegisters(address: 0, count: 3), try connection.readCoils(address: 0, count: 2)
            )
        }
        #expect(inputs == [1, 2, 3])
        #expect(coils == [true, true])
        await client.close()
    }

    @Test("the write hook sees what clients wrote")
    func writeHook() async throws {
        let seen = Mutex<[String]>([])
        let server = try Server { unit, table, address, values in
            seen.withLock { $0.append("\(unit) \(table.rawValue) \(address) \(values)") }
        }
        let client = testClient(server, unit: 3)
        try await client.writeRegisters(address: 10, values: [1, 2])
        try await client.writeCoil(address: 4, value: true)
        #expect(seen.withLock { $0 } == ["3 holding 10 [1, 2]", "3 coil 4 [1]"])
        await client.close()
    }
}

import Synchronization

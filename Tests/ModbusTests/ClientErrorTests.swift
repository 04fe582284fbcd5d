import CModbus
import Foundation
import Testing

@testable import Modbus

@Suite("Client errors and reconnects")
struct ClientErrorTests {
    /// The error a request threw, or nil when it succeeded.
    func failure<T>(_ body: () async throws -> T) async -> ModbusError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? ModbusError
        }
    }

    @Test("Modbus exceptions surface as their codes")
    func exceptions() async throws {
        let layout = RegisterLayout(
            coils: 0..<10, discreteInputs: 0..<10, inputRegisters: 0..<10, holdingRegisters: 0..<10)
        let server = try Server(layout: layout)
        let client = testClient(server)
        #expect(
            await failure { try await client.readHoldingRegisters(address: 5, count: 6) }?.code
                == .exception(.illegalDataAddress))
        #expect(
            await failure { try await client.readCoils(address: 10, count: 1) }?.code == .exception(.illegalDataAddress)
        )
        #expect(
            await failure { try await client.writeRegister(address: 10, value: 1) }?.code
                == .exception(.illegalDataAddress))
        // An exception leaves the connection usable.
        #expect(try await client.readHoldingRegisters(address: 0, count: 10).count == 10)

        server.setFault(.exception(.serverBusy))
        let busy = await failure { try await client.readInputRegisters(address: 0, count: 1) }
        #expect(busy?.code == .exception(.serverBusy))
        #expect(busy?.exception == .serverBusy)
        #expect(busy?.description.contains("server device busy") == true)
        server.setFault(.exception(.gatewayTargetFailed), unit: 1)
        #expect(
            await failure { try await client.writeCoil(address: 0, value: true) }?.code
                == .exception(.gatewayTargetFailed))
        server.setFault(nil, unit: 1)
        server.setFault(nil)
        #expect(try await client.readInputRegisters(address: 0, count: 1) == [0])
        await client.close()
    }

    @Test("a unit the server does not serve gets gateway target failed; each unit has its own map")
    func units() async throws {
        let server = try Server(units: [1, 2])
        try server.set(.holding, address: 0, values: [11], unit: 1)
        try server.set(.holding, address: 0, values: [22], unit: 2)
        #expect(try await testClient(server, unit: 1).readHoldingRegisters(address: 0, count: 1) == [11])
        #expect(try await testClient(server, unit: 2).readHoldingRegisters(address: 0, count: 1) == [22])
        let stranger = testClient(server, unit: 3)
        #expect(
            await failure { try await stranger.readHoldingRegisters(address: 0, count: 1) }?.code
                == .exception(.gatewayTargetFailed))
        #expect(throws: ModbusError.self) { try server.set(.holding, address: 0, values: [1]) }
    }

    @Test("requests outside the Modbus limits are refused before any I/O")
    func invalidRequests() async throws {
        // Nothing listens on this client's port: any I/O would give a connection error instead.
        let client = Client(host: "127.0.0.1", port: 1, reconnect: .immediate)
        #expect(await failure { try await client.readHoldingRegisters(address: 0, count: 0) }?.code == .invalidRequest)
        #expect(
            await failure { try await client.readHoldingRegisters(address: 0, count: 126) }?.code == .invalidRequest)
        #expect(await failure { try await client.readCoils(address: 0, count: 2001) }?.code == .invalidRequest)
        #expect(
            await failure { try await client.readInputRegisters(address: 65535, count: 2) }?.code == .invalidRequest)
        #expect(await failure { try await client.readInputRegisters(address: -1, count: 1) }?.code == .invalidRequest)
        #expect(
            await failure { try await client.writeRegisters(address: 0, values: Array(repeating: 0, count: 124)) }?.code
                == .invalidRequest)
        #expect(await failure { try await client.writeCoils(address: 0, values: []) }?.code == .invalidRequest)
        #expect(await failure { try await client.write(.input, address: 0, values: [1]) }?.code == .invalidRequest)
        #expect(client.statistics.connects == 0)
    }

    @Test("a listener that never answers gives a timeout")
    func timeout() async throws {
        var port: Int32 = 0
        let listener = fw_tcp_listen("127.0.0.1", 0, 8, &port)
        try #require(listener >= 0)
        defer { Glibc.close(listener) }
        // The kernel completes the handshake; nobody ever reads the request.
        let client = Client(
            host: "127.0.0.1", port: Int(port), responseTimeout: .milliseconds(200), reconnect: .immediate)
        let error = await failure { try await client.readHoldingRegisters(address: 0, count: 1) }
        #expect(error?.code == .timeout)
        #expect(error?.isConnectionFailure == true)
        await client.close()
    }

    @Test("a server told to stay silent gives a timeout, then answers again on a fresh connection")
    func silentServer() async throws {
        let server = try Server()
        try server.set(.holding, address: 0, values: [5])
        let client = Client(
            host: "127.0.0.1", port: server.port, responseTimeout: .milliseconds(200), reconnect: .immediate)
        server.setFault(.silent)
        #expect(await failure { try await client.readHoldingRegisters(address: 0, count: 1) }?.code == .timeout)
        server.setFault(nil)
        #expect(try await client.readHoldingRegisters(address: 0, count: 1) == [5])
        #expect(client.statistics.reconnects == 1)
        await client.close()
    }

    @Test("a configured delay answers late: within a generous timeout it succeeds, past a short one it times out")
    func delayedServer() async throws {
        let server = try Server()
        try server.set(.input, address: 0, values: [8])
        server.setFault(.delay(.milliseconds(300)), unit: 1)
        let patient = testClient(server)
        let hasty = Client(
            host: "127.0.0.1", port: server.port, responseTimeout: .milliseconds(50), reconnect: .immediate)
        #expect(try await patient.readInputRegisters(address: 0, count: 1) == [8])
        #expect(await failure { try await hasty.readInputRegisters(address: 0, count: 1) }?.code == .timeout)
        // The late answer to address 0 went to the socket the timeout closed; the next read gets its own answer.
        server.setFault(nil, unit: 1)
        try server.set(.input, address: 1, values: [9, 10])
        #expect(try await hasty.readInputRegisters(address: 1, count: 2) == [9, 10])
        #expect(hasty.statistics.reconnects == 1)
        await patient.close()
        await hasty.close()
    }

    @Test("a closed port gives connection refused; backoff then fails fast with the same error")
    func refused() async throws {
        let server = try Server()
        let port = server.port
        server.stop()
        let client = Client(
            host: "127.0.0.1", port: port,
            reconnect: ReconnectPolicy(initialDelay: .seconds(60), maximumDelay: .seconds(60)))
        #expect(
            await failure { try await client.readHoldingRegisters(address: 0, count: 1) }?.code == .connectionRefused)
        #expect(
            await failure { try await client.readHoldingRegisters(address: 0, count: 1) }?.code == .connectionRefused)
        let described = await failure { try await client.readHoldingRegisters(address: 0, count: 1) }
        #expect(described?.code == .connectionRefused)
        #expect(
            described?.description.hasPrefix("read holding 0+1 at 127.0.0.1:\(port) unit 1: connection refused") == true
        )
        let fast = await failure { try await client.readHoldingRegisters(address: 0, count: 1) }
        #expect(fast?.code == .connectionRefused)
        #expect(fast?.detail?.contains("backing off") == true)
        #expect(client.statistics.failures == 4)
    }

    @Test("a name that does not resolve is reported as such")
    func unresolvable() async {
        let client = Client(host: "no-such-host.invalid", port: 502, reconnect: .immediate)
        let error = await failure { try await client.readHoldingRegisters(address: 0, count: 1) }
        #expect(error?.code == .hostUnreachable)
    }

    @Test("a closed client refuses further requests")
    func closed() async throws {
        let server = try Server()
        let client = testClient(server)
        _ = try await client.readCoils(address: 0, count: 1)
        await client.close()
        #expect(await failure { try await client.readCoils(address: 0, count: 1) }?.code == .closed)
    }

    @Test("the server stopped and restarted on the same port: the client reconnects and reads again")
    func restart() async throws {
        var server = try Server()
        let port = server.port
        try server.set(.holding, address: 0, values: [1])
        let client = testClient(server)
        #expect(try await client.readHoldingRegisters(address: 0, count: 1) == [1])
        server.stop()
        server = try Server(port: port)
        try server.set(.holding, address: 0, values: [2])
        var value: [UInt16]?
        for _ in 0..<5 where value == nil {
            value = try? await client.readHoldingRegisters(address: 0, count: 1)
        }
        #expect(value == [2])
        #expect(client.statistics.reconnects == 1)
        await client.close()
        server.stop()
    }

    @Test("connect/fail and connect/close cycles leak no descriptors")
    func noDescriptorLeaks() async throws {
        let server = try Server()
        let port = server.port
        let dead = try Server()
        let deadPort = dead.port
        dead.stop()
        let before = openDescriptorCount()
        let refused = Client(host: "127.0.0.1", port: deadPort, reconnect: .immediate)
        for _ in 0..<300 { _ = try? await refused.readCoils(address: 0, count: 1) }
        for _ in 0..<150 {
            let client = Client(host: "127.0.0.1", port: port, reconnect: .immediate)
            _ = try await client.readCoils(address: 0, count: 1)
            await client.close()
        }
        let timedOut = Client(host: "127.0.0.1", port: port, responseTimeout: .milliseconds(20), reconnect: .immediate)
        server.setFault(.silent)
        for _ in 0..<20 { _ = try? await timedOut.readCoils(address: 0, count: 1) }
        await timedOut.close()
        server.setFault(nil)
        let after = openDescriptorCount()
        // 470 cycles; other tests run in parallel and hold descriptors for a while, hence the slack.
        #expect(after - before < 150, "descriptors: \(before) before, \(after) after")
        #expect(refused.statistics.failures == 300)
    }

    @Test("poll loops that prefer the I/O pool as their executor read correctly, even on a two-thread pool")
    func poolAsExecutor() async throws {
        let server = try Server()
        try server.set(.holding, address: 0, values: (0..<16).map { UInt16($0 + 100) })
        let pool = IOPool(maxThreads: 2)
        let clients = (0..<16).map { _ in
            Client(
                host: "127.0.0.1", port: server.port, responseTimeout: .seconds(5), reconnect: .immediate, pool: pool)
        }
        let sum = try await withTaskExecutorPreference(pool) {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        var total = 0
                        for _ in 0..<20 {
                            total += Int(try await client.readHoldingRegisters(address: index, count: 1)[0])
                        }
                        let pair = try await client.perform { connection in
                            try connection.readHoldingRegisters(address: index, count: 1)
                        }
                        return total + Int(pair[0])
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(sum == (0..<16).reduce(0) { $0 + 21 * ($1 + 100) })
        #expect(pool.threadCount <= 2)
        for client in clients { await client.close() }
    }

    @Test("sockets above FD_SETSIZE are lent to libmodbus under a low number, with no leak")
    func highDescriptors() async throws {
        let server = try Server()
        try server.set(.input, address: 0, values: [31, 32])
        let pool = IOPool(maxThreads: 2)
        // A limit of 0 makes every socket count as "too high" for libmodbus's select().
        let client = Client(
            host: "127.0.0.1", port: server.port, unit: 1, responseTimeout: .milliseconds(200),
            byteTimeout: .milliseconds(200), reconnect: .immediate, pool: pool, descriptorLimit: 0)
        for _ in 0..<50 { #expect(try await client.readInputRegisters(address: 0, count: 2) == [31, 32]) }
        try await client.writeRegisters(address: 5, values: [1, 2, 3])
        #expect(try await client.readHoldingRegisters(address: 5, count: 3) == [1, 2, 3])
        #expect(
            await failure { try await client.readInputRegisters(address: 9_999, count: 2) }?.code
                == .exception(.illegalDataAddress))
        server.setFault(.silent)
        #expect(await failure { try await client.readCoils(address: 0, count: 1) }?.code == .timeout)
        server.setFault(nil)
        #expect(try await client.readInputRegisters(address: 0, count: 2) == [31, 32])
        #expect(client.statistics.reconnects == 1)
        await client.close()
    }

    @Test("64 clients read concurrently")
    func concurrentClients() async throws {
        let server = try Server()
        try server.set(.input, address: 0, values: (0..<64).map { UInt16($0 * 3) })
        let pool = IOPool(maxThreads: 8)
        let clients = (0..<64).map { _ in
            Client(
                host: "127.0.0.1", port: server.port, responseTimeout: .seconds(5), reconnect: .immediate, pool: pool)
        }
        let results = try await withThrowingTaskGroup(of: (Int, [UInt16]).self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    var last: [UInt16] = []
                    for _ in 0..<10 { last = try await client.readInputRegisters(address: index, count: 1) }
                    return (index, last)
                }
            }
            return try await group.reduce(into: [Int: [UInt16]]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0.value == [UInt16($0.key * 3)] })
        #expect(pool.threadCount <= 8)
        #expect(server.statistics.accepted == 64)
        for client in clients { await client.close() }
    }
}

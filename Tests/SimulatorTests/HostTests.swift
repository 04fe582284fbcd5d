import FireSafety
import Foundation
import Gateway
import Modbus
import SiteConfig
import Testing

@testable import Simulator
import FireWatchTesting

/// The simulator host over real sockets: the example site's devices on free loopback ports.
@Suite("Simulator host", .serialized)
struct HostTests {
    let site: LoadedSite
    let clock = ManualSiteClock()
    let host: SimulatorHost

    init() throws {
        site = try loadExampleSite()
        host = try SimulatorHost(site: site, clock: clock, ports: .ephemeral)
    }

    @Test("serves every device of the example site, and each bound point reads what the model serves")
    func servesModelValues() async throws {
        #expect(host.devices.map(\.name) == site.devices.map(\.name))
        #expect(Set(host.devices.map(\.port)).count == site.devices.count, "one port per configured host:port")
        clock.advance(by: .seconds(5))
        host.refresh()
        var compared = 0
        for served in host.devices {
            let device = try #require(site.device(named: served.name))
            let profile = try #require(site.profile(of: served.name))
            let modbus = client(for: served)
            defer { Task { await modbus.close() } }
            let result = await DeviceReader.readAll(client: modbus, plan: site.readPlan(for: device))
            #expect(result.failures.isEmpty, "\(served.name): \(result.failures.map(\.error))")
            for reading in result.readings {
                let point = try #require(profile.point(named: reading.point))
                if let modelValue = host.value(device: served.name, point: reading.point) {
                    #expect(reading.isValid, "\(served.name).\(reading.point): \(reading.validity)")
                    #expect(
                        sameValue(reading.value, modelValue, resolution: abs(point.scale)),
                        "\(served.name).\(reading.point): read \(reading.value as Any), model \(modelValue)"
                    )
                    compared += 1
                }
                for (bit, on) in reading.bits {
                    guard let modelValue = host.value(device: served.name, point: "\(reading.point).\(bit)") else {
                        continue
                    }
                    #expect(sameValue(.flag(on), modelValue, resolution: 1), "\(served.name).\(reading.point).\(bit)")
                    compared += 1
                }
            }
        }
        #expect(compared > 50, "compared \(compared) values")
    }

    @Test("a command write reaches the model, and its readback shows only after the lag")
    func commandWrite() async throws {
        let served = try #require(host.devices.first { $0.name == "bms-a" })
        let command = try #require(site.profile(of: "bms-a")?.command(named: "disconnect_string"))
        guard case .registers(let values) = command.value else {
            Issue.record("disconnect_string is not a register write")
            return
        }
        let modbus = client(for: served)
        try await modbus.writeRegisters(address: command.address, values: values)
        await modbus.close()
        #expect(await eventually { host.observations.contains { $0.kind == .write(device: "bms-a", command: "disconnect_string") } })
        #expect(host.writes.last?.outcome == "accepted")
        // Still closed right after the write: real contactors take time, and the daemon's verify must wait.
        host.refresh()
        #expect(host.value(device: "bms-a", point: "string_status.contactor_closed") == .flag(true))
        clock.advance(by: ReadbackLags().strings + .seconds(1))
        host.refresh()
        #expect(host.value(device: "bms-a", point: "string_status.contactor_closed") == .flag(false))
        let reader = client(for: served)
        let raw = try await reader.readHoldingRegisters(address: 40139, count: 1)
        await reader.close()
        #expect(raw[0] & 0b10 == 0, "contactor_closed bit still set: \(raw)")
        // The other room's BMS saw nothing.
        #expect(host.value(device: "bms-b", point: "string_status.contactor_closed") == .flag(true))
    }

    @Test("a write no command declares is kept as written and recorded, not sent to the model")
    func unknownWrite() async throws {
        let served = try #require(host.devices.first { $0.name == "feed-a" })
        let modbus = client(for: served)
        try await modbus.writeCoil(address: 4, value: true)
        let readBack = try await modbus.readCoils(address: 4, count: 1)
        await modbus.close()
        #expect(readBack == [true])
        let write = try #require(host.writes.last)
        #expect(write.device == "feed-a" && write.command == nil && write.address == 4)
        #expect(host.observations.isEmpty)
    }

    @Test(
        "Debian's mbpoll reads a simulated temperature sensor as the model's room temperature")
    func mbpollReadsTemperature() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/mbpoll"), "mbpoll is not installed: make deps installs it")
        let served = try #require(host.devices.first { $0.name == "temp-a1" })
        host.refresh()
        // -0: 0-based references; -t 3: input registers; -1: one poll; -o 2: 2 s timeout.
        let run: ProgramOutput = try await runProgram(
            "/usr/bin/mbpoll",
            [
                "-m", "tcp", "-a", "\(served.unit)", "-0", "-t", "3", "-r", "1", "-c", "1", "-1", "-o", "2",
                "-p", "\(served.port)", "127.0.0.1",
            ])
        let status = run.status
        let text = run.combined
        #expect(status == 0, "\(text)")
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("[1]:") }, "\(text)")
        let raw = try #require(Int(line.dropFirst(4).trimmingCharacters(in: .whitespaces).split(separator: " ")[0]))
        let model = try #require(host.value(device: "temp-a1", point: "temperature")?.number)
        // int16, scale 0.1 (the XY-MD02 map).
        #expect(
            abs(Double(Int16(truncatingIfNeeded: raw)) * 0.1 - model) <= 0.05 + 1e-9, "mbpoll \(raw), model \(model)")
    }

    @Test("malformed traffic on a device's port while a well-behaved client keeps reading it")
    func malformedTraffic() async throws {
        let served = try #require(host.devices.first { $0.name == "temp-a1" })
        host.refresh()
        let expected = try #require(host.value(device: "temp-a1", point: "temperature")?.number)
        let good = client(for: served)
        var generator = SplitMix64(seed: 0xF1BE)
        let abuse: [[UInt8]] = [
            [0x00, 0x01, 0x00],  // truncated header, then the peer leaves
            frame(length: 0, pdu: [4, 0, 1, 0, 1]),  // absurd MBAP lengths
            frame(length: 65535, pdu: [4, 0, 1, 0, 1]),
            frame(length: 256, pdu: [4, 0, 1, 0, 1]),
            frame(pdu: [0x2B, 0x0E, 0x01, 0x00]),  // function codes a sensor does not serve
            frame(pdu: [0x07]),
            frame(pdu: [0x11]),
            frame(pdu: [4, 0, 1, 0x7D, 0x01]),  // quantity beyond the protocol's limit
            frame(pdu: [4, 0xFF, 0xF0, 0, 0x20]),  // addresses the sensor does not have
            frame(unit: 9, pdu: [4, 0, 1, 0, 1]),  // a unit the port does not serve
        ]
        for round in 0..<(abuse.count + 10) {
            let peer = try RawPeer(port: served.port, receiveTimeoutMilliseconds: 500)
            if round < abuse.count {
                peer.send(abuse[round])
            } else {
                peer.send((0..<(1 + round * 41)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
            _ = peer.receive(9)
            let registers = try await good.readInputRegisters(address: 1, count: 1)
            let value = Double(Int16(bitPattern: registers[0])) * 0.1
            #expect(abs(value - expected) <= 0.05 + 1e-9, "round \(round): \(value) vs \(expected)")
        }
        await good.close()
    }

    @Test("a device condition from a scenario reaches the wire: an exception, then silence")
    func deviceConditions() async throws {
        let scenario = try Scenario(
            yaml: """
                name: conditions
                duration: 1m
                timeline:
                  - at: 10s
                    exception: { device: gas-a, code: busy, for: 10s }
                  - at: 20s
                    comm_loss: { device: gas-a, for: 10s }
                expect: []
                """, file: "conditions.yaml")
        let faulty = try SimulatorHost(site: site, scenario: scenario, clock: clock, ports: .ephemeral)
        let served = try #require(faulty.devices.first { $0.name == "gas-a" })
        let modbus = Client(
            host: "127.0.0.1", port: served.port, unit: 1, responseTimeout: .milliseconds(300),
            byteTimeout: .milliseconds(300), reconnect: .immediate)
        clock.advance(by: .seconds(12))
        faulty.refresh()
        await #expect(throws: ModbusError.self) { try await modbus.readInputRegisters(address: 0, count: 2) }
        do {
            _ = try await modbus.readInputRegisters(address: 0, count: 2)
        } catch {
            #expect(error.exception == .serverBusy, "\(error)")
        }
        clock.advance(by: .seconds(10))
        faulty.refresh()
        do {
            _ = try await modbus.readInputRegisters(address: 0, count: 2)
            Issue.record("a silent device answered")
        } catch {
            #expect(error.code == .timeout, "\(error)")
        }
        clock.advance(by: .seconds(10))
        faulty.refresh()
        let values = try await modbus.readInputRegisters(address: 0, count: 2)
        #expect(values.count == 2)
        await modbus.close()
        faulty.stop()
    }

    @Test("a device outside 127.0.0.0/8 is refused, naming the device, its host and the line")
    func refusesNonLoopback() throws {
        var site = self.site
        let index = try #require(site.devices.firstIndex { $0.name == "ups-a" })
        site.devices[index].host = "10.0.1.11"  // must be refused before any socket is opened
        do {
            _ = try SimulatorHost(site: site, clock: clock, ports: .ephemeral)
            Issue.record("a non-loopback device was served")
        } catch {
            let text = error.description
            #expect(text.contains("the simulator serves only 127.0.0.0/8; device ups-a has host 10.0.1.11"), "\(text)")
            #expect(text.contains("site.yaml:19: devices.ups-a.host"), "\(text)")
        }
    }
}

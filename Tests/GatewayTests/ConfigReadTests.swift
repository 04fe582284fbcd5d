import FireSafety
import Foundation
import Modbus
import Testing
@testable import Gateway
import FireWatchTesting
import SiteConfig

/// A profile with every type and word order, written as a file (so the loader is part of the test).
let everyTypeProfile: String = {
    var lines = [
        "name: Every type", "source: \"test fixture\"", "points:",
        "  u16:   { table: holding, address: 0, type: uint16 }",
        "  i16:   { table: holding, address: 1, type: int16, scale: 0.1, unit: \"°C\", range: [-40, 60] }",
        "  state: { table: holding, address: 2, type: enum, values: { 0: closed, 1: open } }",
        "  flags: { table: holding, address: 3, type: bits, bits: { 0: a, 5: f } }",
        "  bit5:  { table: holding, address: 3, type: bool, bit: 5 }",
        "  hot:   { table: input, address: 0, type: int16, range: [0, 100] }",
        "  coil:  { table: coil, address: 4, type: bool }",
        "  di:    { table: discrete, address: 9, type: bool }",
    ]
    var address = 10
    for order in WordOrder.allCases {
        for type in ["uint32", "int32", "float32"] {
            lines.append(
                "  \(type)_\(order.rawValue): { table: holding, address: \(address), type: \(type), "
                    + "word_order: \(order.rawValue) }"
            )
            address += 2
        }
    }
    return lines.joined(separator: "\n") + "\n"
}()

let everyTypeValues: [(type: DataType, value: Double)] = [
    (.uint32, 4_000_000_001), (.int32, -123_456_789), (.float32, -1234.5),
]

/// Serves the values the tests expect from `everyTypeProfile`.
func everyTypeServer() throws -> Server {
    let server = try Server()
    try server.set(.holding, address: 0, values: [65535, 0xFF33, 1, 0b10_0001])
    try server.set(.input, address: 0, values: [UInt16(bitPattern: 150)])
    try server.set(.coil, address: 4, values: [1])
    try server.set(.discrete, address: 9, values: [1])
    var address = 10
    for order in WordOrder.allCases {
        for (type, value) in everyTypeValues {
            try server.set(.holding, address: address, values: Codec.encode(value, as: type, order: order))
            address += 2
        }
    }
    return server
}

func writeTemporaryProfile(_ text: String, name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-\(UUID().uuidString)-\(name)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Runs the executable with a bounded wait; returns exit status, stdout, stderr.
func configRunFirewatch(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
    var env = [ProfileLocator.environmentVariable: shippedDevicesFolder]
    for (key, value) in environment { env[key] = value }
    let run: ProgramOutput = try runProgram(try FirewatchExecutable.required(), arguments, environment: env)
    return (run.status, run.stdout, run.stderr)
}

@Suite("Reading a device")
struct ConfigReadTests {
    @Test("every type and word order decodes correctly from a real Modbus server")
    func everyType() async throws {
        let path = try writeTemporaryProfile(everyTypeProfile, name: "every.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let profile = try ProfileLoader.load(path: path)
        let server = try everyTypeServer()
        defer { server.stop() }
        let client = Client(host: "127.0.0.1", port: server.port, responseTimeout: .seconds(2), reconnect: .immediate)
        let result = await DeviceReader.readAll(client: client, plan: ReadPlan(points: profile.points))
        await client.close()
        #expect(result.failures.isEmpty)
        let byName = Dictionary(uniqueKeysWithValues: result.readings.map { ($0.point, $0) })
        #expect(byName.count == profile.points.count)
        #expect(byName["u16"]?.value == .number(65535))
        #expect(byName["i16"]?.value == .number(-20.5))
        #expect(byName["state"]?.value == .name("open"))
        #expect(byName["flags"]?.bits == ["a": true, "f": true])
        #expect(byName["bit5"]?.value == .flag(true))
        #expect(byName["hot"]?.validity == .aboveRange(0...100), "150 is above [0, 100]")
        #expect(byName["coil"]?.value == .flag(true))
        #expect(byName["di"]?.value == .flag(true))
        for order in WordOrder.allCases {
            for (type, value) in everyTypeValues {
                let reading = byName["\(type.rawValue)_\(order.rawValue)"]
                #expect(reading?.value == .number(value), "\(type) \(order)")
                #expect(reading?.isValid == true)
            }
        }
        // Merged: holding 0…33 in one request, plus one each for input, coil, discrete.
        #expect(result.plan.requests.count == 4)
    }

    @Test("a device refusing a merged read gets smaller reads, and the split plan is kept")
    func illegalAddressFallback() async throws {
        // The device serves holding 0..<100 only: the bridged read 95…101 is refused as a whole.
        let server = try Server(layout: RegisterLayout(holdingRegisters: 0..<100))
        defer { server.stop() }
        try server.set(.holding, address: 95, values: [42])
        let points = [
            PointSpec(name: "inside", table: .holding, address: 95, type: .uint16),
            PointSpec(name: "outside", table: .holding, address: 101, type: .uint16),
        ]
        let plan = ReadPlan(points: points, maxGap: 8)
        #expect(plan.requests.count == 1)
        let client = Client(host: "127.0.0.1", port: server.port, responseTimeout: .seconds(2), reconnect: .immediate)
        let result = await DeviceReader.readAll(client: client, plan: plan)
        await client.close()
        #expect(result.readings.map(\.point) == ["inside"])
        #expect(result.readings.first?.value == .number(42))
        #expect(result.failures.map(\.request.description) == ["holding 101+1"])
        #expect(result.failures.first?.error.code == .exception(.illegalDataAddress))
        #expect(result.plan.requests.map(\.description) == ["holding 95+1", "holding 101+1"])
        #expect(!result.unreachable)
    }

    @Test("a device that is not there is unreachable")
    func unreachable() async throws {
        let server = try Server()
        let port = server.port
        server.stop()
        let client = Client(host: "127.0.0.1", port: port, responseTimeout: .seconds(1), reconnect: .immediate)
        let plan = ReadPlan(points: [
            PointSpec(name: "a", table: .input, address: 0, type: .uint16),
            PointSpec(name: "b", table: .coil, address: 0, type: .bool),
        ])
        let result = await DeviceReader.readAll(client: client, plan: plan)
        await client.close()
        #expect(result.unreachable)
        #expect(result.failures.count == 2)
    }

    @Test("`firewatch read --json` prints every point decoded")
    func executableJSON() throws {
        let path = try writeTemporaryProfile(everyTypeProfile, name: "every.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let server = try everyTypeServer()
        defer { server.stop() }
        let (status, stdout, stderr) = try configRunFirewatch([
            "read", "127.0.0.1:\(server.port)", "--profile", path, "--json",
        ])
        #expect(status == 0, "\(stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
        let points = try #require(object?["points"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: points.map { ($0["name"] as! String, $0) })
        #expect(byName["i16"]?["value"] as? Double == -20.5)
        #expect(byName["i16"]?["raw"] as? [Int] == [0xFF33])
        #expect(byName["state"]?["value"] as? String == "open")
        #expect(byName["hot"]?["valid"] as? Bool == false)
        #expect(byName["float32_DCBA"]?["value"] as? Double == -1234.5)
        #expect(byName["int32_BADC"]?["value"] as? Double == -123_456_789)
        #expect(byName["uint32_CDAB"]?["value"] as? Double == 4_000_000_001)
    }

    @Test("`firewatch read --all-orders --json`: each 32-bit point in all four word orders, each one its registers' decoding")
    func executableAllOrdersJSON() throws {
        let path = try writeTemporaryProfile(everyTypeProfile, name: "every.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let server = try everyTypeServer()
        defer { server.stop() }
        let (status, stdout, stderr) = try configRunFirewatch([
            "read", "127.0.0.1:\(server.port)", "--profile", path, "--json", "--all-orders",
        ])
        #expect(status == 0, "\(stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
        let points = try #require(object?["points"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: points.map { ($0["name"] as! String, $0) })
        #expect(byName["i16"]?["orders"] == nil, "a 16-bit point has no word order")
        var checked = 0
        for order in WordOrder.allCases {
            for (type, value) in everyTypeValues {
                let point = try #require(byName["\(type.rawValue)_\(order.rawValue)"])
                let raw = try #require(point["raw"] as? [Int]).map(UInt16.init)
                let orders = try #require(point["orders"] as? [String: Any])
                #expect(Set(orders.keys) == Set(WordOrder.allCases.map(\.rawValue)))
                // The profile's own order gives the value served; every order's value encodes back to the registers.
                #expect(orders[order.rawValue] as? Double == value)
                for other in WordOrder.allCases {
                    guard let decoded = orders[other.rawValue] as? Double else {
                        #expect(type == .float32, "\(other) of \(point["name"]!) is not a number")
                        continue
                    }
                    #expect(try Codec.encode(decoded, as: type, order: other) == raw, "\(other) of \(point["name"]!)")
                    checked += 1
                }
            }
        }
        #expect(checked >= 40)
    }

    @Test("`firewatch read --all-orders`: a line of four decodings under a 32-bit point, the profile's and in-range ones marked")
    func executableAllOrdersTable() throws {
        // 230.5 V sent high word last (CDAB) to a profile that says ABCD: only CDAB lands in the range.
        let path = try writeTemporaryProfile(
            """
            name: Meter
            source: "test fixture"
            points:
              volts: { table: input, address: 0, type: float32, word_order: ABCD, unit: V, range: [1, 1000] }
              status: { table: input, address: 2, type: uint16 }

            """, name: "meter.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let server = try Server()
        defer { server.stop() }
        try server.set(.input, address: 0, values: Codec.encode(230.5, as: .float32, order: .cdab) + [7])
        let (status, stdout, stderr) = try configRunFirewatch([
            "read", "127.0.0.1:\(server.port)", "--profile", path, "--all-orders",
        ])
        #expect(status == 0, "\(stderr)")
        let lines = stdout.split(separator: "\n").map(String.init)
        let volts = try #require(lines.firstIndex { $0.hasPrefix("volts") })
        #expect(lines[volts].contains("0x8000 0x4366") && lines[volts].contains("invalid"), "\(lines[volts])")
        let orders = lines[volts + 1]
        #expect(orders.hasPrefix("  word orders: ABCD "), "\(stdout)")
        #expect(orders.contains("CDAB 230.5 (in range)"), "\(orders)")
        #expect(orders.contains("(profile)") && !orders.contains("(profile, in range)"), "\(orders)")
        #expect(orders.components(separatedBy: "in range").count == 2, "only CDAB is in range: \(orders)")
        #expect(lines[volts + 2].hasPrefix("status"), "a 16-bit point has no orders line: \(stdout)")
    }

    @Test(
        "`firewatch read` prints a table with hex registers, above range as trouble and below range as invalid")
    func executableTable() throws {
        let server = try Server()
        defer { server.stop() }
        try server.set(.input, address: 1, values: [0x00FA, 0x0222])
        let (status, stdout, _) = try configRunFirewatch([
            "read", "127.0.0.1:\(server.port)", "--profile", "sensor/temperature-humidity",
        ])
        #expect(status == 0)
        let temperature = stdout.split(separator: "\n").first { $0.hasPrefix("temperature") }.map(String.init) ?? ""
        #expect(
            temperature.contains("0x00FA") && temperature.contains("25") && temperature.contains("°C")
                && temperature.contains("ok"))
        try server.set(.input, address: 1, values: [UInt16(bitPattern: 700)])
        let (_, again, _) = try configRunFirewatch([
            "read", "127.0.0.1:\(server.port)", "--profile", "sensor/temperature-humidity",
        ])
        let hot = again.split(separator: "\n").first { $0.hasPrefix("temperature") }.map(String.init) ?? ""
        #expect(hot.contains("70") && hot.contains("trouble: above its range -40…60, counted as at least 60"))
        try server.set(.input, address: 1, values: [UInt16(bitPattern: -500)])
        let (_, cold, _) = try configRunFirewatch([
            "read", "127.0.0.1:\(server.port)", "--profile", "sensor/temperature-humidity",
        ])
        let frozen = cold.split(separator: "\n").first { $0.hasPrefix("temperature") }.map(String.init) ?? ""
        #expect(frozen.contains("-50") && frozen.contains("invalid: below its range -40…60"))
    }

    @Test(
        "`firewatch read` exit codes: 69 unreachable, 78 bad profile, 64 usage")
    func executableExitCodes() throws {
        let server = try Server()
        let port = server.port
        server.stop()
        #expect(try configRunFirewatch(["read", "127.0.0.1:\(port)", "--profile", "sensor/offgas"]).0 == 69)
        let (bad, _, badErr) = try configRunFirewatch(["read", "127.0.0.1:\(port)", "--profile", "sensor/ofgas"])
        #expect(bad == 78)
        #expect(badErr.contains("did you mean 'sensor/offgas'"))
        #expect(try configRunFirewatch(["read", "127.0.0.1", "--profile", "sensor/offgas"]).0 == 64)
        #expect(
            try configRunFirewatch(["read", "127.0.0.1:\(port)", "--profile", "sensor/offgas", "--unit", "300"]).0 == 64
        )
    }
}

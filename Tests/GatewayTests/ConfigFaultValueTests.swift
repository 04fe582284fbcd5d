import FireSafety
import Foundation
import SiteConfig
import Testing

@testable import Gateway

/// `fault_values:` on a profile point: parsed as raw codes of the point's type, and refused where they cannot work.
@Suite("Device profiles: fault_values")
struct ConfigFaultValueTests {
    static func profile(_ point: String) -> String {
        "name: Test device\nsource: \"test fixture\"\npoints:\n  p: " + point + "\n"
    }

    @Test("decimal, hex and negative codes parse as the raw type reads them")
    func parses() throws {
        let text = Self.profile(
            "{ table: input, address: 1, type: int16, scale: 0.1, range: [-40, 60], fault_values: [32767, -0x8000] }")
        let point = try #require(try ProfileLoader.parse(text: text, file: "t.yaml").point(named: "p"))
        #expect(point.faultValues == [32767, -32768])
        #expect(PointReading.decode(point, raw: [0x7FFF]).validity == .faultValue(32767))
    }

    @Test(
        "bad fault_values are refused at the value, with what to do",
        arguments: [
            ("{ table: input, address: 1, type: int16, fault_values: [40000] }", "p.fault_values[0]",
             ["outside -32768…32767", "raw register values before scale"]),
            ("{ table: input, address: 1, type: uint16, fault_values: [-1] }", "p.fault_values[0]",
             ["outside 0…65535"]),
            ("{ table: input, address: 1, type: uint16, fault_values: [1.5] }", "p.fault_values[0]",
             ["whole number"]),
            ("{ table: input, address: 1, type: uint16, fault_values: 65535 }", "p.fault_values",
             ["expected a list", "fault_values: [32767]"]),
            ("{ table: input, address: 1, type: uint16, fault_values: [7, 7] }", "p.fault_values[1]",
             ["listed twice"]),
            ("{ table: input, address: 1, type: float32, fault_values: [0] }", "p.fault_values",
             ["float32", "NaN"]),
            ("{ table: discrete, address: 1, type: bool, fault_values: [1] }", "p.fault_values",
             ["single bit"]),
            ("{ table: input, address: 1, type: enum, values: { 0: ok, 1: fault }, fault_values: [1] }",
             "p.fault_values[0]", ["value 'fault' of p", "cannot also be a fault code"]),
        ] as [(String, String, [String])])
    func refused(point: String, field: String, words: [String]) {
        let text = Self.profile(point)
        let result = Result { () throws(ConfigErrors) in try ProfileLoader.parse(text: text, file: "t.yaml") }
        guard case .failure(let errors) = result else {
            Issue.record("loaded: \(point)")
            return
        }
        expectConfigError(errors.errors, line: 4, field: "points." + field, words: words)
        #expect(errors.errors.allSatisfy { $0.hint != nil && $0.column > 0 })
    }

    @Test("the shipped profiles declare the codes their sources document")
    func shipped() throws {
        func load(_ reference: String) throws -> DeviceProfile {
            try ProfileLoader.load(path: (shippedDevicesFolder as NSString).appendingPathComponent(reference + ".yaml"))
        }
        let bms = try load("battery/sunspec-lithium-ion"), ups = try load("ups/apc-smart-ups")
        // SunSpec "not implemented": 0x8000 for int16, 0xFFFF for uint16/enum16 and each half of a bitfield32.
        #expect(bms.point(named: "mod_tmp_max")?.faultValues == [-32768])
        #expect(bms.point(named: "soc")?.faultValues == [65535])
        #expect(bms.point(named: "events")?.faultValues == [65535])
        let events = try #require(bms.point(named: "events"))
        #expect(PointReading.decode(events, raw: [0xFFFF]).value(bit: "over_temp_alarm") == nil)
        // NUT apc_modbus: input voltage 0xFFFF is "NA".
        #expect(ups.point(named: "input_voltage")?.faultValues == [65535])
    }
}

import FireSafety
import Foundation
import Modbus
import SiteConfig
import Testing
@testable import Gateway

/// Every profile FireWatch ships, as `kind/name`.
let shippedProfiles = [
    "ups/apc-smart-ups", "battery/sunspec-lithium-ion", "sensor/temperature-humidity", "io/relay-outputs",
    "sensor/offgas", "smoke/aspirating", "suppression/releasing-panel",
]

@Suite("Device profiles")
struct ConfigProfileTests {
    @Test("every shipped profile parses, validates and cites its source", arguments: shippedProfiles)
    func shipped(_ reference: String) throws {
        let path = (shippedDevicesFolder as NSString).appendingPathComponent(reference + ".yaml")
        let profile = try ProfileLoader.load(path: path)
        #expect(!profile.points.isEmpty)
        if profile.modeled {
            #expect((profile.modeledOn ?? "").count > 40, "a modeled profile says what it is modeled on")
        } else {
            #expect((profile.source ?? "").count > 20, "a profile cites its source")
        }
        // Every command writes a writable table and, where it verifies, reads a point of this profile.
        for command in profile.commands {
            #expect(command.table.isWritable)
            if let verify = command.verify { #expect(profile.point(named: verify.point) != nil) }
        }
        // Planned reads cover every point once and stay within protocol limits.
        let plan = ReadPlan(points: profile.points)
        #expect(plan.requests.flatMap(\.points).sorted() == profile.points.map(\.name).sorted())
        #expect(plan.requests.allSatisfy { $0.count <= $0.table.maxReadCount })
    }

    @Test("no shipped profile is missing from the list above")
    func listIsComplete() throws {
        let found = ProfileLocator(folders: [(shippedDevicesFolder, .shipped)]).available()
        #expect(found == shippedProfiles.sorted())
    }

    @Test("the points CONTRACT.md's example uses exist with the right kinds")
    func contractPoints() throws {
        func load(_ reference: String) throws -> DeviceProfile {
            try ProfileLoader.load(path: (shippedDevicesFolder as NSString).appendingPathComponent(reference + ".yaml"))
        }
        let gas = try load("sensor/offgas"), smoke = try load("smoke/aspirating"),
            bms = try load("battery/sunspec-lithium-ion")
        let ups = try load("ups/apc-smart-ups"), temp = try load("sensor/temperature-humidity"),
            io = try load("io/relay-outputs")
        let panel = try load("suppression/releasing-panel")
        #expect(gas.point(named: "offgas")?.valueNames == ["clear", "detected"])
        #expect(gas.point(named: "lfl_percent")?.unit == "% LFL")
        #expect(smoke.point(named: "level")?.valueNames == ["normal", "alert", "action", "fire1", "fire2"])
        #expect(smoke.point(named: "level")?.ordered == true)
        #expect(bms.point(named: "events")?.bitNumber(named: "over_temp_alarm") == 1)
        #expect(bms.command(named: "disconnect_string")?.value == .registers([2]))
        #expect(
            ups.point(named: "battery_overtemp").map { ($0.type, $0.bit, $0.address) } ?? (.uint16, nil, 0) == (
                .bool, 3, 22
            ))
        #expect(ups.point(named: "battery_temperature")?.scale == 1.0 / 128)
        #expect(
            temp.point(named: "temperature").map { ($0.table, $0.address, $0.type) } ?? (.coil, 0, .bool) == (
                .input, 1, .int16
            ))
        #expect(temp.point(named: "temperature")?.range == -40...60)
        for name in ["start_exhaust", "stop_hvac", "open_feed_1", "open_feed_2"] {
            #expect(io.command(named: name)?.table == .coil)
        }
        #expect(panel.command(named: "release") != nil && panel.command(named: "abort") != nil)
        #expect(panel.point(named: "fire_input")?.type == .bool)
    }
}

/// One validation rule of device profiles.
struct ProfileRule: Sendable, CustomTestStringConvertible {
    let rule: String
    let text: String
    let marker: String
    let field: String?
    let words: [String]
    var testDescription: String { rule }

    init(_ rule: String, _ text: String, at marker: String, field: String? = nil, _ words: [String]) {
        self.rule = rule
        self.text = text
        self.marker = marker
        self.field = field
        self.words = words
    }
}

private func profile(_ points: String, commands: String = "") -> String {
    "name: Test device\nsource: \"test fixture\"\npoints:\n" + points
        + (commands.isEmpty ? "" : "commands:\n" + commands)
}

let profileRules: [ProfileRule] = [
    ProfileRule(
        "address above 65535", profile("  p: { table: holding, address: 70000, type: uint16 }\n"), at: "p:",
        field: "points.p.address", ["address 70000 is outside 0…65535"]),
    ProfileRule(
        "negative address", profile("  p: { table: holding, address: -1, type: uint16 }\n"), at: "p:",
        field: "points.p.address", ["outside 0…65535"]),
    ProfileRule(
        "a 32-bit value past the last register", profile("  p: { table: holding, address: 65535, type: uint32 }\n"),
        at: "p:", field: "points.p.address", ["runs past 65535"]),
    ProfileRule(
        "unsupported type", profile("  p: { table: holding, address: 1, type: float64 }\n"), at: "p:",
        field: "points.p.type", ["unsupported type 'float64'"]),
    ProfileRule(
        "type typo", profile("  p: { table: holding, address: 1, type: unit16 }\n"), at: "p:", field: "points.p.type",
        ["did you mean 'uint16'"]),
    ProfileRule(
        "unsupported word order", profile("  p: { table: holding, address: 1, type: uint32, word_order: ABDC }\n"),
        at: "p:", field: "points.p.word_order", ["unsupported word order 'ABDC'", "did you mean"]),
    ProfileRule(
        "word order on a 16-bit type", profile("  p: { table: holding, address: 1, type: int16, word_order: CDAB }\n"),
        at: "p:", field: "points.p.word_order", ["32-bit types"]),
    ProfileRule(
        "unknown table suggests the right one", profile("  p: { table: holding_register, address: 1, type: uint16 }\n"),
        at: "p:", field: "points.p.table", ["unknown table", "did you mean 'holding'"]),
    ProfileRule(
        "non-bool type in a bit table", profile("  p: { table: coil, address: 1, type: uint16 }\n"), at: "p:",
        field: "points.p.type", ["`type: bool`"]),
    ProfileRule(
        "overlapping points that disagree",
        profile("  a: { table: input, address: 5, type: int16 }\n  b: { table: input, address: 5, type: uint16 }\n"),
        at: "  b:", field: "points.b", ["same input register 5", "uint16 instead of int16"]),
    ProfileRule(
        "32-bit points with different word orders",
        profile(
            "  a: { table: input, address: 5, type: uint32 }\n"
                + "  b: { table: input, address: 5, type: uint32, word_order: CDAB }\n"
        ),
        at: "  b:", field: "points.b", ["uint32 CDAB instead of uint32 ABCD"]),
    ProfileRule(
        "partly overlapping points",
        profile(
            "  a: { table: holding, address: 10, type: uint32 }\n  b: { table: holding, address: 11, type: int16 }\n"),
        at: "  b:", field: "points.b", ["partly overlaps 'a'"]),
    ProfileRule(
        "a command writing a read-only table",
        profile(
            "  p: { table: input, address: 1, type: uint16 }\n",
            commands: "  c: { table: input, address: 1, value: 1 }\n"),
        at: "  c:", field: "commands.c.table", ["cannot write the input table", "read-only"]),
    ProfileRule(
        "a command writing discrete inputs",
        profile(
            "  p: { table: discrete, address: 1, type: bool }\n",
            commands: "  c: { table: discrete, address: 1, value: true }\n"),
        at: "  c:", field: "commands.c.table", ["read-only"]),
    ProfileRule(
        "verify of an unknown point",
        profile(
            "  state: { table: coil, address: 1, type: bool }\n",
            commands: "  c: { table: coil, address: 1, value: true, verify: { point: stat, equals: true } }\n"),
        at: "  c:", field: "commands.c.verify.point", ["unknown point 'stat'", "did you mean 'state'"]),
    ProfileRule(
        "verify of an unknown enum value",
        profile(
            "  s: { table: input, address: 1, type: enum, values: { 0: closed, 1: open } }\n",
            commands: "  c: { table: holding, address: 1, value: 1, verify: { point: s, equals: opened } }\n"),
        at: "  c:", field: "commands.c.verify.equals", ["'opened' is not a value of 's'", "did you mean 'open'"]),
    ProfileRule(
        "verify of a bits point without a bit",
        profile(
            "  s: { table: input, address: 1, type: bits, bits: { 0: a } }\n",
            commands: "  c: { table: holding, address: 1, value: 1, verify: { point: s, equals: true } }\n"),
        at: "  c:", field: "commands.c.verify.point", ["verify one of its bits", "s.a"]),
    ProfileRule(
        "verify with a malformed duration",
        profile(
            "  s: { table: coil, address: 1, type: bool }\n",
            commands: "  c: { table: coil, address: 1, value: true, verify: { point: s, equals: true, within: 2 } }\n"),
        at: "  c:", field: "commands.c.verify.within", ["'2' is not a duration"]),
    ProfileRule(
        "coil command with a number",
        profile(
            "  s: { table: coil, address: 1, type: bool }\n", commands: "  c: { table: coil, address: 1, value: 1 }\n"),
        at: "  c:", field: "commands.c.value", ["true or false"]),
    ProfileRule(
        "register value too large",
        profile(
            "  s: { table: coil, address: 1, type: bool }\n",
            commands: "  c: { table: holding, address: 1, value: 70000 }\n"),
        at: "  c:", field: "commands.c.value", ["outside 0…65535"]),
    ProfileRule(
        "scale on an enum", profile("  s: { table: input, address: 1, type: enum, values: { 0: a }, scale: 0.1 }\n"),
        at: "  s:", field: "points.s.scale", ["numeric points only"]),
    ProfileRule(
        "bits without names", profile("  s: { table: input, address: 1, type: bits }\n"), at: "  s:", field: "points.s",
        ["missing field 'bits'"]),
    ProfileRule(
        "bit number above 15", profile("  s: { table: input, address: 1, type: bits, bits: { 16: a } }\n"), at: "  s:",
        field: "points.s.bits.16", ["outside 0…15"]),
    ProfileRule(
        "the same bit name twice", profile("  s: { table: input, address: 1, type: bits, bits: { 0: a, 1: a } }\n"),
        at: "  s:", field: "points.s.bits.1", ["used twice"]),
    ProfileRule(
        "range upside down", profile("  t: { table: input, address: 1, type: int16, range: [60, -40] }\n"), at: "  t:",
        field: "points.t.range", ["minimum above its maximum"]),
    ProfileRule(
        "scale of zero", profile("  t: { table: input, address: 1, type: int16, scale: 0 }\n"), at: "  t:",
        field: "points.t.scale", ["must not be 0"]),
    ProfileRule(
        "unknown point field", profile("  t: { table: input, address: 1, type: int16, scael: 0.1 }\n"), at: "  t:",
        field: "points.t.scael", ["unknown field 'scael'", "did you mean 'scale'"]),
    ProfileRule(
        "a profile without a source", "name: X\npoints:\n  t: { table: input, address: 1, type: int16 }\n",
        at: "name: X",
        field: "", ["missing field 'source'", "modeled: true"]),
    ProfileRule(
        "a modeled profile must say on what",
        "name: X\nmodeled: true\npoints:\n  t: { table: input, address: 1, type: int16 }\n",
        at: "name: X", field: "", ["modeled on"]),
    ProfileRule(
        "no points", "name: X\nsource: s\npoints: {}\n", at: "points:", field: "points", ["at least one point"]),
]

@Suite("Device profile validation")
struct ConfigProfileValidationTests {
    @Test("each rule reports the line, the field and what to do", arguments: profileRules)
    func rule(_ rule: ProfileRule) {
        let result = Result { () throws(ConfigErrors) in try ProfileLoader.parse(text: rule.text, file: "test.yaml") }
        guard case .failure(let errors) = result else {
            Issue.record("\(rule.rule): the profile loaded")
            return
        }
        expectConfigError(
            errors.errors, line: configLineNumber(of: rule.marker, in: rule.text), field: rule.field, words: rule.words)
        #expect(errors.errors.allSatisfy { $0.file == "test.yaml" && $0.hint != nil })
    }

    @Test("bit views of one register agree: a bits point and a bool picking one of its bits")
    func compatibleOverlap() throws {
        let text = profile(
            "  errors: { table: holding, address: 22, type: bits, bits: { 3: overtemp } }\n"
                + "  overtemp: { table: holding, address: 22, type: bool, bit: 3 }\n")
        let parsed = try ProfileLoader.parse(text: text, file: "t.yaml")
        #expect(parsed.points.count == 2)
        #expect(ReadPlan(points: parsed.points).requests.count == 1)
    }

    @Test("a profile error in a site points into the profile file, and the site's references to it stay quiet")
    func profileErrorInSite() throws {
        let broken = profile("  temperature: { table: input, address: 1, type: int16, scale: zero }\n")
        let text = configBaseSite.editedConfig(
            "profile: sensor/temperature-humidity, host: 127.0.0.1, port: 1501",
            "profile: local/broken, host: 127.0.0.1, port: 1501")
        let fixture = try ConfigSiteFixture(site: text, profiles: ["local/broken": broken])
        let errors = fixture.errors()
        #expect(errors.count == 1)
        #expect(errors.first?.file.hasSuffix("devices/local/broken.yaml") == true)
        #expect(errors.first?.field == "points.temperature.scale")
        #expect(errors.first?.line == 4)
    }
}

import Foundation
import SiteConfig
import Testing

@testable import Gateway

/// `check` refuses a tier 3 that one device could reach alone.
@Suite("Site validation: independent evidence")
struct ConfigIndependenceTests {
    /// The base site with temperature and smoke no longer fire-capable, and two fire-capable BMS signals.
    static let bmsOnly =
        configBaseSite
        .editedConfig("alarm: 50, fire: 55 }", "alarm: 50 }")
        .editedConfig("alert: alert, alarm: action, fire: fire1", "alert: alert, alarm: action")
        .editedConfig(
            "battery: { sources: [bms.events.over_temp_alarm, ups.battery_overtemp], alarm: true }",
            "battery: { sources: [bms.events.over_temp_alarm], alarm: true, fire: true }\n"
                + "      string: { sources: [bms.mod_tmp_max], alarm: 60, fire: 80 }")

    @Test("two kinds on one device: refused at the second signal's sources, naming the device and what to do")
    func oneDevice() throws {
        let fixture = try ConfigSiteFixture(site: Self.bmsOnly)
        let errors = fixture.errors()
        expectConfigError(
            errors, line: fixture.line(of: "string: { sources"), field: "zones.room.signals.string.sources",
            words: [
                "tier 3 of zone room could be reached from one device", "battery (battery, line "
                    + "\(fixture.line(of: "battery: { sources")))", "shares device bms", "share no device",
                "a device of its own",
            ])
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.column ?? 0 > 0)
    }

    @Test("a 2oo2 group that needs the shared device in every vote is refused")
    func twoOutOfTwo() throws {
        let text = Self.bmsOnly.editedConfig(
            "string: { sources: [bms.mod_tmp_max], alarm: 60, fire: 80 }",
            "string: { sources: [t1.temperature, bms.mod_tmp_max], vote: 2oo2, alarm: 50, fire: 55 }")
        let fixture = try ConfigSiteFixture(site: text)
        expectConfigError(
            fixture.errors(), line: fixture.line(of: "string: { sources"), field: "zones.room.signals.string.sources",
            words: ["shares device bms"])
    }

    @Test("a 2oo3 group with one sensor on the shared device passes: two room sensors vote without it")
    func twoOutOfThree() throws {
        let text = Self.bmsOnly.editedConfig(
            "string: { sources: [bms.mod_tmp_max], alarm: 60, fire: 80 }",
            "string: { sources: [t1.temperature, t2.temperature, bms.mod_tmp_max], alarm: 50, fire: 55 }")
        let site = try ConfigSiteFixture(site: text).load().get()
        #expect(site.model.zones[0].signals.map(\.name) == ["temperature", "offgas", "smoke", "battery", "string"])
    }

    @Test("a zone without suppression steps may have its fire evidence on one device")
    func noTierThree() throws {
        let text = Self.bmsOnly.editedConfig(
            "    suppress:\n      - command: feed.stop_hvac\n      - delay: 30s\n        abortable: true\n"
                + "      - command: panel.release\n    power_cut:\n      - command: feed.open_feed_1", "")
        _ = try ConfigSiteFixture(site: text).load().get()
    }

    @Test("the shipped example site passes the rule")
    func exampleSite() throws {
        let path = (configRepositoryFolder as NSString).appendingPathComponent("examples/site.yaml")
        let result = Result { () throws(ConfigErrors) in
            try SiteLoader(shippedDevices: shippedDevicesFolder).load(path: path)
        }
        if case .failure(let errors) = result { Issue.record("examples/site.yaml: \(errors)") }
    }
}

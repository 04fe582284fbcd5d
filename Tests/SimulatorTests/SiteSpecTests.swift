import FireSafety
import Foundation
import Gateway
import Modbus
import SiteConfig
import Testing

@testable import Simulator
import FireWatchTesting

/// Building the simulated site from a site file and its profiles: bindings, zones, and errors with file:line.
@Suite("Simulated site from a site file")
struct SiteSpecTests {
    /// A folder with a one-room site and a sensor profile beside it.
    final class SiteFolder {
        let path: String
        var site: String { path + "/site.yaml" }
        var profile: String { path + "/devices/sensor/probe.yaml" }

        init(simulate: String = "room_temperature", deviceExtra: String = "", zoneExtra: String = "") throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-spec-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path + "/devices/sensor", withIntermediateDirectories: true)
            try """
            name: Test probe
            modeled: true
            modeled_on: a test
            points:
              temperature: { table: input, address: 1, type: int16, scale: 0.1, range: [-40, 125], simulate: \(simulate) }
              state:       { table: input, address: 2, type: enum, values: { 0: ok, 1: warm } }
            """.write(toFile: profile, atomically: true, encoding: .utf8)
            try """
            site: test
            alert_log: state/alerts.jsonl
            control_socket: state/control.sock
            devices:
              probe-1: { profile: sensor/probe, host: 127.0.0.1, port: 15099\(deviceExtra) }
            zones:
              room:
                signals:
                  temperature: { sources: [probe-1.temperature], alert: 35 }
            \(zoneExtra)
            """.write(toFile: site, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        func load() throws -> LoadedSite {
            try SiteLoader(shippedDevices: Repository.root + "/devices").load(path: site)
        }
    }

    @Test("the example site binds every device to the zone that uses it")
    func exampleSite() throws {
        let spec = try SimSiteSpec(site: try loadExampleSite())
        #expect(spec.zones.map(\.name) == ["battery-room-a", "battery-room-b"])
        #expect(spec.devices.count == 18)
        #expect(spec.devices.first { $0.name == "temp-b2" }?.zone == "battery-room-b")
        #expect(spec.devices.first { $0.name == "feed-a" }?.bindings.commands["open_feed_1"] == .openFeed(1))
        #expect(spec.problems().isEmpty)
    }

    @Test("a simulate: text that names no quantity is refused with the profile's file, line and field")
    func badQuantity() throws {
        let folder = try SiteFolder(simulate: "room_temprature")
        do {
            _ = try SimSiteSpec(site: try folder.load())
            Issue.record("a bad simulate: text was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("probe.yaml:5"), "\(text)")
            #expect(text.contains("points.temperature.simulate"), "\(text)")
            #expect(text.contains("unknown quantity 'room_temprature'"), "\(text)")
        }
    }

    @Test("a device's simulate: names its zone and feed; a zone's simulate: sets its strings and feeds")
    func deviceAndZoneSettings() throws {
        let folder = try SiteFolder(
            deviceExtra: ", simulate: { zone: room, powered_by_feed: 2 }",
            zoneExtra: "    simulate: { strings: 2, feeds: 3 }")
        let spec = try SimSiteSpec(site: try folder.load())
        #expect(spec.zones.first?.strings == 2 && spec.zones.first?.feeds == 3)
        #expect(spec.devices.first?.poweredByFeed == 2)
    }

    @Test("a zone setting that is not a number is refused with its line")
    func badZoneSetting() throws {
        let folder = try SiteFolder(zoneExtra: "    simulate: { strings: many }")
        do {
            _ = try SimSiteSpec(site: try folder.load())
            Issue.record("strings: many was accepted")
        } catch {
            #expect("\(error)".contains("site.yaml:10"), "\(error)")
            #expect("\(error)".contains("'many' is not a number"), "\(error)")
        }
    }

    @Test("an out-of-range fault serves a raw value the profile itself rejects")
    func invalidValues() throws {
        let site = try loadExampleSite()
        for device in ["temp-a1", "gas-a", "smoke-a", "panel-a", "bms-a"] {
            let profile = try #require(site.profile(of: device))
            for point in profile.points where point.range != nil || point.type == .enum {
                let raw = try #require(SimulatorHost.invalidRaw(for: point), "\(device).\(point.name)")
                #expect(PointReading.decode(point, raw: raw).validity != .ok, "\(device).\(point.name): \(raw)")
            }
        }
    }
}

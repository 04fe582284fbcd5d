import Foundation
import Testing
@testable import Gateway
import FireWatchTesting
import SiteConfig

/// The repository's shipped `devices/` folder (tests never depend on the cwd).
let shippedDevicesFolder = Repository.file("devices")

let configRepositoryFolder = Repository.root

/// A throwaway folder with a site file and optional profiles beside it, removed on deinit.
final class ConfigSiteFixture {
    let folder: String
    let sitePath: String
    let text: String

    init(site text: String, profiles: [String: String] = [:], files: [String: String] = [:]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fw-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        sitePath = (folder as NSString).appendingPathComponent("site.yaml")
        self.text = text
        try text.write(toFile: sitePath, atomically: true, encoding: .utf8)
        for (reference, body) in profiles {
            let path = (folder as NSString).appendingPathComponent("devices/\(reference).yaml")
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try body.write(toFile: path, atomically: true, encoding: .utf8)
        }
        for (name, body) in files {
            let path = (folder as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try body.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func load() -> Result<LoadedSite, ConfigErrors> {
        Result { () throws(ConfigErrors) in try SiteLoader(shippedDevices: shippedDevicesFolder).load(path: sitePath) }
    }

    /// Errors of a load that must fail.
    func errors() -> [ConfigError] {
        switch load() {
        case .success: return []
        case .failure(let errors): return errors.errors
        }
    }

    /// 1-based line of the first line containing `marker`.
    func line(of marker: String) -> Int { configLineNumber(of: marker, in: text) }
}

func configLineNumber(of marker: String, in text: String) -> Int {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return (lines.firstIndex { $0.contains(marker) } ?? -1) + 1
}

/// A small valid site over shipped profiles; validation cases edit it with `replacing`.
let configBaseSite = """
    site: test-site
    poll_interval: 1s
    alert_log: state/alerts.jsonl
    control_socket: state/control.sock
    notify:
      ops: { webhook: "http://127.0.0.1:9781/hook", timeout: 2s }
    devices:
      t1:    { profile: sensor/temperature-humidity, host: 127.0.0.1, port: 1501 }
      t2:    { profile: sensor/temperature-humidity, host: 127.0.0.1, port: 1502 }
      t3:    { profile: sensor/temperature-humidity, host: 127.0.0.1, port: 1503 }
      gas:   { profile: sensor/offgas, host: 127.0.0.1, port: 1504 }
      smoke: { profile: smoke/aspirating, host: 127.0.0.1, port: 1505 }
      bms:   { profile: battery/sunspec-lithium-ion, host: 127.0.0.1, port: 1506 }
      ups:   { profile: ups/apc-smart-ups, host: 127.0.0.1, port: 1507 }
      feed:  { profile: io/relay-outputs, host: 127.0.0.1, port: 1508 }
      panel: { profile: suppression/releasing-panel, host: 127.0.0.1, port: 1509 }
    zones:
      room:
        signals:
          temperature: { sources: [t1.temperature, t2.temperature, t3.temperature], vote: 2oo3, alert: 35, alarm: 50, fire: 55 }
          offgas: { sources: [gas.offgas], alert: detected, alarm: detected }
          smoke: { sources: [smoke.level], alert: alert, alarm: action, fire: fire1 }
          battery: { sources: [bms.events.over_temp_alarm, ups.battery_overtemp], alarm: true }
        isolate:
          - command: bms.disconnect_string
          - notify: [ops]
        suppress:
          - command: feed.stop_hvac
          - delay: 30s
            abortable: true
          - command: panel.release
        power_cut:
          - command: feed.open_feed_1
    """

extension String {
    /// `self` with `old` replaced by `new`; the test fails if `old` is absent (a stale case).
    func editedConfig(_ old: String, _ new: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        #expect(contains(old), "base text lacks \(old)", sourceLocation: sourceLocation)
        return replacingOccurrences(of: old, with: new)
    }
}

/// Expects an error on `line` whose field is `field` and whose text contains every word.
func expectConfigError(
    _ errors: [ConfigError], line: Int, field: String? = nil, words: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let match = errors.first { error in
        error.line == line && (field.map { error.field == $0 } ?? true)
            && words.allSatisfy { error.description.localizedCaseInsensitiveContains($0) }
    }
    let got = errors.map(\.description).joined(separator: "\n")
    #expect(
        match != nil, "no error at line \(line) \(field ?? "") with \(words); got:\n\(got)",
        sourceLocation: sourceLocation)
}

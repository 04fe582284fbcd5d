@testable import FireSafety
import Foundation
import Gateway
import Modbus
import SiteConfig
import Testing
import FireWatchTesting

/// deploy/prometheus/, found from this file's place in the repository.
private let prometheusFolder = URL(fileURLWithPath: Repository.file("deploy/prometheus"))

private let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

@Suite("Metrics deploy files")
struct MetricsDeployTests {
    /// Every family the observer can emit, found by telling it one of everything.
    static func emittedFamilies() -> Set<String> {
        let observer = MetricsObserver(site: "s", devices: ["d"])
        let now = Timestamp(seconds: 100)
        let error = ModbusError(.timeout, operation: "read", endpoint: "127.0.0.1:1 unit 1")
        observer.pollFinished(device: "d", duration: .milliseconds(1), error: nil, at: now)
        observer.pollFinished(device: "d", duration: .milliseconds(1), error: error, at: now)
        observer.pointsRead(
            device: "d", readings: [PointReading(point: "p", raw: [1], value: .number(1), validity: .ok)], at: now)
        observer.deviceAvailability(device: "d", up: false, at: now)
        observer.engineEvaluated(
            zones: [
                MetricsServerTests.zone(
                    .alert, signals: [SignalStatus(name: "t", kind: "t", condition: .alert, degraded: false)])
            ], at: now)
        observer.stepFinished(zone: "z", procedure: .isolate, index: 0, outcome: .failed)
        observer.recordAppended(NotifyChannelTests.record(), fsyncLatency: .milliseconds(1), durable: true)
        observer.notificationFailed(channel: "c")
        var families: Set<String> = []
        for line in observer.registry.emitToString().split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            families.insert(String(parts[2]))
            if parts[3] == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] { families.insert(String(parts[2]) + suffix) }
            }
        }
        return families
    }

    @Test("every firewatch_ metric the alert rules use is one the daemon emits")
    func rulesUseRealNames() throws {
        let rules = try String(
            contentsOf: prometheusFolder.appendingPathComponent("firewatch-alerts.yml"), encoding: .utf8)
        let used = Set(
            rules.matches(of: /firewatch_[a-z_]+/).map { String($0.output) }.filter { !$0.hasSuffix("_") })
        let emitted = Self.emittedFamilies()
        #expect(!used.isEmpty)
        #expect(used.subtracting(emitted).isEmpty, "rules name metrics nobody emits: \(used.subtracting(emitted))")
        let required = [
            "FireWatchDeviceDown", "FireWatchZoneNotNormal", "FireWatchNotificationFailing", "FireWatchNoPollProgress",
        ]
        for name in required {
            #expect(rules.contains("alert: \(name)"))
        }
    }

    @Test("the scrape example loads the rule file beside it")
    func scrapeConfigNamesRules() throws {
        let scrape = try String(contentsOf: prometheusFolder.appendingPathComponent("prometheus.yml"), encoding: .utf8)
        #expect(scrape.contains("- firewatch-alerts.yml"))
        #expect(scrape.contains("metrics_path: /metrics"))
    }

    @Test(
        "promtool accepts the rules and their unit tests pass (device down, zone not normal, notify, no progress)")
    func promtoolRuleTests() async throws {
        try #require(promtool != nil, "promtool is not installed: make deps installs Debian's prometheus package")
        let outcome = try await ProcessRunner.run(
            ProcessSpec(
                argv: [promtool!, "test", "rules", "firewatch-alerts.test.yml"], timeout: .seconds(60),
                workingDirectory: prometheusFolder.path))
        #expect(outcome.succeeded, "\(outcome.outputTail)")
        #expect(outcome.outputTail.contains("SUCCESS"))
    }
}

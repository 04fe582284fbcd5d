@testable import FireSafety
import Foundation
import Gateway
import Logging
import Modbus
import SiteConfig
import Synchronization
import Testing

/// One sample of the text exposition format.
struct Sample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses `name{a="x",b="y"} 1.0` lines (no escapes in our label values); comments are skipped.
func parseExposition(_ text: String) -> [Sample] {
    text.split(separator: "\n").compactMap { line -> Sample? in
        if line.hasPrefix("#") { return nil }
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            return nil
        }
        let series = line[..<space]
        guard let brace = series.firstIndex(of: "{") else {
            return Sample(name: String(series), labels: [:], value: value)
        }
        var labels: [String: String] = [:]
        for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
        }
        return Sample(name: String(series[..<brace]), labels: labels, value: value)
    }
}

extension [Sample] {
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { $0.name == name && $0.labels == labels }?.value
    }
}

@Suite("Metrics server")
struct MetricsServerTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    struct TestStatus: Codable, Sendable, Equatable {
        var site: String
        var zones: [String: String]
    }

    /// Runs a server for `observer` on 127.0.0.1 port 0 and gives `body` its port.
    func withServer<T: Sendable>(
        _ observer: MetricsObserver, health: @escaping @Sendable () async -> Health = { .healthy },
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        let (ports, portInput) = AsyncStream.makeStream(of: Int.self)
        let server = MetricsServer(
            address: HostPort(host: "127.0.0.1", port: 0), registry: observer.registry, logger: Self.logger,
            status: { TestStatus(site: "pangyo-a", zones: ["battery-room-a": "isolating"]) }, health: health,
            onListening: { portInput.yield($0.port) })
        return try await withRunning(server.run) {
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(port > 0)
            return try await body(port)
        }
    }

    static func zone(_ state: ZoneState, signals: [SignalStatus]) -> ZoneStatus {
        ZoneStatus(
            name: "battery-room-a", state: state, latched: .alarm, trouble: true, inhibitedUntil: nil,
            inhibitReason: nil, acknowledged: false, isolate: .running(next: 0), suppress: .idle, powerCut: .idle,
            running: nil, signals: signals)
    }

    @Test("/metrics shows what the observer was told, with Prometheus names and labels")
    func scrape() async throws {
        let observer = MetricsObserver(site: "pangyo-a", devices: ["temp-a1", "gas-a"])
        let now = Timestamp(seconds: 1_795_000_000)
        observer.pollFinished(device: "temp-a1", duration: .milliseconds(20), error: nil, at: now)
        observer.pointsRead(
            device: "temp-a1",
            readings: [
                PointReading(point: "temperature", raw: [235], value: .number(23.5), validity: .ok),
                PointReading(point: "humidity", raw: [9999], value: .number(999.9), validity: .aboveRange(0...100)),
                PointReading(point: "state", raw: [2], value: .name("fault"), validity: .ok),
                PointReading(
                    point: "alarms", raw: [0b1001], value: .number(9), bits: ["over_temp": true, "runaway": false],
                    validity: .ok),
            ], at: now)
        let timeout = ModbusError(.timeout, operation: "read input 0+2", endpoint: "127.0.0.1:1502 unit 1")
        observer.pollFinished(device: "gas-a", duration: .seconds(1), error: timeout, at: now)
        observer.pollFinished(device: "gas-a", duration: .seconds(1), error: timeout, at: now)
        observer.deviceAvailability(device: "gas-a", up: false, at: now)
        observer.engineEvaluated(
            zones: [
                Self.zone(
                    .isolating,
                    signals: [
                        SignalStatus(name: "offgas", kind: "offgas", condition: .alarm, degraded: false),
                        SignalStatus(name: "temperature", kind: "temperature", condition: .trouble, degraded: true),
                    ])
            ], at: now)
        observer.stepFinished(zone: "battery-room-a", procedure: .isolate, index: 0, outcome: .succeeded)
        observer.stepFinished(zone: "battery-room-a", procedure: .isolate, index: 1, outcome: .failed)
        let record = NotifyChannelTests.record()
        observer.recordAppended(record, fsyncLatency: .microseconds(800), durable: true)
        observer.recordAppended(record, fsyncLatency: .microseconds(900), durable: true)
        observer.notificationFailed(channel: "pager")
        observer.notificationDelivered(channel: "ops-webhook")

        let (status, text) = try await withServer(observer) { port in try await httpGet(port: port, "/metrics") }
        #expect(status == 200)
        let samples = parseExposition(text)
        #expect(samples.value("firewatch_build_info", ["version": BuildInfo.version, "site": "pangyo-a"]) == 1)

        let zone = ["zone": "battery-room-a"]
        #expect(samples.value("firewatch_zone_state", zone.merging(["state": "isolating"]) { $1 }) == 1)
        #expect(samples.value("firewatch_zone_state", zone.merging(["state": "normal"]) { $1 }) == 0)
        #expect(samples.filter { $0.name == "firewatch_zone_state" }.count == ZoneState.allCases.count)
        #expect(samples.value("firewatch_zone_state_code", zone) == 2)
        #expect(samples.value("firewatch_zone_trouble", zone) == 1)
        #expect(samples.value("firewatch_zone_inhibited", zone) == 0)
        #expect(
            samples.value("firewatch_signal_level", zone.merging(["signal": "offgas", "level": "alarm"]) { $1 }) == 1)
        #expect(
            samples.value("firewatch_signal_level", zone.merging(["signal": "offgas", "level": "normal"]) { $1 }) == 0)
        #expect(
            samples.value("firewatch_signal_level", zone.merging(["signal": "temperature", "level": "trouble"]) { $1 })
                == 1)
        #expect(samples.value("firewatch_signal_degraded", zone.merging(["signal": "temperature"]) { $1 }) == 1)

        let temp = ["device": "temp-a1"]
        #expect(samples.value("firewatch_point_value", ["device": "temp-a1", "point": "temperature"]) == 23.5)
        #expect(samples.value("firewatch_point_valid", ["device": "temp-a1", "point": "temperature"]) == 1)
        #expect(samples.value("firewatch_point_value", ["device": "temp-a1", "point": "humidity"]) == 999.9)
        #expect(samples.value("firewatch_point_valid", ["device": "temp-a1", "point": "humidity"]) == 0)
        #expect(samples.value("firewatch_point_value", ["device": "temp-a1", "point": "state"]) == 2)
        #expect(samples.value("firewatch_point_value", ["device": "temp-a1", "point": "alarms.over_temp"]) == 1)
        #expect(samples.value("firewatch_point_value", ["device": "temp-a1", "point": "alarms.runaway"]) == 0)
        #expect(samples.value("firewatch_device_up", temp) == 1)
        #expect(samples.value("firewatch_device_up", ["device": "gas-a"]) == 0)
        #expect(samples.value("firewatch_device_last_poll_success_timestamp_seconds", temp) == 1_795_000_000)
        // Never answered: 0, so `time() - …` is huge and the no-progress alert fires for it too.
        #expect(samples.value("firewatch_device_last_poll_success_timestamp_seconds", ["device": "gas-a"]) == 0)
        #expect(samples.value("firewatch_poll_duration_seconds_count", temp) == 1)
        #expect(samples.value("firewatch_poll_duration_seconds_sum", temp) == 0.02)
        #expect(samples.value("firewatch_poll_duration_seconds_bucket", temp.merging(["le": "0.025"]) { $1 }) == 1)
        #expect(samples.value("firewatch_poll_duration_seconds_bucket", temp.merging(["le": "0.01"]) { $1 }) == 0)
        #expect(samples.value("firewatch_poll_errors_total", ["device": "gas-a", "kind": "timeout"]) == 2)

        let isolate = zone.merging(["procedure": "isolate"]) { $1 }
        #expect(samples.value("firewatch_steps_total", isolate.merging(["outcome": "succeeded"]) { $1 }) == 1)
        #expect(samples.value("firewatch_steps_total", isolate.merging(["outcome": "failed"]) { $1 }) == 1)
        #expect(samples.value("firewatch_notification_failures_total", ["channel": "pager"]) == 1)
        #expect(samples.value("firewatch_notifications_delivered_total", ["channel": "ops-webhook"]) == 1)
        #expect(samples.value("firewatch_alert_log_records_total", ["severity": "alarm", "durable": "true"]) == 2)
        #expect(samples.value("firewatch_alert_log_degraded") == 0)
        #expect(samples.value("firewatch_alert_log_fsync_duration_seconds_count") == 2)
        #expect(samples.value("firewatch_alert_log_fsync_duration_seconds_bucket", ["le": "0.001"]) == 2)

        // Conventions: every name is ours; counters end in _total; every family has HELP and TYPE.
        #expect(samples.allSatisfy { $0.name.hasPrefix("firewatch_") })
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") {
            let parts = line.split(separator: " ")
            if parts[3] == "counter" { #expect(parts[2].hasSuffix("_total")) }
            #expect(text.contains("# HELP \(parts[2]) "))
        }
        #expect(text.contains("# TYPE firewatch_poll_duration_seconds histogram"))
    }

    @Test("/status returns the closure's JSON")
    func status() async throws {
        let (code, body) = try await withServer(MetricsObserver()) { port in try await httpGet(port: port, "/status") }
        #expect(code == 200)
        let decoded = try JSONDecoder().decode(TestStatus.self, from: Data(body.utf8))
        #expect(decoded == TestStatus(site: "pangyo-a", zones: ["battery-room-a": "isolating"]))
    }

    @Test("/healthz is 200 only while the closure says healthy, else 503 with the reason")
    func healthz() async throws {
        let verdict = Mutex<Health>(.unhealthy("no poll finished within 30 seconds for gas-a"))
        try await withServer(MetricsObserver(), health: { verdict.withLock { $0 } }) { port in
            let sick = try await httpGet(port: port, "/healthz")
            #expect(sick.status == 503)
            #expect(sick.body == "no poll finished within 30 seconds for gas-a\n")
            verdict.withLock { $0 = .healthy }
            let well = try await httpGet(port: port, "/healthz")
            #expect(well.status == 200)
            #expect(well.body == "ok\n")
            #expect(try await httpGet(port: port, "/nothing").status == 404)
        }
    }

    @Test("poll progress: every configured device must have finished a poll within the limit")
    func pollProgress() {
        let observer = MetricsObserver(devices: ["temp-a1", "gas-a"])
        let start = Timestamp(seconds: 1000)
        #expect(observer.pollProgress(now: start, maxAge: .seconds(10)) != .healthy)
        observer.pollFinished(device: "temp-a1", duration: .milliseconds(5), error: nil, at: start)
        guard case .unhealthy(let reason) = observer.pollProgress(now: start, maxAge: .seconds(10)) else {
            Issue.record("gas-a never polled, yet healthy")
            return
        }
        #expect(reason.contains("gas-a (never polled)"))
        #expect(!reason.contains("temp-a1"))
        // A failed poll is still progress: the device being down is another metric's business.
        let timeout = ModbusError(.timeout, operation: "read", endpoint: "127.0.0.1:1 unit 1")
        observer.pollFinished(device: "gas-a", duration: .seconds(1), error: timeout, at: start + .seconds(1))
        #expect(observer.pollProgress(now: start + .seconds(5), maxAge: .seconds(10)) == .healthy)
        #expect(observer.pollProgress(now: start + .seconds(11), maxAge: .seconds(10)) != .healthy)
    }

    @Test("an address already in use fails with the metrics: field named")
    func bindFailure() async throws {
        let observer = MetricsObserver()
        try await withServer(observer) { port in
            let second = MetricsServer(
                address: HostPort(host: "127.0.0.1", port: port), registry: observer.registry, logger: Self.logger,
                status: { TestStatus(site: "", zones: [:]) }, health: { .healthy })
            await #expect {
                try await second.run()
            } throws: { error in
                "\(error)".contains("metrics: cannot listen on 127.0.0.1:\(port)")
            }
        }
    }

    @Test("with bindRetry a taken port is retried, not fatal: the server binds once the port is free")
    func bindRetry() async throws {
        let observer = MetricsObserver()
        let (ports, portInput) = AsyncStream.makeStream(of: Int.self)
        let waiting = EventLog()
        // Hold a port with a first server, start the second on it, then stop the first.
        let (blocker, blockerInput) = AsyncStream.makeStream(of: Int.self)
        let first = MetricsServer(
            address: HostPort(host: "127.0.0.1", port: 0), registry: observer.registry, logger: Self.logger,
            status: { TestStatus(site: "first", zones: [:]) }, health: { .healthy },
            onListening: { blockerInput.yield($0.port) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            var blockerPorts = blocker.makeAsyncIterator()
            let port = try #require(await blockerPorts.next())
            let second = MetricsServer(
                address: HostPort(host: "127.0.0.1", port: port), registry: observer.registry,
                logger: Logger(label: "test", factory: { _ in RecordingLogHandler(log: waiting) }),
                status: { TestStatus(site: "second", zones: [:]) }, health: { .healthy },
                bindRetry: .milliseconds(20), onListening: { portInput.yield($0.port) })
            let secondTask = Task { try await second.run() }
            // The second server said why it waits; then the port is freed.
            let complaints = await waiting.wait(for: 1, "error ")
            #expect(complaints.first?.contains("metrics: cannot listen on 127.0.0.1:\(port)") == true)
            group.cancelAll()
            try? await group.waitForAll()
            var secondPorts = ports.makeAsyncIterator()
            #expect(await secondPorts.next() == port)
            let (code, body) = try await httpGet(port: port, "/status")
            #expect(code == 200)
            #expect(body.contains("\"site\":\"second\""))
            secondTask.cancel()
            _ = await secondTask.result
        }
    }
}

/// A log handler that appends `"<level> <message>"` to an `EventLog`.
struct RecordingLogHandler: LogHandler {
    let log: EventLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        log.append("\(event.level) \(event.message)")
    }
}

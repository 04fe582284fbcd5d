import Foundation
import Gateway
import Testing
import FireWatchTesting

/// A real Prometheus server (Debian's `prometheus`) on a free loopback port, its data in `folder`.
private final class PrometheusServer {
    let port: Int
    let process = Process()
    let logPath: String

    init(config: String, in folder: String) throws {
        let binary = "/usr/bin/prometheus"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("\(binary) is not installed: make deps installs Debian's prometheus package")
        }
        port = try freeLoopbackPort()
        logPath = folder + "/prometheus.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(config)", "--storage.tsdb.path=\(folder)/data", "--web.listen-address=127.0.0.1:\(port)",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// `GET path` as JSON's `data`, nil until the server answers 200.
    func data(_ path: String) async -> Any? {
        guard let (status, body) = try? await httpGet(port: port, path), status == 200,
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        else { return nil }
        return object["data"]
    }

    /// Asks `check` every 250 ms for up to 60 s (a loaded machine) until it answers.
    func eventually<T>(_ what: String, _ check: () async -> T?) async throws -> T {
        for _ in 0..<240 {
            if let value = await check() { return value }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw TestFailure("Prometheus on \(port): gave up waiting for \(what); its log:\n\(log)")
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

/// The shipped files of deploy/prometheus/, copied into `folder` with their example addresses pointed at this
/// machine's loopback (each replacement must be found: a renamed example address fails the test loudly).
private func deployCopy(_ name: String, into folder: String, replacing: [(String, String)]) throws -> String {
    var text = try String(contentsOfFile: Repository.file("deploy/prometheus/\(name)"), encoding: .utf8)
    for (from, to) in replacing {
        guard text.contains(from) else { throw TestFailure("deploy/prometheus/\(name) no longer has '\(from)'") }
        text = text.replacingOccurrences(of: from, with: to)
    }
    let path = folder + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("Prometheus examples against real servers", .serialized)
struct PrometheusDeployTests {
    @Test("promtool check config passes on the scrape example and on the federation example")
    func promtoolCheckConfig() async throws {
        for file in ["prometheus.yml", "federation.yml"] {
            let outcome = try await ProcessRunner.run(
                ProcessSpec(
                    argv: ["/usr/bin/promtool", "check", "config", file], timeout: .seconds(60),
                    workingDirectory: Repository.file("deploy/prometheus")))
            #expect(outcome.succeeded, "\(file): \(outcome.outputTail)")
        }
    }

    @Test(
        "a site Prometheus on the shipped scrape config has every target up over a real daemon, and a central one federates its series"
    )
    func siteAndCentralPrometheus() async throws {
        let folder = try TemporaryDirectory(prefix: "fw-prom")
        defer { folder.remove() }
        let daemon = try DaemonFixture(webhookPort: try freeLoopbackPort())
        do {
            try await Self.sitePrometheusThenCentral(over: daemon, in: folder.path)
        } catch {
            await daemon.stop()
            throw error
        }
        await daemon.stop()
    }

    private static func sitePrometheusThenCentral(over daemon: DaemonFixture, in folder: String) async throws {
        let noAlertmanager = try RefusingPort()
        try FileManager.default.createDirectory(atPath: folder + "/site", withIntermediateDirectories: true)
        _ = try deployCopy("firewatch-alerts.yml", into: folder + "/site", replacing: [])
        // Shorter intervals than the examples' (the test's patience), the same jobs and targets otherwise.
        let config = try deployCopy(
            "prometheus.yml", into: folder + "/site",
            replacing: [
                ("127.0.0.1:9780", "127.0.0.1:\(daemon.metricsPort)"),
                ("alertmanager.example:9093", "127.0.0.1:\(noAlertmanager.port)"),
                ("scrape_interval: 5s", "scrape_interval: 1s"), ("scrape_timeout: 4s", "scrape_timeout: 1s"),
            ])
        let site = try PrometheusServer(config: config, in: folder + "/site")
        defer { site.stop() }

        // Out of the box every active target is up: none is a probe of an exporter that is not running.
        let targets = try await site.eventually("every target scraped") { () async -> [[String: Any]]? in
            guard let data = await site.data("/api/v1/targets") as? [String: Any],
                let active = data["activeTargets"] as? [[String: Any]], !active.isEmpty,
                active.allSatisfy({ ($0["health"] as? String) != "unknown" })
            else { return nil }
            return active
        }
        #expect(targets.allSatisfy { ($0["health"] as? String) == "up" }, "\(targets)")
        #expect(Set(targets.compactMap { $0["scrapePool"] as? String }) == ["firewatch"])
        let devices = try await site.eventually("firewatch_device_up at the site") { () async -> [[String: Any]]? in
            guard let data = await site.data("/api/v1/query?query=firewatch_device_up") as? [String: Any],
                let result = data["result"] as? [[String: Any]], result.count == 2
            else { return nil }
            return result
        }
        #expect(Set(devices.compactMap { ($0["metric"] as? [String: String])?["device"] }) == ["gas", "relay"])

        // The central server federates the site's FireWatch series with the site's own labels.
        let otherSite = try RefusingPort()
        try FileManager.default.createDirectory(atPath: folder + "/central", withIntermediateDirectories: true)
        let centralConfig = try deployCopy(
            "federation.yml", into: folder + "/central",
            replacing: [
                ("prometheus.pangyo-a.example:9090", "127.0.0.1:\(site.port)"),
                ("prometheus.pangyo-b.example:9090", "127.0.0.1:\(otherSite.port)"),
                ("scrape_interval: 30s", "scrape_interval: 1s"), ("scrape_timeout: 20s", "scrape_timeout: 1s"),
            ])
        let central = try PrometheusServer(config: centralConfig, in: folder + "/central")
        defer { central.stop() }
        let federated = try await central.eventually("federated firewatch_device_up") { () async -> [[String: Any]]? in
            guard let data = await central.data("/api/v1/query?query=firewatch_device_up") as? [String: Any],
                let result = data["result"] as? [[String: Any]], result.count == 2
            else { return nil }
            return result
        }
        for series in federated {
            let labels = series["metric"] as? [String: String] ?? [:]
            #expect(labels["job"] == "firewatch" && labels["site"] == "pangyo-a", "\(labels)")
            #expect(labels["federated_from"] == "pangyo-a", "\(labels)")
        }
        let up = try await central.eventually("federated up") { () async -> [[String: Any]]? in
            guard let data = await central.data("/api/v1/query?query=up%7Bjob%3D%22firewatch%22%7D") as? [String: Any],
                let result = data["result"] as? [[String: Any]], !result.isEmpty
            else { return nil }
            return result
        }
        #expect(up.count == 1 && (up[0]["value"] as? [Any])?.last as? String == "1", "\(up)")
    }
}

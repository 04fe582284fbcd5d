import FireWatchTesting
import Foundation
import Gateway
import Modbus
import Testing

private let flagProfile = """
    name: Test detector with one flag
    source: "test fixture"
    points:
      detected: { table: discrete, address: 0, type: bool }
    """

/// A daemon subprocess (`firewatch run`) over three real Modbus servers and two zones, its metrics listener on a
/// free loopback port. `room-a` has an off-gas and a smoke detector (a double knock, so it can reach fire and its
/// 10-minute abortable pre-discharge countdown); `room-b` has an off-gas detector only.
private final class TwoRoomDaemon {
    let servers: [String: Server]
    let metricsPort: Int
    let site: ConfigSiteFixture
    let process = Process()
    let stderrPath: String

    init() throws {
        var servers: [String: Server] = [:]
        for name in ["gas-a", "smoke-a", "gas-b"] {
            let server = try Server()
            try server.set(.discrete, address: 0, values: [0])
            servers[name] = server
        }
        self.servers = servers
        metricsPort = try freeLoopbackPort()
        func device(_ name: String) -> String {
            "\(name): { profile: test/flag, host: 127.0.0.1, port: \(servers[name]!.port) }"
        }
        let text = """
            site: page-test
            poll_interval: 200ms
            stale_after: 3s
            alert_log: state/alerts.jsonl
            control_socket: state/control.sock
            metrics: 127.0.0.1:\(metricsPort)
            devices:
              \(device("gas-a"))
              \(device("smoke-a"))
              \(device("gas-b"))
            zones:
              room-a:
                signals:
                  offgas: { sources: [gas-a.detected], alarm: true, fire: true }
                  smoke:  { sources: [smoke-a.detected], fire: true }
                suppress:
                  - delay: 10m
                    abortable: true
              room-b:
                signals:
                  offgas: { sources: [gas-b.detected], alarm: true }
            """
        site = try ConfigSiteFixture(site: text, profiles: ["test/flag": flagProfile])
        stderrPath = site.folder + "/daemon.stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try FirewatchExecutable.required())
        process.arguments = ["run", "--config", site.sitePath]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls `check` up to 600 times, 100 ms apart, for 60 s at most (the machine may be loaded), until it returns a
    /// value.
    func eventually<T>(_ what: String, _ check: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(60)
        for _ in 0..<600 where ContinuousClock.now < deadline {
            if !process.isRunning { throw TestFailure("daemon exited while waiting for \(what):\n\(stderr)") }
            if let value = try? await check() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("timed out waiting for \(what); daemon stderr:\n\(stderr)")
    }

    /// `/status` as parsed JSON.
    func status() async throws -> [String: Any] {
        let (code, body) = try await httpGet(port: metricsPort, "/status")
        guard code == 200, let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw TestFailure("/status answered \(code): \(body)")
        }
        return json
    }

    /// The `latched` of each zone in `/status` ("" when not latched), once every device has been polled.
    func latches() async throws -> [String: String]? {
        let json = try await status()
        guard json["ready"] as? Bool == true else { return nil }
        let zones = json["zones"] as? [[String: Any]] ?? []
        return Dictionary(
            uniqueKeysWithValues: zones.map { ($0["name"] as? String ?? "?", $0["latched"] as? String ?? "") })
    }

    /// SIGTERM, then up to 10 s for a graceful exit, then SIGKILL.
    func stop() async {
        if process.isRunning { process.terminate() }
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        for server in servers.values { server.stop() }
    }
}

/// Headless Chromium (Debian's `chromium`, which `make deps` installs): loads a page, lets its scripts run for a
/// few seconds of virtual time and prints the DOM they left.
private enum Chromium {
    /// `chromium` on PATH; an error that fails the test when it is missing (never a silent skip).
    static func required() throws -> String {
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let candidates = folders.map { "\($0)/chromium" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestFailure(
                "chromium is not installed (not found on PATH): `make deps` installs it (apt-get install chromium); "
                    + "the annunciator page's browser test needs a real browser")
        }
        return found
    }

    /// The page's DOM after its scripts ran.
    static func renderedDOM(of url: String) async throws -> String {
        let chromium = try required()
        let profile = try TemporaryDirectory(prefix: "firewatch-chromium")
        defer { profile.remove() }
        // Bounded by timeout(1): 90 s, then SIGKILL 5 s later. --no-sandbox because tests may run as root.
        let run = try await runProgram(
            "/usr/bin/timeout",
            [
                "-k", "5", "90", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--user-data-dir=\(profile.path)", "--virtual-time-budget=5000", "--dump-dom", url,
            ],
            environment: ["HOME": profile.path])
        guard run.status == 0, run.stdout.contains("</html>") else {
            throw TestFailure("chromium exited \(run.status) without a DOM; stderr:\n\(run.stderr.suffix(3000))")
        }
        return run.stdout
    }
}

/// One zone tile of the rendered page: its `data-zone`, `data-state` and text.
private struct Tile: Equatable {
    var zone: String
    var state: String
    var text: String
}

/// The `<article class="tile" …>` elements of a DOM dump (tiles hold no nested `article`).
private func tiles(in dom: String) -> [Tile] {
    dom.matches(of: #/<article([^>]*)>(.*?)</article>/#.dotMatchesNewlines()).map { match in
        let attributes = match.output.1
        // The value of `data-NAME="…"` (Chromium writes every attribute value in double quotes).
        func attribute(_ name: String) -> String {
            guard let start = attributes.range(of: "data-\(name)=\"")?.upperBound else { return "" }
            return String(attributes[start...].prefix { $0 != "\"" })
        }
        let text = String(match.output.2).replacing(#/<[^>]+>/#, with: " ")
        return Tile(zone: attribute("zone"), state: attribute("state"), text: text)
    }
}

/// The page in a real browser over a real daemon: a heavy test (Chromium on two cores), run one at a time after the
/// parallel suites (`SCENARIO_SUITES` in the Makefile).
@Suite("Annunciator page in a browser", .serialized)
struct AnnunciatorBrowserTests {
    @Test("Chromium shows both zones normal, then room-a in alarm on off-gas, then in fire with its countdown")
    func tilesFollowTheSite() async throws {
        _ = try Chromium.required()
        let daemon = try TwoRoomDaemon()
        do {
            let url = "http://127.0.0.1:\(daemon.metricsPort)/"

            // Renders until the page shows `expected` (at most 3 dumps: the browser is judged, not the engine,
            // which `/status` has already been seen to reach).
            func render(_ expected: [String: String]) async throws -> (tiles: [Tile], dom: String) {
                var last: (tiles: [Tile], dom: String) = ([], "")
                for _ in 0..<3 {
                    let dom = try await Chromium.renderedDOM(of: url)
                    last = (tiles(in: dom), dom)
                    if Dictionary(last.tiles.map { ($0.zone, $0.state) }, uniquingKeysWith: { a, _ in a }) == expected {
                        break
                    }
                }
                return last
            }

            _ = try await daemon.eventually("every device polled, nothing latched") { () async throws -> Bool? in
                try await daemon.latches() == ["room-a": "", "room-b": ""] ? true : nil
            }
            let before = try await render(["room-a": "normal", "room-b": "normal"])
            #expect(before.tiles.map(\.zone) == ["room-a", "room-b"])
            #expect(before.tiles.map(\.state) == ["normal", "normal"])
            #expect(before.tiles.allSatisfy { $0.text.contains("NORMAL") }, "the state is written, not only coloured")
            #expect(before.dom.contains(#"data-device="gas-a" data-up="up""#))
            #expect(before.dom.contains(#"data-event="daemon.started""#), "the records list shows the start")
            #expect(before.dom.contains(#"data-link="live""#))
            #expect(before.dom.contains("Read only: no command can be given from this page"))

            try daemon.servers["gas-a"]!.set(.discrete, address: 0, values: [1])
            _ = try await daemon.eventually("room-a latched alarm in /status") { () async throws -> Bool? in
                try await daemon.latches() == ["room-a": "alarm", "room-b": ""] ? true : nil
            }
            let alarm = try await render(["room-a": "alarm", "room-b": "normal"])
            #expect(alarm.tiles.map(\.state) == ["alarm", "normal"], "\(alarm.tiles)")
            let roomA = try #require(alarm.tiles.first)
            #expect(roomA.text.contains("ALARM"))
            // The flag is at its fire threshold too; one kind of evidence alone latches alarm, not fire.
            #expect(roomA.text.contains("offgas: fire"), "the cause is on the tile: \(roomA.text)")
            #expect(alarm.dom.contains(#"<li data-severity="alarm""#), "an alarm record is listed")

            try daemon.servers["smoke-a"]!.set(.discrete, address: 0, values: [1])
            _ = try await daemon.eventually("room-a latched fire in /status") { () async throws -> Bool? in
                try await daemon.latches() == ["room-a": "fire", "room-b": ""] ? true : nil
            }
            let fire = try await render(["room-a": "fire", "room-b": "normal"])
            #expect(fire.tiles.map(\.state) == ["fire", "normal"], "\(fire.tiles)")
            let burning = try #require(fire.tiles.first)
            #expect(burning.text.contains("FIRE"))
            #expect(burning.text.contains("suppress step 1: delay 10 min (abortable)"), "\(burning.text)")
            #expect(burning.text.contains("firewatch abort room-a"), "the abort command is on the tile")
            #expect(burning.text.contains(" min "), "a countdown is running: \(burning.text)")
            #expect(!(fire.tiles.last?.text.contains("firewatch abort") ?? true))

            // A walk test of room-b: its tile says test, and an off-gas seen there stays a test.
            let start = try await runProgram(
                try FirewatchExecutable.required(),
                ["test", "room-b", "--for", "1h", "--reason", "walk test", "--config", daemon.site.sitePath])
            #expect(start.status == 0, "\(start.stdout) \(start.stderr)")
            try daemon.servers["gas-b"]!.set(.discrete, address: 0, values: [1])
            _ = try await daemon.eventually("room-b latched alarm in /status") { () async throws -> Bool? in
                try await daemon.latches() == ["room-a": "fire", "room-b": "alarm"] ? true : nil
            }
            let test = try await render(["room-a": "fire", "room-b": "test"])
            #expect(test.tiles.map(\.state) == ["fire", "test"], "\(test.tiles)")
            let walked = try #require(test.tiles.last)
            #expect(walked.text.contains("WALK TEST until") && walked.text.contains("latched alarm"), "\(walked.text)")
        } catch {
            await daemon.stop()
            throw error
        }
        await daemon.stop()
    }
}

import AlertLog
import ArgumentParser
import FireSafety
import Foundation
import Gateway
import Logging
import Simulator
import Synchronization
import Scenarios
import SiteConfig

/// `firewatch demo`: the simulator, the daemon and a live alert view in one process, on the bundled site.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a scenario on the bundled example site: simulator + daemon + live alert view, then a summary.",
        discussion: """
            Nothing to set up: no root, no configuration, nothing on the network but 127.0.0.1 (the devices get
            free ports of their own, so two demos or a running `make run` never collide). Site time is
            compressed by --speed (the simulator and the daemon share one clock), the alert log and control
            socket live in a fresh temporary directory, and at the end the demo prints what happened when,
            the seconds from first off-gas to isolation, the writes per device, what was never touched and
            the scenario's expectations. Exits 1 when an expectation fails.
            The bundled examples are found in \(Self.environmentVariable) if set, else in the checkout the
            executable was built in (or share/firewatch/examples beside an installed one).
            """
    )

    static let environmentVariable = "FIREWATCH_EXAMPLES"
    /// The scenario played by a hot-standby pair of real processes (`DemoCommand+Pair.swift`), not in process.
    static let pairScenario = "gateway-failover"

    @Option(
        name: .long, help: "A shipped scenario (pangyo-2022, offgas-caught-early, quiet-day, …) or a scenario file.")
    var scenario: String = "pangyo-2022"

    @Option(
        name: .long, help: "Site seconds per real second (default: the scenario's, fast enough to end within a minute)."
    )
    var speed: Double?

    @Flag(name: .long, help: "After the summary, keep the simulator and the daemon running until Ctrl-C.")
    var keep = false

    func validate() throws {
        if let speed, !(speed > 0 && speed.isFinite && speed <= 200) {
            throw ValidationError("--speed must be a number above 0 and at most 200, not \(speed)")
        }
    }

    func run() async throws {
        guard let examples = Self.examplesDirectory() else {
            reportError(
                "cannot find the bundled examples (examples/site.yaml); set \(Self.environmentVariable) to the "
                    + "examples folder of a FireWatch checkout")
            throw ExitCode(78)
        }
        let site = try loadSite(examples + "/site.yaml")
        let scenarioPath =
            scenario.hasSuffix(".yaml") || scenario.contains("/")
            ? scenario : "\(examples)/scenarios/\(scenario).yaml"
        guard FileManager.default.fileExists(atPath: scenarioPath) else {
            let shipped = (try? FileManager.default.contentsOfDirectory(atPath: examples + "/scenarios")) ?? []
            let names = shipped.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
            reportError("no scenario '\(scenario)'; the shipped ones are: \(names.joined(separator: ", "))")
            throw ExitCode(64)
        }
        let scenario = try loadScenario(scenarioPath)
        if scenario.name == Self.pairScenario {
            try await runPair(site: site, scenario: scenario)
            return
        }
        let speed = self.speed ?? Self.defaultSpeed(for: scenario)
        let directory = try Self.makeTemporaryDirectory()

        let out = LinePrinter()
        let colour = AlertFormatter.wantsColour(
            isTerminal: isatty(STDOUT_FILENO) == 1, environment: ProcessInfo.processInfo.environment)
        let view = LiveView(path: directory + "/alerts.jsonl", formatter: AlertFormatter(colour: colour), out: out)
        var logger = Logger(label: "firewatch")
        logger.logLevel = .error
        var configured = ScenarioRun(site: site, scenario: scenario, speed: speed, directory: directory, logger: logger)
        let keep = self.keep
        // With --keep the daemon also serves the annunciator page, on a free loopback port (known once it binds).
        let page = PageAddress()
        if keep {
            configured.metrics = HostPort(host: "127.0.0.1", port: 0)
            configured.onMetricsListening = { bound in page.set(bound) }
        }
        let run = configured
        out.print("FireWatch demo: \(scenario.name) on \(site.file)")
        out.print("  \(scenario.description.trimmingCharacters(in: .whitespacesAndNewlines))")
        out.print(
            "  \(ScenarioSummary.spoken(scenario.duration)) of site time at \(SpeedText(speed)); "
                + "alert log and control socket in \(directory)")
        out.print("")

        let summarised = SummaryMark()
        let signals = TerminationSignals()
        let report = try await withThrowingTaskGroup(of: ScenarioReport?.self, returning: ScenarioReport?.self) {
            group in
            group.addTask {
                try await run.run(
                    onEvent: { event in view.simulator(event) },
                    onStart: { host in
                        out.print(
                            "Simulator serves \(host.devices.count) devices on 127.0.0.1 (ports "
                                + "\(host.devices.map(\.port).min() ?? 0)…\(host.devices.map(\.port).max() ?? 0)); "
                                + "every device polled once — the scenario starts now.")
                        if let url = page.url { out.print("Annunciator page (read only): \(url)") }
                        view.start(at: host.start)
                    },
                    afterScenario: { report in
                        view.stop()
                        out.print("")
                        out.print(ScenarioSummary.render(report, site: site))
                        summarised.done.withLock { $0 = true }
                        if keep {
                            out.print("")
                            out.print(
                                "Still running (--keep): `firewatch status --socket \(directory)/control.sock`, "
                                    + "`firewatch alerts -f --log \(directory)/alerts.jsonl`, the annunciator page "
                                    + (page.url ?? "(its listener did not start)") + "; Ctrl-C stops.")
                            view.resume()
                            await signals.wait()
                            view.stop()
                        }
                    })
            }
            group.addTask {
                await signals.wait()
                return nil
            }
            // A signal before the scenario's end stops the run; with --keep the run waits for it itself.
            let first: ScenarioReport?? = try await group.next()
            group.cancelAll()
            if let report = first ?? nil { return report }
            let second: ScenarioReport?? = try await group.next()
            return second ?? nil
        }
        signals.restore()
        view.stop()
        Self.removeAllButAlertLog(in: directory)
        guard let report else { throw ExitCode(1) }
        if !summarised.done.withLock({ $0 }) {
            out.print(ScenarioSummary.render(report, site: site))
        }
        out.print("")
        out.print(
            "Alert log (\(report.records.count) records): \(report.alertLog) — read it with "
                + "`firewatch alerts --log \(report.alertLog)`; nothing else was left behind.")
        if !report.passed { throw ExitCode(1) }
    }

    /// The scenario's own speed, raised so it ends within 50 s of real time — except for a scenario that sets a
    /// compression above the demo's usual range (a month at 14,400x): it knows what its devices can be polled at.
    static func defaultSpeed(for scenario: Scenario) -> Double {
        if scenario.speed > 200 { return scenario.speed }
        let seconds = Double(scenario.duration.components.seconds)
        return max(scenario.speed, (seconds / 50).rounded(.up))
    }

    /// `FIREWATCH_EXAMPLES`, else `examples/` of the checkout the executable sits in, else an installed copy.
    static func examplesDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        executablePath: String? = Bundle.main.executablePath
    ) -> String? {
        if let value = environment[environmentVariable], !value.isEmpty { return value }
        guard let executablePath else { return nil }
        var directory = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        let fm = FileManager.default
        let installed = directory.deletingLastPathComponent().appendingPathComponent("share/firewatch/examples").path
        if fm.fileExists(atPath: installed + "/site.yaml") { return installed }
        for _ in 0..<6 {
            let candidate = directory.appendingPathComponent("examples").path
            if fm.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
                fm.fileExists(atPath: candidate + "/site.yaml")
            {
                return candidate
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return nil
    }

    static func makeTemporaryDirectory() throws -> String {
        // Short: the control socket path must fit in 107 bytes.
        var template = Array(
            ((NSTemporaryDirectory() as NSString).appendingPathComponent("firewatch-demo-XXXXXX")).utf8CString)
        guard let made = mkdtemp(&template) else {
            reportError(
                "cannot create a temporary directory in \(NSTemporaryDirectory()); set TMPDIR to a writable one")
            throw ExitCode(1)
        }
        return URL(fileURLWithPath: String(cString: made)).standardizedFileURL.path
    }

    /// The demo leaves only its alert log (and rotated parts of it) behind.
    static func removeAllButAlertLog(in directory: String) {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] where !name.hasPrefix("alerts.jsonl") {
            try? fm.removeItem(atPath: directory + "/" + name)
        }
    }
}

/// The demo daemon's metrics listener, once bound: where `--keep` says the annunciator page is.
private final class PageAddress: Sendable {
    private let bound = Mutex<HostPort?>(nil)
    func set(_ address: HostPort) { bound.withLock { $0 = address } }
    var url: String? { bound.withLock { $0 }.map { "http://\($0.host):\($0.port)/" } }
}

/// Whether the summary was printed while the run was still up (a class: the run's callbacks share it).
private final class SummaryMark: Sendable {
    let done = Mutex(false)
}

/// `30x`, `2.5x`.
private func SpeedText(_ speed: Double) -> String {
    speed == speed.rounded() ? "\(Int(speed))x" : String(format: "%.1fx", speed)
}

/// The live view: the alert log as it grows (the `firewatch alerts -f` follower and formatter), each line
/// prefixed by its site time since the scenario started, with the simulator's physics interleaved.
final class LiveView: Sendable {
    private let path: String
    private let formatter: AlertFormatter
    private let out: LinePrinter
    /// Put before each record (`gw-a │ `) when two logs are shown side by side.
    private let label: String
    private struct State: Sendable {
        var start: Timestamp?
        var stopRequested = false
        var running = false
        var offset: Int64 = 0
        /// How far the daemon's wall clock has been stepped (`clock.stepped`): record times move by it.
        var wallShift: Int64 = 0
    }
    private let state = Mutex(State())
    private let finished = Mutex<DispatchSemaphore?>(nil)

    init(path: String, formatter: AlertFormatter, out: LinePrinter, label: String = "") {
        self.path = path
        self.formatter = formatter
        self.out = out
        self.label = label
    }

    /// Starts following from the beginning of the log; lines before `start` (the daemon starting up) are
    /// shown only if they are about the daemon itself.
    func start(at start: Timestamp) {
        state.withLock { $0.start = start }
        follow(from: 0)
    }

    /// Follows again from where the last follow stopped.
    func resume() {
        follow(from: state.withLock { $0.offset })
    }

    /// Stops following after one last read of what the log holds now; waits for that read.
    func stop() {
        state.withLock { $0.stopRequested = true }
        let semaphore = finished.withLock { value -> DispatchSemaphore? in
            defer { value = nil }
            return value
        }
        _ = semaphore?.wait(timeout: .now() + 5)
    }

    /// A simulator event: scenario and physics lines; writes show up as the daemon's step records.
    func simulator(_ event: HostEvent) {
        if let line = ScenarioSummary.liveLine(event) { out.print(line) }
    }

    private func follow(from offset: Int64) {
        let semaphore = DispatchSemaphore(value: 0)
        let alreadyRunning = state.withLock { state -> Bool in
            if state.running { return true }
            state.running = true
            state.stopRequested = false
            return false
        }
        guard !alreadyRunning else { return }
        finished.withLock { $0 = semaphore }
        let thread = Thread { [self] in
            let warnings = AlertWarnings(sink: { _ in })  // "waiting for the file" notes are noise here
            let file = try? AlertLogFile(path: path)
            let follower = AlertFollower(path: path, file: file, offset: file == nil ? 0 : offset, warnings: warnings)
            var lastRound = false
            try? follower.run(
                shouldStop: {
                    // One more round after a stop request, so the last records are shown.
                    if lastRound { return true }
                    if state.withLock({ $0.stopRequested }) { lastRound = true }
                    return false
                },
                pause: { usleep(40_000) },
                emit: { line in
                    self.show(line)
                    self.state.withLock { $0.offset = Int64(line.bytes.count) + 1 + $0.offset }
                },
                batchDone: {})
            state.withLock { $0.running = false }
            semaphore.signal()
        }
        thread.name = "demo-live-view"
        thread.start()
    }

    private func show(_ line: AlertLine) {
        if line.event == AlertEvent.clockStepped.rawValue,
            let object = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any],
            let seconds = object["step_seconds"] as? Double
        {
            state.withLock { $0.wallShift += Int64((seconds * 1e9).rounded()) }
        }
        let (start, shift) = state.withLock { ($0.start, $0.wallShift) }
        guard let start, let millis = line.time else { return }
        // Back on the scenario's timeline: a stepped wall clock moves record times, not site time.
        let at = Timestamp(nanoseconds: millis * 1_000_000 - shift) - start
        if at < .zero {
            // Before the scenario: the daemon starting and seeing its devices for the first time.
            guard line.event?.hasPrefix("daemon.") == true else { return }
            out.print("   start   \(label)\(formatter.format(line))")
            return
        }
        out.print("\(ScenarioSummary.offset(at))  \(label)\(Self.withoutDate(formatter.format(line)))")
    }

    /// The formatter's local date and time mean little on a compressed clock; the scenario offset replaces them.
    static func withoutDate(_ text: String) -> String {
        let characters = Array(text.prefix(25))
        guard characters.count == 25, characters[4] == "-", characters[10] == " ", characters[23] == " " else {
            return text
        }
        return String(text.dropFirst(25))
    }
}

import AlertLog
import FireSafety
import FireWatchTesting
import Foundation
import Gateway
import SiteConfig
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Shared by the fault tests: a small site served by `firewatch simulate` and watched by
// `firewatch run` (two real processes on 127.0.0.1), the simulator's write lines, and libfaketime. The temp
// folder, the daemon process wrapper and record matching are RuntimeHarness's (TemporaryDirectory, DaemonProcess,
// RuntimeHarness.matches).

/// A wall clock the test can step under one process: libfaketime (Debian's `faketime`) reading its offset from a
/// file, with the monotonic clocks left alone. The library is preloaded into coreutils' `env`, which execs the
/// target with the preload inherited: libfaketime 0.9.10 preloaded straight into a Swift binary loses its argv.
struct FakeWallClock {
    static let libraries = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ]
    let library: String
    let offsetFile: String

    /// Writes offset `+0` into `folder/faketime-offset`.
    init(in folder: TemporaryDirectory) throws {
        guard let library = Self.libraries.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw HarnessError(
                "libfaketime is missing (looked at \(Self.libraries.joined(separator: ", "))): install Debian's "
                    + "faketime package (make deps does: apt-get install faketime)")
        }
        // libfaketime 0.9.10 also shifts every TFD_TIMER_ABSTIME timerfd by its offset, whatever the timer's
        // clock, so after a step back Task.sleep (libdispatch's CLOCK_MONOTONIC/BOOTTIME timerfds) would wake an
        // hour late — which no real kernel does. Tests/faketime/real_timerfd.c, preloaded first, passes them
        // through, so only the wall clock moves, as on a gateway whose clock NTP steps.
        let shim = folder.file("real_timerfd.so")
        let source = Repository.root + "/Tests/faketime/real_timerfd.c"
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gcc.arguments = ["gcc", "-shared", "-fPIC", "-O2", "-o", shim, source]
        try gcc.run()
        gcc.waitUntilExit()
        guard gcc.terminationStatus == 0, FileManager.default.fileExists(atPath: shim) else {
            throw HarnessError(
                "could not build \(source) with gcc (exit \(gcc.terminationStatus)): install gcc (build-essential)")
        }
        self.library = shim + ":" + library
        offsetFile = folder.file("faketime-offset")
        try set(offset: 0)
    }

    /// Moves the faked wall clock to real time + `seconds` (atomically: libfaketime must never read half a file).
    func set(offset seconds: Int) throws {
        let text = (seconds >= 0 ? "+" : "") + "\(seconds)\n"
        try text.write(toFile: offsetFile, atomically: true, encoding: .utf8)
    }

    /// `/usr/bin/env FAKETIME_…=… executable arguments…`, and the environment additions that preload the library.
    func wrap(_ executable: String, _ arguments: [String]) -> (
        executable: String, arguments: [String], env: [String: String]
    ) {
        let settings = [
            "FAKETIME_TIMESTAMP_FILE=\(offsetFile)", "FAKETIME_DONT_FAKE_MONOTONIC=1",
            // Re-read the offset file at most once a second (NO_CACHE would open it on every clock read).
            "FAKETIME_CACHE_DURATION=1",
        ]
        return ("/usr/bin/env", settings + [executable] + arguments, ["LD_PRELOAD": library])
    }

    /// libfaketime leaves `/dev/shm/faketime_shm_<pid>` and `sem.faketime_sem_<pid>` of the process it was first
    /// loaded into (its children share them); removes those of `pid` only.
    static func removeSharedMemory(of pid: Int32) {
        for name in ["faketime_shm_\(pid)", "sem.faketime_sem_\(pid)"] {
            try? FileManager.default.removeItem(atPath: "/dev/shm/" + name)
        }
    }
}

/// One write `firewatch simulate --scenario` printed: `83.661s write panel-a.release (accepted)`.
struct SimulatedWrite: Sendable, Equatable {
    /// Simulator time since its start (its own monotonic clock; it is never faked).
    var at: Duration
    /// `panel-a.release`.
    var target: String
}

/// A small site for `firewatch simulate` + `firewatch run` in a temp folder: per zone letter `x` a smoke detector
/// `smoke-x`, a releasing panel `panel-x` and a relay module `feed-x` on free loopback ports, and zone `room-x`
/// whose tier 3 is the double knock of smoke `fire1` and the panel's own fire input. Isolate starts the exhaust;
/// suppress is notify, HVAC off, an abortable pre-discharge delay, release; no power cut (the devices stay up).
final class FaultSite: Sendable {
    let directory: TemporaryDirectory
    let executable: String
    let zones: [String]
    let ports: [String: Int]
    let siteFile: String
    let scenarioFile: String
    let alertLog: String
    let socket: String
    let simulatorOutputPath: String
    let suppressDelay: String
    let staleAfter: String
    let settings: String
    /// Every process started, stopped by `run`'s cleanup whatever happened.
    private let launched = Mutex<[DaemonProcess]>([])
    /// Processes started under libfaketime, whose shared-memory files cleanup removes.
    private let faked = Mutex<[Int32]>([])
    /// More cleanup (unmounting), run after the processes are gone and before the folder is removed.
    private let cleanups = Mutex<[@Sendable () -> Void]>([])

    /// - Parameters:
    ///   - zones: zone letters (`["a"]` makes `room-a` with `smoke-a`, `panel-a`, `feed-a`).
    ///   - timeline: the scenario's `timeline:` items, indented by two spaces.
    ///   - staleAfter: `stale_after:`, generous by default: the machine running the tests is shared and busy.
    ///   - alertLog: the `alert_log:` setting (relative to the site's folder, or absolute).
    ///   - settings: more top-level site lines (`alert_log_max_size: 2KiB`).
    init(
        zones: [String] = ["a"], suppressDelay: String = "30s", staleAfter: String = "10s", timeline: String,
        alertLog: String = "state/alerts.jsonl", settings: String = ""
    ) throws {
        executable = try FirewatchExecutable.required()
        directory = try TemporaryDirectory()
        self.zones = zones
        self.suppressDelay = suppressDelay
        self.staleAfter = staleAfter
        self.settings = settings
        var ports: [String: Int] = [:]
        var taken = Set<Int>()
        for zone in zones {
            for kind in ["smoke", "panel", "feed"] {
                var port = try freeLoopbackPort()
                for _ in 0..<50 where taken.contains(port) { port = try freeLoopbackPort() }
                taken.insert(port)
                ports["\(kind)-\(zone)"] = port
            }
        }
        self.ports = ports
        siteFile = directory.file("site.yaml")
        scenarioFile = directory.file("scenario.yaml")
        self.alertLog = alertLog.hasPrefix("/") ? alertLog : directory.file(alertLog)
        socket = directory.file("state/control.sock")
        simulatorOutputPath = directory.file("simulate.out")
        try FileManager.default.createDirectory(atPath: directory.file("state"), withIntermediateDirectories: true)
        try siteYAML(alertLog: alertLog).write(toFile: siteFile, atomically: true, encoding: .utf8)
        let scenario = "name: fault-test\nduration: 2h\ntimeline:\n" + timeline
        try scenario.write(toFile: scenarioFile, atomically: true, encoding: .utf8)
    }

    /// The site file; `leadingNotify: false` drops the first step of every `suppress` (the reload test's change).
    func siteYAML(alertLog: String = "state/alerts.jsonl", leadingNotify: Bool = true) -> String {
        var text = """
            site: faults
            poll_interval: 500ms
            stale_after: \(staleAfter)
            timeout: 1s
            alert_log: \(alertLog)
            control_socket: state/control.sock
            \(settings)
            notify:
              pager: { command: [/bin/true], timeout: 5s }
            devices:

            """
        for zone in zones {
            text += """
                  smoke-\(zone): { profile: smoke/aspirating, host: 127.0.0.1, port: \(ports["smoke-\(zone)"]!) }
                  panel-\(zone): { profile: suppression/releasing-panel, host: 127.0.0.1, port: \(ports["panel-\(zone)"]!) }
                  feed-\(zone):  { profile: io/relay-outputs, host: 127.0.0.1, port: \(ports["feed-\(zone)"]!) }

                """
        }
        text += "zones:\n"
        for zone in zones {
            text += """
                  room-\(zone):
                    signals:
                      smoke: { sources: [smoke-\(zone).level], alert: alert, alarm: action, fire: fire1 }
                      panel: { sources: [panel-\(zone).fire_input], alarm: true, fire: true }
                    isolate:
                      - command: feed-\(zone).start_exhaust
                      - notify: [pager]
                    suppress:

                """
            if leadingNotify { text += "      - notify: [pager]\n" }
            text += """
                      - command: feed-\(zone).stop_hvac
                      - delay: \(suppressDelay)
                        abortable: true
                      - command: panel-\(zone).release

                """
        }
        return text
    }

    /// Timeline items that put `room-x` at fire (smoke fire1 and the panel's fire input) at `at` for two hours.
    static func fire(_ zone: String, at: String) -> String {
        """
          - at: \(at)
            set: { device: smoke-\(zone), point: level, value: fire1, for: 2h }
          - at: \(at)
            set: { device: panel-\(zone), point: fire_input, value: true, for: 2h }

        """
    }

    // MARK: - Processes

    /// The environment both processes get: the shipped profiles, no systemd, no shared compressed clock.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["FIREWATCH_DEVICES"] = Repository.root + "/devices"
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "LD_PRELOAD", ScaledSiteClock.environmentVariable] {
            env.removeValue(forKey: key)
        }
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Starts `executable arguments` with stdout and stderr into `output` (appended, so restarts keep the story).
    func launch(_ executable: String, _ arguments: [String], env: [String: String] = [:], output: String) throws
        -> DaemonProcess
    {
        if !FileManager.default.fileExists(atPath: output) {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment(env)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let started = DaemonProcess(process: process, stderrPath: output)
        launched.withLock { $0.append(started) }
        return started
    }

    /// `firewatch simulate --config site.yaml --scenario scenario.yaml --wait-for-polls` in real time: the scenario
    /// begins once a daemon has polled every device twice, and every write is printed with its simulator time.
    func startSimulator() throws -> DaemonProcess {
        try launch(
            executable, ["simulate", "--config", siteFile, "--scenario", scenarioFile, "--wait-for-polls"],
            output: simulatorOutputPath)
    }

    /// `firewatch run --config site.yaml ARGS`, under `clock` when given.
    func startDaemon(_ arguments: [String] = [], clock: FakeWallClock? = nil) throws -> DaemonProcess {
        let argv = ["run", "--config", siteFile, "--log-level", "notice"] + arguments
        let output = directory.file("run.err")
        guard let clock else { return try launch(executable, argv, output: output) }
        let wrapped = clock.wrap(executable, argv)
        let daemon = try launch(wrapped.executable, wrapped.arguments, env: wrapped.env, output: output)
        faked.withLock { $0.append(daemon.pid) }  // `env` execs the daemon: one pid
        return daemon
    }

    /// Runs `firewatch ARGS` to completion (bounded: killed after `limit`).
    func cli(_ arguments: [String], limit: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        let output = directory.file("cli-\(UUID().uuidString.prefix(8)).out")
        let process = try launch(executable, arguments, output: output)
        if await process.waitExit(limit: limit) == nil {
            process.signal(SIGKILL)
            _ = await process.waitExit(limit: .seconds(5))
            throw HarnessError("firewatch \(arguments.joined(separator: " ")) did not finish within \(limit)")
        }
        return (process.process.terminationStatus, process.stderr)
    }

    var simulatorOutput: String { (try? String(contentsOfFile: simulatorOutputPath, encoding: .utf8)) ?? "" }
    var daemonOutput: String { (try? String(contentsOfFile: directory.file("run.err"), encoding: .utf8)) ?? "" }

    /// Both processes' output, for failure messages.
    var story: String { "simulator:\n\(simulatorOutput)\ndaemon stderr:\n\(daemonOutput)" }

    /// Every write the simulator printed, in order.
    func writes() -> [SimulatedWrite] {
        simulatorOutput.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 3, words[1] == "write", let at = DurationText.parse(String(words[0])) else {
                return nil
            }
            return SimulatedWrite(at: at, target: String(words[2]))
        }
    }

    func writes(to target: String) -> [SimulatedWrite] { writes().filter { $0.target == target } }

    // MARK: - Waiting

    /// Waits (at most `limit`, checking every 50 ms) until `condition` holds.
    @discardableResult
    static func waitUntil(limit: Duration = .seconds(60), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<100_000 {
            if await condition() { return true }
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Waits until `daemon` logged its `start`-th `daemon.started`; false at once if it exits first (a refused
    /// configuration exits 78).
    func waitForStart(of daemon: DaemonProcess, run start: Int = 1, limit: Duration = .seconds(60)) async -> Bool {
        await Self.waitUntil(limit: limit) {
            !daemon.isRunning || records(["event": "daemon.started"]).count >= start
        } && records(["event": "daemon.started"]).count >= start
    }

    /// Waits until the simulator has started its scenario (a daemon polled every device twice).
    func waitForScenarioStart(limit: Duration = .seconds(60)) async -> Bool {
        await Self.waitUntil(limit: limit) { simulatorOutput.contains("scenario starts now") }
    }

    /// Waits until the simulator printed a write to `target` (`panel-a.release`) `count` times in all.
    func waitForWrites(to target: String, count: Int = 1, limit: Duration = .seconds(60)) async -> Bool {
        await Self.waitUntil(limit: limit) { writes(to: target).count >= count }
    }

    // MARK: - The alert log and the daemon's status

    /// Every record of the log (all files, oldest first).
    /// room-a releases, and no earlier than `delay` (its countdown) after HVAC off, on the simulator's clock.
    func expectFullCountdown(
        _ delay: Duration, limit: Duration, _ why: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try #require(
            await waitForWrites(to: "panel-a.release", limit: limit), "room-a never released\n\(logText)\n\(story)",
            sourceLocation: sourceLocation)
        let hvacOff = try #require(writes(to: "feed-a.stop_hvac").first, sourceLocation: sourceLocation)
        let release = try #require(writes(to: "panel-a.release").first, sourceLocation: sourceLocation)
        #expect(
            release.at - hvacOff.at >= delay - .milliseconds(10),
            """
            panel-a.release was written \(release.at - hvacOff.at) after feed-a.stop_hvac (simulator clock): \(why)
            """, sourceLocation: sourceLocation)
    }

    func records() -> [[String: JSONValue]] {
        ((try? AlertLogSet.discover(livePath: alertLog).readLines()) ?? []).compactMap(\.fields)
    }

    /// Records after the `start`-th `daemon.started` (1 = the first run, 2 = after the first restart) for which
    /// `predicate` holds.
    func records(sinceStart start: Int = 1, where predicate: ([String: JSONValue]) -> Bool) -> [[String: JSONValue]] {
        var starts = 0
        return records().filter { record in
            if record["event"]?.stringValue == "daemon.started" { starts += 1 }
            return starts >= start && predicate(record)
        }
    }

    /// Records matching every member (`RuntimeHarness.matches`), after the `start`-th `daemon.started`.
    func records(_ members: [String: String], sinceStart start: Int = 1) -> [[String: JSONValue]] {
        records(sinceStart: start) { RuntimeHarness.matches($0, members) }
    }

    /// Waits until the log has a record matching every member (after the `start`-th `daemon.started`).
    @discardableResult
    func waitForRecord(_ members: [String: String], sinceStart start: Int = 1, limit: Duration = .seconds(60))
        async -> Bool
    {
        await Self.waitUntil(limit: limit) { !records(members, sinceStart: start).isEmpty }
    }

    /// Waits until the log has a record for which `predicate` holds (after the `start`-th `daemon.started`).
    @discardableResult
    func waitForRecord(
        sinceStart start: Int = 1, limit: Duration = .seconds(60), where predicate: ([String: JSONValue]) -> Bool
    ) async -> Bool {
        await Self.waitUntil(limit: limit) { !records(sinceStart: start, where: predicate).isEmpty }
    }

    /// A `step.*` record (`event`) of `zone`'s `procedure` whose `step_text` starts with `text`: steps are
    /// told apart by what they are (`delay`, `command panel-a.release`), never by their index.
    static func isStep(
        _ record: [String: JSONValue], _ event: String, zone: String, procedure: String = "suppress", _ text: String
    ) -> Bool {
        record["event"]?.stringValue == event && record["zone"]?.stringValue == zone
            && record["procedure"]?.stringValue == procedure
            && record["step_text"]?.stringValue?.hasPrefix(text) == true
    }

    /// The log as text (one JSON line each), for failure messages.
    var logText: String {
        ((try? AlertLogSet.discover(livePath: alertLog).readLines()) ?? []).map(\.text).joined(separator: "\n")
    }

    func status() async -> DaemonStatus? {
        guard let response = try? await ControlClient.send(.status, socketPath: socket, timeout: .seconds(5)),
            let data = response.data
        else { return nil }
        return DaemonStatus(json: data)
    }

    func send(_ request: ControlRequest) async throws -> ControlResponse {
        try await ControlClient.send(request, socketPath: socket, timeout: .seconds(10))
    }

    /// Waits until the daemon answers `status` with every device polled once.
    func waitReady(limit: Duration = .seconds(60)) async -> DaemonStatus? {
        var ready: DaemonStatus?
        _ = await Self.waitUntil(limit: limit) {
            if let status = await status(), status.ready { ready = status }
            return ready != nil
        }
        return ready
    }

    /// Waits until every device has finished `count` more polls than now (at most `limit`).
    func waitForPolls(_ count: Int, limit: Duration = .seconds(60)) async -> Bool {
        guard let before = await status() else { return false }
        let target = Dictionary(uniqueKeysWithValues: before.devices.map { ($0.name, $0.polls + count) })
        return await Self.waitUntil(limit: limit) {
            guard let now = await status() else { return false }
            return now.devices.allSatisfy { $0.polls >= target[$0.name] ?? 0 }
        }
    }

    // MARK: - Cleanup

    /// Runs `body`, then, whatever it did, stops every process it started (SIGTERM, then SIGKILL), runs the
    /// cleanups registered with `onCleanup`, removes libfaketime's files and the folder.
    func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    func onCleanup(_ work: @escaping @Sendable () -> Void) {
        cleanups.withLock { $0.append(work) }
    }

    private func cleanUp() async {
        for process in launched.withLock({ $0 }).reversed() { await process.stop() }
        for work in cleanups.withLock({ $0 }).reversed() { work() }
        for pid in faked.withLock({ $0 }) { FakeWallClock.removeSharedMemory(of: pid) }
        directory.remove()
    }
}

extension DaemonStatus {
    func zone(_ name: String) -> Zone? { zones.first { $0.name == name } }
}

import ArgumentParser
import Dispatch
import FireSafety
import Foundation
import Gateway
import Simulator
import SiteConfig
import Synchronization
import Scenarios

/// `firewatch simulate`: serves every device of a site from its profile over Modbus/TCP on loopback.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve every device of a site as real Modbus/TCP on 127.0.0.1, with a physical model behind it.",
        discussion: """
            Each device is served at its configured host and port (devices sharing a port are told apart by
            unit id), from its profile's simulate: texts. Only 127.0.0.0/8 is ever served. With --scenario
            the scenario's timeline drives the model and its events and every write are printed as they
            happen (site time since start); the simulator exits \(Self.grace) of site time after the
            scenario's end. Without one it serves a quiet site until SIGINT or SIGTERM.
            Site time runs at --speed (default 1, the speed `firewatch run` works at; the scenario's own
            speed is what `firewatch demo` uses).
            """
    )

    static let grace = SimulatorHost.scenarioGrace

    @Option(name: .long, help: "The site file.")
    var config: String

    @Option(name: .long, help: "A scenario file (see examples/scenarios/).")
    var scenario: String?

    @Option(name: .long, help: "Site seconds per real second.")
    var speed: Double = 1

    @Option(name: .long, help: "Seed of the model's noise (same seed, same readings).")
    var seed: UInt64 = 1

    @Flag(
        name: .long,
        help: """
            Hold the scenario at its first moment until every device has been polled twice (a daemon is \
            watching), then start it and print its start in site time.
            """)
    var waitForPolls = false

    func validate() throws {
        guard speed > 0, speed.isFinite, speed <= 1000 else {
            throw ValidationError("--speed must be a number above 0 and at most 1000, not \(speed)")
        }
    }

    func run() async throws {
        let site = try loadSite(config)
        let scenario = try scenario.map(loadScenario)
        let clock: ScaledSiteClock
        do {
            // FIREWATCH_SITE_CLOCK wins: it is how a simulator and a daemon in two processes share site time.
            clock = try ScaledSiteClock.fromEnvironment() ?? ScaledSiteClock(speed: speed)
        } catch {
            reportError("firewatch: \(error)")
            throw ExitCode(78)
        }
        let speed = clock.speed
        let out = LinePrinter()
        let host: SimulatorHost
        do {
            host = try SimulatorHost(
                site: site, scenario: scenario, clock: clock, seed: seed, held: waitForPolls,
                onEvent: { event in out.print(event.description) })
        } catch {
            for problem in error.problems { reportError(problem) }
            reportError("cannot simulate \(config); fix the lines above")
            throw ExitCode(78)
        }
        for device in host.devices { out.print("serving \(device)") }
        if let scenario {
            out.print(
                "scenario \(scenario.name): \(ScenarioSummary.spoken(scenario.duration)) of site time at \(speed)x "
                    + "(\(String(format: "%.1f", Double(scenario.duration.components.seconds) / speed)) s)"
                    + "; Ctrl-C stops")
        } else {
            out.print("no scenario: serving a quiet site at \(speed)x until Ctrl-C")
        }
        let end = scenario.map { $0.duration + Self.grace }
        let signals = TerminationSignals()
        let waitForPolls = self.waitForPolls
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await host.run(until: end) }
            group.addTask {
                guard waitForPolls else { return await signals.wait() }
                // Twice: after the first round the daemon may still be judging the last device's readings.
                while !host.everyPortServed(atLeast: 2) {
                    do { try await Task.sleep(for: .milliseconds(20)) } catch { return }
                }
                host.begin()
                out.print(SimulatorHost.startLine(host.start))
                await signals.wait()
            }
            group.addTask { await signals.wait() }
            await group.next()
            group.cancelAll()
        }
        host.stop()
        signals.restore()
        let writes = host.writes
        out.print(
            "served \(host.devices.count) devices for \(DurationText.format(host.elapsed)) of site time; "
                + "\(writes.count) writes"
        )
        for problem in host.servingProblems { reportError("warning: \(problem)") }
    }
}

/// Prints whole lines from any thread (server threads report writes), flushing each at once.
final class LinePrinter: Sendable {
    func print(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// SIGINT and SIGTERM as an awaitable event, instead of the default of dying mid-write. Any number of
/// tasks may wait; all of them return once a signal came.
final class TerminationSignals: Sendable {
    /// Dispatch sources are not `Sendable`; the mutex is what makes sharing them safe.
    private let sources: Mutex<[DispatchSourceSignal]>
    /// A class, so the signal handlers can share it (a `Mutex` itself cannot be copied into them).
    private final class Flag: Sendable { let value = Mutex(false) }
    private let fired = Flag()

    init() {
        var sources: [DispatchSourceSignal] = []
        let fired = self.fired
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { fired.value.withLock { $0 = true } }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    /// Returns at the first signal, or when the task is cancelled.
    func wait() async {
        while !fired.value.withLock({ $0 }) {
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
        }
    }

    /// Puts the default handlers back, so a second Ctrl-C during shutdown still ends the process.
    func restore() {
        sources.withLock { sources in for source in sources { source.cancel() } }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// Loads a site or exits 78 with every problem on stderr.
func loadSite(_ path: String) throws -> LoadedSite {
    do {
        return try SiteLoader().load(path: path)
    } catch {
        for problem in error.errors { reportError(problem.description) }
        reportError(
            "\(error.errors.count) error\(error.errors.count == 1 ? "" : "s") in \(path); `firewatch check` explains")
        throw ExitCode(78)
    }
}

/// Loads a scenario or exits 78 with its problem on stderr.
func loadScenario(_ path: String) throws -> Scenario {
    do {
        return try Scenario(contentsOf: path)
    } catch {
        reportError(error.description)
        throw ExitCode(78)
    }
}

/// Writes a line to stderr (people's messages; stdout stays for results).
func reportError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

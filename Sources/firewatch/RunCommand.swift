import ArgumentParser
import Foundation
import Gateway
import Logging
import SiteConfig

/// `firewatch run --config site.yaml [--dry-run]`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: poll the devices, decide, log every decision, and act.",
        discussion: """
            Logs for people go to stderr (journald); the alert log is the record of truth. SIGTERM stops \
            gracefully (daemon.stopped is the last record, exit 0); SIGHUP reloads the site file, and a broken \
            one is refused with its errors while the running configuration stays. With --dry-run every step is \
            logged as skipped and nothing is written to any device or run. A site with standby: runs as one of a \
            hot-standby pair (--gateway NAME): both gateways poll and decide, only the holder of the site's etcd \
            lease writes, runs and notifies.

            Exit codes: 0 stopped by SIGTERM, 1 runtime failure, 78 bad configuration (every error is printed).
            """
    )

    @Option(name: .long, help: ArgumentHelp("The site file.", valueName: "site.yaml"))
    var config: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which gateway of the site's hot-standby pair this is (one of standby.peers; only with standby:).",
            valueName: "name"))
    var gateway: String?

    @Flag(name: .long, help: "Poll and decide, but write nothing and run nothing (steps are logged as skipped).")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp("Rotate the alert log at this size in bytes.", visibility: .hidden))
    var alertLogMaxBytes: Int?

    @Option(name: .long, help: ArgumentHelp("Log level for stderr: trace, debug, info, notice, warning, error."))
    var logLevel: String = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "firewatch")
        let site: LoadedSite
        do {
            site = try SiteLoader().load(path: config)
        } catch {
            for problem in error.errors { stderrLine(problem.description) }
            stderrLine(
                "\(error.errors.count) error\(error.errors.count == 1 ? "" : "s") in \(config) and the profiles it "
                    + "uses; fix them (firewatch check --config \(config)) and start again")
            throw ExitCode(78)
        }
        var options = DaemonOptions(dryRun: dryRun, logger: logger)
        options.gateway = gateway
        if site.standby != nil || gateway != nil {
            // The same check the daemon makes, before anything starts: a pair's gateway must know which it is.
            if case let peers = site.standby?.peers ?? [], gateway.map({ !peers.contains($0) }) ?? true {
                stderrLine("firewatch: \(config): \(StandbyPair.NameError(gateway: gateway ?? "", peers: peers))")
                throw ExitCode(78)
            }
        }
        if let alertLogMaxBytes { options.alertLogMaxBytes = alertLogMaxBytes }
        // FIREWATCH_SITE_CLOCK: compressed site time shared with a `firewatch simulate` (tests, rehearsals).
        do {
            if let clock = try ScaledSiteClock.fromEnvironment() { options.clock = clock }
        } catch {
            stderrLine("firewatch: \(error)")
            throw ExitCode(78)
        }
        // With the site file's notification channels, metrics, /status and /healthz.
        let daemon: Daemon
        do {
            daemon = try Daemon.Builder(site: site, options: options).build()
        } catch {
            stderrLine("firewatch: cannot start: \(error)")
            throw ExitCode(1)
        }
        do {
            try await daemon.run()
        } catch {
            stderrLine("firewatch: stopped on a failure: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Writes a line to stderr.
func stderrLine(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
